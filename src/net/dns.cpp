#include "net/dns.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>

#include <asio/async_result.hpp>
#include <asio/bind_executor.hpp>
#include <asio/post.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "net/dns_cache.h"

namespace herald::net {

namespace {

DnsStatus status_of(int ares_status) {
  switch (ares_status) {
    case ARES_SUCCESS: return DnsStatus::ok;
    case ARES_ENOTFOUND: return DnsStatus::nxdomain;
    case ARES_ENODATA: return DnsStatus::nodata;
    default: return DnsStatus::temporary;
  }
}

// Each lookup's answer travels to its awaiter through one of these, owned
// by c-ares until its callback runs (which it always does: with the answer,
// or with ARES_EDESTRUCTION when the channel goes).
template <typename Answer>
using Deliver = std::function<void(Answer)>;

// answer_ttl - how long an MX answer may be kept: its records' least TTL;
// for NXDOMAIN or NODATA, the SOA in the authority section gives it, the
// lesser of the SOA's own TTL and its MINIMUM field (RFC 2308 5). 0 when
// the answer says nothing (not kept). libresolv parses the message.
std::uint32_t answer_ttl(const unsigned char* abuf, int alen, bool negative) {
  ns_msg msg;
  if (abuf == nullptr || alen <= 0 || ns_initparse(abuf, alen, &msg) != 0) return 0;
  const ns_sect section = negative ? ns_s_ns : ns_s_an;
  const int type = negative ? ns_t_soa : ns_t_mx;
  std::optional<std::uint32_t> least;
  for (int i = 0; i < ns_msg_count(msg, section); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, section, i, &rr) != 0) return 0;
    if (ns_rr_type(rr) != type) continue;
    std::uint32_t ttl = ns_rr_ttl(rr);
    if (negative) {
      // SOA RDATA ends with MINIMUM, a 32-bit count of seconds (RFC 1035 3.3.13).
      if (ns_rr_rdlen(rr) < 4) return 0;
      ttl = std::min<std::uint32_t>(ttl, ns_get32(ns_rr_rdata(rr) + ns_rr_rdlen(rr) - 4));
    }
    least = std::min(least.value_or(ttl), ttl);
  }
  return least.value_or(0);
}

void on_mx(void* arg, int status, int, unsigned char* abuf, int alen) {
  std::unique_ptr<Deliver<MxAnswer>> deliver(static_cast<Deliver<MxAnswer>*>(arg));
  MxAnswer answer;
  answer.status = status_of(status);
  if (answer.status != DnsStatus::temporary) answer.ttl = answer_ttl(abuf, alen, status != ARES_SUCCESS);
  if (status == ARES_SUCCESS) {
    ares_mx_reply* replies = nullptr;
    int parsed = ares_parse_mx_reply(abuf, alen, &replies);
    if (parsed == ARES_SUCCESS) {
      for (ares_mx_reply* r = replies; r != nullptr; r = r->next) {
        std::string host = r->host ? r->host : "";
        if (host == ".") host.clear();
        answer.records.push_back({r->priority, std::move(host)});
      }
      ares_free_data(replies);
    } else {
      answer.status = status_of(parsed);
      status = parsed;
    }
  }
  if (answer.status != DnsStatus::ok) answer.error = ares_strerror(status);
  (*deliver)(std::move(answer));
}

void on_addresses(void* arg, int status, int, ares_addrinfo* result) {
  std::unique_ptr<Deliver<AddressAnswer>> deliver(static_cast<Deliver<AddressAnswer>*>(arg));
  AddressAnswer answer;
  answer.status = status_of(status);
  if (status == ARES_SUCCESS && result) {
    for (ares_addrinfo_node* n = result->nodes; n != nullptr; n = n->ai_next) {
      const auto ttl = static_cast<std::uint32_t>(std::max(n->ai_ttl, 0));
      answer.ttl = n == result->nodes ? ttl : std::min(answer.ttl, ttl);
      if (n->ai_family == AF_INET) {
        auto* sin = reinterpret_cast<sockaddr_in*>(n->ai_addr);
        asio::ip::address_v4::bytes_type b;
        std::memcpy(b.data(), &sin->sin_addr, b.size());
        answer.addresses.push_back(asio::ip::address_v4(b));
      } else if (n->ai_family == AF_INET6) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(n->ai_addr);
        asio::ip::address_v6::bytes_type b;
        std::memcpy(b.data(), &sin6->sin6_addr, b.size());
        answer.addresses.push_back(asio::ip::address_v6(b));
      }
    }
    if (answer.addresses.empty()) answer.status = DnsStatus::nodata;
  }
  if (result) ares_freeaddrinfo(result);
  if (answer.status != DnsStatus::ok) answer.error = status == ARES_SUCCESS ? "no addresses" : ares_strerror(status);
  (*deliver)(std::move(answer));
}

}  // namespace

struct Resolver::Impl : std::enable_shared_from_this<Impl> {
  // Watch - one socket c-ares asked us to watch.
  struct Watch {
    std::unique_ptr<asio::posix::stream_descriptor> descriptor;  // does not own the fd (released, never closed)
    bool want_read = false, want_write = false;
    bool reading = false, writing = false;
  };

  Impl(asio::any_io_executor executor, const ResolverOptions& options)
      : executor(executor), timer(executor), max_ttl(options.cache_max_ttl), mx_cache(options.cache_entries),
        address_cache(options.cache_entries) {}
  ~Impl() {
    if (channel) ares_destroy(channel);  // runs every pending callback with ARES_EDESTRUCTION
    for (auto& [fd, w] : watches) w.descriptor->release();
  }

  static void sock_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Impl*>(data);
    if (!readable && !writable) {
      auto it = self->watches.find(fd);
      if (it != self->watches.end()) {
        it->second.descriptor->release();  // c-ares closes it
        self->watches.erase(it);
      }
      return;
    }
    Watch& w = self->watches[fd];
    if (!w.descriptor) w.descriptor = std::make_unique<asio::posix::stream_descriptor>(self->executor, fd);
    w.want_read = readable;
    w.want_write = writable;
    self->schedule(fd);
  }

  // schedule - wait for what c-ares wants of fd, once for each way.
  void schedule(int fd) {
    auto it = watches.find(fd);
    if (it == watches.end()) return;
    Watch& w = it->second;
    if (w.want_read && !w.reading) wait(fd, w, /*read=*/true);
    if (w.want_write && !w.writing) wait(fd, w, /*read=*/false);
  }

  // wait - fd readable (or writable), then c-ares processes it.
  void wait(int fd, Watch& w, bool read) {
    (read ? w.reading : w.writing) = true;
    auto type = read ? asio::posix::stream_descriptor::wait_read : asio::posix::stream_descriptor::wait_write;
    w.descriptor->async_wait(type, [weak = weak_from_this(), fd, read](std::error_code ec) {
      auto self = weak.lock();
      if (!self) return;
      auto it = self->watches.find(fd);
      if (it != self->watches.end()) (read ? it->second.reading : it->second.writing) = false;
      if (ec) return;
      ares_process_fd(self->channel, read ? fd : ARES_SOCKET_BAD, read ? ARES_SOCKET_BAD : fd);
      self->schedule(fd);
      self->arm_timer();
    });
  }

  // arm_timer - c-ares's next timeout (a query to retry or give up).
  void arm_timer() {
    timeval tv{};
    if (!ares_timeout(channel, nullptr, &tv)) return;
    timer.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
    std::weak_ptr<Impl> weak = weak_from_this();
    timer.async_wait([weak](std::error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      self->arm_timer();
    });
  }

  // deliver - a callback for c-ares that hands the answer to handler on
  // the resolver's executor (never inside ares_process_fd's call stack).
  template <typename Answer, typename Handler>
  Deliver<Answer>* deliver(Handler handler) {
    auto h = std::make_shared<Handler>(std::move(handler));
    return new Deliver<Answer>([h, ex = executor](Answer a) {
      asio::post(ex, [h, a = std::move(a)]() mutable { (*h)(std::move(a)); });
    });
  }

  // keep - an answer that is a fact (not a temporary failure) kept for
  // its TTL, at most max_ttl.
  template <typename Answer>
  void keep(DnsCache<Answer>& cache, const std::string& name, const Answer& answer) {
    if (answer.status == DnsStatus::temporary || answer.ttl == 0) return;
    const auto now = DnsCache<Answer>::Clock::now();
    cache.put(name, answer, now + std::min<std::chrono::seconds>(std::chrono::seconds(answer.ttl), max_ttl), now);
  }

  asio::any_io_executor executor;
  ares_channel channel = nullptr;
  std::map<int, Watch> watches;
  asio::steady_timer timer;
  std::chrono::seconds max_ttl;
  DnsCache<MxAnswer> mx_cache;
  DnsCache<AddressAnswer> address_cache;
};

Result<std::unique_ptr<Resolver>> Resolver::create(asio::any_io_executor executor, const ResolverOptions& opts) {
  const auto& servers = opts.servers;
  static std::once_flag library;
  static int library_status = ARES_SUCCESS;
  std::call_once(library, [] { library_status = ares_library_init(ARES_LIB_INIT_ALL); });
  if (library_status != ARES_SUCCESS)
    return make_error(Errc::internal, fmt::format("c-ares: {}", ares_strerror(library_status)));
  auto impl = std::make_shared<Impl>(executor, opts);
  ares_options options{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS;
  options.sock_state_cb = &Impl::sock_state;
  options.sock_state_cb_data = impl.get();
  options.timeout = static_cast<int>(opts.timeout.count() / 2);  // per try, two tries
  options.tries = 2;
  char lookups[] = "b";  // DNS only: /etc/hosts is not the world's mail routing
  options.lookups = lookups;
  if (int st = ares_init_options(&impl->channel, &options, mask); st != ARES_SUCCESS)
    return make_error(Errc::internal, fmt::format("c-ares: {}", ares_strerror(st)));
  if (!servers.empty()) {
    std::string csv;
    for (const auto& s : servers) csv += (csv.empty() ? "" : ",") + s;
    if (int st = ares_set_servers_ports_csv(impl->channel, csv.c_str()); st != ARES_SUCCESS)
      return make_error(Errc::invalid, fmt::format("dns.servers \"{}\": {}", csv, ares_strerror(st)));
  }
  return std::unique_ptr<Resolver>(new Resolver(std::move(impl)));
}

Resolver::Resolver(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Resolver::~Resolver() = default;

asio::awaitable<MxAnswer> Resolver::mx(std::string domain) {
  Impl& impl = *impl_;
  if (auto kept = impl.mx_cache.find(domain, DnsCache<MxAnswer>::Clock::now())) co_return std::move(*kept);
  auto start = [&impl, &domain](auto handler) {
    auto* deliver = impl.deliver<MxAnswer>(std::move(handler));
    ares_query(impl.channel, domain.c_str(), ns_c_in, ns_t_mx, &on_mx, deliver);
    impl.arm_timer();
  };
  std::weak_ptr<Impl> weak = impl_;  // the answer may come after the resolver is gone
  MxAnswer answer = co_await asio::async_initiate<const asio::use_awaitable_t<>, void(MxAnswer)>(start, asio::use_awaitable);
  if (auto self = weak.lock()) self->keep(self->mx_cache, domain, answer);
  co_return answer;
}

asio::awaitable<AddressAnswer> Resolver::addresses(std::string host) {
  Impl& impl = *impl_;
  if (auto kept = impl.address_cache.find(host, DnsCache<AddressAnswer>::Clock::now())) co_return std::move(*kept);
  auto start = [&impl, &host](auto handler) {
    auto* deliver = impl.deliver<AddressAnswer>(std::move(handler));
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    ares_getaddrinfo(impl.channel, host.c_str(), nullptr, &hints, &on_addresses, deliver);
    impl.arm_timer();
  };
  std::weak_ptr<Impl> weak = impl_;
  AddressAnswer answer =
      co_await asio::async_initiate<const asio::use_awaitable_t<>, void(AddressAnswer)>(start, asio::use_awaitable);
  if (auto self = weak.lock()) self->keep(self->address_cache, host, answer);
  co_return answer;
}

}  // namespace herald::net

#include "server/outbound.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/ids.h"
#include "base/env.h"
#include "base/log.h"
#include "base/text.h"
#include "net/connection.h"
#include "net/dns.h"
#include "net/tls.h"
#include "queue/local_delivery.h"
#include "server/offload.h"
#include "smtp/address.h"
#include "smtp/reply.h"

namespace herald::server {

namespace {

using Clock = std::chrono::system_clock;

std::int64_t now_s() { return unix_seconds(Clock::now()); }

smtp::TlsPolicy tls_policy(const std::string& level) {
  if (level == "none") return smtp::TlsPolicy::none;
  if (level == "encrypt") return smtp::TlsPolicy::encrypt;
  if (level == "verify") return smtp::TlsPolicy::verify;
  return smtp::TlsPolicy::may;
}


// write_dead_letter - the envelope as header fields (as Postfix's
// X-Original-To), then the message, as one file in dir; its path. Blocking,
// and free of the agent: it may run on the blocking pool after the agent
// is gone (the store outlives both).
Result<std::filesystem::path> write_dead_letter(store::Queue& queue, const std::filesystem::path& dir,
                                                const store::ClaimedMessage& m,
                                                const std::vector<Outbound::DeadLetter>& letters) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(Errc::io, fmt::format("{}: {}", dir.string(), ec.message()));
  // QUEUEID.eml, or QUEUEID-2.eml... when a later attempt of the same
  // message adds dead letters: one file each, never overwritten.
  int fd = -1;
  std::filesystem::path path;
  for (int n = 1; fd < 0 && n < 1000; ++n) {
    path = dir / (n == 1 ? m.queue_id + ".eml" : fmt::format("{}-{}.eml", m.queue_id, n));
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0 && errno != EEXIST) return make_error(Errc::io, fmt::format("{}: {}", path.string(), std::strerror(errno)));
  }
  if (fd < 0) return make_error(Errc::io, fmt::format("{}: too many dead letters of one message", dir.string()));
  std::string head = "Return-Path: <>\r\n";
  for (const auto& d : letters)
    head += fmt::format("X-Herald-Dead-Letter: to=<{}>; {}\r\n", printable(d.recipient, 300), printable(d.reason, 700));
  bool ok = write_fd(fd, head);
  for (std::uint64_t offset = 0; ok && offset < m.size; offset += Outbound::kBodyPiece) {
    auto piece = queue.read_body(m.message, {offset, Outbound::kBodyPiece});
    if (!piece) {
      ::close(fd);
      ::unlink(path.c_str());
      return piece.error();
    }
    ok = write_fd(fd, *piece);
  }
  const int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return make_error(Errc::io, fmt::format("{}: {}", path.string(), std::strerror(saved)));
  }
  return path;
}


// message_of - a due local row's message, as a claim would give it (its
// recipients left for the caller).
store::ClaimedMessage message_of(const store::DueDelivery& d) {
  store::ClaimedMessage m;
  m.message = d.message;
  m.queue_id = d.queue_id;
  m.sender = d.sender;
  m.created = d.created;
  m.size = d.size;
  m.ret = d.ret;
  m.envid = d.envid;
  return m;
}

}  // namespace

net::ClientTlsOptions client_tls_options(const config::Config& c) {
  return {c.delivery_tls_ca_file, c.delivery_tls_cert, c.delivery_tls_key};
}

Result<delivery::Router> make_router(const config::Config& c) {
  std::vector<delivery::Route> routes;
  for (const auto& r : c.delivery_routes) {
    delivery::NextHop hop;
    hop.name = r.domain;
    hop.tls = tls_policy(r.tls.empty() ? c.delivery_tls : r.tls);
    hop.auth_user = r.auth_user;
    hop.auth_password = r.auth_password;
    hop.source_address = r.source_address.empty() ? c.delivery_source_address : r.source_address;
    hop.auth_without_tls = r.auth_without_tls.value_or(c.delivery_auth_without_tls);
    auto bad = [&c, &r](const std::string& why) {
      return make_error(Errc::invalid, fmt::format("{}:{}: [[delivery.route]] {}: {}",
                                                   c.file.empty() ? "<config>" : c.file.string(), r.line, r.domain, why));
    };
    // CSSMTP's TargetMx: one target without brackets, "host[:port]", is
    // the MX hosts of that name; bracketed ones are TargetIP/TargetName.
    if (r.targets.size() == 1 && !r.targets[0].starts_with("[")) {
      auto mx = delivery::parse_next_hop(r.targets[0]);
      if (!mx) return bad(mx.error().message);
      hop.name = mx->name;
      hop.mx = true;
      hop.mx_port = mx->mx_port;
    } else {
      for (const auto& text : r.targets) {
        auto t = delivery::parse_target(text);
        if (!t) return bad(t.error().message + (text.starts_with("[") ? "" : " (an MX target stands alone)"));
        hop.targets.push_back(*t);
      }
    }
    routes.push_back({r.domain, std::move(hop)});
  }
  std::optional<delivery::NextHop> smarthost;
  if (!c.smarthost.empty()) {
    auto hop = delivery::parse_next_hop(c.smarthost);
    if (!hop)
      return make_error(Errc::invalid,
                        fmt::format("{}: delivery.smarthost: {}", c.where("delivery.smarthost"), hop.error().message));
    smarthost = std::move(*hop);
    smarthost->tls = tls_policy(c.delivery_tls);
    smarthost->source_address = c.delivery_source_address;
    smarthost->auth_user = c.smarthost_auth_user;
    smarthost->auth_password = c.smarthost_auth_password;
    smarthost->auth_without_tls = c.delivery_auth_without_tls;
  }
  std::optional<delivery::NextHop> fallback;
  if (!c.fallback_relay.empty()) {
    auto hop = delivery::parse_next_hop(c.fallback_relay);
    if (!hop)
      return make_error(Errc::invalid, fmt::format("{}: delivery.fallback_relay: {}", c.where("delivery.fallback_relay"),
                                                   hop.error().message));
    fallback = std::move(*hop);
    fallback->tls = tls_policy(c.delivery_tls);
    fallback->source_address = c.delivery_source_address;
  }
  return delivery::Router(std::move(routes), std::move(smarthost), std::move(fallback));
}

Outbound::Outbound(const config::Config& config, store::Queue& queue, store::Journal& journal,
                   asio::thread_pool& blocking, delivery::Router router, queue::Intake& intake,
                   queue::AliasExpander& expander, asio::any_io_executor executor)
    : config_(config),
      queue_(queue),
      journal_(journal),
      blocking_(blocking),
      intake_(intake),
      expander_(expander),
      router_(std::move(router)),
      retry_{std::chrono::duration_cast<std::chrono::seconds>(config.delivery_retry_interval),
             std::chrono::duration_cast<std::chrono::seconds>(config.delivery_retry_period),
             std::chrono::duration_cast<std::chrono::seconds>(config.delivery_long_retry_interval),
             std::chrono::duration_cast<std::chrono::seconds>(config.delivery_max_queue_lifetime)},
      owner_(fmt::format("{}:{}", config.hostname, ::getpid())),
      executor_(std::move(executor)),
      targets_(10000, now_s()) {
  auto tls = net::make_client_context(client_tls_options(config));
  if (tls) tls_ = std::move(*tls);
  else log::get("smtp")->warn("warning: no TLS for outbound mail: {}", tls.error().message);
  // RFC 3461 NOTIFY=SUCCESS on local deliveries: the report is made here,
  // as every other report is (on the executor; the hook only posts).
  intake_.on_delivered([this](queue::DeliveredNotice notice) {
    asio::post(executor_, [this, notice = std::move(notice)]() mutable {
      store::ClaimedMessage m;
      m.queue_id = notice.queue_id;
      m.sender = notice.sender;
      m.envid = notice.envid;
      m.created = notice.arrival_s;
      m.size = notice.size;
      Reports reports;
      for (auto& r : notice.recipients)
        reports.delivered.push_back({r.recipient, r.original, "2.0.0", "", "delivered to mailbox", false, r.orcpt});
      asio::co_spawn(executor_, report(std::move(m), std::move(reports), {}, std::move(notice.head)), asio::detached);
    });
  });
}

Outbound::~Outbound() { intake_.on_delivered(nullptr); }

void Outbound::shutdown() {
  intake_.on_delivered(nullptr);  // before the executor's io_context goes
  resolver_.reset();
  tick_.reset();  // a timer of that io_context
}

asio::awaitable<void> Outbound::run() {
  net::ResolverOptions dns{config_.dns_servers, config_.dns_timeout, config_.dns_cache_entries,
                           std::chrono::duration_cast<std::chrono::seconds>(config_.dns_cache_max_ttl)};
  auto resolver = net::Resolver::create(executor_, dns);
  if (resolver) resolver_ = std::move(*resolver);
  else log::get("smtp")->warn("warning: no DNS resolver, mail delivered by MX waits: {}", resolver.error().message);
  tick_ = std::make_unique<asio::steady_timer>(executor_);
  for (;;) {
    woken_ = false;
    std::size_t claimed = 0;
    // A connection idle in the cache takes claimed mail as a free one would.
    if (busy() < config_.delivery_concurrency) claimed = co_await claim();
    start_connections();
    // Due mail is looked for every second (a claim is one indexed read when
    // nothing is due), and at once when a claim found some and connections
    // are free, or when a connection ends.
    if (claimed > 0 && busy() < config_.delivery_concurrency) continue;
    if (woken_) continue;
    tick_->expires_after(std::chrono::seconds(1));
    std::error_code ec;
    co_await tick_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec && !woken_) co_return;  // the io_context is stopping
  }
}

void Outbound::wake() {
  woken_ = true;
  if (tick_) tick_->cancel();
}

// claim - due recipients for the free connections, grouped by next hop;
// how many rows were claimed.
asio::awaitable<std::size_t> Outbound::claim() {
  // Claimed rows wait in memory until a connection takes them: bounded.
  if (held_.size() >= config_.delivery_active_recipient_limit) co_return 0;
  const std::int64_t now = now_s();
  // Enough for every free connection to fill, bounded: what is claimed waits
  // in memory until a connection takes it.
  const std::size_t free = config_.delivery_concurrency - busy();
  store::Claim request{now, std::min<std::size_t>(1000, free * config_.delivery_max_messages_per_connection), owner_,
                       now + kLeaseSeconds};
  auto start = [this, &request](auto done) { queue_.claim_remote(request, std::move(done)); };
  auto claimed = co_await on_completion<Result<std::vector<store::ClaimedMessage>>>(start);
  if (!claimed) {
    log::get("qmgr")->warn("warning: cannot read the queue: {}", claimed.error().message);
    co_return 0;
  }
  std::size_t rows = 0;
  for (auto& m : *claimed) {
    std::map<std::string, Job> by_hop;  // this message's recipients per next hop
    for (const auto& r : m.recipients) {
      if (!held_.insert(r.row).second) continue;  // already waiting or under way here
      const std::string domain = delivery::domain_of(r.recipient);
      const delivery::NextHop* routed = router_.route(domain);
      // Without a route or smarthost: the domain's MX hosts (RFC 5321 5.1),
      // one destination per domain.
      std::string key = routed ? routed->name : "mx:" + domain;
      auto [it, fresh] = by_hop.try_emplace(key, Job{m});
      if (fresh) it->second.message.recipients.clear();
      it->second.message.recipients.push_back(r);
      Destination& d = destinations_[key];
      d.key = key;
      if (d.hop.name.empty()) {
        if (routed) {
          d.hop = *routed;
        } else {
          d.hop.name = domain;
          d.hop.tls = tls_policy(config_.delivery_tls);
          d.hop.mx = true;
          d.hop.source_address = config_.delivery_source_address;
        }
      }
    }
    for (auto& [key, job] : by_hop) {
      rows += job.message.recipients.size();
      Destination& d = destinations_[key];
      d.jobs.push_back(std::move(job));
      reuse(d);
    }
  }
  co_return rows;
}

void Outbound::suspend(const std::string& key, const smtp::Verdict& why) {
  suspended_[key] = {now_s() + retry_.first_interval.count(), why};
}

void Outbound::flush() {
  asio::post(executor_, [this] {
    suspended_.clear();
    wake();
  });
}

void Outbound::reuse(Destination& d) {
  if (d.idle.empty()) return;
  d.idle.back()->cancel();  // its connection takes the job
  d.idle.pop_back();
  --idle_;
}

unsigned Outbound::busy() const { return active_ - idle_; }

void Outbound::start_connections() {
  const std::int64_t now = now_s();
  std::erase_if(suspended_, [now](const auto& s) { return s.second.until_s <= now; });
  // Every slot taken while mail waits elsewhere: idle connections give
  // theirs up (woken with nothing to send, they QUIT).
  bool starved = false;
  for (auto& [key, d] : destinations_) starved = starved || (d.active == 0 && !d.jobs.empty());
  if (starved && active_ >= config_.delivery_concurrency)
    for (auto& [key, d] : destinations_)
      while (d.jobs.empty() && !d.idle.empty()) reuse(d);
  for (auto it = destinations_.begin(); it != destinations_.end();) {
    Destination& d = it->second;
    if (auto s = suspended_.find(d.key); s != suspended_.end() && !d.jobs.empty() && d.active == 0) {
      smtp::Verdict why = s->second.why;
      why.text = "delivery temporarily suspended: " + why.text;
      fail_waiting(d, why, "none");
    }
    while (!d.jobs.empty() && active_ < config_.delivery_concurrency &&
           d.active < config_.delivery_destination_concurrency && d.active < d.jobs.size()) {
      ++active_;
      ++d.active;
      asio::co_spawn(executor_, connection(d), asio::detached);
    }
    // A destination with nothing waiting and no connection is forgotten
    // (MX destinations are one per domain): no coroutine refers to it.
    if (d.jobs.empty() && d.active == 0) it = destinations_.erase(it);
    else ++it;
  }
}

smtp::ClientOptions Outbound::client_options(const delivery::NextHop& hop) const {
  smtp::ClientOptions o;
  o.helo_name = config_.delivery_helo_name.empty() ? config_.hostname : config_.delivery_helo_name;
  o.tls = tls_ ? hop.tls : smtp::TlsPolicy::none;
  if (!tls_ && (hop.tls == smtp::TlsPolicy::encrypt || hop.tls == smtp::TlsPolicy::verify))
    o.tls = hop.tls;  // required and impossible: the client defers, saying why
  o.auth_user = hop.auth_user;
  o.auth_password = hop.auth_password;
  o.auth_without_tls = hop.auth_without_tls;
  return o;
}

asio::awaitable<std::unique_ptr<net::Connection>> Outbound::connect(const delivery::Target& target,
                                                                   const std::string& source, std::string& why) {
  auto executor = co_await asio::this_coro::executor;
  std::error_code ec;
  net::tcp::endpoint endpoint(asio::ip::make_address(target.host, ec), target.port);
  if (ec) {
    why = fmt::format("connect to {}: {}", target.str(), ec.message());
    co_return nullptr;
  }
  net::tcp::socket socket(executor);
  if (!source.empty()) {
    // The configured local address (i5/OS: one address behind NAT).
    net::tcp::endpoint local(asio::ip::make_address(source, ec), 0);
    if (!ec) socket.open(endpoint.protocol(), ec);
    if (!ec) socket.bind(local, ec);
    if (ec) {
      why = fmt::format("connect to {} from {}: {}", target.str(), source, ec.message());
      co_return nullptr;
    }
  }
  asio::steady_timer timer(executor);
  timer.expires_after(config_.delivery_connect_timeout);
  // The timer's handler may already be queued when the connect completes:
  // it reaches the socket only through this state, which is cut first.
  struct Watch {
    net::tcp::socket* socket;
    bool timed_out = false;
  };
  auto watch = std::make_shared<Watch>(Watch{&socket});
  timer.async_wait([watch](std::error_code e) {
    if (e || !watch->socket) return;
    watch->timed_out = true;
    std::error_code ignored;
    watch->socket->close(ignored);
  });
  co_await socket.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
  timer.cancel();
  watch->socket = nullptr;
  const bool timed_out = watch->timed_out;
  if (ec) {
    why = fmt::format("connect to {}: {}", target.str(), timed_out ? "Connection timed out" : ec.message());
    co_return nullptr;
  }
  co_return std::make_unique<net::Connection>(std::move(socket), endpoint);
}

// connection - one connection to d's next hop, carrying its waiting jobs
// until none is left or the connection has carried its share.
asio::awaitable<void> Outbound::connection(Destination& d) {
  // The connection's slot, counted by start_connections, is given back
  // however this ends (also when the io_context destroys the frame at
  // shutdown, so no timer is touched here); each normal end wakes the
  // scheduler, as a free slot may take due mail at once.
  struct Slot {
    Outbound& agent;
    Destination& d;
    ~Slot() {
      --agent.active_;
      --d.active;
    }
  } slot{*this, d};
  const delivery::NextHop& hop = d.hop;
  MxResolution found;
  if (hop.mx) found = co_await resolve_mx(hop.name, hop.mx_port ? hop.mx_port : config_.delivery_mx_port);
  else found = co_await resolve_names(hop.targets);
  if (found.targets.empty()) {
    if (found.failure.outcome == smtp::Outcome::deferred) suspend(d.key, found.failure);
    fail_waiting(d, found.failure, "none");
    wake();
    co_return;
  }
  const std::vector<delivery::Target> targets = std::move(found.targets);
  std::string why, relay;
  std::unique_ptr<net::Connection> conn;
  const delivery::Target* target = nullptr;
  for (const auto& t : targets) {
    conn = co_await connect(t, hop.source_address, why);
    if (conn) {
      target = &t;
      break;
    }
    targets_.connect_failed(t.relay(), why, now_s());
  }
  if (!conn) {
    // The next hop is down: everything waiting for it waits longer, and
    // what comes for it meanwhile too.
    const smtp::Verdict down = smtp::Verdict::local(smtp::Outcome::deferred, "4.4.1", why);
    suspend(d.key, down);
    fail_waiting(d, down, "none");
    wake();
    co_return;
  }
  relay = target->relay();
  smtp::Client client(client_options(hop));
  std::optional<Job> current;
  std::optional<std::string> body;
  std::uint32_t sent = 0;
  char buffer[16 * 1024];
  bool awaiting_dot = false;
  bool introduced = false;  // the targets view has heard what the server offers
  for (bool open = true; open;) {
    smtp::ClientStep step = client.step();
    if (!step.output.empty()) {
      bool wrote = co_await conn->write_all(step.output, config_.delivery_command_timeout);
      if (!wrote) {
        client.lost(fmt::format("lost connection with {} while sending commands", relay));
        continue;
      }
    }
    switch (step.action) {
      case smtp::ClientAction::need_more: {
        auto timeout = awaiting_dot ? config_.delivery_data_timeout : config_.delivery_command_timeout;
        std::size_t n = co_await conn->read_some(buffer, sizeof buffer, timeout);
        if (n == 0) {
          client.lost(conn->timed_out() ? fmt::format("conversation with {} timed out", relay)
                                        : fmt::format("lost connection with {}", relay));
          break;
        }
        client.feed(std::string_view(buffer, n));
        break;
      }
      case smtp::ClientAction::starttls: {
        // verify: the certificate must name the MX host (or the literal address).
        std::string verify;
        if (hop.tls == smtp::TlsPolicy::verify) verify = target->name.empty() ? target->host : target->name;
        bool ok = false;
        if (tls_) ok = co_await conn->start_tls(*tls_, config_.delivery_command_timeout, asio::ssl::stream_base::client,
                                               verify);
        client.on_tls(ok);
        break;
      }
      case smtp::ClientAction::ready: {
        if (!introduced) {
          introduced = true;
          suspended_.erase(d.key);
          targets_.connected(relay, client.esmtp(), client.extensions().size.value_or(0), client.tls_active(), now_s());
        }
        if (d.jobs.empty() && sent < config_.delivery_max_messages_per_connection &&
            config_.delivery_connection_cache_time.count() > 0) {
          // Kept a moment for more mail to this next hop (Postfix's
          // connection cache): a claim that brings some wakes it.
          asio::steady_timer idle(executor_);
          idle.expires_after(config_.delivery_connection_cache_time);
          d.idle.push_back(&idle);
          ++idle_;
          wake();  // its slot may take due mail now
          std::error_code ec;
          co_await idle.async_wait(asio::redirect_error(asio::use_awaitable, ec));
          if (std::erase(d.idle, &idle) > 0) --idle_;  // timed out (reuse() counted the others)
          // A server that spoke or closed meanwhile (a 421 at its idle
          // timeout) is not reused: the job waits for another connection.
          if (!d.jobs.empty() && !conn->quiet()) {
            wake();
            client.quit();
            break;
          }
        }
        if (sent >= config_.delivery_max_messages_per_connection || d.jobs.empty()) {
          client.quit();
          break;
        }
        current = std::move(d.jobs.front());
        d.jobs.pop_front();
        // BODY=8BITMIME goes in MAIL (RFC 6152), before a byte is sent:
        // intake noted it; a body of one piece is read now and kept.
        const std::int64_t message = current->message.message;
        const std::uint64_t size = current->message.size;
        const std::optional<bool> eight_bit = current->message.eight_bit;
        auto prepare = [this, message, size, eight_bit] { return prepare_body(message, size, eight_bit); };
        auto prepared = co_await offload(blocking_, prepare);
        if (!prepared) {
          std::vector<smtp::Verdict> why_not(
              current->message.recipients.size(),
              smtp::Verdict::local(smtp::Outcome::deferred, "4.3.0", "cannot read the message: " + prepared.error().message));
          finish(*current, why_not, "none");
          current.reset();
          break;
        }
        body = std::move(prepared->whole);
        smtp::OutboundMessage m;
        m.sender = current->message.sender;
        for (const auto& r : current->message.recipients) m.recipients.push_back(r.recipient);
        m.size = size;
        m.eight_bit = prepared->eight_bit;
        // RFC 3461: what the sender asked of reports goes on with the
        // message (to a server that offers DSN; the client sees to that).
        m.ret = smtp::parse_ret(current->message.ret).value_or(smtp::DsnRet::unspecified);
        m.envid = current->message.envid;
        for (const auto& r : current->message.recipients) {
          smtp::RcptParams p;
          if (!r.notify.empty()) p.notify = smtp::parse_notify(r.notify);
          if (std::size_t semi = r.orcpt.find(';'); semi != std::string::npos) {
            p.orcpt_type = r.orcpt.substr(0, semi);
            p.orcpt = r.orcpt.substr(semi + 1);
          }
          m.rcpt_params.push_back(std::move(p));
        }
        m.smtputf8 = smtp::has_8bit(m.sender);
        for (const auto& r : m.recipients) m.smtputf8 = m.smtputf8 || smtp::has_8bit(r);
        ++sent;
        client.send(m);
        break;
      }
      case smtp::ClientAction::send_body: {
        // RFC 5321 4.5.2: every line ends in CRLF, a leading dot doubled,
        // then the final dot. A piece at a time: a connection holds one
        // piece of a large body, never all of it. Each piece is written
        // within the data timeout (RFC 5321 4.5.3.2.5, per block).
        smtp::DotStuffer stuffer;
        std::string data;
        bool wrote = true;
        const std::uint64_t size = current->message.size;
        for (std::uint64_t offset = 0; wrote && (offset < size || offset == 0); offset += kBodyPiece) {
          std::string piece;
          std::string_view view;
          if (body) {
            view = *body;
          } else {
            const std::int64_t message = current->message.message;
            auto read = [this, message, offset] { return queue_.read_body(message, {offset, kBodyPiece}); };
            auto got = co_await offload(blocking_, read);
            if (!got) {
              log::get("smtp")->warn("warning: {}: cannot read the message: {}", current->message.queue_id,
                                     got.error().message);
              wrote = false;  // a body cut short is never ended with a dot
              break;
            }
            piece = std::move(*got);
            view = piece;
          }
          data.clear();
          stuffer.feed(view, data);
          if (body || offset + kBodyPiece >= size) stuffer.finish(data);
          wrote = co_await conn->write_all(data, net::WriteRules{config_.delivery_data_timeout, 0});
          if (body) break;
        }
        if (!wrote) {
          client.lost(fmt::format("lost connection with {} while sending message body", relay));
          break;
        }
        client.body_sent();
        awaiting_dot = true;
        break;
      }
      case smtp::ClientAction::message_done: {
        awaiting_dot = false;
        smtp::MessageResult r = client.take_result();
        note_message(relay, r);
        finish(*current, r.recipients, relay, body ? &*body : nullptr, client.extensions().dsn);
        current.reset();
        body.reset();
        break;
      }
      case smtp::ClientAction::closed: {
        if (client.has_result() && current)
          finish(*current, client.take_result().recipients, relay, body ? &*body : nullptr, client.extensions().dsn);
        current.reset();
        body.reset();
        // A next hop that refused to talk, or broke off, is tried again
        // later for everything that waits for it.
        if (client.failure()) {
          targets_.session_failed(relay, client.failure()->diagnostic(), now_s());
          fail_waiting(d, *client.failure(), relay);
        }
        open = false;
        break;
      }
    }
  }
  wake();
}

Result<Outbound::PreparedBody> Outbound::prepare_body(std::int64_t message, std::uint64_t size,
                                                      std::optional<bool> eight_bit) {
  PreparedBody out;
  out.eight_bit = eight_bit.value_or(false);
  // A large body whose 8-bit octets intake counted is read only as it is sent.
  if (eight_bit && size > kBodyPiece) return out;
  for (std::uint64_t offset = 0; offset < size || offset == 0; offset += kBodyPiece) {
    auto piece = queue_.read_body(message, {offset, kBodyPiece});
    if (!piece) return piece.error();
    out.eight_bit = out.eight_bit || smtp::has_8bit(*piece);
    if (size <= kBodyPiece) {
      out.whole = std::move(*piece);
      return out;
    }
    if (out.eight_bit) return out;  // the rest is read as it is sent
  }
  return out;
}

asio::awaitable<Outbound::MxResolution> Outbound::resolve_names(std::vector<delivery::Target> configured) {
  MxResolution out;
  std::string last_error;
  for (const auto& t : configured) {
    if (!t.host.empty()) {
      out.targets.push_back(t);
      continue;
    }
    if (!resolver_) {
      last_error = "no DNS resolver";
      continue;
    }
    net::AddressAnswer a = co_await resolver_->addresses(t.name);
    if (a.status != net::DnsStatus::ok) last_error = fmt::format("name={} type=A: {}", t.name, a.error);
    for (const auto& address : a.addresses)
      if (out.targets.size() < config_.delivery_mx_address_limit) out.targets.push_back({address.to_string(), t.port, t.name});
  }
  // A configured host that cannot be found is the configuration's fault or
  // the DNS's, never the mail's: it waits.
  if (out.targets.empty())
    out.failure = smtp::Verdict::local(smtp::Outcome::deferred, "4.4.3", "Host or domain name not found. Name service error for " + last_error);
  co_return out;
}

asio::awaitable<Outbound::MxResolution> Outbound::resolve_mx(std::string domain, std::uint16_t port) {
  MxResolution out;
  auto fail = [&out](smtp::Outcome outcome, const char* status, std::string text) {
    out.failure = smtp::Verdict::local(outcome, status, std::move(text));
  };
  if (!resolver_) {
    fail(smtp::Outcome::deferred, "4.4.3", "no DNS resolver to find the MX hosts of " + domain);
    co_return out;
  }
  net::MxAnswer mx = co_await resolver_->mx(domain);
  std::vector<delivery::MxHost> hosts;
  switch (mx.status) {
    case net::DnsStatus::nxdomain:
      fail(smtp::Outcome::bounced, "5.1.2",
           fmt::format("Host or domain name not found. Name service error for name={} type=MX: Host not found",
                       domain));
      co_return out;
    case net::DnsStatus::temporary:
      fail(smtp::Outcome::deferred, "4.4.3",
           fmt::format("Host or domain name not found. Name service error for name={} type=MX: {}, try again",
                       domain, mx.error));
      co_return out;
    case net::DnsStatus::nodata:
      hosts.push_back({0, domain, {}});  // RFC 5321 5.1: no MX, the domain itself (implicit MX)
      break;
    case net::DnsStatus::ok:
      // RFC 7505: a single MX of preference 0 naming "." says: no mail here.
      if (mx.records.size() == 1 && mx.records[0].host.empty()) {
        fail(smtp::Outcome::bounced, "5.1.10", fmt::format("Domain {} does not accept mail (nullMX)", domain));
        co_return out;
      }
      for (const auto& r : mx.records)
        if (!r.host.empty()) hosts.push_back({r.preference, r.host, {}});
      break;
  }
  delivery::mx_order(hosts, config_.hostname, std::random_device{}());
  if (hosts.empty()) {
    fail(smtp::Outcome::bounced, "5.4.6", fmt::format("mail for {} loops back to myself", domain));
    co_return out;
  }
  bool temporary = false;
  std::string last_error;
  for (auto& h : hosts) {
    net::AddressAnswer a = co_await resolver_->addresses(h.host);
    if (a.status == net::DnsStatus::temporary) temporary = true;
    if (a.status != net::DnsStatus::ok) last_error = fmt::format("name={} type=A: {}", h.host, a.error);
    for (const auto& address : a.addresses) h.addresses.push_back(address.to_string());
  }
  out.targets = delivery::mx_targets(hosts, port, config_.delivery_mx_address_limit);
  if (out.targets.empty()) {
    if (temporary)
      fail(smtp::Outcome::deferred, "4.4.3", "Host or domain name not found. Name service error for " + last_error);
    else
      fail(smtp::Outcome::bounced, "5.4.4", "Host or domain name not found. Name service error for " + last_error);
  }
  co_return out;
}

void Outbound::fail_waiting(Destination& d, const smtp::Verdict& why, const std::string& relay) {
  while (!d.jobs.empty()) {
    Job job = std::move(d.jobs.front());
    d.jobs.pop_front();
    std::vector<smtp::Verdict> verdicts(job.message.recipients.size(), why);
    finish(job, verdicts, relay);
  }
}

void Outbound::finish(const Job& job, const std::vector<smtp::Verdict>& verdicts, const std::string& relay,
                      const std::string* body, bool peer_dsn) {
  static const auto logger = log::get("smtp");  // looked up once, not per line
  const std::int64_t now = now_s();
  const auto& m = job.message;
  std::vector<store::AttemptOutcome> outcomes;
  Reports reports;
  const std::int64_t warn_after = std::chrono::duration_cast<std::chrono::seconds>(config_.delivery_delay_warning).count();
  const std::int64_t fallback_after = std::chrono::duration_cast<std::chrono::seconds>(config_.fallback_relay_after).count();
  Job spare{m, true};  // those that go on to the fallback relay, still held
  std::vector<DeadLetter> dead_letters;
  spare.message.recipients.clear();
  for (std::size_t i = 0; i < m.recipients.size() && i < verdicts.size(); ++i) {
    const auto& r = m.recipients[i];
    const smtp::Verdict& v = verdicts[i];
    // The queue lifetime counts from the row's queueing (a resent dead
    // letter starts again), never from before the message came.
    const std::int64_t since = std::max(m.created, r.queued);
    // Not found goes to the fallback relay at once (it may know names the
    // DNS does not); a temporary failure once the message is old enough.
    if (router_.fallback() && !job.fallback && delivery::takes_fallback(v) &&
        (v.outcome == smtp::Outcome::bounced || now - since >= fallback_after)) {
      logger->info("{}: to=<{}>, trying the fallback relay after: {}", m.queue_id, printable(r.recipient, 300),
                   v.code != 0 ? fmt::format("host {} said: {}", relay, v.diagnostic()) : v.diagnostic());
      spare.message.recipients.push_back(r);
      continue;
    }
    // Postfix's wording, which pflogsumm and admins know: "host X said:
    // 550 ... (in reply to RCPT TO command)" for a reply, the reason alone
    // for a failure of our own or of the connection.
    std::string reply = v.code != 0 ? fmt::format("host {} said: {}", relay, v.diagnostic()) : v.diagnostic();
    store::AttemptOutcome o{r.row, store::RecipientState::delivered, reply, relay, 0};
    if (v.outcome == smtp::Outcome::bounced) {
      o.state = store::RecipientState::bounced;
    } else if (v.outcome == smtp::Outcome::deferred) {
      auto next = delivery::next_attempt(retry_, since, now);
      if (next) {
        o.state = store::RecipientState::deferred;
        o.next_attempt_s = *next;
      } else {
        // RFC 5321 4.5.4.1: given up after the queue lifetime.
        o.state = store::RecipientState::bounced;
        o.expired = true;
        o.reply = fmt::format("message expired after {}s in the queue; last: {}", now - since, reply);
      }
    }
    // A report that cannot be delivered has no one to be reported to (RFC
    // 3461 6.2: never a DSN for a DSN): a dead letter, kept for the operator.
    const bool dead = o.state == store::RecipientState::bounced && m.sender.empty() && config_.dead_letter_action != "delete";
    if (dead) o.state = store::RecipientState::dead;
    std::string host = v.code != 0 ? relay.substr(0, relay.find('[')) : std::string();
    // RFC 3461 4.1: NOTIFY says which reports the sender wants; none given,
    // failures and delays.
    const std::optional<smtp::Notify> notify =
        r.notify.empty() ? std::nullopt : smtp::parse_notify(r.notify);
    if (o.state == store::RecipientState::bounced && smtp::wants_failure(notify)) {
      reports.failed.push_back({r.recipient, r.original, v.status, host,
                                o.reply.starts_with("message expired") ? o.reply : v.diagnostic(), v.code != 0,
                                r.orcpt});
    } else if (o.state == store::RecipientState::deferred && warn_after > 0 && !r.warned &&
               now - since >= warn_after && smtp::wants_delay(notify)) {
      // Still waiting long after it came: the sender is told once.
      o.warned = true;
      reports.delayed.push_back({r.recipient, r.original, v.status, host, v.diagnostic(), v.code != 0, r.orcpt});
    } else if (o.state == store::RecipientState::delivered && smtp::wants_success(notify) && !peer_dsn) {
      // RFC 3461 6.2.6.2: the next server will not report: we say "relayed".
      reports.relayed.push_back({r.recipient, r.original, v.status, host, v.diagnostic(), v.code != 0, r.orcpt});
    }
    queue::log_delivery(*logger, m.queue_id, r.recipient, r.original, relay, static_cast<double>(now - m.created),
                        v.status, {o.state, o.reply});
    auto& totals = targets_.totals();
    switch (o.state) {
      case store::RecipientState::delivered: ++totals.sent; break;
      case store::RecipientState::deferred: ++totals.retried; break;
      case store::RecipientState::bounced: ++totals.undeliverable; break;
      case store::RecipientState::dead: ++totals.dead_letters; break;
      default: break;
    }
    if (dead) dead_letters.push_back({r.recipient, r.original, o.reply});
    held_.erase(r.row);
    outcomes.push_back(std::move(o));
  }
  if (!spare.message.recipients.empty()) {
    Destination& d = destinations_[kFallback];
    d.key = kFallback;
    if (d.hop.name.empty()) d.hop = *router_.fallback();
    d.jobs.push_back(std::move(spare));
    reuse(d);
    wake();
  }
  if (outcomes.empty()) return;
  if (!dead_letters.empty()) keep_dead_letters(m, std::move(dead_letters));
  // RFC 5321 4.5.5 / 6.1: the sender hears of a failure (and of a long
  // delay); a message with the null sender (a DSN itself) never causes one.
  if (!reports.empty() && !m.sender.empty()) {
    std::optional<std::string> copy;
    if (body) copy = *body;
    asio::co_spawn(executor_, report(m, std::move(reports), std::move(outcomes), std::move(copy)), asio::detached);
    return;
  }
  record(m.queue_id, std::move(outcomes));
}

void Outbound::keep_dead_letters(const store::ClaimedMessage& m, std::vector<DeadLetter> letters) {
  static const auto logger = log::get("bounce");
  for (const auto& d : letters)
    logger->warn("warning: {}: dead letter: to=<{}> cannot be returned (null sender); kept: herald deadletter show {}",
                 m.queue_id, printable(d.recipient, 300), m.queue_id);
  // The administrators hear of it (CSSMTP's Report ADMIN), unless the dead
  // letter is such a notice to one of them: that would never end.
  bool to_admin = false;
  for (const auto& d : letters)
    for (const auto& admin : config_.mail_administrators)
      to_admin = to_admin || iequals(d.recipient, admin) || iequals(d.original, admin);
  if (!config_.mail_administrators.empty() && !to_admin)
    asio::co_spawn(executor_, tell_administrators(m, letters), asio::detached);
  if (config_.dead_letter_action != "store") return;
  // A copy as a file for the administrator's tools (CSSMTP's
  // DeadLetterAction Store); the store keeps the letter whether or not
  // the file can be written.
  asio::post(blocking_, [&queue = queue_, dir = config_.data_dir / "deadletter", m, letters = std::move(letters)] {
    auto written = write_dead_letter(queue, dir, m, letters);
    if (!written) log::get("bounce")->warn("warning: {}: cannot write the dead letter: {}", m.queue_id, written.error().message);
  });
}

void Outbound::expire_local(std::vector<queue::LocalRetry::Expired> expired) {
  // One job per message, its recipients' last replies as deferred
  // verdicts: finish() finds them past the lifetime and bounces them. A
  // row handed over again before its bounce is recorded (the next local
  // pass may come first) is not bounced twice; `fallback`: a local
  // mailbox's mail is never passed to the fallback relay.
  const std::int64_t now = now_s();
  std::erase_if(expiring_, [now](const auto& e) { return e.second <= now; });
  std::map<std::int64_t, std::pair<Job, std::vector<smtp::Verdict>>> by_message;
  for (auto& e : expired) {
    const auto& d = e.due;
    if (!expiring_.try_emplace(d.row, now + kLeaseSeconds).second) continue;
    auto [it, fresh] = by_message.try_emplace(d.message, std::pair{Job{message_of(d), /*fallback=*/true},
                                                                   std::vector<smtp::Verdict>{}});
    it->second.first.message.recipients.push_back(
        {d.row, d.recipient, d.original, d.attempts, true, d.created, d.notify, d.orcpt});
    std::string status(queue::reply_status(e.reply));
    it->second.second.push_back(
        smtp::Verdict::local(smtp::Outcome::deferred, status.empty() ? "4.0.0" : status, e.reply));
  }
  for (auto& [message, job] : by_message) finish(job.first, job.second, "local");
}

void Outbound::report_local_delivered(std::vector<store::DueDelivery> delivered) {
  std::map<std::int64_t, std::pair<store::ClaimedMessage, Reports>> by_message;
  for (const auto& d : delivered) {
    auto [it, fresh] = by_message.try_emplace(d.message, message_of(d), Reports{});
    it->second.second.delivered.push_back({d.recipient, d.original, "2.0.0", "", "delivered to mailbox", false, d.orcpt});
  }
  // The mailbox copy keeps the message: report() reads its header there.
  for (auto& [message, entry] : by_message)
    asio::co_spawn(executor_, report(std::move(entry.first), std::move(entry.second), {}, std::nullopt),
                   asio::detached);
}

void Outbound::note_message(const std::string& relay, const smtp::MessageResult& r) {
  // Taken when any recipient was; the reply shown is the first taken
  // one's (the end of data), else the last refusal.
  const smtp::Verdict* shown = nullptr;
  for (const auto& v : r.recipients)
    if (!shown || (v.outcome == smtp::Outcome::delivered && shown->outcome != smtp::Outcome::delivered)) shown = &v;
  if (!shown) return;
  targets_.message(relay, shown->outcome == smtp::Outcome::delivered, shown->diagnostic(), now_s());
}

std::string Outbound::targets_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& t : targets_.list())
    list.push_back({{"target", t.target},
                    {"state", delivery::to_string(t.state)},
                    {"esmtp", t.esmtp},
                    {"size_limit", t.size_limit},
                    {"tls", t.tls},
                    {"mail_attempts", t.mail_attempts},
                    {"mail_sent", t.mail_sent},
                    {"connect_failures", t.connect_failures},
                    {"last_reply", t.last_reply},
                    {"last_used", t.last_used_s}});
  const auto& totals = targets_.totals();
  nlohmann::json out = {{"targets", list},
                        {"totals",
                         {{"since", totals.since_s},
                          {"sent", totals.sent},
                          {"retried", totals.retried},
                          {"undeliverable", totals.undeliverable},
                          {"dead_letters", totals.dead_letters}}}};
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

asio::awaitable<std::optional<std::vector<queue::Target>>> Outbound::where_to(std::string address) {
  auto expand = [this, address] { return expander_.expand(address); };
  queue::Expansion where = co_await offload(blocking_, expand);
  if (where.status == queue::ExpansionStatus::not_local) co_return std::vector<queue::Target>{{to_lower(address), false}};
  if (where.status != queue::ExpansionStatus::ok) co_return std::nullopt;
  co_return std::move(where.targets);
}

asio::awaitable<void> Outbound::tell_administrators(store::ClaimedMessage m, std::vector<DeadLetter> letters) {
  static const auto logger = log::get("bounce");
  const std::int64_t message = m.message;
  auto read = [this, message] { return queue_.read_body(message, {0, 64 * 1024}); };
  auto head = co_await offload(blocking_, read);
  if (!head) {
    logger->warn("warning: {}: cannot read the dead letter for the administrators: {}", m.queue_id,
                 head.error().message);
    co_return;
  }
  for (const auto& admin : config_.mail_administrators) {
    auto where = co_await where_to(admin);
    if (!where) continue;
    // The report the sender could not get, for the administrator: what
    // failed and why, and the message's header (never its body).
    delivery::DsnInput in;
    in.kind = delivery::DsnKind::failed;
    in.reporting_mta = config_.hostname;
    in.queue_id = m.queue_id;
    in.sender = admin;
    in.arrival_s = m.created;
    in.now_s = now_s();
    in.headers_only = true;
    for (const auto& d : letters) in.recipients.push_back({d.recipient, "", "5.0.0", "", d.reason, false, ""});
    in.message = *head;
    in.message_size = m.size;
    std::string notice = delivery::make_dsn(in);
    queue::Envelope env;
    env.recipients.push_back({admin, *where});
    auto submit = [this, &env, &notice](auto done) { intake_.submit(std::move(env), notice, std::move(done)); };
    auto accepted = co_await on_completion<Result<queue::Accepted>>(submit);
    if (accepted) logger->info("{}: postmaster dead letter notification: {}", m.queue_id, accepted->queue_id);
  }
}

void Outbound::record(const std::string& queue_id, std::vector<store::AttemptOutcome> outcomes) {
  queue_.record_attempts(std::move(outcomes), [queue_id](Status st) {
    // The lease still holds these rows: they are tried again when it ends.
    if (!st) log::get("qmgr")->warn("warning: {}: cannot record delivery attempts: {}", queue_id, st.error().message);
  });
}

asio::awaitable<void> Outbound::report(store::ClaimedMessage m, Reports reports,
                                       std::vector<store::AttemptOutcome> outcomes, std::optional<std::string> body) {
  static const auto logger = log::get("bounce");
  if (!body) {
    // What a report can return: the whole message up to the limit, else
    // its header section (read within the first 64 KiB past the limit).
    const std::int64_t message = m.message;
    const store::ByteRange head{0, config_.delivery_bounce_size_limit + 64 * 1024};
    auto read = [this, message, head] { return queue_.read_body(message, head); };
    auto got = co_await offload(blocking_, read);
    if (got) body = std::move(*got);
  }
  // Where the report goes: the sender resolved as any recipient is (a local
  // user, an alias, or another domain).
  const std::string sender = m.sender;
  std::optional<std::vector<queue::Target>> where = co_await where_to(sender);
  const bool reachable = body && where;
  // A copy of each non-delivery report, as the i5/OS NONDELIVERY mailbox.
  std::optional<std::vector<queue::Target>> copy;
  if (!config_.bounce_copy.empty() && !reports.failed.empty()) copy = co_await where_to(config_.bounce_copy);
  bool failed_sent = reports.failed.empty(), delayed_sent = reports.delayed.empty();
  for (delivery::DsnKind kind : {delivery::DsnKind::failed, delivery::DsnKind::delayed, delivery::DsnKind::relayed,
                                 delivery::DsnKind::delivered}) {
    auto& recipients = kind == delivery::DsnKind::failed    ? reports.failed
                       : kind == delivery::DsnKind::delayed ? reports.delayed
                       : kind == delivery::DsnKind::relayed ? reports.relayed
                                                            : reports.delivered;
    if (recipients.empty() || !reachable) continue;
    delivery::DsnInput in;
    in.kind = kind;
    in.reporting_mta = config_.hostname;
    in.queue_id = m.queue_id;
    in.sender = sender;
    in.envid = m.envid;
    in.headers_only = m.ret == "HDRS";
    in.arrival_s = m.created;
    in.now_s = now_s();
    in.retry_until_s = m.created + retry_.lifetime.count();
    in.recipients = std::move(recipients);
    in.message = *body;
    in.message_size = m.size;
    in.return_limit = config_.delivery_bounce_size_limit;
    std::string dsn = delivery::make_dsn(in);
    queue::Envelope env;  // sender "": the null reverse-path; no client: made here
    env.recipients.push_back({sender, *where});
    if (kind == delivery::DsnKind::failed && copy) env.recipients.push_back({config_.bounce_copy, *copy});
    auto submit = [this, &env, &dsn](auto done) { intake_.submit(std::move(env), dsn, std::move(done)); };
    auto accepted = co_await on_completion<Result<queue::Accepted>>(submit);
    if (!accepted) continue;
    journal_.append({0, store::JournalEvent::dsn_sent, m.queue_id, m.message_id, "", sender, "", m.size, "",
                     fmt::format("{} notification: {}", delivery::action_name(kind), accepted->queue_id)});
    // Postfix's words, which pflogsumm counts.
    if (kind == delivery::DsnKind::failed) {
      logger->info("{}: sender non-delivery notification: {}", m.queue_id, accepted->queue_id);
      failed_sent = true;
    } else if (kind == delivery::DsnKind::delayed) {
      logger->info("{}: sender delay notification: {}", m.queue_id, accepted->queue_id);
      delayed_sent = true;
    } else {
      logger->info("{}: sender delivery status notification: {}", m.queue_id, accepted->queue_id);
    }
  }
  if (!failed_sent || !delayed_sent)
    logger->warn("warning: {}: cannot send a notification to <{}>; trying again later", m.queue_id,
                 printable(sender, 300));
  for (auto& o : outcomes) {
    // Not lost: failed recipients wait and fail again, and their report is
    // tried again then; a warning not sent is tried at the next attempt.
    if (!failed_sent && o.state == store::RecipientState::bounced) {
      o.state = store::RecipientState::deferred;
      o.expired = false;
      o.next_attempt_s = now_s() + retry_.first_interval.count();
    }
    if (!delayed_sent) o.warned = false;
  }
  if (!outcomes.empty()) record(m.queue_id, std::move(outcomes));
}

}  // namespace herald::server

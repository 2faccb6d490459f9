#include "server/server.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <openssl/rand.h>

#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "base/duration.h"
#include "base/env.h"
#include "base/ids.h"
#include "base/log.h"
#include "net/connection.h"
#include "queue/local_retry.h"
#include "server/context.h"
#include "server/listeners.h"
#include "server/offload.h"
#include "server/control.h"
#include "server/outbound.h"
#include "server/spool.h"
#include "server/recipients.h"
#include "server/startup.h"

namespace herald::server {

using asio::ip::tcp;

// load_sasl_secret - 32 random octets kept across restarts (mode 0600), so
// an unknown user's SCRAM salt stays the same and cannot be computed. A
// secret that cannot be made or kept is an error: a public or changing one
// would let a client tell unknown users from known ones.
static Result<std::string> load_sasl_secret(const std::filesystem::path& path) {
  constexpr std::size_t kSize = 32;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    auto secret = Env::posix().read_file(path);
    if (!secret) return secret.error();
    if (secret->size() != kSize)
      return make_error(Errc::invalid, fmt::format("{}: {} octets where {} belong; remove it to make a new one "
                                                   "(the SCRAM salts of unknown users then change once)",
                                                   path.string(), secret->size(), kSize));
    return secret;
  }
  unsigned char fresh[kSize];
  if (RAND_bytes(fresh, sizeof fresh) != 1) return make_error(Errc::internal, "no randomness for the SASL secret");
  std::string secret(reinterpret_cast<const char*>(fresh), sizeof fresh);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  bool ok = fd >= 0 && ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size());
  ok = fd >= 0 && ::fsync(fd) == 0 && ok;
  if (fd >= 0) ::close(fd);
  if (!ok) {
    std::filesystem::remove(path, ec);
    return make_error(Errc::io, fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
  }
  return secret;
}


// imap_limits_of - the [imap] keys as the session's bounds.
imap::ImapLimits imap_limits_of(const config::ImapConfig& c) {
  imap::ImapLimits l;
  l.reader.max_line = c.max_line;
  l.reader.max_literal = c.max_literal;
  l.reader.max_command = c.max_literal;
  l.reader.max_depth = c.max_depth;
  l.max_bad_commands = c.max_bad_commands;
  l.append_limit = c.max_literal;
  l.metadata_max_size = c.metadata_max_size;
  l.metadata_max_entries = c.metadata_max_entries;
  return l;
}

// ServerContext - what the server owns for its drivers: intake, the alias
// expander, the authenticator, the blocking pool, TLS, limits and
// connection counts. Each driver sees only its part (context.h).
struct ServerContext {
  // REQUIRES: fake_salt_secret from load_sasl_secret.
  ServerContext(const config::Config& cfg, store::Store& st, std::unique_ptr<net::TlsServer> tls_server,
                std::string fake_salt_secret)
      : config(cfg),
        store_(st),
        intake(cfg.hostname, st.queue(),
               queue::LocalDelivery(std::chrono::duration_cast<std::chrono::seconds>(cfg.queue_retry_interval)),
               queue::BodyLimits{cfg.smtp.body_memory_max, cfg.smtp.memory_budget}),
        local_retry(st.queue(), intake.local_delivery(),
                    std::chrono::duration_cast<std::chrono::seconds>(cfg.delivery_max_queue_lifetime).count()),
        expander(st.directory(), {static_cast<int>(cfg.alias_max_depth), cfg.alias_max_targets}),
        free_space(cfg.data_dir, cfg.store_min_free_space),
        smtp_limits(server::smtp_limits(cfg.smtp)),
        pop3_limits{.max_errors = cfg.pop3.max_errors},
        imap_limits(imap_limits_of(cfg.imap)),
        relay_networks(net::NetworkList::parse(cfg.smtp.relay_networks)),
        etrn_networks(net::NetworkList::parse(cfg.smtp.etrn_networks)),
        tls(std::move(tls_server)),
        authenticator(st.directory(),
                      auth::AuthLimits{cfg.auth_failure_delay, cfg.auth_max_failure_delay, cfg.auth_max_failures,
                                       cfg.auth_failure_window, cfg.auth_lockout, cfg.auth_cache_ttl,
                                       cfg.auth_max_tracked, cfg.auth_user_lockout, cfg.auth_user_penalty}),
        sasl_options{.fake_salt_secret = std::move(fake_salt_secret)},
        blocking(cfg.blocking_threads),
        auth{authenticator, st.journal(), blocking, sasl_options, cfg.auth_allow_plaintext, tls != nullptr},
        drivers{SmtpDriverContext{cfg.smtp, smtp_limits, cfg.hostname, relay_networks, etrn_networks,
                                  RecipientDirectory{expander, st.directory(), cfg.postmaster},
                                  intake, st.queue(), flush_outbound, st.journal(), free_space, blocking,
                                  TlsSetup{tls.get(), cfg.tls_handshake_timeout}, auth},
                Pop3DriverContext{cfg.pop3, pop3_limits, cfg.hostname, st.directory(), st.mailboxes(), blocking,
                                  TlsSetup{tls.get(), cfg.tls_handshake_timeout}, auth},
                ImapDriverContext{cfg.imap, imap_limits, cfg.hostname, st.directory(), st.mailboxes(), mailbox_watch,
                                  imap_sessions, imap_literals,
                                  blocking, TlsSetup{tls.get(), cfg.tls_handshake_timeout}, auth}} {
    for (const ListenerKind& kind : listener_kinds()) {
      const config::ListenerConfig& l = kind.section(cfg);
      limiters.push_back(std::make_unique<net::ConnectionLimiter>(l.max_connections, l.max_connections_per_client));
    }
    // Changes of mailboxes reach the sessions that have them selected.
    st.mailboxes().set_change_listener([this](const std::vector<store::MailboxChange>& changes) {
      mailbox_watch.changed(changes);
    });
  }
  ~ServerContext() {
    // The store outlives this: a commit after here must not call into it.
    store_.mailboxes().set_change_listener(nullptr);
  }

  const config::Config& config;
  store::Store& store_;
  queue::Intake intake;
  queue::LocalRetry local_retry;  // copies deferred for a full mailbox, tried again
  queue::AliasExpander expander;
  FreeSpace free_space;
  const smtp::SmtpLimits smtp_limits;
  const pop3::Pop3Limits pop3_limits;
  const imap::ImapLimits imap_limits;
  MailboxWatch mailbox_watch;
  UserSessions imap_sessions;
  LiteralMemory imap_literals{config.imap.literal_memory};
  const net::NetworkList relay_networks;
  const net::NetworkList etrn_networks;
  // One per listener kind (the table's order), from its section's
  // max_connections keys, shared by its addresses and threads.
  std::vector<std::unique_ptr<net::ConnectionLimiter>> limiters;
  std::unique_ptr<net::TlsServer> tls;  // null: no TLS anywhere
  auth::Authenticator authenticator;
  const sasl::MechanismOptions sasl_options;  // fake-salt secret from data_dir/sasl.secret
  // Blocking work (store reads, password hashing) runs here, never on an
  // I/O thread (server/offload.h); server.blocking_threads of them.
  asio::thread_pool blocking;
  std::function<void()> flush_outbound;  // Server::start sets it: the agent's flush
  const AuthContext auth;
  Drivers drivers;
};

// AcceptErrors - accept() failures of every listener and I/O thread. When
// descriptors run out each acceptor fails every time it wakes; one log
// line per kLogInterval, with the count since the last one, says so
// without filling the disk (Postfix logs such warnings at a similar pace).
class AcceptErrors {
 public:
  static constexpr std::chrono::seconds kLogInterval{60};

  // note - one failure; the number of failures to report when a line is
  // due now (this one included), else 0.
  std::uint64_t note() {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch()).count();
    ++unlogged_;
    std::int64_t due = next_log_ms_.load();
    if (now < due) return 0;
    const std::int64_t next = now + std::chrono::duration_cast<std::chrono::milliseconds>(kLogInterval).count();
    if (!next_log_ms_.compare_exchange_strong(due, next)) return 0;  // another thread logs it
    return unlogged_.exchange(0);
  }

 private:
  std::atomic<std::int64_t> next_log_ms_{0};
  std::atomic<std::uint64_t> unlogged_{0};
};

struct Server::Impl {
  Impl(const config::Config& c, store::Store& s, std::unique_ptr<net::TlsServer> t)
      : config(c), store(s), tls(std::move(t)) {}

  // Door - one configured address of one listener kind.
  struct Door {
    const ListenerKind* kind;
    asio::ip::tcp::endpoint endpoint;
    net::ConnectionLimiter* limiter;
  };

  const config::Config& config;
  store::Store& store;
  std::unique_ptr<net::TlsServer> tls;  // until start() hands it to ctx
  std::unique_ptr<ServerContext> ctx;
  std::unique_ptr<Outbound> outbound;  // its coroutines run on ios.front(), destroyed before it
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::unique_ptr<ControlSocket> control;  // on ios.front(), destroyed before it
  std::unique_ptr<asio::signal_set> signals;  // on ios.front(), destroyed before it
  // The spool thread: every [[spool]]'s agent on one io_context of its own
  // (file and store reads block it, never an I/O thread).
  std::unique_ptr<SpoolContext> spool_ctx;
  std::unique_ptr<asio::io_context> spool_io;
  std::vector<std::unique_ptr<SpoolAgent>> spools;  // destroyed before spool_io
  std::thread spool_thread;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<Door> listeners;
  std::vector<std::thread> threads;
  AcceptErrors accept_errors;
};

static asio::awaitable<void> accept_loop(const Drivers& drivers, tcp::acceptor& acceptor, const ListenerKind& kind,
                                         net::ConnectionLimiter& limiter, AcceptErrors& errors,
                                         std::chrono::milliseconds backoff) {
  for (;;) {
    std::error_code ec;
    tcp::endpoint peer;  // filled by accept() itself: no getpeername() per connection
    tcp::socket socket = co_await acceptor.async_accept(peer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // EMFILE and friends: the connection stays queued and the socket
      // readable, so accepting again at once would spin. Pause
      // (server.accept_backoff), log now and then, and keep serving the
      // connections we have; their ends free descriptors.
      if (auto n = errors.note(); n > 0)
        log::get("master")->warn("warning: {} accept: {} ({} failure{} of all listeners since the last such "
                                 "warning; each listener pauses {})",
                                 kind.name, ec.message(), n, n == 1 ? "" : "s", format_duration(backoff));
      asio::steady_timer t(acceptor.get_executor(), backoff);
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    // A connection that ends by an exception (a bug: drivers answer every
    // failure with a reply) is logged, never lost without a word; what it
    // held is released by its destructors.
    auto connection = kind.serve(drivers, Accepted{std::move(socket), peer, kind, limiter});
    asio::co_spawn(acceptor.get_executor(), std::move(connection), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        log::get("master")->error("error: connection ended by an exception: {}", x.what());
      } catch (...) {
        log::get("master")->error("error: connection ended by an unknown exception");
      }
    });
  }
}

// watch_certificates - reload on SIGHUP and when a certificate file changes
// (checked every few seconds: renewals by certbot and the like just work).
static asio::awaitable<void> watch_certificates(ServerContext& ctx) {
  if (!ctx.tls) co_return;
  auto executor = co_await asio::this_coro::executor;
  asio::signal_set hup(executor, SIGHUP);
  bool hup_seen = false;
  hup.async_wait([&hup_seen](std::error_code ec, int) { if (!ec) hup_seen = true; });
  asio::steady_timer tick(executor);
  for (;;) {
    tick.expires_after(std::chrono::seconds(2));
    std::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    if (!hup_seen && !ctx.tls->changed()) continue;
    if (hup_seen) {
      hup_seen = false;
      hup.async_wait([&hup_seen](std::error_code e, int) { if (!e) hup_seen = true; });
    }
    if (auto st = ctx.tls->reload(); !st)
      log::get("master")->error("error: certificate reload failed, keeping the old ones: {}", st.error().message);
    else
      for (const auto& d : ctx.tls->describe()) log::get("master")->info("certificate reloaded: {}", d);
  }
}

// watch_other_processes - a `herald` command's changes to mailboxes (a
// flag, an expunge, an import) reach the sessions that watch them: the
// store counts other processes' commits in shared memory, read here four
// times a second (a memory read; the store is asked only when it grew).
static asio::awaitable<void> watch_other_processes(ServerContext& ctx) {
  store::Mailboxes& mailboxes = ctx.store_.mailboxes();
  asio::steady_timer tick(co_await asio::this_coro::executor);
  std::uint64_t seen = mailboxes.foreign_changes();
  for (;;) {
    tick.expires_after(std::chrono::milliseconds(250));
    std::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    const std::uint64_t now = mailboxes.foreign_changes();
    if (now == seen) continue;
    seen = now;
    auto look = [&ctx, &mailboxes] {
      std::vector<store::MailboxChange> watched = ctx.mailbox_watch.watched();
      std::vector<std::int64_t> ids;
      for (const auto& w : watched) ids.push_back(w.mailbox_id);
      auto current = mailboxes.highest_modseqs(ids);
      if (!current) return;
      std::vector<store::MailboxChange> moved;
      for (std::size_t i = 0; i < current->size() && i < watched.size(); ++i)
        if ((*current)[i].highestmodseq > watched[i].highestmodseq) moved.push_back((*current)[i]);
      if (!moved.empty()) ctx.mailbox_watch.changed(moved);
    };
    co_await offload(ctx.blocking, look);
  }
}

// watch_free_space - every second, whether data_dir has room for mail
// (free_space.h); read on the blocking pool, as a network file system may
// be slow to answer. The first figure was read before the first client.
static asio::awaitable<void> watch_free_space(ServerContext& ctx) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  for (;;) {
    tick.expires_after(std::chrono::seconds(1));
    std::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await offload(ctx.blocking, [&ctx] { ctx.free_space.check(); });
  }
}

// prune_journal - journal.keep: every minute, the rows older than that go,
// a thousand per write, so that the writer serves mail in between.
static asio::awaitable<void> prune_journal(ServerContext& ctx, store::Journal& journal) {
  constexpr std::size_t kBatch = 1000;
  asio::steady_timer tick(co_await asio::this_coro::executor);
  for (;;) {
    const std::int64_t before = unix_millis(std::chrono::system_clock::now()) - ctx.config.journal_keep.count();
    std::size_t total = 0;
    for (;;) {
      auto removed = co_await offload(ctx.blocking, [&journal, before] { return journal.prune(before, kBatch); });
      if (!removed) {
        log::get("master")->warn("warning: journal prune: {}", removed.error().message);
        break;
      }
      total += *removed;
      if (*removed < kBatch) break;
    }
    if (total > 0) log::get("master")->info("journal: pruned {} rows older than journal.keep", total);
    tick.expires_after(std::chrono::minutes(1));
    std::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
  }
}

// retry_local_deliveries - every queue.retry_interval, another attempt at
// the local copies deferred for a full mailbox whose time has come; those
// past the queue lifetime go to the agent to be bounced and reported.
static asio::awaitable<void> retry_local_deliveries(ServerContext& ctx, Outbound& outbound) {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  for (;;) {
    tick.expires_after(ctx.config.queue_retry_interval);
    std::error_code ec;
    co_await tick.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    auto pass = co_await offload(ctx.blocking, [&ctx] {
      return ctx.local_retry.run(unix_seconds(std::chrono::system_clock::now()));
    });
    if (!pass) log::get("qmgr")->warn("warning: local retry: {}", pass.error().message);
    if (pass && !pass->expired.empty()) outbound.expire_local(std::move(pass->expired));
    if (pass && !pass->notify_delivered.empty()) outbound.report_local_delivered(std::move(pass->notify_delivered));
  }
}

Server::Server(const config::Config& config, store::Store& store, std::unique_ptr<net::TlsServer> tls)
    : impl_(std::make_unique<Impl>(config, store, std::move(tls))) {}

Server::~Server() {
  stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  // No wake-up may be posted to an io_context about to go (IDLE's timers).
  if (impl_->ctx) impl_->store.mailboxes().set_change_listener(nullptr);
  if (impl_->spool_thread.joinable()) impl_->spool_thread.join();
  // Pending DNS lookups end while their io_context still exists.
  if (impl_->outbound) impl_->outbound->shutdown();
}

Status Server::start() {
  auto& im = *impl_;
  auto secret = load_sasl_secret(im.config.data_dir / "sasl.secret");
  if (!secret) return secret.error();
  im.ctx = std::make_unique<ServerContext>(im.config, im.store, std::move(im.tls), std::move(*secret));
  auto router = make_router(im.config);
  if (!router) return router.error();
  std::span<const ListenerKind> kinds = listener_kinds();
  for (std::size_t k = 0; k < kinds.size(); ++k) {
    const auto& addresses = kinds[k].section(im.config).listen;
    if (!kinds[k].serve) {
      if (!addresses.empty())
        log::get("master")->warn("warning: [{}] is configured but not served by this version of herald",
                                 kinds[k].name);
      continue;
    }
    for (const auto& address : addresses) {
      auto ep = net::parse_endpoint(address);
      if (!ep) return ep.error();
      im.listeners.push_back({&kinds[k], *ep, im.ctx->limiters[k].get()});
    }
  }
  // RFC 5321 4.5.1: mail to postmaster must be accepted; say so at once
  // when nobody would receive it.
  if (im.config.postmaster.empty()) {
    auto first = im.store.directory().first_user();
    if (first && !*first)
      log::get("master")->warn("warning: no postmaster: mail to <postmaster> is refused until a user is added "
                               "or server.postmaster is set");
  }
  // The admin listener comes with the admin module, not as a protocol driver.
  if (!im.config.admin.listen.empty())
    log::get("master")->warn("warning: [admin] is configured but not served by this version of herald");
  {
    asio::io_context probe_io;
    for (const auto& l : im.listeners)
      if (auto st = net::check_free(probe_io, l.endpoint); !st) return st;
  }
  unsigned n = io_threads(im.config);
  for (unsigned i = 0; i < n; ++i) im.ios.push_back(std::make_unique<asio::io_context>(1));
  // SIGTERM and SIGINT are caught before the first listener opens: one
  // that comes between then and run() is kept and handled when it runs,
  // so a stop that follows a start at once still stops cleanly.
  im.signals = std::make_unique<asio::signal_set>(*im.ios.front(), SIGINT, SIGTERM);
  im.signals->async_wait([this](std::error_code ec, int sig) {
    if (ec) return;
    log::get("master")->info("terminating on signal {}", sig);
    stop();
  });
  for (unsigned i = 0; i < n; ++i) {
    asio::io_context* io = im.ios[i].get();
    for (const auto& l : im.listeners) {
      auto acc = net::open_acceptor(*io, l.endpoint);
      if (!acc) return acc.error();
      asio::co_spawn(*io,
                     accept_loop(im.ctx->drivers, **acc, *l.kind, *l.limiter, im.accept_errors,
                                 im.config.accept_backoff),
                     asio::detached);
      im.acceptors.push_back(std::move(*acc));
    }
  }
  im.outbound = std::make_unique<Outbound>(im.config, im.store.queue(), im.store.journal(), im.ctx->blocking,
                                           std::move(*router),
                                           im.ctx->intake, im.ctx->expander, im.ios.front()->get_executor());
  // The CLI's way to the running daemon (server/control.h); its commands
  // run on ios.front(), where the agent does.
  Outbound& agent = *im.outbound;
  im.ctx->flush_outbound = [&agent] { agent.flush(); };
  std::map<std::string, ControlSocket::Handler, std::less<>> commands;
  commands["targets"] = [&agent](std::string_view) { return agent.targets_json(); };
  commands["flush"] = [&agent](std::string_view) {
    agent.flush();
    return std::string("{\"flushed\": true}");
  };
  commands["status"] = [](std::string_view) {
    return fmt::format("{{\"version\": \"{}\", \"pid\": {}}}", HERALD_VERSION, ::getpid());
  };
  auto control = ControlSocket::open(*im.ios.front(), control_path(im.config.data_dir), std::move(commands));
  if (!control) return control.error();
  im.control = std::move(*control);
  {
    im.spool_ctx = std::unique_ptr<SpoolContext>(new SpoolContext{
        im.config, im.ctx->intake, im.store.queue(), im.store.journal(),
        RecipientDirectory{im.ctx->expander, im.store.directory(), im.config.postmaster}, im.ctx->free_space,
        im.ctx->smtp_limits});
    im.spool_io = std::make_unique<asio::io_context>(1);
    im.spools.push_back(std::make_unique<SpoolAgent>(*im.spool_ctx, im.config.maildrop, *im.spool_io));
    for (const auto& s : im.config.spools)
      im.spools.push_back(std::make_unique<SpoolAgent>(*im.spool_ctx, s, *im.spool_io));
  }
  return {};
}

std::vector<std::string> Server::listening() const {
  std::vector<std::string> out;
  for (const auto& l : impl_->listeners)
    out.push_back(fmt::format("{} {}:{}", l.kind->name, l.endpoint.address().to_string(), l.endpoint.port()));
  return out;
}

void Server::run() {
  auto& im = *impl_;
  // SIGHUP, or a changed certificate file, reloads the certificates; new
  // handshakes use them, established connections keep theirs.
  asio::co_spawn(*im.ios.front(), watch_certificates(*im.ctx), asio::detached);
  asio::co_spawn(*im.ios.front(), retry_local_deliveries(*im.ctx, *im.outbound), asio::detached);
  asio::co_spawn(*im.ios.front(), im.outbound->run(), asio::detached);
  asio::co_spawn(*im.ios.front(), im.control->run(), asio::detached);
  if (im.config.journal_keep.count() > 0)
    asio::co_spawn(*im.ios.front(), prune_journal(*im.ctx, im.store.journal()), asio::detached);
  im.ctx->free_space.check();  // before the first client, not a second after
  asio::co_spawn(*im.ios.front(), watch_free_space(*im.ctx), asio::detached);
  asio::co_spawn(*im.ios.front(), watch_other_processes(*im.ctx), asio::detached);
  ::signal(SIGPIPE, SIG_IGN);
  log::get("master")->info("daemon started -- version {}", HERALD_VERSION);
  for (std::size_t i = 1; i < im.ios.size(); ++i)
    im.threads.emplace_back([io = im.ios[i].get()] { io->run(); });
  if (im.spool_io) {
    for (auto& agent : im.spools) asio::co_spawn(*im.spool_io, agent->run(), asio::detached);
    im.spool_thread = std::thread([io = im.spool_io.get()] { io->run(); });
  }
  im.ios.front()->run();
  for (auto& t : im.threads)
    if (t.joinable()) t.join();
  im.threads.clear();
  if (im.spool_thread.joinable()) im.spool_thread.join();
}

void Server::stop() {
  for (auto& io : impl_->ios) io->stop();
  if (impl_->spool_io) impl_->spool_io->stop();
}

}  // namespace herald::server

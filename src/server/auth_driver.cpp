#include "server/auth_driver.h"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "base/text.h"
#include "net/tls.h"
#include "server/offload.h"

namespace herald::server {

sasl::ChannelBinding channel_binding_of(Connection& conn) {
  if (!conn.tls_active()) return {};
  auto cb = net::channel_binding(conn.ssl());
  return sasl::ChannelBinding{cb.type, cb.data};
}

void offer_auth(const ServerContext& ctx, Connection& conn, sasl::AuthOptions& options) {
  options.tls_active = conn.tls_active();
  options.starttls_available = ctx.tls != nullptr && !conn.tls_active();
  options.channel_binding = channel_binding_of(conn);
  options.mechanisms =
      sasl::offered_mechanisms(conn.tls_active(), ctx.config.auth_allow_plaintext, options.channel_binding);
  options.mechanism_options = ctx.sasl_options;
}

asio::awaitable<sasl::Exchange::Outcome> check_exchange(ServerContext& ctx, sasl::Exchange& exchange,
                                                        const Peer& peer) {
  co_return co_await offload(ctx.blocking, [&ctx, &exchange, &peer] {
    if (exchange.needs_password_check()) {
      auto check = ctx.authenticator.check_password(exchange.authcid(), exchange.password(), peer.ip);
      if (check.verdict == auth::Verdict::temp_fail) return exchange.temp_failure("user lookup failed");
      return exchange.password_checked(check.verdict == auth::Verdict::ok);
    }
    // SCRAM verifies the proof itself: the lockout learns the result from
    // note_auth, which every ended exchange reaches.
    auto creds = ctx.authenticator.scram_credentials(exchange.authcid(), peer.ip);
    if (!creds) return exchange.temp_failure("credentials lookup failed: " + creds.error().message);
    return exchange.credentials(std::move(*creds));
  });
}

asio::awaitable<void> note_auth(ServerContext& ctx, const Peer& peer, const char* protocol, bool success,
                                const std::string& user, const std::string& mechanism,
                                const std::string& reason, std::uint32_t& session_failures, bool temporary) {
  auto log = log::get(protocol[0] == 'p' ? "pop3d" : "smtpd");
  std::string who = printable(user, 200);
  if (temporary) {
    // Our failure, not the client's: no lockout count, no delay, and not
    // the line fail2ban's postfix-sasl filter bans for.
    log->warn("warning: {}: SASL {} authentication could not be checked: {}, sasl_username={}",
              peer.display(), mechanism, printable(reason, 200), who);
    ctx.store.journal().append({0, store::JournalEvent::login_failed, "", "", "", who, peer.display(), 0, "tempfail",
                                fmt::format("{} {} {}", protocol, mechanism, printable(reason, 200))});
    co_return;
  }
  if (success) {
    log->info("{}: sasl_method={}, sasl_username={}", peer.display(), mechanism, who);
    ctx.store.journal().append({0, store::JournalEvent::login, "", "", "", who, peer.display(), 0, "ok", fmt::format("{} {}", protocol, mechanism)});
    if (mechanism.rfind("SCRAM", 0) == 0) ctx.authenticator.record(user, peer.ip, true);
    co_return;
  }
  // The shape Postfix logs for SASL failures, which fail2ban's postfix-sasl
  // filter matches.
  log->warn("warning: {}: SASL {} authentication failed: authentication failure, sasl_username={}",
            peer.display(), mechanism, who);
  ctx.store.journal().append({0, store::JournalEvent::login_failed, "", "", "", who, peer.display(), 0, "failed",
                     fmt::format("{} {} {}", protocol, mechanism, printable(reason, 200))});
  if (mechanism.rfind("SCRAM", 0) == 0) ctx.authenticator.record(user, peer.ip, false);
  ++session_failures;
  asio::steady_timer t(co_await asio::this_coro::executor, ctx.authenticator.failure_delay(session_failures));
  std::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace herald::server

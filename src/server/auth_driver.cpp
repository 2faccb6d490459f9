#include "server/auth_driver.h"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "base/log.h"
#include "base/text.h"
#include "net/tls.h"
#include "server/offload.h"

namespace herald::server {
namespace {

sasl::ChannelBinding channel_binding_of(net::Connection& conn) {
  if (!conn.tls_active()) return {};
  auto cb = net::channel_binding(conn.ssl());
  return sasl::ChannelBinding{cb.type, cb.data};
}

}  // namespace

void ConnectionAuth::offer(net::Connection& conn, sasl::AuthOptions& options) const {
  options.tls_active = conn.tls_active();
  options.starttls_available = ctx_.tls_available && !conn.tls_active();
  options.channel_binding = channel_binding_of(conn);
  options.mechanisms = sasl::offered_mechanisms(conn.tls_active(), ctx_.allow_plaintext, options.channel_binding);
  options.mechanism_options = ctx_.mechanism_options;
}

asio::awaitable<sasl::Exchange::Outcome> ConnectionAuth::check(sasl::Exchange& exchange) {
  // A named lambda holding references: see the GCC 12 note in driver.h.
  auto answer = [&ctx = ctx_, &exchange, &ip = peer_.ip] {
    if (exchange.needs_password_check()) {
      auto check = ctx.authenticator.check_password(exchange.authcid(), exchange.password(), ip);
      if (check.verdict == auth::Verdict::temp_fail) return exchange.temp_failure("user lookup failed");
      return exchange.password_checked(check.verdict == auth::Verdict::ok);
    }
    // SCRAM verifies the proof itself: the lockout learns the result from
    // note(), which every ended exchange reaches.
    auto creds = ctx.authenticator.scram_credentials(exchange.authcid(), ip);
    if (!creds) return exchange.temp_failure("credentials lookup failed: " + creds.error().message);
    return exchange.credentials(std::move(*creds));
  };
  co_return co_await offload(ctx_.blocking, answer);
}

asio::awaitable<void> ConnectionAuth::note(const sasl::AuthEvent& ev) {
  auto log = log::get(protocol_ == "pop3" ? "pop3d" : "smtpd");
  std::string who = printable(ev.user, 200);
  std::string reason = printable(ev.reason, 200);
  const bool scram = ev.mechanism.rfind("SCRAM", 0) == 0;
  if (ev.temporary) {
    // Our failure, not the client's: no lockout count, no delay, and not
    // the line fail2ban's postfix-sasl filter bans for.
    log->warn("warning: {}: SASL {} authentication could not be checked: {}, sasl_username={}", peer_.display(),
              ev.mechanism, reason, who);
    ctx_.journal.append({0, store::JournalEvent::login_failed, "", "", "", who, peer_.display(), 0, "tempfail",
                         fmt::format("{} {} {}", protocol_, ev.mechanism, reason)});
    co_return;
  }
  if (ev.success) {
    log->info("{}: sasl_method={}, sasl_username={}", peer_.display(), ev.mechanism, who);
    ctx_.journal.append({0, store::JournalEvent::login, "", "", "", who, peer_.display(), 0, "ok",
                         fmt::format("{} {}", protocol_, ev.mechanism)});
    if (scram) ctx_.authenticator.record(ev.user, peer_.ip, true);
    // A user under attack is let in from an address that has not failed,
    // but no faster than a guesser would be answered.
    if (auto penalty = ctx_.authenticator.user_penalty(ev.user); penalty.count() > 0) {
      asio::steady_timer t(co_await asio::this_coro::executor, penalty);
      std::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return;
  }
  // The shape Postfix logs for SASL failures, which fail2ban's postfix-sasl
  // filter matches.
  log->warn("warning: {}: SASL {} authentication failed: authentication failure, sasl_username={}",
            peer_.display(), ev.mechanism, who);
  ctx_.journal.append({0, store::JournalEvent::login_failed, "", "", "", who, peer_.display(), 0, "failed",
                       fmt::format("{} {} {}", protocol_, ev.mechanism, reason)});
  if (scram) ctx_.authenticator.record(ev.user, peer_.ip, false);
  ++failures_;
  asio::steady_timer t(co_await asio::this_coro::executor,
                       ctx_.authenticator.failure_delay(failures_) + ctx_.authenticator.user_penalty(ev.user));
  std::error_code ec;
  co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace herald::server

#include "server/smtpd.h"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "base/text.h"
#include "server/auth_driver.h"
#include "net/connection.h"
#include "server/offload.h"

namespace herald::server {
namespace {

// SmtpRecipientPolicy - RCPT checks for one connection: local users and
// aliases from the store; other domains only for clients in
// smtp.relay_networks (the full relay policy comes with the policy module).
class SmtpRecipientPolicy final : public smtp::RecipientPolicy {
 public:
  SmtpRecipientPolicy(ServerContext& ctx, bool in_relay_networks, bool relay_needs_auth)
      : ctx_(ctx), in_relay_networks_(in_relay_networks), relay_needs_auth_(relay_needs_auth) {}

  // Authenticated users may relay (RFC 6409 6.1).
  void set_authenticated(std::string user) { auth_user_ = std::move(user); }

  smtp::RcptDecision check_recipient(const smtp::Mailbox& rcpt, std::uint64_t declared_size) override {
    smtp::RcptDecision d;
    std::string address = rcpt.str();
    if (rcpt.domain.empty()) {
      // RFC 5321 4.5.1: "postmaster" alone is the postmaster of this host.
      std::string domain = ctx_.config.local_domains.empty() ? ctx_.config.hostname
                                                             : ctx_.config.local_domains.front();
      address = "postmaster@" + domain;
    }
    queue::Expansion r = ctx_.expander.expand(address, declared_size);
    switch (r.status) {
      case queue::ExpansionStatus::ok:
        targets_[to_lower(rcpt.str())] = r.targets;
        for (auto& t : r.targets) d.deliver_to.push_back(t.address);
        break;
      case queue::ExpansionStatus::not_local:
        if (!auth_user_.empty() || (in_relay_networks_ && !relay_needs_auth_)) {
          targets_[to_lower(rcpt.str())] = {queue::Target{to_lower(address), false}};
          d.deliver_to.push_back(to_lower(address));
        } else {
          d.status = smtp::RcptStatus::relay_denied;
        }
        break;
      case queue::ExpansionStatus::unknown_user: d.status = smtp::RcptStatus::unknown_user; break;
      case queue::ExpansionStatus::over_quota: d.status = smtp::RcptStatus::over_quota; break;
      case queue::ExpansionStatus::alias_loop: d.status = smtp::RcptStatus::alias_loop; break;
      case queue::ExpansionStatus::alias_too_large: d.status = smtp::RcptStatus::alias_too_large; break;
      case queue::ExpansionStatus::temp_fail: d.status = smtp::RcptStatus::temp_fail; break;
    }
    return d;
  }

  // check_sender - submission's "verify mail from user": the user's own
  // address, an alias that delivers to them, or anything with send-as rights.
  bool check_sender(const smtp::Mailbox& reverse_path, bool null_sender, const std::string& user) override {
    auto u = ctx_.store.directory().find_user(user);
    if (!u || !*u) return false;
    if ((*u)->send_as_any) return true;
    if (null_sender) return false;
    std::string sender = to_lower(reverse_path.str());
    if (sender == (*u)->address) return true;
    auto targets = ctx_.store.directory().alias_targets(sender);
    if (!targets) return false;
    for (const auto& t : *targets)
      if (t == (*u)->address) return true;
    return false;
  }

  // targets - the resolution kept from RCPT time for this forward-path.
  std::vector<queue::Target> targets(const smtp::Mailbox& rcpt) const {
    auto it = targets_.find(to_lower(rcpt.str()));
    return it == targets_.end() ? std::vector<queue::Target>{} : it->second;
  }

 private:
  ServerContext& ctx_;
  bool in_relay_networks_;
  bool relay_needs_auth_;
  std::string auth_user_;
  std::map<std::string, std::vector<queue::Target>> targets_;
};

// auth_options - what this listener offers and demands in the
// connection's current state.
smtp::AuthOptions auth_options(const ServerContext& ctx, Listener listener, Connection& conn) {
  smtp::AuthOptions o;
  offer_auth(ctx, conn, o);
  if (listener == Listener::smtp) {
    o.auth_required = ctx.config.smtp.require_auth == "always";
    o.tls_required = ctx.config.smtp.require_tls;
  } else {
    o.auth_required = true;  // submission (RFC 6409 4.2)
  }
  return o;
}

std::string tls_note(Connection& conn) {
  if (!conn.tls_active()) return "";
  auto info = net::connection_info(conn.ssl());
  // Postfix's Received wording, which admins grep for.
  return fmt::format("(using {} with cipher {} ({}/{} bits))", info.version, info.cipher, info.bits, info.bits);
}

}  // namespace

asio::awaitable<void> smtp_connection(ServerContext& ctx, tcp::socket socket, tcp::endpoint endpoint,
                                      Listener listener) {
  auto log = log::get("smtpd");
  Connection conn(std::move(socket), endpoint);
  const Peer& client = conn.peer();
  const std::string peer = client.display();
  log->info("connect from {}", peer);
  auto ticket = ctx.connections(listener).acquire(client.ip);
  SmtpRecipientPolicy policy(ctx, ctx.relay_networks.contains(client.address),
                             listener == Listener::smtp && ctx.config.smtp.require_auth != "never");
  smtp::Session session(ctx.smtp_limits, ctx.config.hostname, policy);

  if (!ticket) {
    log->warn("warning: too many connections from {}", peer);
    ctx.store.journal().append({0, store::JournalEvent::connection_refused, "", "", "", "", peer, 0, "421 4.7.0", "too many connections"});
    co_await conn.write_all(session.too_many_connections_reply());
    co_return;
  }
  if (listener == Listener::smtps) {
    // RFC 8314 3.3: TLS from the first octet.
    if (!ctx.tls || !co_await conn.start_tls(ctx.tls->context(), ctx.config.tls_handshake_timeout)) {
      log->info("lost connection after TLS handshake from {}", peer);
      co_return;
    }
  } else {
    // Pre-greeting traffic: a client that talks before our 220 does not
    // speak SMTP, or wants to get its spam in before we look (postscreen).
    if (ctx.config.smtp.pregreet_wait.count() > 0) {
      asio::steady_timer t(conn.socket().get_executor(), ctx.config.smtp.pregreet_wait);
      std::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (conn.pending_bytes() > 0) {
      log->info("reject: PREGREET from {}", peer);
      ctx.store.journal().append({0, store::JournalEvent::connection_refused, "", "", "", "", peer, 0, "554 5.5.0", "pregreet"});
      co_await conn.write_all(session.pregreet_reply());
      co_return;
    }
  }
  // On smtps the session starts inside TLS (ESMTPSA in Received, and a
  // STARTTLS there is refused as "already active").
  if (conn.tls_active()) session.on_tls_started(auth_options(ctx, listener, conn));
  else session.set_auth_options(auth_options(ctx, listener, conn));
  if (!co_await conn.write_all(session.greeting())) co_return;

  char buf[8192];
  bool open = true;
  std::uint32_t auth_failures = 0;
  queue::Arrival arrival;  // while a body is on its way in
  while (open) {
    auto timeout = session.in_data() ? ctx.config.smtp.data_timeout : ctx.config.smtp.command_timeout;
    std::size_t n = co_await conn.read_some(buf, sizeof buf, timeout);
    if (n == 0) {
      if (conn.timed_out()) {
        log->info("timeout after {} from {}", session.in_data() ? "DATA" : "command", peer);
        co_await conn.write_all(session.timeout_reply());
      }
      break;
    }
    session.feed(std::string_view(buf, n));
    for (;;) {
      smtp::Step step = session.step();
      if (auto ev = session.take_auth_event()) {
        // The growing delay comes before the 535 reaches the client.
        co_await note_auth(ctx, client, listener == Listener::smtp ? "smtp" : "submission", ev->success, ev->user,
                           ev->mechanism, ev->reason, auth_failures, ev->temporary);
        if (ev->success) policy.set_authenticated(session.authenticated_user());
      }
      if (!step.output.empty() && !co_await conn.write_all(step.output)) {
        open = false;
        break;
      }
      if (step.action == smtp::Action::need_more) {
        if (!session.receiving_message()) arrival.reset();  // refused, or between BDAT chunks
        else if (!arrival) arrival = ctx.intake.arriving();
        break;
      }
      if (step.action == smtp::Action::close) {
        open = false;
        break;
      }
      if (step.action == smtp::Action::starttls) {
        // RFC 3207 4.2 / CVE-2011-0411: commands pipelined behind STARTTLS
        // arrived in clear; they are dropped, never run inside TLS.
        session.discard_input();
        if (!co_await conn.start_tls(ctx.tls->context(), ctx.config.tls_handshake_timeout)) {
          log->info("lost connection after STARTTLS from {}", peer);
          open = false;
          break;
        }
        session.on_tls_started(auth_options(ctx, listener, conn));
        break;  // nothing buffered remains; read the client's new EHLO
      }
      if (step.action == smtp::Action::authenticate) {
        session.on_auth_checked(co_await check_exchange(ctx, session.auth_exchange(), client));
        continue;
      }
      // Action::submit: commit durably, then answer the final dot.
      smtp::Transaction& tx = session.transaction();
      queue::Envelope env;
      env.sender = tx.sender();
      env.client_ip = client.ip;
      env.client_name = client.name;
      env.helo = session.helo_name();
      env.protocol = session.with_protocol();
      env.tls = tls_note(conn);
      env.submission = listener != Listener::smtp;
      env.auth_user = session.authenticated_user();
      for (const auto& r : tx.recipients)
        env.recipients.push_back({r.forward_path.str(), policy.targets(r.forward_path)});
      auto result = co_await on_completion<Result<queue::Accepted>>(
          [&ctx, &env, &tx, &arrival](auto done) {
            ctx.intake.submit(std::move(env), std::move(tx.data), std::move(done), std::move(arrival));
          });
      if (result) session.on_submitted(smtp::SubmitOutcome::queued, result->queue_id);
      else session.on_submitted(smtp::SubmitOutcome::temp_fail, "try again later");
    }
  }
  log->info("disconnect from {}", peer);
}

}  // namespace herald::server

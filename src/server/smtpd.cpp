#include "server/smtpd.h"

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "base/text.h"
#include "server/auth_driver.h"
#include "net/connection.h"
#include "server/offload.h"
#include "server/recipients.h"

namespace herald::server {
namespace {

// Targets - where each accepted recipient of the transaction goes, kept
// from RCPT time for intake (by lower-cased forward-path).
using Targets = std::map<std::string, std::vector<queue::Target>>;

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
  const bool in_relay_networks = ctx.relay_networks.contains(client.address);
  const bool relay_needs_auth = listener == Listener::smtp && ctx.config.smtp.require_auth != "never";
  const RecipientDirectory directory{ctx.expander, ctx.store.directory(),
                                     ctx.config.local_domains.empty() ? ctx.config.hostname
                                                                      : ctx.config.local_domains.front()};
  Targets targets;
  smtp::Session session(ctx.smtp_limits, ctx.config.hostname);

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
      if (step.action == smtp::Action::check_recipient) {
        // Named lambdas capturing by reference: see the GCC 12 note in pop3d.cpp.
        const smtp::RecipientCheck& check = session.recipient_check();
        // Authenticated users may relay (RFC 6409 6.1).
        bool may_relay = !session.authenticated_user().empty() || (in_relay_networks && !relay_needs_auth);
        auto resolve = [&directory, &check, may_relay] { return resolve_recipient(directory, check, may_relay); };
        Resolution r = co_await offload(ctx.blocking, resolve);
        if (r.decision.status == smtp::RcptStatus::ok) targets[to_lower(check.forward_path.str())] = std::move(r.targets);
        session.on_recipient_checked(std::move(r.decision));
        continue;
      }
      if (step.action == smtp::Action::check_sender) {
        const smtp::SenderCheck& check = session.sender_check();
        auto verify = [&ctx, &check] { return check_sender(ctx.store.directory(), check); };
        session.on_sender_checked(co_await offload(ctx.blocking, verify));
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
      for (const auto& r : tx.recipients) {
        auto it = targets.find(to_lower(r.forward_path.str()));
        env.recipients.push_back({r.forward_path.str(), it == targets.end() ? std::vector<queue::Target>{} : it->second});
      }
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

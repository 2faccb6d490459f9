#include "server/pop3d.h"

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

struct Login {
  pop3::AuthResult result = pop3::AuthResult::bad_credentials;
  std::int64_t user_id = 0;
  std::unique_ptr<store::MaildropLock> lock;  // held until UPDATE or the end of the session
  store::Maildrop maildrop;
};

// open_maildrop - check the password (unless SASL already did), take the
// maildrop lock and load the maildrop. Runs on the blocking pool because
// argon2 costs tens of milliseconds of CPU by design.
Login open_maildrop(ServerContext& ctx, const std::string& user, const std::string& password, bool verified,
                    const std::string& client_ip) {
  Login out;
  std::optional<store::UserRecord> record;
  if (verified) {
    auto found = ctx.store.directory().find_user(user);
    if (!found || !*found) {
      out.result = pop3::AuthResult::temp_fail;
      return out;
    }
    record = std::move(**found);
  } else {
    auto check = ctx.authenticator.check_password(user, password, client_ip);
    if (check.verdict == auth::Verdict::temp_fail) out.result = pop3::AuthResult::temp_fail;
    if (check.verdict != auth::Verdict::ok) return out;
    record = std::move(check.user);
  }
  auto lock = ctx.store.mailboxes().lock_maildrop(record->id);
  if (!lock) {
    out.result = pop3::AuthResult::temp_fail;
    return out;
  }
  if (!*lock) {
    out.result = pop3::AuthResult::in_use;
    return out;
  }
  auto md = ctx.store.mailboxes().maildrop(record->id);
  if (!md) {
    out.result = pop3::AuthResult::temp_fail;  // the lock goes with out
    return out;
  }
  out.result = pop3::AuthResult::ok;
  out.user_id = record->id;
  out.lock = std::move(*lock);
  out.maildrop = std::move(*md);
  return out;
}

pop3::Pop3AuthOptions auth_options(const ServerContext& ctx, Connection& conn) {
  pop3::Pop3AuthOptions o;
  offer_auth(ctx, conn, o);
  o.plaintext_allowed = ctx.config.auth_allow_plaintext;
  return o;
}

}  // namespace

asio::awaitable<void> pop3_connection(ServerContext& ctx, tcp::socket socket, tcp::endpoint endpoint,
                                      Listener listener) {
  auto log = log::get("pop3d");
  Connection conn(std::move(socket), endpoint);
  const Peer& client = conn.peer();
  const std::string peer = client.display();
  auto ticket = ctx.connections(listener).acquire(client.ip);
  if (!ticket) {
    log->warn("warning: too many connections from {}", peer);
    co_await conn.write_all("-ERR [SYS/TEMP] Too many connections, try again later\r\n");
    co_return;
  }
  if (listener == Listener::pop3s &&
      (!ctx.tls || !co_await conn.start_tls(ctx.tls->context(), ctx.config.tls_handshake_timeout))) {
    log->info("TLS handshake failed: {}", peer);
    co_return;
  }
  pop3::Session session(ctx.pop3_limits, ctx.config.hostname);
  session.set_auth_options(auth_options(ctx, conn));
  std::int64_t locked_user = 0;
  std::unique_ptr<store::MaildropLock> maildrop_lock;  // RAII: released however the session ends
  store::Maildrop maildrop;
  std::uint32_t failures = 0;

  if (co_await conn.write_all(session.greeting())) {
    char buf[4096];
    bool open = true;
    while (open) {
      std::size_t n = co_await conn.read_some(buf, sizeof buf, ctx.config.pop3.idle_timeout);
      if (n == 0) {
        if (conn.timed_out()) co_await conn.write_all("-ERR Autologout; idle for too long\r\n");
        break;
      }
      session.feed(std::string_view(buf, n));
      pop3::Step step = session.step();
      for (;;) {
        if (!step.output.empty() && !co_await conn.write_all(step.output)) {
          open = false;
          break;
        }
        if (step.action == pop3::Action::need_more) break;
        if (step.action == pop3::Action::close) {
          open = false;
          break;
        }
        std::string reply;
        pop3::Action next = pop3::Action::need_more;
        if (step.action == pop3::Action::starttls) {
          // RFC 2595 4: commands pipelined behind STLS are dropped, unread.
          session.discard_input();
          if (!co_await conn.start_tls(ctx.tls->context(), ctx.config.tls_handshake_timeout)) {
            open = false;
            break;
          }
          session.on_tls_started(auth_options(ctx, conn));
          break;
        } else if (step.action == pop3::Action::sasl_check) {
          reply = session.on_auth_checked(co_await check_exchange(ctx, session.auth_exchange(), client), next);
        } else if (step.action == pop3::Action::authenticate) {
          std::string user = session.user(), password = session.password();
          bool verified = session.sasl_verified();
          Login login = co_await offload(
              ctx.blocking, [&ctx, &user, &password, verified, &client] {
                return open_maildrop(ctx, user, password, verified, client.ip);
              });
          std::vector<pop3::MaildropEntry> entries;
          if (login.result == pop3::AuthResult::ok) {
            locked_user = login.user_id;
            maildrop_lock = std::move(login.lock);
            maildrop = std::move(login.maildrop);
            for (const auto& m : maildrop.messages) entries.push_back({m.size, m.uidl});
            log->info("login: user=<{}>, method={}, rip={}, mailbox=INBOX, messages={}", printable(user, 200),
                      verified ? "SASL" : "USER", client.ip, entries.size());
          }
          if (!verified) {
            // USER/PASS: an attempt of its own (SASL ones were noted at their end).
            if (login.result == pop3::AuthResult::ok || login.result == pop3::AuthResult::bad_credentials)
              co_await note_auth(ctx, client, "pop3", login.result == pop3::AuthResult::ok, user, "USER", "",
                                 failures);
          }
          reply = session.on_authenticated(login.result, std::move(entries));
        } else if (step.action == pop3::Action::retrieve) {
          std::size_t i = session.retrieve_index();
          // An indexed read, and bodies over inline_body_max come from a
          // file: off the I/O thread.
          auto uid = maildrop.messages.at(i).uid;
          reply = session.on_retrieved(co_await offload(ctx.blocking, [&ctx, &maildrop, uid] {
            return ctx.store.mailboxes().read_message(maildrop.mailbox_id, uid);
          }));
        } else if (step.action == pop3::Action::update) {
          std::vector<std::int64_t> uids;
          for (auto i : session.deleted()) uids.push_back(maildrop.messages.at(i).uid);
          Status st;
          if (!uids.empty()) {
            // A named lambda holding references: GCC 12 destroys objects
            // moved into a temporary lambda's captures inside a co_await
            // expression twice (a double free seen under ASan).
            auto expunge = [&ctx, &uids, user = locked_user, mailbox = maildrop.mailbox_id](auto done) {
              ctx.store.mailboxes().expunge(user, mailbox, std::move(uids), std::move(done));
            };
            st = co_await on_completion<Status>(expunge);
          }
          if (!st) log->error("error: expunge failed for user id {}: {}", locked_user, st.error().message);
          reply = session.on_updated(st);
          // RFC 1939 6: UPDATE is over; release the maildrop before the
          // +OK, so a client that reconnects at once never finds it locked.
          maildrop_lock.reset();
          locked_user = 0;
        }
        if (auto ev = session.take_auth_event())
          co_await note_auth(ctx, client, "pop3", ev->success, ev->user, ev->mechanism, ev->reason, failures,
                             ev->temporary);
        if (!reply.empty() && !co_await conn.write_all(reply)) {
          open = false;
          break;
        }
        if (next != pop3::Action::need_more) {
          step = pop3::Step{"", next};
          continue;
        }
        step = session.step();
      }
    }
  }
  log->info("disconnect from {}", peer);
}

}  // namespace herald::server

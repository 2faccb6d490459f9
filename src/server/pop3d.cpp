#include "server/pop3d.h"

#include <asio/async_result.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "auth/password.h"
#include "base/log.h"
#include "base/text.h"
#include "server/connection.h"

namespace herald::server {
namespace {

struct Login {
  pop3::AuthResult result = pop3::AuthResult::bad_credentials;
  std::int64_t user_id = 0;
  store::Maildrop maildrop;
};

// check_login - the password check and maildrop load; runs on the blocking
// pool because argon2 costs tens of milliseconds of CPU by design.
Login check_login(ServerContext& ctx, const std::string& user, const std::string& password) {
  Login out;
  auto found = ctx.store.find_user(user);
  if (!found) {
    out.result = pop3::AuthResult::temp_fail;
    return out;
  }
  if (!*found) {
    // Same work for an unknown user as for a wrong password, so that the
    // answer time does not tell which it was.
    auth::verify_password(password, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
                                    "dGhpc2lzbm90YXJlYWxoYXNoYXRhbGwuLi4uLi4uLi4");
    return out;
  }
  const auto& u = **found;
  if (!auth::verify_password(password, u.password_hash)) return out;
  if (!ctx.maildrop_locks.try_lock(u.id)) {
    out.result = pop3::AuthResult::in_use;
    return out;
  }
  auto md = ctx.store.maildrop(u.id);
  if (!md) {
    ctx.maildrop_locks.unlock(u.id);
    out.result = pop3::AuthResult::temp_fail;
    return out;
  }
  out.result = pop3::AuthResult::ok;
  out.user_id = u.id;
  out.maildrop = std::move(*md);
  return out;
}

template <typename Token>
auto async_expunge(store::Store& store, std::int64_t user, std::int64_t mailbox, std::vector<std::int64_t> uids,
                   Token&& token) {
  return asio::async_initiate<Token, void(Status)>(
      [&store, user, mailbox](auto handler, std::vector<std::int64_t> uids) {
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        store.expunge(user, mailbox, std::move(uids), [h, ex](Status st) {
          asio::post(ex, [h, st = std::move(st)]() mutable { (*h)(std::move(st)); });
        });
      },
      token, std::move(uids));
}

}  // namespace

asio::awaitable<void> pop3_connection(ServerContext& ctx, tcp::socket socket) {
  auto log = log::get("pop3d");
  const Peer client = peer_of(socket);
  const std::string peer = client.display();
  const std::string& ip = client.ip;
  auto ticket = ctx.pop3_connections.acquire(ip);
  if (!ticket) {
    log->warn("warning: too many connections from {}", peer);
    co_await write_all(socket, "-ERR [SYS/TEMP] Too many connections, try again later\r\n");
    co_return;
  }
  pop3::Session session(ctx.pop3_limits, ctx.config.hostname);
  Deadline deadline(socket);
  std::int64_t locked_user = 0;
  store::Maildrop maildrop;
  std::uint32_t failures = 0;
  auto executor = co_await asio::this_coro::executor;

  if (co_await write_all(socket, session.greeting())) {
    char buf[4096];
    bool open = true;
    while (open) {
      std::size_t n = co_await read_some(socket, deadline, buf, sizeof buf, ctx.config.pop3.idle_timeout);
      if (n == 0) {
        if (deadline.expired()) co_await write_all(socket, "-ERR Autologout; idle for too long\r\n");
        break;
      }
      session.feed(std::string_view(buf, n));
      for (;;) {
        pop3::Step step = session.step();
        if (!step.output.empty() && !co_await write_all(socket, step.output)) {
          open = false;
          break;
        }
        if (step.action == pop3::Action::need_more) break;
        if (step.action == pop3::Action::close) {
          open = false;
          break;
        }
        std::string reply;
        if (step.action == pop3::Action::authenticate) {
          std::string user = session.user(), password = session.password();
          co_await asio::post(ctx.blocking, asio::use_awaitable);
          Login login = check_login(ctx, user, password);
          co_await asio::post(executor, asio::use_awaitable);
          std::vector<pop3::MaildropEntry> entries;
          if (login.result == pop3::AuthResult::ok) {
            locked_user = login.user_id;
            maildrop = std::move(login.maildrop);
            for (const auto& m : maildrop.messages) entries.push_back({m.size, m.uidl});
            log->info("login: user=<{}>, method=USER, rip={}, mailbox=INBOX, messages={}", user, ip,
                      entries.size());
            ctx.store.journal({0, "login", "", "", "", user, peer, 0, "+OK", "pop3"});
          } else {
            // A growing delay after each failure slows guessing (Dovecot's
            // auth_failure_delay); the text is the same whatever failed.
            ++failures;
            auto delay = ctx.config.auth_failure_delay * (1u << std::min<std::uint32_t>(failures - 1, 10));
            delay = std::min(delay, ctx.config.auth_max_failure_delay);
            log->warn("warning: {}: POP3 authentication failed: user=<{}>", peer, printable(user, 100));
            ctx.store.journal({0, "login_failed", "", "", "", printable(user, 300), peer, 0, "-ERR", "pop3"});
            asio::steady_timer t(executor, delay);
            std::error_code ec;
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
          }
          reply = session.on_authenticated(login.result, std::move(entries));
        } else if (step.action == pop3::Action::retrieve) {
          std::size_t i = session.retrieve_index();
          // A small indexed read; bodies over inline_body_max come from a file.
          reply = session.on_retrieved(ctx.store.read_message(maildrop.mailbox_id, maildrop.messages.at(i).uid));
        } else if (step.action == pop3::Action::update) {
          std::vector<std::int64_t> uids;
          for (auto i : session.deleted()) uids.push_back(maildrop.messages.at(i).uid);
          Status st;
          if (!uids.empty())
            st = co_await async_expunge(ctx.store, locked_user, maildrop.mailbox_id, std::move(uids),
                                        asio::use_awaitable);
          if (!st) log->error("error: expunge failed for user id {}: {}", locked_user, st.error().message);
          reply = session.on_updated(st);
        }
        if (!reply.empty() && !co_await write_all(socket, reply)) {
          open = false;
          break;
        }
      }
    }
  }
  if (locked_user) ctx.maildrop_locks.unlock(locked_user);
  log->info("disconnect from {}", peer);
}

}  // namespace herald::server

#include "server/pop3d.h"

#include "base/log.h"
#include "base/text.h"
#include "server/driver.h"
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
Login open_maildrop(const Pop3DriverContext& ctx, const std::string& user, const std::string& password,
                    bool verified, const std::string& client_ip) {
  Login out;
  std::optional<store::UserRecord> record;
  if (verified) {
    auto found = ctx.directory.find_user(user);
    if (!found || !*found) {
      out.result = pop3::AuthResult::temp_fail;
      return out;
    }
    record = std::move(**found);
  } else {
    auto check = ctx.auth.authenticator.check_password(user, password, client_ip);
    if (check.verdict == auth::Verdict::temp_fail) out.result = pop3::AuthResult::temp_fail;
    if (check.verdict != auth::Verdict::ok) return out;
    record = std::move(check.user);
  }
  auto lock = ctx.mailboxes.lock_maildrop(record->id);
  if (!lock) {
    out.result = pop3::AuthResult::temp_fail;
    return out;
  }
  if (!*lock) {
    out.result = pop3::AuthResult::in_use;
    return out;
  }
  auto md = ctx.mailboxes.maildrop(record->id);
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

// Pop3Protocol - pop3::Session as the driver loop runs it (server/driver.h),
// with POP3's own actions: login (maildrop lock and load), retrieve and
// UPDATE, each off the I/O thread.
class Pop3Protocol {
 public:
  // Small reads bound one step's output (session.h: LIST and UIDL replies
  // grow with the pipelined input).
  static constexpr std::size_t kReadBuffer = 4096;

  Pop3Protocol(const Pop3DriverContext& ctx, net::Connection& conn, ConnectionAuth& auth)
      : ctx_(ctx), conn_(conn), auth_(auth), session_(ctx.limits, ctx.hostname) {}

  pop3::Session& session() { return session_; }

  pop3::Pop3AuthOptions auth_options() const {
    pop3::Pop3AuthOptions o;
    auth_.offer(conn_, o);
    o.plaintext_allowed = ctx_.auth.allow_plaintext;
    return o;
  }

  net::ReadRules read_rules() const {
    const auto& c = ctx_.config;
    return {net::Phase::lines, c.idle_timeout, c.command_deadline, c.idle_timeout, 0};
  }
  net::WriteRules write_rules() const { return {ctx_.config.write_timeout, ctx_.config.min_data_rate}; }
  std::string on_timeout() { return "-ERR Autologout; idle for too long\r\n"; }  // RFC 1939 3
  void feed(std::string_view bytes) { session_.feed(bytes); }

  DriverStep step() {
    DriverStep out;
    if (next_) {
      // An answer that leads on at once (SASL success -> open the maildrop).
      action_ = *std::exchange(next_, std::nullopt);
    } else {
      pop3::Step s = session_.step();
      action_ = s.action;
      out.output = std::move(s.output);
    }
    switch (action_) {
      case pop3::Action::need_more: out.turn = Turn::read; break;
      case pop3::Action::close: out.turn = Turn::close; break;
      case pop3::Action::starttls: out.turn = Turn::starttls; break;
      case pop3::Action::sasl_check: out.turn = Turn::sasl_check; break;
      case pop3::Action::flush: out.turn = Turn::flush; break;
      case pop3::Action::authenticate:
      case pop3::Action::retrieve:
      case pop3::Action::update: out.turn = Turn::act; break;
    }
    return out;
  }

  std::optional<sasl::AuthEvent> take_auth_event() { return session_.take_auth_event(); }
  sasl::Exchange& auth_exchange() { return session_.auth_exchange(); }
  std::string on_auth_checked(sasl::Exchange::Outcome outcome) {
    pop3::Action next = pop3::Action::need_more;
    std::string reply = session_.on_auth_checked(std::move(outcome), next);
    if (next != pop3::Action::need_more) next_ = next;
    return reply;
  }
  void discard_input() { session_.discard_input(); }
  void on_tls_started() { session_.on_tls_started(auth_options()); }

  asio::awaitable<std::string> act() {
    std::string reply;
    switch (action_) {
      case pop3::Action::authenticate: reply = co_await login(); break;
      case pop3::Action::retrieve: reply = co_await retrieve(); break;
      case pop3::Action::update: reply = co_await update(); break;
      default: break;
    }
    co_return reply;
  }

 private:
  // login - USER/PASS, or the maildrop after a SASL login (RFC 1939 4).
  asio::awaitable<std::string> login() {
    std::string user = session_.user(), password = session_.password();
    bool verified = session_.sasl_verified();
    const std::string& ip = conn_.peer().ip;
    // A named lambda holding references: GCC 12 destroys objects moved into
    // a temporary lambda's captures inside a co_await expression twice (a
    // double free seen under ASan).
    auto open = [&ctx = ctx_, &user, &password, verified, &ip] {
      return open_maildrop(ctx, user, password, verified, ip);
    };
    Login login = co_await offload(ctx_.blocking, open);
    std::vector<pop3::MaildropEntry> entries;
    if (login.result == pop3::AuthResult::ok) {
      locked_user_ = login.user_id;
      maildrop_lock_ = std::move(login.lock);
      maildrop_ = std::move(login.maildrop);
      for (const auto& m : maildrop_.messages) entries.push_back({m.size, m.uidl});
      log::get("pop3d")->info("login: user=<{}>, method={}, rip={}, mailbox=INBOX, messages={}",
                              printable(user, 200), verified ? "SASL" : "USER", ip, entries.size());
    }
    // USER/PASS: an attempt of its own (SASL ones were noted at their end).
    if (!verified && (login.result == pop3::AuthResult::ok || login.result == pop3::AuthResult::bad_credentials)) {
      // Named, not a temporary inside the co_await (the GCC 12 bug above).
      sasl::AuthEvent attempt{login.result == pop3::AuthResult::ok, user, "USER", ""};
      co_await auth_.note(attempt);
    }
    co_return session_.on_authenticated(login.result, std::move(entries));
  }

  // retrieve - RETR/TOP: an indexed read, and bodies over inline_body_max
  // come from a file: off the I/O thread.
  asio::awaitable<std::string> retrieve() {
    auto uid = maildrop_.messages.at(session_.retrieve_index()).uid;
    auto read = [&mailboxes = ctx_.mailboxes, mailbox = maildrop_.mailbox_id, uid] {
      return mailboxes.read_message(mailbox, uid);
    };
    Result<std::string> message = co_await offload(ctx_.blocking, read);
    co_return session_.on_retrieved(std::move(message));
  }

  // update - RFC 1939 6: remove what was marked, then release the maildrop.
  asio::awaitable<std::string> update() {
    std::vector<std::int64_t> uids;
    for (auto i : session_.deleted()) uids.push_back(maildrop_.messages.at(i).uid);
    Status st;
    if (!uids.empty()) {
      auto expunge = [&mailboxes = ctx_.mailboxes, &uids, user = locked_user_,
                      mailbox = maildrop_.mailbox_id](auto done) {
        mailboxes.expunge(user, mailbox, std::move(uids), std::move(done));
      };
      st = co_await on_completion<Status>(expunge);
    }
    if (!st) log::get("pop3d")->error("error: expunge failed for user id {}: {}", locked_user_, st.error().message);
    std::string reply = session_.on_updated(st);
    // UPDATE is over; release the maildrop before the +OK, so a client
    // that reconnects at once never finds it locked.
    maildrop_lock_.reset();
    locked_user_ = 0;
    co_return reply;
  }

  const Pop3DriverContext& ctx_;
  net::Connection& conn_;
  ConnectionAuth& auth_;
  pop3::Session session_;
  pop3::Action action_ = pop3::Action::need_more;  // the one act() carries out
  std::optional<pop3::Action> next_;               // asked by an answer, before the next step
  std::int64_t locked_user_ = 0;
  std::unique_ptr<store::MaildropLock> maildrop_lock_;  // RAII: released however the session ends
  store::Maildrop maildrop_;
};

}  // namespace

asio::awaitable<void> pop3_connection(const Pop3DriverContext& ctx, Accepted accepted) {
  auto log = log::get("pop3d");
  net::Connection conn(std::move(accepted.socket), accepted.peer);
  const std::string peer = conn.peer().display();
  // Named, not a temporary inside the co_await (GCC 12, server/driver.h).
  const std::string_view busy = "-ERR [SYS/TEMP] Too many connections, try again later\r\n";
  net::ConnectionLimiter::Ticket ticket = co_await admit(conn, accepted, ctx.tls, busy, "pop3d");
  if (!ticket) co_return;
  ConnectionAuth auth(ctx.auth, conn.peer(), "pop3");
  Pop3Protocol protocol(ctx, conn, auth);
  protocol.session().set_auth_options(protocol.auth_options());
  std::string greeting = protocol.session().greeting();
  if (co_await conn.write_all(greeting)) {
    Ending ending = co_await run_session(conn, protocol, auth, ctx.tls, ctx.blocking);
    // A client that stopped taking a RETR gives its maildrop lock up with
    // the session (Pop3Protocol's RAII), so others can log in again.
    if (ending == Ending::write_timed_out)
      log->info("timeout after reply from {}{}", peer, protocol.session().authenticated() ? ", maildrop unlocked" : "");
  }
  log->info("disconnect from {}", peer);
}

}  // namespace herald::server

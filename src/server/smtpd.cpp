#include "server/smtpd.h"

#include <map>

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "base/log.h"
#include "base/text.h"
#include "server/driver.h"
#include "server/offload.h"

namespace herald::server {
namespace {

// tls_note - the Received clause for a message that came over TLS.
std::string tls_note(net::Connection& conn) {
  if (!conn.tls_active()) return "";
  auto info = net::connection_info(conn.ssl());
  // Postfix's Received wording, which admins grep for.
  return fmt::format("(using {} with cipher {} ({}/{} bits))", info.version, info.cipher, info.bits, info.bits);
}

// SmtpProtocol - smtp::Session as the driver loop runs it (server/driver.h),
// with SMTP's own actions: the recipient and sender checks (lookups(), run
// on the blocking pool) and the durable commit through intake.
class SmtpProtocol {
 public:
  static constexpr std::size_t kReadBuffer = 8192;

  SmtpProtocol(const SmtpDriverContext& ctx, net::Connection& conn, ConnectionAuth& auth, bool submission)
      : ctx_(ctx),
        conn_(conn),
        auth_(auth),
        submission_(submission),
        in_relay_networks_(ctx.relay_networks.contains(conn.peer().address)),
        session_(ctx.limits, ctx.hostname) {
    session_.set_etrn_allowed(ctx.etrn_networks.contains(conn.peer().address));
  }

  smtp::Session& session() { return session_; }

  // auth_options - what this listener offers and demands in the
  // connection's current state.
  smtp::AuthOptions auth_options() const {
    smtp::AuthOptions o;
    auth_.offer(conn_, o);
    if (submission_) {
      o.auth_required = true;  // RFC 6409 4.2
    } else {
      o.auth_required = ctx_.config.require_auth == "always";
      o.tls_required = ctx_.config.require_tls;
    }
    return o;
  }

  net::ReadRules read_rules() const {
    const auto& c = ctx_.config;
    return {session_.receiving_message() ? net::Phase::data : net::Phase::lines,
            session_.in_data() ? c.data_timeout : c.command_timeout, c.command_deadline, c.data_timeout,
            c.min_data_rate};
  }
  net::WriteRules write_rules() const { return {ctx_.config.write_timeout, ctx_.config.min_data_rate}; }
  std::string on_timeout() {
    log::get("smtpd")->info("timeout after {} from {}", session_.in_data() ? "DATA" : "command",
                            conn_.peer().display());
    return session_.timeout_reply();
  }
  void feed(std::string_view bytes) {
    session_.set_storage_low(ctx_.free_space.low());
    session_.feed(bytes);
  }

  // step - the session's next step; RCPTs the directory cache answers from
  // memory are answered here, on the I/O thread, and only a miss becomes a
  // Turn::lookup for the blocking pool.
  DriverStep step() {
    std::string gathered;
    for (;;) {
      DriverStep next = turn_of(session_.step());
      gathered += next.output;
      note_rejections();
      // An AUTH attempt that ended on the way is noted before its reply
      // leaves (as in lookups()).
      held_event_ = session_.take_auth_event();
      if (action_ != smtp::Action::check_recipient || held_event_ || !answer_from_cache()) {
        next.output = std::move(gathered);
        return next;
      }
    }
  }

  // lookups - answer the pending check and those the session asks next
  // (driver.h Lookups: on the blocking pool, while the connection waits).
  DriverStep lookups() {
    std::string gathered;
    for (;;) {
      if (action_ == smtp::Action::check_recipient) check_recipient();
      else check_sender();
      DriverStep next = turn_of(session_.step());
      gathered += next.output;
      note_rejections();
      // An AUTH attempt that ended on the way (a malformed response) is
      // noted before its reply leaves, and before any other could end.
      held_event_ = session_.take_auth_event();
      if (next.turn != Turn::lookup || held_event_) {
        next.output = std::move(gathered);
        return next;
      }
    }
  }

  std::optional<sasl::AuthEvent> take_auth_event() {
    if (held_event_) return std::exchange(held_event_, std::nullopt);
    return session_.take_auth_event();
  }
  sasl::Exchange& auth_exchange() { return session_.auth_exchange(); }
  std::string on_auth_checked(sasl::Exchange::Outcome outcome) {
    session_.on_auth_checked(std::move(outcome));
    return {};  // the reply comes with the next step
  }
  void discard_input() { session_.discard_input(); }
  void on_tls_started() { session_.on_tls_started(auth_options()); }

  // act - Action::submit: commit durably, then answer the final dot;
  // Action::flush_queue: ETRN.
  asio::awaitable<std::string> act() {
    if (action_ == smtp::Action::flush_queue) co_await etrn();
    else co_await submit();
    co_return std::string();  // the reply comes with the next step
  }

 private:
  // note_rejections - each refusal the session gave, in Postfix's log shape
  // ("NOQUEUE: reject: RCPT from host[ip]: 554 5.7.1 <x@y>: Relay access
  // denied; from=<a@b> to=<x@y> proto=ESMTP helo=<h>"), which pflogsumm
  // and fail2ban's postfix filter count, and in the journal.
  void note_rejections() {
    for (smtp::Rejection& r : session_.take_rejections()) {
      std::string to = r.recipient.empty() ? std::string() : fmt::format(" to=<{}>", r.recipient);
      log::get("smtpd")->info("NOQUEUE: reject: {} from {}: {}; from=<{}>{} proto={} helo=<{}>", r.command,
                              conn_.peer().display(), r.reply, r.sender, to, session_.extended() ? "ESMTP" : "SMTP",
                              printable(session_.helo_name()));
      ctx_.journal.append({0, store::JournalEvent::rejected, "", "", std::move(r.sender), std::move(r.recipient),
                           conn_.peer().display(), 0, std::move(r.reply), std::move(r.command)});
    }
  }

  // turn_of - a session step as the loop's DriverStep.
  DriverStep turn_of(smtp::Step s) {
    action_ = s.action;
    take_body();
    DriverStep out{std::move(s.output), Turn::read};
    switch (s.action) {
      case smtp::Action::need_more:
        // The store's group commit may wait for a body on its way in.
        if (!session_.receiving_message()) arrival_.reset();  // refused, or between BDAT chunks
        else if (!arrival_) arrival_ = ctx_.intake.arriving();
        break;
      case smtp::Action::close: out.turn = Turn::close; break;
      case smtp::Action::starttls: out.turn = Turn::starttls; break;
      case smtp::Action::authenticate: out.turn = Turn::sasl_check; break;
      case smtp::Action::check_recipient:
      case smtp::Action::check_sender: out.turn = Turn::lookup; break;
      case smtp::Action::submit:
      case smtp::Action::flush_queue: out.turn = Turn::act; break;
    }
    return out;
  }

  // take_body - the message octets the session received in this step go
  // to intake's Incoming, which keeps a large body out of memory. A message
  // that ended without a submit (refused, RSET by a new EHLO) is dropped.
  void take_body() {
    if (session_.in_message() || action_ == smtp::Action::submit) {
      if (!incoming_) incoming_.emplace(ctx_.intake.begin(envelope()));
      incoming_->append(session_.take_body());
    } else {
      incoming_.reset();
    }
  }

  // envelope - the transaction as intake takes it; built when the message
  // begins, when its recipients are settled.
  queue::Envelope envelope() {
    queue::Envelope env = transaction_envelope(session_, targets_);
    const net::Peer& client = conn_.peer();
    env.client_ip = client.ip;
    env.client_name = client.name;
    env.tls = tls_note(conn_);
    env.submission = submission_;
    env.auth_user = session_.authenticated_user();
    return env;
  }

  // may_relay - authenticated users may relay (RFC 6409 6.1); so may
  // relay_networks where relaying needs no AUTH.
  bool may_relay() const {
    bool relay_needs_auth = !submission_ && ctx_.config.require_auth != "never";
    return !session_.authenticated_user().empty() || (in_relay_networks_ && !relay_needs_auth);
  }

  // answer - the pending RCPT's answer, and where its recipient goes.
  void answer(const smtp::RecipientCheck& check, Resolution r) {
    if (r.decision.status == smtp::RcptStatus::ok) targets_[to_lower(check.forward_path.str())] = std::move(r.targets);
    session_.on_recipient_checked(std::move(r.decision));
  }

  // answer_from_cache - the pending RCPT answered from the directory
  // cache's memory, on the I/O thread; false when that takes a read (the
  // loop then sends the group to the blocking pool: lookups()).
  bool answer_from_cache() {
    const smtp::RecipientCheck& check = session_.recipient_check();
    std::optional<Resolution> r = resolve_recipient_cached(ctx_.recipients, check, may_relay());
    if (!r) return false;
    answer(check, std::move(*r));
    return true;
  }

  // check_recipient - RCPT (and VRFY) against the directory. Blocking.
  void check_recipient() {
    const smtp::RecipientCheck& check = session_.recipient_check();
    answer(check, resolve_recipient(ctx_.recipients, check, may_relay()));
  }

  // check_sender - submission's "verify mail from user" (RFC 6409 6.1). Blocking.
  void check_sender() {
    session_.on_sender_checked(server::check_sender(ctx_.recipients.directory, session_.sender_check()));
  }

  // etrn - RFC 1985: the domain's waiting recipients made due now; the
  // delivery agent takes them at its next look at the queue.
  asio::awaitable<void> etrn() {
    const smtp::EtrnRequest& r = session_.etrn_request();
    store::QueueSelection selection;
    selection.domain = r.domain;
    selection.subdomains = r.subdomains;
    if (ctx_.flush_outbound) ctx_.flush_outbound();  // suspensions end before the rows are due
    auto flush = [&queue = ctx_.queue, &selection](auto done) {
      queue.change(store::QueueAction::retry, std::move(selection), std::move(done));
    };
    auto flushed = co_await on_completion<Result<std::size_t>>(flush);
    log::get("smtpd")->info("ETRN {}{} from {}: {}", r.subdomains ? "@" : "", r.domain, conn_.peer().display(),
                            flushed ? fmt::format("{} recipients due now", *flushed) : flushed.error().message);
    if (flushed && ctx_.flush_outbound) ctx_.flush_outbound();
    if (flushed) session_.on_queue_flushed(*flushed);
    else session_.on_queue_flushed(std::nullopt);
  }

  // submit - commit the message durably, then answer the final dot.
  // REQUIRES: take_body() saw the submit (incoming_ holds the message).
  asio::awaitable<void> submit() {
    queue::Incoming message = std::move(*incoming_);
    incoming_.reset();
    auto commit = [&intake = ctx_.intake, &message, &arrival = arrival_](auto done) {
      intake.submit(std::move(message), std::move(done), std::move(arrival));
    };
    auto result = co_await on_completion<Result<queue::Accepted>>(commit);
    if (result) session_.on_submitted(smtp::SubmitOutcome::queued, result->queue_id);
    else session_.on_submitted(smtp::SubmitOutcome::temp_fail, "try again later");
  }

  const SmtpDriverContext& ctx_;
  net::Connection& conn_;
  ConnectionAuth& auth_;
  const bool submission_;
  const bool in_relay_networks_;
  smtp::Session session_;
  smtp::Action action_ = smtp::Action::need_more;  // the one act() or lookups() carries out
  std::optional<sasl::AuthEvent> held_event_;       // taken by lookups(), not yet noted
  queue::Arrival arrival_;                          // while a body is on its way in
  std::optional<queue::Incoming> incoming_;         // the message being received
  // Where each accepted recipient goes, from RCPT time, for intake.
  TargetMap targets_;
};

// refuse_early - the connection is refused before the greeting: a reply,
// a journal entry, and nothing more.
asio::awaitable<void> refuse_early(const SmtpDriverContext& ctx, net::Connection& conn, std::string_view reply,
                                   const char* code, const char* why) {
  ctx.journal.append({0, store::JournalEvent::connection_refused, "", "", "", "", conn.peer().display(), 0, code, why});
  co_await conn.write_all(reply);
}

// pregreeted - a client that talks before our 220 does not speak SMTP, or
// wants to get its spam in before we look (postscreen's PREGREET test).
asio::awaitable<bool> pregreeted(const SmtpDriverContext& ctx, net::Connection& conn) {
  if (ctx.config.pregreet_wait.count() > 0) {
    asio::steady_timer t(conn.socket().get_executor(), ctx.config.pregreet_wait);
    std::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return conn.pending_bytes() > 0;
}

}  // namespace

asio::awaitable<void> smtp_connection(const SmtpDriverContext& ctx, Accepted accepted) {
  auto log = log::get("smtpd");
  const bool submission = accepted.kind.role == Role::submission;
  net::Connection conn(std::move(accepted.socket), accepted.peer);
  const std::string peer = conn.peer().display();
  log->info("connect from {}", peer);
  auto ticket = accepted.limiter.acquire(conn.peer().ip);
  ConnectionAuth auth(ctx.auth, conn.peer(), submission ? "submission" : "smtp");
  SmtpProtocol protocol(ctx, conn, auth, submission);
  smtp::Session& session = protocol.session();
  if (!ticket) {
    log->warn("warning: too many connections from {}", peer);
    std::string reply = session.too_many_connections_reply();
    co_await refuse_early(ctx, conn, reply, "421 4.7.0", "too many connections");
    co_return;
  }
  if (accepted.kind.implicit_tls) {
    if (!co_await start_implicit_tls(conn, ctx.tls)) {
      log->info("lost connection after TLS handshake from {}", peer);
      co_return;
    }
  } else if (co_await pregreeted(ctx, conn)) {
    log->info("reject: PREGREET from {}", peer);
    std::string reply = session.pregreet_reply();
    co_await refuse_early(ctx, conn, reply, "554 5.5.0", "pregreet");
    co_return;
  }
  // On smtps the session starts inside TLS (ESMTPSA in Received, and a
  // STARTTLS there is refused as "already active").
  if (conn.tls_active()) session.on_tls_started(protocol.auth_options());
  else session.set_auth_options(protocol.auth_options());
  std::string greeting = session.greeting();
  if (!co_await conn.write_all(greeting)) co_return;
  Ending ending = co_await run_session(conn, protocol, auth, ctx.tls, ctx.blocking);
  if (ending == Ending::tls_failed) log->info("lost connection after STARTTLS from {}", peer);
  if (ending == Ending::write_timed_out) log->info("timeout after reply from {}", peer);
  log->info("disconnect from {}", peer);
}

}  // namespace herald::server

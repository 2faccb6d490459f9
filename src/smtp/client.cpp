#include "smtp/client.h"

#include <fmt/format.h>

#include <utility>
#include <variant>

#include "base/text.h"

namespace herald::smtp {

namespace {

// A reply text is the server's: bounded and printable before it reaches a
// log line or a bounce.
constexpr std::size_t kMaxText = 900;


}  // namespace

Verdict Verdict::local(Outcome outcome, std::string status, std::string text) {
  Verdict v;
  v.outcome = outcome;
  v.status = std::move(status);
  v.text = std::move(text);
  return v;
}

std::string Verdict::diagnostic() const {
  if (stage.empty()) return text;
  return fmt::format("{} (in reply to {} command)", text, stage);
}

Client::Client(ClientOptions options) : options_(std::move(options)), parser_(options_.reply_limits) {
  pending_.push_back({Awaiting::greeting});
}

// verdict_of - a server's reply as an outcome: 2xx done, 4xx try again,
// 5xx failed for good (RFC 5321 4.2.1).
Verdict Client::verdict_of(const Reply& reply, const std::string& stage) {
  Verdict v;
  v.outcome = reply.positive_completion() ? Outcome::delivered
              : reply.permanent()         ? Outcome::bounced
                                          : Outcome::deferred;
  v.code = reply.code;
  v.status = reply.enhanced ? reply.enhanced->str() : fmt::format("{}.0.0", reply.code / 100 == 3 ? 4 : reply.code / 100);
  std::string text = reply.enhanced ? fmt::format("{} {} {}", reply.code, reply.enhanced->str(), reply.text())
                                    : fmt::format("{} {}", reply.code, reply.text());
  v.text = printable(text, kMaxText);
  v.stage = stage;
  return v;
}

void Client::expect(Awaiting what, std::string command, std::size_t index) {
  out_ += command;
  pending_.push_back({what, index});
}

ClientStep Client::step() {
  while (state_ != State::closed) {
    // A message's result goes out at once, before the RSET's reply.
    if (result_) return {std::exchange(out_, {}), ClientAction::message_done};
    if (!pending_.empty()) {
      NextReply next = parser_.next();
      if (std::holds_alternative<NeedMore>(next)) break;
      if (auto* error = std::get_if<ProtocolError>(&next)) {
        lost(fmt::format("malformed reply: {}", error->reason));
        break;
      }
      Reply reply = std::get<Reply>(std::move(next));
      handle(reply);
      continue;
    }
    // A reply to nothing we said: the dialogue is out of step. (After the
    // 220 to STARTTLS such octets are dropped by on_tls: RFC 3207 4.2.)
    if (parser_.buffered() > 0 && state_ != State::tls) {
      lost("unexpected reply from the server");
      break;
    }
    if (body_due_) return {std::exchange(out_, {}), ClientAction::send_body};
    if (state_ == State::tls) return {std::exchange(out_, {}), ClientAction::starttls};
    if (state_ == State::idle) return {std::exchange(out_, {}), ClientAction::ready};
    break;
  }
  if (state_ == State::closed) return {std::exchange(out_, {}), ClientAction::closed};
  return {std::exchange(out_, {}), ClientAction::need_more};
}

void Client::handle(const Reply& reply) {
  Pending p = pending_.front();
  pending_.pop_front();
  switch (p.what) {
    case Awaiting::greeting:
      // RFC 5321 3.1: 220 to go on; 554 (or anything else) is a refusal.
      if (reply.code != 220) return fail_session(verdict_of(reply, "greeting"), true);
      if (auto ehlo = format_ehlo(options_.helo_name)) expect(Awaiting::ehlo, *ehlo);
      else fail_session(Verdict::local(Outcome::deferred, "4.3.5", "our HELO name is not valid"), true);
      return;
    case Awaiting::ehlo:
      return on_ehlo(reply);
    case Awaiting::helo:
      if (!reply.positive_completion()) return fail_session(verdict_of(reply, "HELO"), true);
      esmtp_ = false;
      extensions_ = Extensions{};
      return after_hello();
    case Awaiting::starttls:
      if (reply.code == 220) {
        state_ = State::tls;
        return;
      }
      tls_tried_ = true;
      if (options_.tls == TlsPolicy::encrypt || options_.tls == TlsPolicy::verify)
        return fail_session(verdict_of(reply, "STARTTLS"), true);
      return after_hello();  // "may": on in clear
    case Awaiting::auth:
    case Awaiting::auth_challenge:
      return on_auth(reply);
    case Awaiting::mail:
      if (!reply.positive_completion()) {
        mail_refused_ = verdict_of(reply, "MAIL FROM");
        // Pipelined RCPTs and DATA are still answered (503s): they come next.
        if (pending_.empty()) finish_message(std::nullopt, true);
        return;
      }
      if (!extensions_.pipelining) next_rcpt();
      return;
    case Awaiting::rcpt:
      if (reply.positive_completion() && !mail_refused_) ++accepted_;
      else if (!mail_refused_) rcpt_results_[p.index] = verdict_of(reply, "RCPT TO");
      if (!extensions_.pipelining) next_rcpt();
      return;
    case Awaiting::data:
      if (reply.code == 354) {
        if (mail_refused_ || accepted_ == 0) {
          // RFC 2920 3.1: a server may say 354 with no valid recipient;
          // an empty message ends it, and its reply is not a result.
          discard_dot_ = true;
          expect(Awaiting::dot, ".\r\n");
          return;
        }
        body_due_ = true;
        state_ = State::body;
        return;
      }
      if (mail_refused_ || accepted_ == 0) return finish_message(std::nullopt, true);
      if (reply.positive_completion()) {
        // Not a 354: no body was taken, whatever the code says.
        Verdict v = verdict_of(reply, "DATA");
        v.outcome = Outcome::deferred;
        v.status = "4.5.0";
        return finish_message(v, true);
      }
      return finish_message(verdict_of(reply, "DATA"), true);
    case Awaiting::dot:
      if (std::exchange(discard_dot_, false)) return finish_message(std::nullopt, false);
      return finish_message(verdict_of(reply, "end of DATA"), !reply.positive_completion());
    case Awaiting::rset:
      // A server that will not reset cannot take another message.
      if (!reply.positive_completion()) {
        quitting_ = true;
        expect(Awaiting::quit, format_quit());
      }
      return;
    case Awaiting::quit:
      state_ = State::closed;
      return;
  }
}

void Client::on_ehlo(const Reply& reply) {
  if (reply.positive_completion()) {
    esmtp_ = true;
    extensions_ = parse_ehlo(reply).value_or(Extensions{});
    return after_hello();
  }
  // RFC 5321 4.1.4: a server that does not know EHLO answers 500 or 502;
  // HELO then. 4xx is the server's trouble, not its age.
  if (reply.permanent()) {
    if (auto helo = format_helo(options_.helo_name)) expect(Awaiting::helo, *helo);
    return;
  }
  fail_session(verdict_of(reply, "EHLO"), true);
}

// after_hello - TLS first (RFC 3207), then AUTH (RFC 4954 4: after TLS, so
// credentials never go in clear unless configured), then messages.
void Client::after_hello() {
  if (!tls_active_ && !tls_tried_ && options_.tls != TlsPolicy::none) {
    if (extensions_.starttls) {
      expect(Awaiting::starttls, format_starttls());
      return;
    }
    if (options_.tls == TlsPolicy::encrypt || options_.tls == TlsPolicy::verify)
      return fail_session(Verdict::local(Outcome::deferred, "4.7.4", "TLS is required, but was not offered"), true);
  }
  if (!options_.auth_user.empty() && !auth_tried_) {
    auth_tried_ = true;
    if (!tls_active_ && !options_.auth_without_tls)
      return fail_session(Verdict::local(Outcome::deferred, "4.7.0", "AUTH needs TLS, which is not active"), true);
    // No AUTH offered: the mail goes without, and the server says whether
    // it takes it (RCPT's reply), as Postfix does.
    if (!extensions_.auth.empty()) return start_auth();
  }
  state_ = State::idle;
}

void Client::on_tls(bool ok) {
  if (!ok) return fail_session(Verdict::local(Outcome::deferred, "4.7.5", "TLS handshake failed"), false);
  // RFC 3207 4.2: what the server said in clear is forgotten, and so is
  // anything it sent after its 220 (a man in the middle's injection).
  parser_ = ReplyParser(options_.reply_limits);
  tls_active_ = true;
  esmtp_ = false;
  extensions_ = Extensions{};
  state_ = State::opening;
  if (auto ehlo = format_ehlo(options_.helo_name)) expect(Awaiting::ehlo, *ehlo);
}

void Client::start_auth() {
  auto offers = [&](std::string_view m) {
    for (const auto& a : extensions_.auth)
      if (a == m) return true;
    return false;
  };
  auth_step_ = 0;
  if (offers("PLAIN")) {
    // RFC 4616: authzid NUL authcid NUL password.
    std::string response = std::string(1, '\0') + options_.auth_user + std::string(1, '\0') + options_.auth_password;
    if (auto line = format_auth("PLAIN", response)) return expect(Awaiting::auth, *line);
  } else if (offers("LOGIN")) {
    if (auto line = format_auth("LOGIN")) return expect(Awaiting::auth_challenge, *line);
  }
  fail_session(Verdict::local(Outcome::deferred, "4.7.0", "no AUTH mechanism in common (PLAIN, LOGIN)"), true);
}

void Client::on_auth(const Reply& reply) {
  if (reply.code == 235) {
    state_ = State::idle;
    return;
  }
  if (reply.code == 334 && auth_step_ < 2) {
    // LOGIN (draft-murchison-sasl-login): the user name, then the password.
    const std::string& answer = auth_step_++ == 0 ? options_.auth_user : options_.auth_password;
    expect(Awaiting::auth_challenge, format_auth_response(answer));
    return;
  }
  if (reply.code == 334) {
    expect(Awaiting::auth, format_auth_cancel());
    return;
  }
  // RFC 4954 6: 535 credentials refused, 454 try later. Either way the
  // mail waits: a refused password is the administrator's to fix, not a
  // reason to bounce (Postfix defers too).
  Verdict v = verdict_of(reply, "AUTH");
  v.outcome = Outcome::deferred;
  fail_session(v, true);
}

void Client::send(const OutboundMessage& message) {
  message_ = message;
  rcpt_results_.assign(message.recipients.size(), std::nullopt);
  rcpt_next_ = 0;
  accepted_ = 0;
  mail_refused_.reset();
  discard_dot_ = false;
  state_ = State::sending;
  // What the server said it cannot take is not offered to it.
  if (extensions_.size && *extensions_.size > 0 && message.size > *extensions_.size) {
    fail_message(Verdict::local(
        Outcome::bounced, "5.3.4",
        fmt::format("message size {} exceeds size limit {} of server", message.size, *extensions_.size)));
    return finish_message(std::nullopt, false);
  }
  if (message.smtputf8 && !extensions_.smtputf8) {
    // RFC 6531 3.4: no downgrade is defined; the message fails.
    fail_message(Verdict::local(Outcome::bounced, "5.6.7", "SMTPUTF8 is required, but was not offered by host"));
    return finish_message(std::nullopt, false);
  }
  if (message.eight_bit && !extensions_.eightbitmime) {
    // RFC 6152 3: 8-bit data may go only to a server that offers 8BITMIME.
    // Converting to quoted-printable needs the MIME parser; until it comes,
    // such a message is returned rather than sent damaged.
    fail_message(Verdict::local(Outcome::bounced, "5.6.3", "8-bit message, but host does not offer 8BITMIME"));
    return finish_message(std::nullopt, false);
  }
  MailParams params;
  if (extensions_.size) params.size = message.size;
  if (message.eight_bit) params.body = BodyType::eight_bit_mime;
  params.smtputf8 = message.smtputf8;
  if (extensions_.dsn) {
    params.ret = message.ret;
    params.envid = message.envid;
  }
  auto mail = format_mail(message.sender, esmtp_ ? params : MailParams{});
  if (!mail) {
    fail_message(Verdict::local(Outcome::bounced, "5.1.7", "the sender address is not valid"));
    return finish_message(std::nullopt, false);
  }
  expect(Awaiting::mail, *mail);
  if (!extensions_.pipelining) return;
  // RFC 2920 3.1: MAIL, every RCPT and DATA in one group.
  for (rcpt_next_ = 0; rcpt_next_ < message.recipients.size(); ++rcpt_next_) {
    auto rcpt = format_rcpt(message.recipients[rcpt_next_], rcpt_params(rcpt_next_));
    if (rcpt) expect(Awaiting::rcpt, *rcpt, rcpt_next_);
    else rcpt_results_[rcpt_next_] = Verdict::local(Outcome::bounced, "5.1.3", "bad recipient address syntax");
  }
  expect(Awaiting::data, format_data());
}

RcptParams Client::rcpt_params(std::size_t i) const {
  if (!extensions_.dsn || !message_ || i >= message_->rcpt_params.size()) return {};
  return message_->rcpt_params[i];
}

// next_rcpt - without PIPELINING: the next RCPT, or DATA after the last.
void Client::next_rcpt() {
  if (mail_refused_) return finish_message(std::nullopt, true);
  while (rcpt_next_ < message_->recipients.size()) {
    std::size_t i = rcpt_next_++;
    auto rcpt = format_rcpt(message_->recipients[i], rcpt_params(i));
    if (rcpt) return expect(Awaiting::rcpt, *rcpt, i);
    rcpt_results_[i] = Verdict::local(Outcome::bounced, "5.1.3", "bad recipient address syntax");
  }
  if (accepted_ == 0) return finish_message(std::nullopt, true);
  expect(Awaiting::data, format_data());
}

void Client::body_sent() {
  body_due_ = false;
  expect(Awaiting::dot, "");
}

void Client::quit() {
  quitting_ = true;
  expect(Awaiting::quit, format_quit());
}

void Client::lost(const std::string& reason) {
  if (state_ == State::closed) return;
  if (quitting_) {
    state_ = State::closed;  // the server left without its 221: all was said
    pending_.clear();
    return;
  }
  fail_session(Verdict::local(Outcome::deferred, "4.4.2", printable(reason, kMaxText)), false);
}

// fail_message - why for every recipient not already refused by its RCPT.
void Client::fail_message(const Verdict& why) {
  if (!message_) return;
  for (auto& r : rcpt_results_)
    if (!r) r = why;
}

// finish_message - the message's result: each recipient's RCPT refusal,
// else the final verdict (MAIL's refusal when there was one). A
// transaction left open is reset before the next message (RFC 5321 4.1.1.5).
void Client::finish_message(const std::optional<Verdict>& final_verdict, bool transaction_open) {
  if (!message_) return;
  if (mail_refused_) fail_message(*mail_refused_);
  else if (final_verdict) fail_message(*final_verdict);
  MessageResult result;
  for (auto& r : rcpt_results_)
    result.recipients.push_back(r ? std::move(*r) : Verdict::local(Outcome::deferred, "4.3.0", "no reply"));
  result_ = std::move(result);
  message_.reset();
  rcpt_results_.clear();
  body_due_ = false;
  state_ = State::idle;
  if (transaction_open && !quitting_) expect(Awaiting::rset, format_rset());
}

// fail_session - the connection ends: why for the message under way (its
// recipients not yet answered), and QUIT if the server is still listening.
void Client::fail_session(Verdict why, bool say_quit) {
  if (message_) {
    fail_message(why);
    finish_message(std::nullopt, false);
  }
  failure_ = std::move(why);
  pending_.clear();
  body_due_ = false;
  if (say_quit) out_ += format_quit();
  state_ = State::closed;
}

MessageResult Client::take_result() {
  MessageResult r = std::move(*result_);
  result_.reset();
  return r;
}

}  // namespace herald::smtp

#include "smtp/session.h"

#include <algorithm>
#include <cassert>

#include <fmt/format.h>

#include "base/text.h"

namespace herald::smtp {

namespace {
constexpr std::size_t kMaxAuthLine = 12288;

// Malformed UTF-8 (RFC 6531 3.3 allows UTF-8, well-formed per RFC 3629) in
// an argument. Postfix answers a command line of malformed UTF-8 with
// "500 5.5.2 Error: bad UTF-8 syntax"; Herald says which argument, and for
// an address uses 553 5.6.7 as it does for "Non-ASCII address requires
// SMTPUTF8" (RFC 6531 registers X.6.7: non-ASCII address not permitted).
constexpr const char* kBadUtf8Sender = "Bad UTF-8 syntax in sender address";
constexpr const char* kBadUtf8Recipient = "Bad UTF-8 syntax in recipient address";
constexpr const char* kBadUtf8Address = "Bad UTF-8 syntax in address";
constexpr const char* kBadUtf8Hostname = "Bad UTF-8 syntax in hostname";
}  // namespace

// The command table. Rows name only what differs from CommandSpec's
// defaults: any phase, any arguments, may be followed in a pipelined group.
const Session::CommandSpec Session::kCommands[] = {
    {.verb = "EHLO", .handler = &Session::cmd_ehlo, .group = Group::alone},
    {.verb = "HELO", .handler = &Session::cmd_helo, .group = Group::alone},
    {.verb = "MAIL", .handler = &Session::cmd_mail, .needs = Needs::helo, .tx = Tx::opens},
    {.verb = "RCPT", .handler = &Session::cmd_rcpt, .needs = Needs::helo, .tx = Tx::needs},
    {.verb = "DATA", .handler = &Session::cmd_data, .needs = Needs::helo, .tx = Tx::needs, .usage = "DATA",
     .group = Group::last},
    {.verb = "BDAT", .handler = &Session::cmd_bdat, .needs = Needs::helo, .tx = Tx::needs,
     .refuse_after_chunk = true},
    {.verb = "RSET", .handler = &Session::cmd_rset, .junk = true},
    {.verb = "NOOP", .handler = &Session::cmd_noop, .junk = true},
    {.verb = "QUIT", .handler = &Session::cmd_quit, .group = Group::last},
    {.verb = "HELP", .handler = &Session::cmd_help, .junk = true},
    {.verb = "VRFY", .handler = &Session::cmd_vrfy, .group = Group::last, .junk = true},
    {.verb = "ETRN", .handler = &Session::cmd_etrn, .needs = Needs::helo},
    {.verb = "STARTTLS", .handler = &Session::cmd_starttls, .usage = "STARTTLS", .group = Group::last},
    // AUTH is refused inside a transaction too (RFC 4954 4), but after its
    // "already authenticated" check, so cmd_auth says which applies.
    {.verb = "AUTH", .handler = &Session::cmd_auth, .needs = Needs::ehlo, .long_line = true},
    // RFC 5321 4.5.1 / 7.3: not offered; 502 rather than 500 (known verbs).
    {.verb = "EXPN", .offered = false, .group = Group::last},
    {.verb = "SEND", .offered = false},
    {.verb = "SOML", .offered = false},
    {.verb = "SAML", .offered = false},
    {.verb = "TURN", .offered = false, .group = Group::last},
};

const Session::CommandSpec* Session::find_command(std::string_view verb) {
  for (const auto& c : kCommands)
    if (iequals(c.verb, verb)) return &c;
  return nullptr;
}

Session::Session(const SmtpLimits& limits, std::string hostname)
    : limits_(limits),
      hostname_(std::move(hostname)),
      reader_(std::max<std::size_t>(limits.max_command_line, kMaxAuthLine)) {}

// command_line_bound - what the reader allows between messages. RFC 4954 4:
// an AUTH line may reach 12288 octets; other commands are held to
// max_command_line in run_command.
std::size_t Session::command_line_bound() const {
  return std::max<std::size_t>(limits_.max_command_line, kMaxAuthLine);
}

std::string Session::greeting() const {
  return fmt::format("220 {} ESMTP Herald\r\n", hostname_);
}

std::string Session::timeout_reply() const {
  return fmt::format("421 4.4.2 {} Error: timeout exceeded\r\n", hostname_);
}

std::string Session::too_many_connections_reply() const {
  return fmt::format("421 4.7.0 {} Error: too many connections\r\n", hostname_);
}

std::string Session::pregreet_reply() const {
  return fmt::format("554 5.5.0 {} Error: client talked before the greeting\r\n", hostname_);
}

// ---- State queries ----

const Session::Helo* Session::helo() const {
  if (auto* in = std::get_if<Introduced>(&phase_)) return &in->helo;
  if (auto* a = std::get_if<Authenticating>(&phase_)) return &a->helo;
  if (auto* c = std::get_if<Closed>(&phase_)) return c->helo ? &*c->helo : nullptr;
  return nullptr;
}

const std::string& Session::helo_name() const {
  static const std::string kNone;
  const Helo* h = helo();
  return h ? h->name : kNone;
}

bool Session::in_transaction() const {
  const Introduced* in = introduced();
  return in && !std::holds_alternative<NoMail>(in->tx);
}

bool Session::in_message() const {
  const Introduced* in = introduced();
  return in && (std::holds_alternative<ReceivingData>(in->tx) || std::holds_alternative<Chunking>(in->tx) ||
                std::holds_alternative<ReceivingChunk>(in->tx));
}

// input - what step() reads next.
Session::Input Session::input() const {
  if (waiting_) return Input::none;
  if (refused_chunk_) return Input::chunk;
  if (auto* a = std::get_if<Authenticating>(&phase_)) return a->checking ? Input::none : Input::sasl;
  if (auto* in = std::get_if<Introduced>(&phase_)) {
    if (std::holds_alternative<ReceivingData>(in->tx)) return Input::data;
    if (std::holds_alternative<ReceivingChunk>(in->tx)) return Input::chunk;
  }
  return Input::command;
}

sasl::Exchange& Session::auth_exchange() {
  auto* a = std::get_if<Authenticating>(&phase_);
  assert(a && "auth_exchange() outside an AUTH exchange");
  return *a->exchange;
}

std::string Session::with_protocol() const {
  // RFC 3848: ESMTP + "S" for TLS + "A" for AUTH; RFC 6531 3.7.3: UTF8SMTP.
  const Helo* h = helo();
  std::string base = tx_.smtputf8 ? "UTF8SMTP" : h && h->esmtp ? "ESMTP" : "SMTP";
  if (auth_.tls_active) base += "S";
  if (!auth_user_.empty()) base += "A";
  return base;
}

// ---- Replies and transitions ----

void Session::reply(int code, std::string_view enhanced, std::string_view text) {
  std::string line = fmt::format("{} {} {}", code, enhanced, text);
  if (code >= 400) note_rejection(line);
  out_ += line;
  out_ += "\r\n";
}

// client_error - a reply for the client's mistake; too many and it is gone.
void Session::client_error(int code, std::string_view enhanced, std::string_view text) {
  reply(code, enhanced, text);
  count_error();
}

// count_error - Postfix's smtpd_hard_error_limit: so many errors without
// delivering mail (on_submitted resets the count) and the client is gone.
void Session::count_error() {
  if (++errors_ >= limits_.max_errors && !closed())
    refuse_and_close(fmt::format("421 4.7.0 {} Error: too many errors", hostname_));
}

// refuse_and_close - a last reply, and the session ends.
void Session::refuse_and_close(std::string line) {
  if (command_.empty()) command_ = "UNKNOWN";  // not SMTP at all; the 421 is noted even so
  rejections_.push_back(Rejection{std::string(command_), line, mail_from_, recipient_});
  out_ += line;
  out_ += "\r\n";
  close();
}

// note_rejection - a refusal for the driver's log and journal. Commands
// that are not SMTP at all (unknown verbs, over-long or NUL lines) are not
// noted one by one, only the 421 they lead to (refuse_and_close); AUTH's
// failures are login events of their own (sasl::AuthEvent).
void Session::note_rejection(std::string_view line) {
  if (command_.empty() || command_ == "AUTH") return;
  rejections_.push_back(Rejection{std::string(command_), std::string(line), mail_from_, recipient_});
}

// close - the terminal phase; whatever the client sends after is not read.
void Session::close() {
  std::optional<Helo> last;
  if (const Helo* h = helo()) last = *h;
  phase_ = Closed{std::move(last)};
}

// reset_transaction - RFC 5321 4.1.1.5 / 3.3: back to no transaction.
void Session::reset_transaction() {
  tx_ = Transaction{};
  body_ = BodyFaults{};
  overshoot_ = 0;
  mail_from_.clear();
  if (Introduced* in = introduced()) in->tx = NoMail{};
  refused_chunk_.reset();
  reader_.set_max_line(command_line_bound());
}

// ---- The loop ----

Step Session::step() {
  while (pending_ == Action::need_more && !closed()) {
    std::size_t before = reader_.buffered();
    bool more = true;
    switch (input()) {
      case Input::command: more = read_command(); break;
      case Input::sasl: more = read_sasl_line(); break;
      case Input::data: run_data(); break;
      case Input::chunk:
        if (refused_chunk_) run_refused_chunk();
        else run_chunk();
        break;
      case Input::none: more = false; break;  // REQUIRES broken: the driver answers first
    }
    if (!more) break;
    // Data and chunks take all there is; without progress, wait for more.
    Input now = input();
    if (pending_ == Action::need_more && reader_.buffered() == before &&
        (now == Input::data || now == Input::chunk))
      break;
  }
  Step s;
  s.output = std::move(out_);
  out_.clear();
  s.action = closed() ? Action::close : pending_;
  pending_ = Action::need_more;  // the driver now owns it
  return s;
}

// read_command - one command line, or false when none is complete yet.
bool Session::read_command() {
  auto line = reader_.next_view();
  if (!line) return false;
  command_ = {};
  if (line->too_long) client_error(500, "5.5.2", "Error: line too long");
  else run_command(line->text);
  return true;
}

// read_sasl_line - one AUTH response line (RFC 4954 4), or false for none.
bool Session::read_sasl_line() {
  auto line = reader_.next_view();
  if (!line) return false;
  if (line->too_long) {
    end_exchange();
    client_error(500, "5.5.6", "Authentication exchange line is too long");
  } else {
    auth_outcome(std::get<Authenticating>(phase_).exchange->respond(line->text));
  }
  return true;
}

// refusal - the table's rules for this command in this phase, in the order
// the client should learn of them: what must come first, the syntax, the
// transaction; nullopt when it may run.
std::optional<Session::Refusal> Session::refusal(const CommandSpec& spec, std::string_view args) const {
  const Introduced* in = introduced();
  if (spec.needs == Needs::helo && !in) return Refusal{503, "5.5.1", "Error: send HELO/EHLO first"};
  if (spec.needs == Needs::ehlo && !(in && in->helo.esmtp)) return Refusal{503, "5.5.1", "Error: send EHLO first"};
  if (!spec.usage.empty() && !trim(args).empty())
    return Refusal{501, "5.5.4", fmt::format("Syntax: {}", spec.usage)};
  if (spec.tx == Tx::needs && !in_transaction()) return Refusal{503, "5.5.1", "Error: need MAIL command"};
  // RFC 5321 4.1.4: MAIL may not start a transaction inside another one.
  if (spec.tx == Tx::opens && in_transaction())
    return Refusal{503, "5.5.1", fmt::format("Error: nested {} command", spec.verb)};
  return std::nullopt;
}

void Session::run_command(std::string_view line) {
  command_ = {};
  recipient_.clear();
  if (!in_transaction()) mail_from_.clear();
  if (line.find('\0') != std::string_view::npos) {
    client_error(500, "5.5.2", "Error: NUL character in command");
    return;
  }
  std::string_view verb = line.substr(0, line.find(' '));
  std::string_view args = verb.size() < line.size() ? line.substr(verb.size() + 1) : std::string_view();
  const CommandSpec* spec = find_command(verb);
  if (spec && spec->offered) command_ = spec->verb;
  // RFC 2920 3.1 and Postfix's smtpd_forbid_unauth_pipelining: before the
  // client has read our EHLO reply nothing may be pipelined, and EHLO,
  // HELO, DATA, QUIT, STARTTLS, VRFY (and BDAT LAST, run_chunk) end a
  // group: whatever follows them before their reply is a spam engine or a
  // smuggler (DATA's body sent before the 354 would run as commands after
  // a refusal).
  const Introduced* in = introduced();
  if (reader_.buffered() > 0 && (!in || !in->helo.esmtp || (spec && spec->group != Group::may_continue))) {
    command_ = spec ? spec->verb : std::string_view("UNKNOWN");
    synchronization_lost();
    return;
  }
  if (!spec) {
    client_error(500, "5.5.2", "Error: command not recognized");
    return;
  }
  if (line.size() + 2 > limits_.max_command_line && !spec->long_line) {
    client_error(500, "5.5.2", "Error: line too long");
    return;
  }
  if (!spec->offered) {
    client_error(502, "5.5.1", "Error: command not implemented");
    return;
  }
  if (!spec->refuse_after_chunk) {
    if (auto r = refusal(*spec, args)) {
      client_error(r->code, r->enhanced, r->text);
      return;
    }
  }
  (this->*spec->handler)(args);
  // Postfix's smtpd_junk_command_limit: past it, each such command counts
  // as an error (the count restarts when a message is delivered).
  if (spec->junk && ++junk_commands_ > limits_.junk_command_limit) count_error();
}

// synchronization_lost - RFC 2920 3.1 broken (run_command): refused, and
// the connection is dropped.
void Session::synchronization_lost() {
  refuse_and_close(fmt::format("554 5.5.0 {} Error: SMTP protocol synchronization", hostname_));
}

// ---- Session commands ----

void Session::cmd_ehlo(std::string_view args) {
  args = trim(args);
  if (args.empty()) {
    client_error(501, "5.5.4", "Syntax: EHLO hostname");
    return;
  }
  // RFC 6531 3.7.1: the EHLO domain may be a U-label, in UTF-8: well-formed.
  if (!valid_utf8(args)) {
    client_error(501, "5.5.2", kBadUtf8Hostname);
    return;
  }
  reset_transaction();
  phase_ = Introduced{Helo{std::string(args), true}, NoMail{}};
  out_ += fmt::format("250-{}\r\n", hostname_);
  out_ += "250-PIPELINING\r\n";
  out_ += fmt::format("250-SIZE {}\r\n", limits_.max_message_size);
  if (limits_.vrfy != VrfyMode::disabled) out_ += "250-VRFY\r\n";
  if (etrn_allowed_) out_ += "250-ETRN\r\n";
  out_ += "250-8BITMIME\r\n";
  out_ += "250-ENHANCEDSTATUSCODES\r\n";
  out_ += "250-DSN\r\n";
  if (auth_.starttls_available && !auth_.tls_active) out_ += "250-STARTTLS\r\n";
  if (!auth_.mechanisms.empty() && auth_user_.empty())
    out_ += fmt::format("250-AUTH {}\r\n", fmt::join(auth_.mechanisms, " "));
  out_ += "250-SMTPUTF8\r\n";
  out_ += "250 CHUNKING\r\n";
}

void Session::cmd_helo(std::string_view args) {
  args = trim(args);
  if (args.empty()) {
    client_error(501, "5.5.4", "Syntax: HELO hostname");
    return;
  }
  if (!valid_utf8(args)) {
    client_error(501, "5.5.2", kBadUtf8Hostname);
    return;
  }
  reset_transaction();
  phase_ = Introduced{Helo{std::string(args), false}, NoMail{}};
  reply(250, "2.0.0", hostname_);
}

void Session::cmd_rset(std::string_view) {
  reset_transaction();
  reply(250, "2.0.0", "Ok");
}

void Session::cmd_noop(std::string_view) { reply(250, "2.0.0", "Ok"); }

void Session::cmd_quit(std::string_view) {
  reply(221, "2.0.0", "Bye");
  close();
}

void Session::cmd_help(std::string_view) {
  reply(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY");
}

void Session::cmd_vrfy(std::string_view args) {
  // RFC 6531 3.3 (VRFY may carry SMTPUTF8 too): malformed UTF-8 is refused
  // whether the answer would be verified or not.
  if (limits_.vrfy != VrfyMode::disabled && !valid_utf8(args)) {
    client_error(553, "5.6.7", kBadUtf8Address);
    return;
  }
  switch (limits_.vrfy) {
    case VrfyMode::disabled:
      client_error(502, "5.5.1", "VRFY command is disabled");
      return;
    case VrfyMode::ambiguous:
      // RFC 5321 3.5.3: 252 when the server will not say.
      reply(252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery");
      return;
    case VrfyMode::verify: {
      std::string arg(trim(args));
      if (arg.empty() || arg.front() != '<') arg = "<" + arg + ">";
      ParsedPath p = parse_path(arg, false, limits_.address);
      if (p.error != PathError::none || p.mailbox.domain.empty()) {
        client_error(501, "5.1.3", "Bad address syntax");
        return;
      }
      waiting_ = RecipientWait{RecipientCheck{std::move(p.mailbox), 0}, /*vrfy=*/true};
      pending_ = Action::check_recipient;
      return;
    }
  }
}

void Session::vrfy_checked(const Mailbox& mailbox, const RcptDecision& d) {
  if (d.status == RcptStatus::ok) reply(250, "2.1.5", fmt::format("<{}>", printable(mailbox.str())));
  else if (d.status == RcptStatus::unknown_user) client_error(550, "5.1.1", "User unknown");
  else reply(252, "2.0.0", "Cannot VRFY user");
}

// ---- The transaction: MAIL, RCPT (RFC 5321 4.1.1.2-3) ----

// cmd_mail - REQUIRES (table): HELO/EHLO done, no transaction.
void Session::cmd_mail(std::string_view args) {
  if (auth_.tls_required && !auth_.tls_active) {
    client_error(530, "5.7.0", "Must issue a STARTTLS command first");
    return;
  }
  if (auth_.auth_required && auth_user_.empty()) {
    client_error(530, "5.7.0", "Authentication required");
    return;
  }
  if (!istarts_with(args, "FROM:")) {
    client_error(501, "5.5.4", "Syntax: MAIL FROM:<address>");
    return;
  }
  ParsedPath p = parse_path(args.substr(5), /*allow_null=*/true, limits_.address);
  if (p.error == PathError::none) mail_from_ = printable(p.mailbox.str(), 300);

  switch (p.error) {
    case PathError::none: break;
    case PathError::syntax: client_error(501, "5.1.7", "Bad sender address syntax"); return;
    case PathError::too_long: client_error(501, "5.1.7", "Sender address too long"); return;
    case PathError::needs_utf8:
      client_error(553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
      return;
    case PathError::bad_utf8: client_error(553, "5.6.7", kBadUtf8Sender); return;
  }
  if (!p.null_path && p.mailbox.domain.empty()) {
    client_error(501, "5.1.7", "Bad sender address syntax");
    return;
  }
  bool esmtp = introduced()->helo.esmtp;
  Transaction tx;
  for (const auto& param : p.params) {
    if (!esmtp) {
      client_error(555, "5.5.4", "Error: parameters need EHLO");
      return;
    }
    if (param.keyword == "SIZE") {
      // RFC 1870 6: refuse at MAIL what will not fit.
      auto size = parse_uint(param.value);
      if (!size) {
        client_error(501, "5.5.4", "Bad SIZE parameter");
        return;
      }
      if (*size > limits_.max_message_size) {
        client_error(552, "5.3.4", "Message size exceeds fixed limit");
        return;
      }
      tx.declared_size = *size;
    } else if (param.keyword == "BODY") {
      if (iequals(param.value, "8BITMIME")) {
        tx.body_8bit = true;
      } else if (!iequals(param.value, "7BIT")) {
        client_error(555, "5.5.4", "Unsupported BODY parameter");
        return;
      }
    } else if (param.keyword == "SMTPUTF8" && param.value.empty()) {
      tx.smtputf8 = true;
    } else if (param.keyword == "RET") {
      // RFC 3461 4.3: once, FULL or HDRS.
      auto ret = parse_ret(param.value);
      if (!ret || tx.ret != DsnRet::unspecified) {
        client_error(501, "5.5.4", "Bad RET parameter");
        return;
      }
      tx.ret = *ret;
    } else if (param.keyword == "ENVID") {
      // RFC 3461 4.4: xtext, at most 100 characters, printable ASCII decoded.
      auto envid = xtext_decode(param.value);
      if (!envid || envid->empty() || param.value.size() > 100 || !tx.envid.empty() ||
          std::any_of(envid->begin(), envid->end(), [](char c) { return c < ' ' || c > '~'; })) {
        client_error(501, "5.5.4", "Bad ENVID parameter");
        return;
      }
      tx.envid = std::move(*envid);
    } else if (param.keyword == "AUTH" && !param.value.empty()) {
      // RFC 4954 5: the original submitter as another server learned it; a
      // server that offers AUTH accepts it. Herald keeps nothing of it: the
      // value is unverified (Postfix also only logs it).
    } else {
      client_error(555, "5.5.4", fmt::format("Unsupported parameter {}", printable(param.keyword, 40)));
      return;
    }
  }
  if (storage_low_) {
    // RFC 3463 4.3.1: ours, not the client's; it tries again later
    // (Postfix's queue_minfree answer).
    reply(452, "4.3.1", "Insufficient system storage");
    return;
  }
  tx.null_sender = p.null_path;
  tx.reverse_path = std::move(p.mailbox);
  if (!auth_user_.empty()) {
    // RFC 6409 6.1: an authenticated user's sender is checked first.
    waiting_ = SenderWait{SenderCheck{tx.reverse_path, tx.null_sender, auth_user_}, std::move(tx)};
    pending_ = Action::check_sender;
    return;
  }
  open_transaction(std::move(tx));
}

void Session::open_transaction(Transaction tx) {
  tx_ = std::move(tx);
  introduced()->tx = MailGiven{};
  reply(250, "2.1.0", "Ok");
}

const SenderCheck& Session::sender_check() const {
  assert(waiting_ && std::holds_alternative<SenderWait>(*waiting_) && "sender_check() without Action::check_sender");
  return std::get<SenderWait>(*waiting_).check;
}

void Session::on_sender_checked(SenderVerdict verdict) {
  assert(waiting_ && std::holds_alternative<SenderWait>(*waiting_));
  SenderWait w = std::get<SenderWait>(std::move(*waiting_));
  waiting_.reset();
  std::string who = printable(w.check.reverse_path.str(), 300);
  switch (verdict) {
    case SenderVerdict::allowed:
      open_transaction(std::move(w.tx));
      return;
    case SenderVerdict::refused:
      client_error(553, "5.7.1", fmt::format("<{}>: Sender address rejected: not owned by user {}", who,
                                             printable(w.check.user, 300)));
      return;
    case SenderVerdict::temp_fail:
      // Not the client's mistake: it may try again (RFC 5321 4.2.5).
      reply(451, "4.3.0", fmt::format("<{}>: Temporary lookup failure", who));
      return;
  }
}

// cmd_rcpt - REQUIRES (table): a transaction. Leaves its phase as it is:
// a recipient may come between BDAT chunks too.
void Session::cmd_rcpt(std::string_view args) {
  // The recipients are settled once the message has begun: the trace
  // header at its top names them (RFC 5321 4.4).
  if (std::holds_alternative<Chunking>(introduced()->tx)) {
    client_error(503, "5.5.1", "Error: RCPT after BDAT");
    return;
  }
  if (!istarts_with(args, "TO:")) {
    client_error(501, "5.5.4", "Syntax: RCPT TO:<address>");
    return;
  }
  ParsedPath p = parse_path(args.substr(3), /*allow_null=*/false, limits_.address, tx_.smtputf8);
  if (p.error == PathError::none) recipient_ = printable(p.mailbox.str(), 300);
  switch (p.error) {
    case PathError::none: break;
    case PathError::syntax: client_error(501, "5.1.3", "Bad recipient address syntax"); return;
    case PathError::too_long: client_error(501, "5.1.3", "Recipient address too long"); return;
    case PathError::needs_utf8:
      client_error(553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
      return;
    case PathError::bad_utf8: client_error(553, "5.6.7", kBadUtf8Recipient); return;
  }
  std::optional<Notify> notify;
  std::optional<Orcpt> orcpt;
  for (const auto& param : p.params) {
    if (!introduced()->helo.esmtp) {
      client_error(555, "5.5.4", "Error: parameters need EHLO");
      return;
    }
    if (param.keyword == "NOTIFY") {
      // RFC 3461 4.1: once.
      notify = notify ? std::nullopt : parse_notify(param.value);
      if (!notify) {
        client_error(501, "5.5.4", "Bad NOTIFY parameter");
        return;
      }
    } else if (param.keyword == "ORCPT") {
      // RFC 3461 4.2: once, addr-type;xtext, at most 500 characters.
      orcpt = orcpt ? std::nullopt : parse_orcpt(param.value);
      if (!orcpt || param.value.size() > 500 || !valid_utf8(orcpt->address) ||
          std::any_of(orcpt->address.begin(), orcpt->address.end(), [](char c) { return c >= 0 && c < ' '; })) {
        client_error(501, "5.5.4", "Bad ORCPT parameter");
        return;
      }
    } else {
      client_error(555, "5.5.4", fmt::format("Unsupported parameter {}", printable(param.keyword, 40)));
      return;
    }
  }
  if (tx_.recipients.size() >= limits_.max_recipients) {
    // RFC 5321 4.5.3.1.10: 452, and the client sends the rest later; past
    // Postfix's smtpd_recipient_overshoot_limit each one counts as an error.
    reply(452, "4.5.3", "Error: too many recipients");
    if (++overshoot_ > limits_.recipient_overshoot_limit) count_error();
    return;
  }
  waiting_ = RecipientWait{RecipientCheck{std::move(p.mailbox), tx_.declared_size}, /*vrfy=*/false, notify,
                           std::move(orcpt)};
  pending_ = Action::check_recipient;
}

const RecipientCheck& Session::recipient_check() const {
  assert(waiting_ && std::holds_alternative<RecipientWait>(*waiting_) &&
         "recipient_check() without Action::check_recipient");
  return std::get<RecipientWait>(*waiting_).check;
}

void Session::on_recipient_checked(RcptDecision decision) {
  assert(waiting_ && std::holds_alternative<RecipientWait>(*waiting_));
  RecipientWait w = std::get<RecipientWait>(std::move(*waiting_));
  waiting_.reset();
  if (w.vrfy) vrfy_checked(w.check.forward_path, decision);
  else rcpt_checked(std::move(w.check.forward_path), std::move(decision), w.notify, std::move(w.orcpt));
}

// rcpt_checked - RCPT's reply once the recipient is checked.
void Session::rcpt_checked(Mailbox forward_path, RcptDecision d, std::optional<Notify> notify,
                           std::optional<Orcpt> orcpt) {
  std::string who = printable(forward_path.str(), 300);
  switch (d.status) {
    case RcptStatus::ok:
      tx_.recipients.push_back(
          Recipient{std::move(forward_path), std::move(d.deliver_to), notify, std::move(orcpt)});
      reply(250, "2.1.5", "Ok");
      return;
    case RcptStatus::unknown_user:
      client_error(550, "5.1.1", fmt::format("<{}>: Recipient address rejected: User unknown", who));
      return;
    case RcptStatus::relay_denied:
      client_error(554, "5.7.1", fmt::format("<{}>: Relay access denied", who));
      return;
    case RcptStatus::over_quota:
      reply(452, "4.2.2", fmt::format("<{}>: Mailbox full", who));
      return;
    case RcptStatus::alias_loop:
      client_error(550, "5.4.6", fmt::format("<{}>: Alias expansion loop", who));
      return;
    case RcptStatus::alias_too_large:  // RFC 3463 X.2.4: mailing list expansion problem
      client_error(550, "5.2.4", fmt::format("<{}>: Alias expands to too many recipients", who));
      return;
    case RcptStatus::temp_fail:
      reply(451, "4.3.0", fmt::format("<{}>: Temporary lookup failure", who));
      return;
  }
}

// ---- ETRN (RFC 1985) ----

// cmd_etrn - "ETRN domain" or "ETRN @domain" (its subdomains too); "#queue"
// names are not kept here (458). Not inside a transaction (RFC 1985 5).
void Session::cmd_etrn(std::string_view args) {
  args = trim(args);
  if (!etrn_allowed_) {
    reply(459, "4.7.1", fmt::format("<{}>: ETRN is not allowed for this client", printable(args, 100)));
    return;
  }
  if (in_transaction()) {
    client_error(503, "5.5.1", "Error: MAIL transaction in progress");
    return;
  }
  if (args.empty()) {
    client_error(501, "5.5.4", "Syntax: ETRN domain");
    return;
  }
  if (args.front() == '#') {
    reply(458, "4.3.0", fmt::format("Unable to queue messages for node <{}>", printable(args, 100)));
    return;
  }
  EtrnRequest r;
  r.subdomains = args.front() == '@';
  if (r.subdomains) args.remove_prefix(1);
  if (!valid_hostname(args)) {
    client_error(501, "5.5.2", "Error: invalid domain name");
    return;
  }
  r.domain = to_lower(args);
  waiting_ = EtrnWait{std::move(r)};
  pending_ = Action::flush_queue;
}

const EtrnRequest& Session::etrn_request() const {
  assert(waiting_ && std::holds_alternative<EtrnWait>(*waiting_) && "etrn_request() without Action::flush_queue");
  return std::get<EtrnWait>(*waiting_).request;
}

void Session::on_queue_flushed(std::optional<std::size_t> recipients) {
  assert(waiting_ && std::holds_alternative<EtrnWait>(*waiting_));
  EtrnWait w = std::get<EtrnWait>(std::move(*waiting_));
  waiting_.reset();
  const std::string node = (w.request.subdomains ? "@" : "") + w.request.domain;
  // RFC 1985 4: 458 unable, 251 nothing waiting, 253 n messages started.
  if (!recipients) reply(458, "4.3.0", fmt::format("Unable to queue messages for node <{}>", node));
  else if (*recipients == 0) reply(251, "2.0.0", fmt::format("OK, no messages waiting for node <{}>", node));
  else reply(253, "2.0.0", fmt::format("OK, {} pending messages for node <{}> started", *recipients, node));
}

// ---- DATA (RFC 5321 4.1.1.4) ----

// cmd_data - REQUIRES (table): HELO/EHLO, no arguments, a transaction.
void Session::cmd_data(std::string_view) {
  Introduced& in = *introduced();
  if (std::holds_alternative<Chunking>(in.tx)) {
    // RFC 3030 2: DATA and BDAT may not be mixed in one transaction.
    client_error(503, "5.5.1", "Error: DATA after BDAT");
    return;
  }
  if (tx_.recipients.empty()) {
    client_error(503, "5.5.1", "Error: need RCPT command");
    return;
  }
  in.tx = ReceivingData{};
  reader_.set_max_line(limits_.max_text_line);
  // No enhanced code on 354: RFC 2034 puts them on 2xx, 4xx and 5xx only.
  out_ += "354 End data with <CR><LF>.<CR><LF>\r\n";
}

// run_data - consume DATA lines up to CRLF.CRLF (RFC 5321 4.1.1.4).
void Session::run_data() {
  ReceivingData& d = std::get<ReceivingData>(introduced()->tx);
  while (auto line = reader_.next_view()) {
    std::string_view text = line->text;
    if (text == "." && !line->bare_lf && d.prev_line_crlf) {
      finish_data();
      return;
    }
    d.prev_line_crlf = !line->bare_lf;
    if (line->too_long) body_.line_too_long = true;
    // RFC 5321 4.5.2: a leading "." was doubled by the client.
    if (!text.empty() && text.front() == '.') text.remove_prefix(1);
    bool bare_cr = text.find('\r') != std::string_view::npos;
    if (line->bare_lf || bare_cr) body_.bare_line_end = true;
    if (text.find('\0') != std::string_view::npos) body_.nul_seen = true;
    if (body_.over_size) continue;
    std::size_t before = tx_.data.size();
    if (bare_cr && limits_.allow_bare_lf) {
      // Compatibility mode: each lone CR becomes a line end.
      for (char c : text) {
        if (c == '\r') tx_.data += "\r\n";
        else tx_.data += c;
      }
    } else {
      tx_.data.append(text);
    }
    tx_.data += "\r\n";
    tx_.data_size += tx_.data.size() - before;
    if (tx_.data_size > limits_.max_message_size) {
      body_.over_size = true;
      tx_.data.clear();
      tx_.data.shrink_to_fit();
    }
  }
}

// finish_data - the final dot.
void Session::finish_data() {
  introduced()->tx = MailGiven{};
  reader_.set_max_line(command_line_bound());
  end_message(limits_.allow_bare_lf);
}

// content_refusal - the content rules, the same for DATA and BDAT: what
// was seen on the way refuses the message.
std::optional<Session::Refusal> Session::content_refusal(bool bare_line_ends_allowed) const {
  if (body_.over_size) return Refusal{552, "5.3.4", "Error: message file too big"};
  if ((body_.bare_line_end || body_.cr_pending) && !bare_line_ends_allowed)
    return Refusal{550, "5.5.2", "Error: bare <CR> or <LF> in message data"};
  if (body_.nul_seen) return Refusal{554, "5.6.0", "Error: NUL character in message data"};
  if (body_.line_too_long)
    return Refusal{500, "5.5.2", fmt::format("Error: message line longer than {} octets", limits_.max_text_line)};
  return std::nullopt;
}

// end_message - the whole message is in: submit, or refuse it.
void Session::end_message(bool bare_line_ends_allowed) {
  command_ = "END-OF-MESSAGE";  // Postfix's name for the final dot in its log
  auto no = content_refusal(bare_line_ends_allowed);
  if (!no) {
    pending_ = Action::submit;
    return;
  }
  // Too big is the client's size, not a protocol error (RFC 1870 6.2).
  if (no->code == 552) reply(no->code, no->enhanced, no->text);
  else client_error(no->code, no->enhanced, no->text);
  reset_transaction();
}

void Session::on_submitted(SubmitOutcome outcome, std::string_view detail) {
  switch (outcome) {
    case SubmitOutcome::queued:
      reply(250, "2.0.0", fmt::format("Ok: queued as {}", detail));
      // Postfix: errors and junk commands are counted "without delivering mail".
      errors_ = 0;
      junk_commands_ = 0;
      break;
    case SubmitOutcome::temp_fail:
      reply(451, "4.3.0", fmt::format("Error: queue file write error ({})", detail));
      break;
    case SubmitOutcome::rejected:
      reply(554, "5.7.1", detail);
      break;
  }
  reset_transaction();
}

// ---- BDAT (RFC 3030) ----

// cmd_bdat - RFC 3030 2: "BDAT size [LAST]"; the chunk follows at once, so
// the table's rules are checked here, and a refusal waits for its octets.
void Session::cmd_bdat(std::string_view args) {
  auto words = split(trim(args), ' ');
  std::optional<std::uint64_t> size;
  bool last = false;
  if (!words.empty()) size = parse_uint(words[0]);
  if (words.size() == 2 && iequals(words[1], "LAST")) last = true;
  if (!size || words.size() > 2 || (words.size() == 2 && !last)) {
    // Without a size we cannot know where the chunk ends: the session is lost.
    reply(501, "5.5.4", "Syntax: BDAT size [LAST]");
    close();
    return;
  }
  std::optional<Refusal> no = refusal(*find_command("BDAT"), args);
  if (!no && tx_.recipients.empty()) no = Refusal{503, "5.5.1", "Error: need RCPT command"};
  if (no) {
    refused_chunk_ = RefusedChunk{*size, std::move(*no)};
    return;
  }
  // Subtract rather than add: a size near 2^64 must not wrap past the limit.
  // Once over, later chunks are drained and refused too.
  if (tx_.data_size > limits_.max_message_size || *size > limits_.max_message_size - tx_.data_size)
    body_.over_size = true;
  introduced()->tx = ReceivingChunk{*size, *size, last};
}

// run_chunk - the octets of an accepted chunk, then its reply.
void Session::run_chunk() {
  Introduced& in = *introduced();
  ReceivingChunk& c = std::get<ReceivingChunk>(in.tx);
  while (c.remaining > 0) {
    std::string chunk = reader_.take(static_cast<std::size_t>(std::min<std::uint64_t>(c.remaining, 1 << 20)));
    if (chunk.empty()) return;
    c.remaining -= chunk.size();
    scan_chunk(chunk);
    if (!body_.over_size) {
      tx_.data += chunk;
      tx_.data_size += chunk.size();
    }
  }
  ReceivingChunk done = c;
  // After the last chunk the message has ended, as after DATA's final dot.
  if (done.last) in.tx = MailGiven{};
  else in.tx = Chunking{};
  if (done.last) {
    // RFC 2920 3.1 as for DATA: nothing may follow BDAT LAST's octets
    // before its reply (run_command).
    if (reader_.buffered() > 0) {
      synchronization_lost();
      return;
    }
    // RFC 3030 3: BDAT's octets are a message like DATA's (no BINARYMIME
    // is offered), so the same content rules hold; bare line ends are
    // refused whatever smtp.allow_bare_lf, which is for old DATA clients.
    end_message(/*bare_line_ends_allowed=*/false);
    return;
  }
  if (body_.over_size) {
    // Stalwart's rule: drain the chunk, then refuse the message.
    reply(552, "5.3.4", "Error: message file too big");
    return;
  }
  // RFC 3030 4.2: the reply counts the octets of this chunk.
  reply(250, "2.0.0", fmt::format("{} octets received", done.size));
}

// scan_chunk - the content rules over raw BDAT octets (DATA's come as
// lines from the reader): lines end in CRLF only, no NUL, no line longer
// than max_text_line, across chunk boundaries.
void Session::scan_chunk(std::string_view octets) {
  BodyFaults& b = body_;
  for (char c : octets) {
    if (b.cr_pending) {
      b.cr_pending = false;
      if (c == '\n') {
        b.line_length = 0;
        continue;
      }
      b.bare_line_end = true;
    }
    if (c == '\r') {
      b.cr_pending = true;
      continue;
    }
    if (c == '\n') {
      b.bare_line_end = true;
      b.line_length = 0;
      continue;
    }
    if (c == '\0') b.nul_seen = true;
    if (++b.line_length + 2 > limits_.max_text_line) b.line_too_long = true;
  }
}

// run_refused_chunk - drain a refused chunk, then say why it was refused.
void Session::run_refused_chunk() {
  RefusedChunk& r = *refused_chunk_;
  while (r.remaining > 0) {
    std::string chunk = reader_.take(static_cast<std::size_t>(std::min<std::uint64_t>(r.remaining, 1 << 20)));
    if (chunk.empty()) return;
    r.remaining -= chunk.size();
  }
  Refusal why = std::move(r.refusal);
  refused_chunk_.reset();
  client_error(why.code, why.enhanced, why.text);
}

// ---- STARTTLS (RFC 3207) and AUTH (RFC 4954) ----

// cmd_starttls - RFC 3207 4. REQUIRES (table): no arguments.
void Session::cmd_starttls(std::string_view) {
  if (auth_.tls_active) {
    client_error(503, "5.5.1", "Error: TLS already active");
    return;
  }
  if (!auth_.starttls_available) {
    client_error(502, "5.5.1", "Error: command not implemented");
    return;
  }
  reply(220, "2.0.0", "Ready to start TLS");
  pending_ = Action::starttls;
}

void Session::on_tls_started(AuthOptions options) {
  // RFC 3207 4.2: discard all knowledge obtained from the client, the
  // EHLO included; the client must say EHLO again.
  reset_transaction();
  if (!closed()) phase_ = Greeted{};
  auth_user_.clear();
  auth_ = std::move(options);
  auth_.tls_active = true;
}

// cmd_auth - RFC 4954 4: "AUTH mechanism [initial-response]". REQUIRES
// (table): EHLO done.
void Session::cmd_auth(std::string_view args) {
  if (!auth_user_.empty()) {
    client_error(503, "5.5.1", "Error: already authenticated");
    return;
  }
  if (in_transaction()) {
    client_error(503, "5.5.1", "Error: AUTH not allowed during a mail transaction");
    return;
  }
  auto words = split(trim(args), ' ');
  if (words.empty() || words[0].empty() || words.size() > 2) {
    client_error(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
    return;
  }
  if (auth_.mechanisms.empty()) {
    if (!auth_.tls_active) client_error(538, "5.7.11", "Encryption required for requested authentication mechanism");
    else client_error(503, "5.5.1", "Error: authentication not enabled");
    return;
  }
  auto exchange = sasl::start_exchange(auth_, words[0]);
  if (!exchange) {
    client_error(504, "5.5.4", "Unrecognized authentication type");
    return;
  }
  Helo h = std::move(introduced()->helo);
  phase_ = Authenticating{std::move(h), std::move(exchange)};
  std::optional<std::string_view> initial;
  if (words.size() == 2) initial = words[1];
  auth_outcome(std::get<Authenticating>(phase_).exchange->start(initial));
}

void Session::on_auth_checked(sasl::Exchange::Outcome outcome) { auth_outcome(std::move(outcome)); }

// auth_outcome - one step of the exchange as SMTP replies (RFC 4954 4, 6).
void Session::auth_outcome(sasl::Exchange::Outcome o) {
  using Kind = sasl::Exchange::Kind;
  Authenticating& a = std::get<Authenticating>(phase_);
  switch (o.kind) {
    case Kind::challenge:
      a.checking = false;
      out_ += fmt::format("334 {}\r\n", o.data);
      return;
    case Kind::check:
      a.checking = true;
      pending_ = Action::authenticate;
      return;
    case Kind::success:
      auth_user_ = a.exchange->identity();
      auth_event_ = sasl::AuthEvent{true, auth_user_, std::string(a.exchange->mechanism_name()), ""};
      end_exchange();
      // Additional data with success (SCRAM's server-final) came before, as
      // a 334 challenge the client acknowledged (RFC 4954 4).
      reply(235, "2.7.0", "Authentication successful");
      return;
    case Kind::malformed:
      end_failed_exchange(o.reason);
      client_error(501, "5.5.2", "Cannot decode response");
      return;
    case Kind::cancelled:
      end_failed_exchange(o.reason);
      client_error(501, "5.0.0", "Authentication aborted");
      return;
    case Kind::failed:
      end_failed_exchange(o.reason);
      // The same answer for an unknown user and a wrong password.
      client_error(535, "5.7.8", "Error: authentication failed");
      return;
    case Kind::temp_failed:
      // RFC 4954 6: our failure, not the client's; not counted as an error.
      end_failed_exchange(o.reason, /*temporary=*/true);
      reply(454, "4.7.0", "Temporary authentication failure");
      return;
  }
}

// end_exchange - back to Introduced: AUTH came after EHLO, outside a
// transaction, so that is where the client is again.
void Session::end_exchange() {
  Helo h = std::move(std::get<Authenticating>(phase_).helo);
  phase_ = Introduced{std::move(h), NoMail{}};
}

void Session::end_failed_exchange(const std::string& reason, bool temporary) {
  const sasl::Exchange& e = *std::get<Authenticating>(phase_).exchange;
  auth_event_ = sasl::AuthEvent{false, e.authcid(), std::string(e.mechanism_name()), reason, temporary};
  end_exchange();
}

}  // namespace herald::smtp

#include "pop3/session.h"

#include <array>
#include <cassert>
#include <limits>
#include <utility>

#include "base/text.h"

namespace herald::pop3 {

namespace {

constexpr std::string_view kGreeting = "+OK Herald POP3 server ready\r\n";
constexpr std::string_view kSigningOff = "+OK Herald POP3 server signing off";
// RFC 2595 4 / RFC 5034: plaintext passwords only inside TLS unless allowed.
constexpr std::string_view kPlaintextDisallowed =
    "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections.\r\n";
// RFC 3206 5: [AUTH] says the credentials were refused - and, one fixed text,
// nothing about whether the user exists.
constexpr std::string_view kAuthFailed = "-ERR [AUTH] Authentication failed.\r\n";
// RFC 2449 8.1: the maildrop lock is held by another session.
constexpr std::string_view kInUse = "-ERR [IN-USE] Mailbox is locked by another session.\r\n";
// RFC 3206 4: a transient failure; trying again later may work.
constexpr std::string_view kTempFail = "-ERR [SYS/TEMP] Temporary failure, try again later.\r\n";
constexpr std::string_view kTooManyErrors = "-ERR too many errors\r\n";

constexpr std::size_t kAnyArgs = std::numeric_limits<std::size_t>::max();

// wipe - overwrite a secret before its storage is released or reused.
void wipe(std::string& s) {
  volatile char* p = s.data();
  for (std::size_t i = 0; i < s.size(); ++i) p[i] = 0;
  s.clear();
}

// has_control - whether s holds NUL or other control octets, which have no
// place in a user name or password and would be truncated by C APIs.
bool has_control(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

// valid_uidl - RFC 1939 7: 1 to 70 characters in the range 0x21 to 0x7E.
[[maybe_unused]] bool valid_uidl(std::string_view s) {
  if (s.empty() || s.size() > 70) return false;
  for (unsigned char c : s)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

// append_dot_stuffed - text as multi-line reply lines: each line ended with
// CRLF (bare LF too, and a missing final terminator added) and, RFC 1939 3,
// a line starting with "." gets one more ".", so stored content can never
// end the reply early.
void append_dot_stuffed(std::string& out, std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t lf = text.find('\n', pos);
    std::size_t end = lf == std::string_view::npos ? text.size() : lf;
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && line.front() == '.') out += '.';
    out += line;
    out += "\r\n";
    pos = end + 1;
  }
}

// top_cut - RFC 1939 7 TOP: the header, the empty line that ends it and the
// first n body lines. A message without an empty line is all header.
std::string_view top_cut(std::string_view message, std::uint64_t n) {
  std::size_t pos = 0;
  bool in_body = false;
  std::uint64_t body_lines = 0;
  while (pos < message.size() && !(in_body && body_lines == n)) {
    std::size_t lf = message.find('\n', pos);
    std::size_t end = lf == std::string_view::npos ? message.size() : lf + 1;
    std::string_view line = message.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (in_body)
      ++body_lines;
    else if (line.empty())
      in_body = true;
    pos = end;
  }
  return message.substr(0, pos);
}

struct Totals {
  std::size_t count = 0;
  std::uint64_t octets = 0;
};

// totals - RFC 1939 5 STAT: messages marked deleted are not counted. A
// template only because Session::Transaction is private.
template <typename T>
Totals totals(const T& t) {
  Totals out;
  for (std::size_t i = 0; i < t.maildrop.size(); ++i) {
    if (t.deleted[i]) continue;
    ++out.count;
    out.octets += t.maildrop[i].size;
  }
  return out;
}

std::string maildrop_summary(std::size_t count, std::uint64_t octets) {
  return "maildrop has " + std::to_string(count) + " messages (" + std::to_string(octets) +
         " octets)";
}

}  // namespace

// One row of the command table: the keyword, where it is valid, its argument
// count and usage text (checked before the handler runs), and the handler.
struct Session::CommandSpec {
  std::string_view keyword;
  bool in_authorization;
  bool in_transaction;
  std::size_t min_args;
  std::size_t max_args;
  std::string_view usage;
  Outcome (Session::*handler)(const Command&);
};

Session::Session(Pop3Limits limits, std::string hostname)
    : limits_(limits), hostname_(std::move(hostname)), reader_(limits.max_line) {}

Session::~Session() { wipe(password_); }

std::string Session::greeting() const { return std::string(kGreeting); }

void Session::feed(std::string_view bytes) {
  if (closed()) return;
  reader_.feed(bytes);
}

bool Session::closed() const { return std::holds_alternative<Closed>(state_); }

// step - answer buffered commands in order until one needs the driver.
Step Session::step() {
  assert(pending_ == Pending::none && "step() called while an action is pending");
  Step out;
  if (closed()) {
    out.action = Action::close;
    return out;
  }
  while (auto line = reader_.next_line()) {
    Outcome outcome;
    if (exchange_) {
      // Inside an AUTH exchange every line is a SASL response (RFC 5034 4).
      outcome = line->too_long ? auth_outcome({sasl::Exchange::Kind::malformed, "", "line too long"})
                               : auth_outcome(exchange_->respond(line->text));
    } else {
      outcome = dispatch(*line);
    }
    out.output += outcome.reply;
    if (outcome.error && count_error(out.output)) {
      out.action = Action::close;
      return out;
    }
    if (outcome.action != Action::need_more) {
      out.action = outcome.action;
      return out;
    }
    if (out.output.size() >= kFlushOutput) {
      out.action = Action::flush;
      return out;
    }
  }
  return out;
}

// count_error - count one peer error; at the limit, say so and close.
bool Session::count_error(std::string& output) {
  ++errors_;
  if (errors_ < limits_.max_errors) return false;
  output += kTooManyErrors;
  close();
  return true;
}

// close - enter the terminal state; whatever the client sent after is dropped.
void Session::close() {
  state_ = Closed{};
  pending_ = Pending::none;
  reader_.discard_buffered();
}

// dispatch - parse one line, check it against the command table, run the handler.
Session::Outcome Session::dispatch(const Line& line) {
  // RFC 2449 4 bounds a command line; LineReader already dropped the excess.
  if (line.too_long) return {"-ERR line too long\r\n", Action::need_more, true};

  static constexpr std::array<CommandSpec, 15> kCommands{{
      {"STLS", true, false, 0, 0, "STLS", &Session::cmd_stls},
      {"USER", true, false, 1, 1, "USER name", &Session::cmd_user},
      {"PASS", true, false, 1, kAnyArgs, "PASS password", &Session::cmd_pass},
      {"APOP", true, false, 0, kAnyArgs, "", &Session::cmd_apop},
      {"AUTH", true, false, 0, kAnyArgs, "", &Session::cmd_auth},
      {"CAPA", true, true, 0, 0, "CAPA", &Session::cmd_capa},
      {"QUIT", true, true, 0, 0, "QUIT", &Session::cmd_quit},
      {"STAT", false, true, 0, 0, "STAT", &Session::cmd_stat},
      {"LIST", false, true, 0, 1, "LIST [msg]", &Session::cmd_list},
      {"RETR", false, true, 1, 1, "RETR msg", &Session::cmd_retr},
      {"DELE", false, true, 1, 1, "DELE msg", &Session::cmd_dele},
      {"NOOP", false, true, 0, 0, "NOOP", &Session::cmd_noop},
      {"RSET", false, true, 0, 0, "RSET", &Session::cmd_rset},
      {"TOP", false, true, 2, 2, "TOP msg lines", &Session::cmd_top},
      {"UIDL", false, true, 0, 1, "UIDL [msg]", &Session::cmd_uidl},
  }};

  // RFC 1939 3: a keyword, then arguments each after a single space.
  // Repeated and trailing spaces are tolerated in the argument list; PASS
  // reads `rest` verbatim (RFC 1939 7: spaces may be part of the password).
  std::string_view text = line.text;
  std::size_t space = text.find(' ');
  Command command;
  command.keyword = to_upper(text.substr(0, space));
  if (space != std::string_view::npos) command.rest = text.substr(space + 1);
  for (std::string_view arg : split(command.rest, ' '))
    if (!arg.empty()) command.args.push_back(arg);

  const CommandSpec* spec = nullptr;
  for (const CommandSpec& candidate : kCommands)
    if (candidate.keyword == command.keyword) spec = &candidate;
  if (spec == nullptr) return {"-ERR unknown command\r\n", Action::need_more, true};

  bool in_transaction = std::holds_alternative<Transaction>(state_);
  if (in_transaction ? !spec->in_transaction : !spec->in_authorization)
    return {"-ERR command not valid in this state\r\n", Action::need_more, true};

  if (command.args.size() < spec->min_args || command.args.size() > spec->max_args)
    return {"-ERR usage: " + std::string(spec->usage) + "\r\n", Action::need_more, true};

  return (this->*spec->handler)(command);
}

// check_message - resolve a message-number argument (RFC 1939 5: 1-based,
// deleted messages may not be referred to).
Session::MessageRef Session::check_message(const Transaction& t, std::string_view arg) const {
  MessageRef ref;
  std::optional<std::uint64_t> number = parse_uint(arg);
  if (!number) {
    ref.refusal = Outcome{"-ERR invalid message number\r\n", Action::need_more, true};
  } else if (*number == 0 || *number > t.maildrop.size()) {
    ref.refusal = Outcome{"-ERR no such message\r\n"};
  } else if (t.deleted[*number - 1]) {
    ref.refusal = Outcome{"-ERR message " + std::to_string(*number) + " already deleted\r\n"};
  } else {
    ref.index = static_cast<std::size_t>(*number - 1);
  }
  return ref;
}

// ---- AUTHORIZATION (RFC 1939 4, 7) ----

// cmd_user - remember the name for PASS. The answer is +OK whether or not the
// user exists (RFC 1939 7: allowed even when no such mailbox exists), so USER
// cannot probe for accounts.
Session::Outcome Session::cmd_user(const Command& c) {
  if (!auth_.tls_active && !auth_.plaintext_allowed) return {std::string(kPlaintextDisallowed)};
  if (has_control(c.args[0])) return {"-ERR invalid user name\r\n", Action::need_more, true};
  std::get<Authorization>(state_).user = std::string(c.args[0]);
  return {"+OK send PASS\r\n"};
}

// cmd_pass - hand the USER/PASS pair to the driver to check.
Session::Outcome Session::cmd_pass(const Command& c) {
  auto& auth = std::get<Authorization>(state_);
  // RFC 1939 7: PASS only directly after a successful USER.
  if (!auth_.tls_active && !auth_.plaintext_allowed) return {std::string(kPlaintextDisallowed)};
  if (!auth.user) return {"-ERR send USER first\r\n", Action::need_more, true};
  if (has_control(c.rest)) {
    auth.user.reset();
    return {"-ERR invalid password\r\n", Action::need_more, true};
  }
  user_ = std::move(*auth.user);
  auth.user.reset();
  sasl_verified_ = false;
  wipe(password_);
  password_ = std::string(c.rest);
  pending_ = Pending::authenticate;
  return {"", Action::authenticate};
}

// cmd_apop - RFC 1939 7 APOP is optional; not offered (no greeting timestamp).
Session::Outcome Session::cmd_apop(const Command&) { return {"-ERR APOP not supported\r\n"}; }

// cmd_auth - RFC 5034 4: "AUTH mechanism [initial-response]".
Session::Outcome Session::cmd_auth(const Command& c) {
  if (c.args.empty()) {
    // Pre-CAPA clients ask "AUTH" for the list (as Dovecot answers).
    std::string out = "+OK\r\n";
    for (const auto& m : auth_.mechanisms) out += m + "\r\n";
    return {out + ".\r\n"};
  }
  if (c.args.size() > 2) return {"-ERR usage: AUTH mechanism [initial-response]\r\n", Action::need_more, true};
  if (auth_.mechanisms.empty()) {
    if (!auth_.tls_active && !auth_.plaintext_allowed) return {std::string(kPlaintextDisallowed)};
    return {"-ERR AUTH not available\r\n", Action::need_more, true};
  }
  exchange_ = sasl::start_exchange(auth_, c.args[0]);
  if (!exchange_) return {"-ERR Unsupported authentication mechanism.\r\n", Action::need_more, true};
  std::optional<std::string_view> initial;
  if (c.args.size() == 2) initial = c.args[1];
  return auth_outcome(exchange_->start(initial));
}

// auth_outcome - one step of the exchange as POP3 replies (RFC 5034 4).
Session::Outcome Session::auth_outcome(sasl::Exchange::Outcome o) {
  using Kind = sasl::Exchange::Kind;
  std::string mechanism = exchange_ ? std::string(exchange_->mechanism_name()) : std::string();
  std::string who = exchange_ ? exchange_->authcid() : std::string();
  switch (o.kind) {
    case Kind::challenge:
      return {"+ " + o.data + "\r\n"};
    case Kind::check:
      pending_ = Pending::sasl_check;
      return {"", Action::sasl_check};
    case Kind::success:
      // Verified; the maildrop is opened like after PASS.
      user_ = exchange_->identity();
      exchange_.reset();
      sasl_verified_ = true;
      auth_event_ = sasl::AuthEvent{true, user_, mechanism, ""};
      pending_ = Pending::authenticate;
      return {"", Action::authenticate};
    case Kind::malformed:
      exchange_.reset();
      auth_event_ = sasl::AuthEvent{false, who, mechanism, o.reason};
      return {"-ERR [AUTH] Invalid base64 data or malformed response.\r\n", Action::need_more, true};
    case Kind::cancelled:
      exchange_.reset();
      return {"-ERR Authentication cancelled.\r\n"};
    case Kind::failed:
      exchange_.reset();
      auth_event_ = sasl::AuthEvent{false, who, mechanism, o.reason};
      return {std::string(kAuthFailed), Action::need_more, true};
    case Kind::temp_failed:
      // RFC 3206 4: our failure, not the client's; not counted as an error.
      exchange_.reset();
      auth_event_ = sasl::AuthEvent{false, who, mechanism, o.reason, true};
      return {std::string(kTempFail)};
  }
  return {std::string(kAuthFailed), Action::need_more, true};
}

std::string Session::on_auth_checked(sasl::Exchange::Outcome outcome, Action& next) {
  assert(pending_ == Pending::sasl_check);
  pending_ = Pending::none;
  Outcome o = auth_outcome(std::move(outcome));
  next = o.action;
  if (o.error) count_error(o.reply);
  if (closed()) next = Action::close;
  return o.reply;
}

// cmd_stls - RFC 2595 4: TLS on the POP3 port, in AUTHORIZATION only.
Session::Outcome Session::cmd_stls(const Command&) {
  if (auth_.tls_active) return {"-ERR TLS already active\r\n", Action::need_more, true};
  if (!auth_.starttls_available) return {"-ERR STLS not available\r\n", Action::need_more, true};
  return {"+OK Begin TLS negotiation\r\n", Action::starttls};
}

void Session::on_tls_started(Pop3AuthOptions options) {
  // Whatever was learned in clear is forgotten (RFC 2595 4).
  state_ = Authorization{};
  wipe(password_);
  user_.clear();
  exchange_.reset();
  auth_ = std::move(options);
  auth_.tls_active = true;
}

// capabilities - RFC 2449 5, for this connection's state: STLS until TLS is
// on, USER and SASL only where a password may travel (RFC 2595 4).
std::string Session::capabilities() const {
  std::string out = "+OK Capability list follows\r\nTOP\r\nUIDL\r\n";
  bool secure = auth_.tls_active || auth_.plaintext_allowed;
  if (secure) out += "USER\r\n";
  if (!auth_.mechanisms.empty()) {
    out += "SASL";
    for (const auto& m : auth_.mechanisms) out += " " + m;
    out += "\r\n";
  }
  if (auth_.starttls_available && !auth_.tls_active) out += "STLS\r\n";
  out += "RESP-CODES\r\nPIPELINING\r\nEXPIRE NEVER\r\nAUTH-RESP-CODE\r\nIMPLEMENTATION Herald\r\n.\r\n";
  return out;
}

// ---- both states ----

// cmd_capa - RFC 2449 5: the same list in AUTHORIZATION and TRANSACTION.
Session::Outcome Session::cmd_capa(const Command&) { return {capabilities()}; }

// cmd_quit - AUTHORIZATION: just end (RFC 1939 4). TRANSACTION: enter UPDATE
// (RFC 1939 6) and let the driver apply the deletions.
Session::Outcome Session::cmd_quit(const Command&) {
  if (std::holds_alternative<Transaction>(state_)) {
    pending_ = Pending::update;
    return {"", Action::update};
  }
  close();
  return {std::string(kSigningOff) + "\r\n", Action::close};
}

// ---- TRANSACTION (RFC 1939 5, 7) ----

Session::Outcome Session::cmd_stat(const Command&) {
  Totals sum = totals(std::get<Transaction>(state_));
  return {"+OK " + std::to_string(sum.count) + " " + std::to_string(sum.octets) + "\r\n"};
}

// cmd_list - one scan listing per message not marked deleted (RFC 1939 5).
Session::Outcome Session::cmd_list(const Command& c) {
  const auto& t = std::get<Transaction>(state_);
  if (!c.args.empty()) {
    MessageRef ref = check_message(t, c.args[0]);
    if (ref.refusal) return std::move(*ref.refusal);
    return {"+OK " + std::to_string(ref.index + 1) + " " +
            std::to_string(t.maildrop[ref.index].size) + "\r\n"};
  }
  Totals sum = totals(t);
  std::string reply = "+OK " + std::to_string(sum.count) + " messages (" +
                      std::to_string(sum.octets) + " octets)\r\n";
  for (std::size_t i = 0; i < t.maildrop.size(); ++i) {
    if (t.deleted[i]) continue;
    reply += std::to_string(i + 1) + " " + std::to_string(t.maildrop[i].size) + "\r\n";
  }
  reply += ".\r\n";
  return {std::move(reply)};
}

// cmd_retr - ask the driver for the message; on_retrieved() answers.
Session::Outcome Session::cmd_retr(const Command& c) {
  MessageRef ref = check_message(std::get<Transaction>(state_), c.args[0]);
  if (ref.refusal) return std::move(*ref.refusal);
  retrieve_index_ = ref.index;
  top_lines_.reset();
  pending_ = Pending::retrieve;
  return {"", Action::retrieve};
}

// cmd_dele - only a mark; the maildrop changes in UPDATE (RFC 1939 6).
Session::Outcome Session::cmd_dele(const Command& c) {
  auto& t = std::get<Transaction>(state_);
  MessageRef ref = check_message(t, c.args[0]);
  if (ref.refusal) return std::move(*ref.refusal);
  t.deleted[ref.index] = true;
  return {"+OK message " + std::to_string(ref.index + 1) + " deleted\r\n"};
}

Session::Outcome Session::cmd_noop(const Command&) { return {"+OK\r\n"}; }

// cmd_rset - RFC 1939 5: unmark every message marked deleted.
Session::Outcome Session::cmd_rset(const Command&) {
  auto& t = std::get<Transaction>(state_);
  t.deleted.assign(t.maildrop.size(), false);
  Totals sum = totals(t);
  return {"+OK " + maildrop_summary(sum.count, sum.octets) + "\r\n"};
}

// cmd_top - RFC 1939 7: like RETR, cut to the header and n body lines.
Session::Outcome Session::cmd_top(const Command& c) {
  MessageRef ref = check_message(std::get<Transaction>(state_), c.args[0]);
  if (ref.refusal) return std::move(*ref.refusal);
  // RFC 1939 7: n must be non-negative; parse_uint takes no sign at all.
  std::optional<std::uint64_t> lines = parse_uint(c.args[1]);
  if (!lines) return {"-ERR invalid number of lines\r\n", Action::need_more, true};
  retrieve_index_ = ref.index;
  top_lines_ = *lines;
  pending_ = Pending::retrieve;
  return {"", Action::retrieve};
}

// cmd_uidl - RFC 1939 7: unique-id listing, deleted messages left out.
Session::Outcome Session::cmd_uidl(const Command& c) {
  const auto& t = std::get<Transaction>(state_);
  if (!c.args.empty()) {
    MessageRef ref = check_message(t, c.args[0]);
    if (ref.refusal) return std::move(*ref.refusal);
    return {"+OK " + std::to_string(ref.index + 1) + " " + t.maildrop[ref.index].uidl + "\r\n"};
  }
  std::string reply = "+OK unique-id listing follows\r\n";
  for (std::size_t i = 0; i < t.maildrop.size(); ++i) {
    if (t.deleted[i]) continue;
    reply += std::to_string(i + 1) + " " + t.maildrop[i].uidl + "\r\n";
  }
  reply += ".\r\n";
  return {std::move(reply)};
}

// ---- driver answers ----

// on_authenticated - the outcome of PASS; only ok leaves AUTHORIZATION.
std::string Session::on_authenticated(AuthResult result, std::vector<MaildropEntry> maildrop) {
  assert(pending_ == Pending::authenticate);
  pending_ = Pending::none;
  sasl_verified_ = false;  // a failed lock must not leave a verified flag behind
  wipe(password_);
  std::string reply;
  switch (result) {
    case AuthResult::ok: {
#ifndef NDEBUG
      for (const MaildropEntry& entry : maildrop) assert(valid_uidl(entry.uidl));
#endif
      Transaction t;
      t.deleted.assign(maildrop.size(), false);
      t.maildrop = std::move(maildrop);
      Totals sum = totals(t);
      state_ = std::move(t);
      authenticated_ = true;
      return "+OK " + maildrop_summary(sum.count, sum.octets) + "\r\n";
    }
    case AuthResult::bad_credentials:
      // A failed login is a peer error too: it bounds guessing per connection
      // (RFC 1939 4 lets the server close after a failed authentication).
      reply = kAuthFailed;
      count_error(reply);
      return reply;
    case AuthResult::in_use:
      return std::string(kInUse);
    case AuthResult::temp_fail:
      return std::string(kTempFail);
  }
  assert(false && "unknown AuthResult");
  return std::string(kTempFail);
}

std::size_t Session::retrieve_index() const {
  assert(pending_ == Pending::retrieve);
  return retrieve_index_;
}

// on_retrieved - build the RETR or TOP reply from the whole message.
std::string Session::on_retrieved(Result<std::string> message) {
  assert(pending_ == Pending::retrieve);
  pending_ = Pending::none;
  if (!message.ok()) {
    // Fixed texts: the driver's error detail (paths, SQL) is for its log.
    if (message.error().code == Errc::not_found)
      return "-ERR [SYS/PERM] message no longer available\r\n";
    return std::string(kTempFail);
  }
  const std::string& whole = message.value();
  const auto& t = std::get<Transaction>(state_);
  std::string reply;
  std::string_view content = whole;
  if (top_lines_) {
    content = top_cut(whole, *top_lines_);
    reply = "+OK top of message follows\r\n";
  } else {
    // The size LIST and STAT announced, so the client sees one figure.
    reply = "+OK " + std::to_string(t.maildrop[retrieve_index_].size) + " octets\r\n";
  }
  reply.reserve(reply.size() + content.size() + content.size() / 64 + 8);
  append_dot_stuffed(reply, content);
  reply += ".\r\n";
  return reply;
}

std::vector<std::size_t> Session::deleted() const {
  std::vector<std::size_t> out;
  const auto* t = std::get_if<Transaction>(&state_);
  if (t == nullptr) return out;
  for (std::size_t i = 0; i < t->deleted.size(); ++i)
    if (t->deleted[i]) out.push_back(i);
  return out;
}

// on_updated - RFC 1939 6: report whether UPDATE removed the marked messages;
// either way the session ends.
std::string Session::on_updated(Status result) {
  assert(pending_ == Pending::update);
  std::string reply;
  if (result.ok()) {
    std::size_t left = totals(std::get<Transaction>(state_)).count;
    reply = std::string(kSigningOff) +
            (left == 0 ? " (maildrop empty)" : " (" + std::to_string(left) + " messages left)") +
            "\r\n";
  } else {
    reply = "-ERR some deleted messages not removed\r\n";
  }
  close();
  return reply;
}

}  // namespace herald::pop3

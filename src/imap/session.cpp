// imap/session.cpp - the session's loop, its command table, and the
// commands of the any and not-authenticated states (RFC 9051 6.1, 6.2).
// The authenticated state's commands are in session_mailbox.cpp, the
// selected state's in session_selected.cpp.
#include "imap/session.h"

#include <cassert>

#include <fmt/format.h>

#include "base/text.h"
#include "imap/utf7.h"

namespace herald::imap {
namespace {

constexpr std::string_view kAuthFailed = "NO [AUTHENTICATIONFAILED] Authentication failed.";
constexpr std::string_view kTempFail = "NO [UNAVAILABLE] Temporary authentication failure, try again later.";

// Which states a command is valid in (RFC 9051 6).
enum StateMask : unsigned { kNotAuth = 1, kAuth = 2, kSelected = 4, kAny = 7, kLoggedIn = 6 };

}  // namespace

struct Session::CommandSpec {
  std::string_view name;
  unsigned states;
  Outcome (Session::*handler)(Command&);
};

Session::Session(ImapLimits limits, std::string hostname)
    : limits_(limits), hostname_(std::move(hostname)), reader_(limits.reader) {
  // Before login a command carries a name and a password at most: its
  // literals are bounded small, so nobody unknown holds memory.
  reader_.set_max_command(std::min<std::uint64_t>(limits.reader.max_command, kSmallLiteral));
}

Session::~Session() {
  // The password is not left in freed memory.
  std::fill(password_.begin(), password_.end(), '\0');
  release_literals();
}

void Session::release_literals() {
  if (budget_.release && reading_reserved_ + running_reserved_) budget_.release(reading_reserved_ + running_reserved_);
  reading_reserved_ = running_reserved_ = 0;
}

void Session::settle(const Outcome& o) {
  if (o.request || o.then || !running_reserved_) return;
  // The command is over: its literals are gone.
  if (budget_.release) budget_.release(running_reserved_);
  running_reserved_ = 0;
}

std::string Session::capabilities() const {
  std::string caps = "IMAP4rev1 IMAP4rev2 LITERAL- SASL-IR ID ENABLE IDLE";
  if (state_ == State::not_authenticated) {
    if (auth_.starttls_available && !auth_.tls_active) caps += " STARTTLS";
    if (!auth_.tls_active && !auth_.plaintext_allowed) caps += " LOGINDISABLED";
    for (const auto& m : auth_.mechanisms) caps += " AUTH=" + m;
    return caps;
  }
  caps += " NAMESPACE UIDPLUS MULTIAPPEND MOVE UNSELECT CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE"
          " ESEARCH SEARCHRES STATUS=SIZE UTF8=ACCEPT BINARY CONDSTORE QRESYNC QUOTA QUOTA=RES-STORAGE OBJECTID SORT SORT=DISPLAY"
          " THREAD=ORDEREDSUBJECT THREAD=REFERENCES COMPRESS=DEFLATE PREVIEW SAVEDATE METADATA ACL RIGHTS=texk NOTIFY";
  if (limits_.append_limit) caps += fmt::format(" APPENDLIMIT={}", limits_.append_limit);
  return caps;
}

std::string Session::greeting() const {
  return fmt::format("* OK [CAPABILITY {}] {} IMAP4rev2 server ready\r\n", capabilities(), hostname_);
}

void Session::feed(std::string_view octets) {
  if (state_ != State::logout) reader_.feed(octets);
}

void Session::close() {
  state_ = State::logout;
  request_.reset();
  then_ = nullptr;
  resume_ = nullptr;
  idling_ = false;
  reader_.discard_buffered();
}

Session::Outcome Session::ok(std::string_view text, std::string_view code) const {
  Outcome o;
  o.output = code.empty() ? fmt::format("{} OK {}\r\n", tag_, text) : fmt::format("{} OK [{}] {}\r\n", tag_, code, text);
  return o;
}

Session::Outcome Session::no(std::string_view text, std::string_view code) const {
  Outcome o;
  o.output = code.empty() ? fmt::format("{} NO {}\r\n", tag_, text) : fmt::format("{} NO [{}] {}\r\n", tag_, code, text);
  return o;
}

Session::Outcome Session::bad(std::string_view text) const {
  Outcome o;
  o.output = fmt::format("{} BAD {}\r\n", tag_, text);
  o.bad = true;
  return o;
}

Session::Outcome Session::ask(Request r, Continue then) {
  Outcome o;
  o.request = std::move(r);
  o.then = std::move(then);
  return o;
}

Session::Outcome Session::prefixed(std::string output, Outcome rest) {
  rest.output.insert(0, output);
  return rest;
}

// store_failed - a request's error as the tagged NO (RFC 5530 codes). The
// detail is the driver's to log; the client learns only the kind.
Session::Outcome Session::store_failed(const Answer& a) const {
  switch (a.error) {
    case StoreError::nonexistent: return no("Mailbox doesn't exist", "NONEXISTENT");
    case StoreError::exists: return no("Mailbox already exists", "ALREADYEXISTS");
    case StoreError::denied: return no("Permission denied", "NOPERM");
    case StoreError::invalid: return no("Not allowed", "CANNOT");
    case StoreError::over_quota: return no("Quota exceeded", "OVERQUOTA");
    case StoreError::too_big: return no("Message too large", "TOOBIG");
    case StoreError::temporary:
    case StoreError::none: break;
  }
  return no("Internal error occurred. Try again later.", "UNAVAILABLE");
}

Session::Outcome Session::finish(std::string tagged, bool allow_expunge) {
  if (state_ != State::selected) {
    Outcome o;
    o.output = std::move(tagged);
    return o;
  }
  request::Changes r{view_.id(), view_.modseq()};
  return ask(r, [this, tagged = std::move(tagged), allow_expunge](Answer& a) {
    Outcome o;
    if (a.error == StoreError::nonexistent && state_ == State::selected) {
      // Deleted (or renamed away) by another session: nothing more can be
      // said of it, and the session cannot go on with it selected.
      o.output = "* BYE The selected mailbox no longer exists\r\n";
      o.action = Action::close;
      return o;
    }
    if (a.error == StoreError::none && state_ == State::selected)
      view_.apply(std::get<answer::Changes>(a.value), allow_expunge, view_options_, o.output);
    o.output += tagged;
    return o;
  });
}

// mailbox_arg - a mailbox name as the store keeps it: UTF-8 from clients
// that enabled it, else decoded from modified UTF-7 (RFC 3501 5.1.3); a
// trailing delimiter dropped.
std::optional<std::string> Session::mailbox_arg(const Value& v, std::string& error) const {
  if (!v.is_astring()) {
    error = "Invalid mailbox name";
    return std::nullopt;
  }
  std::string name = v.text;
  if (!utf8_) {
    auto decoded = utf7_decode(name);
    if (!decoded) {
      error = "Mailbox name is not valid modified UTF-7";
      return std::nullopt;
    }
    name = std::move(*decoded);
  } else if (!valid_utf8(name)) {
    error = "Mailbox name is not UTF-8";
    return std::nullopt;
  }
  if (iequals(name, "INBOX")) name = "INBOX";
  return name;
}

std::string Session::mailbox_out(const std::string& name) const {
  std::string out;
  if (utf8_) {
    append_astring(out, name, form());
  } else {
    auto encoded = utf7_encode(name);
    append_astring(out, encoded ? *encoded : name, form());
  }
  return out;
}

// parse_flags - a flag list (or one flag): system flags as bits, keywords
// as atoms (RFC 9051 2.3.2). \Recent may not be set by clients.
bool Session::parse_flags(const Value& v, std::uint32_t& flags, std::vector<std::string>& keywords,
                          bool allow_recent) const {
  static const std::pair<const char*, std::uint32_t> kSystem[] = {
      {"\\SEEN", kSeen}, {"\\ANSWERED", kAnswered}, {"\\FLAGGED", kFlagged}, {"\\DELETED", kDeleted},
      {"\\DRAFT", kDraft},
  };
  std::vector<const Value*> list;
  if (v.kind == Value::Kind::list) {
    for (const auto& i : v.items) list.push_back(&i);
  } else {
    list.push_back(&v);
  }
  for (const Value* f : list) {
    if (f->kind != Value::Kind::atom || f->text.empty()) return false;
    std::string upper = to_upper(f->text);
    if (upper.front() == '\\') {
      bool known = false;
      for (const auto& [name, bit] : kSystem)
        if (upper == name) {
          flags |= bit;
          known = true;
        }
      if (!known && !(allow_recent && upper == "\\RECENT")) return false;
      continue;
    }
    for (char c : f->text)
      if (c == '*' || c == '%' || c == ']' || c == '(' || c == ')' || c == '{' || c == '"' || c == '\\') return false;
    if (std::find(keywords.begin(), keywords.end(), f->text) == keywords.end()) keywords.push_back(f->text);
  }
  return true;
}

Step Session::step() {
  Step out;
  if (next_action_) {
    out.action = *std::exchange(next_action_, std::nullopt);
    return out;
  }
  if (request_) {
    out.action = Action::store;
    return out;
  }
  while (state_ != State::logout) {
    Outcome o;
    if (resume_) {
      Continue resume = std::exchange(resume_, nullptr);
      Answer none;
      o = resume(none);
    } else switch (reader_.next()) {
      case CommandReader::Event::need_more:
        out.action = waits_for_events() ? Action::idle : Action::need_more;
        return out;
      case CommandReader::Event::continuation: {
        // RFC 9051 7.5: a synchronizing literal may be sent - if the
        // memory for it is there; else a NO, and the client sends nothing.
        const std::uint64_t size = reader_.announced();
        if (size > kSmallLiteral && budget_.reserve) {
          if (!budget_.reserve(size)) {
            out.output += fmt::format("{} NO [LIMIT] Too much data in flight, try again later\r\n", reader_.tag());
            reader_.refuse_literal();
            if (budget_.release && reading_reserved_) budget_.release(reading_reserved_);
            reading_reserved_ = 0;
            continue;
          }
          reading_reserved_ += size;
        }
        out.output += "+ Ready for literal data\r\n";
        continue;
      }
      case CommandReader::Event::error: {
        const ParseError& e = reader_.error();
        if (budget_.release && reading_reserved_) budget_.release(reading_reserved_);  // the command is dropped
        reading_reserved_ = 0;
        o.output = fmt::format("{} BAD {}\r\n", e.tag.empty() ? "*" : e.tag, e.text);
        o.bad = true;
        if (e.fatal) {
          out.output += o.output + "* BYE Too much data\r\n";
          close();
          out.action = Action::close;
          return out;
        }
        break;
      }
      case CommandReader::Event::line: {
        std::string line = reader_.take_line();
        if (exchange_) o = auth_step(exchange_->respond(line));  // "*" cancels (RFC 9051 6.2.2)
        else o = idle_line(std::move(line));
        break;
      }
      case CommandReader::Event::command: {
        Command c = reader_.take_command();
        running_reserved_ += std::exchange(reading_reserved_, 0);
        tag_ = c.tag;
        uid_ = false;
        o = dispatch(c);
        break;
      }
    }
    out.output += o.output;
    settle(o);
    if (o.bad) {
      if (++bad_in_a_row_ >= limits_.max_bad_commands) {
        out.output += "* BYE Too many invalid commands\r\n";
        close();
        out.action = Action::close;
        return out;
      }
    } else {
      bad_in_a_row_ = 0;  // "in a row": any good command ends the run
    }
    if (o.request) {
      request_ = std::move(o.request);
      then_ = std::move(o.then);
      out.action = Action::store;
      return out;
    }
    if (o.then) {
      // The command goes on after what it wrote so far is flushed.
      resume_ = std::move(o.then);
      out.action = Action::flush;
      return out;
    }
    if (o.action == Action::idle) continue;  // Action::idle once what is buffered is read
    if (o.action != Action::need_more) {
      out.action = o.action;
      if (o.action == Action::close) close();
      return out;
    }
    if (out.output.size() >= kFlushOutput) {
      out.action = Action::flush;
      return out;
    }
  }
  out.action = Action::close;
  return out;
}

std::string Session::on_store(Answer answer) {
  assert(request_ && then_);
  request_.reset();
  Continue then = std::move(then_);
  then_ = nullptr;
  Outcome o = then(answer);
  settle(o);
  if (o.request) {
    request_ = std::move(o.request);
    then_ = std::move(o.then);
  } else if (o.then) {
    resume_ = std::move(o.then);  // step() goes on with it
  } else if (o.action != Action::need_more && o.action != Action::idle) {
    // (IDLE is the loop's: it reads what is buffered first, DONE may be there.)
    next_action_ = o.action;
    if (o.action == Action::close) close();
  }
  return o.output;
}

Session::Outcome Session::dispatch(Command& c) {
  static constexpr CommandSpec kCommands[] = {
      {"CAPABILITY", kAny, &Session::cmd_capability},
      {"NOOP", kAny, &Session::cmd_noop},
      {"LOGOUT", kAny, &Session::cmd_logout},
      {"ID", kAny, &Session::cmd_id},
      {"STARTTLS", kNotAuth, &Session::cmd_starttls},
      {"AUTHENTICATE", kNotAuth, &Session::cmd_authenticate},
      {"LOGIN", kNotAuth, &Session::cmd_login},
      {"ENABLE", kAuth, &Session::cmd_enable},
      {"SELECT", kLoggedIn, &Session::cmd_select},
      {"EXAMINE", kLoggedIn, &Session::cmd_select},
      {"CREATE", kLoggedIn, &Session::cmd_create},
      {"DELETE", kLoggedIn, &Session::cmd_delete},
      {"RENAME", kLoggedIn, &Session::cmd_rename},
      {"SUBSCRIBE", kLoggedIn, &Session::cmd_subscribe},
      {"UNSUBSCRIBE", kLoggedIn, &Session::cmd_subscribe},
      {"LIST", kLoggedIn, &Session::cmd_list},
      {"LSUB", kLoggedIn, &Session::cmd_list},
      {"NAMESPACE", kLoggedIn, &Session::cmd_namespace},
      {"STATUS", kLoggedIn, &Session::cmd_status},
      {"APPEND", kLoggedIn, &Session::cmd_append},
      {"IDLE", kLoggedIn, &Session::cmd_idle},
      {"NOTIFY", kLoggedIn, &Session::cmd_notify},
      {"COMPRESS", kLoggedIn, &Session::cmd_compress},
      {"GETACL", kLoggedIn, &Session::cmd_acl},
      {"MYRIGHTS", kLoggedIn, &Session::cmd_acl},
      {"LISTRIGHTS", kLoggedIn, &Session::cmd_acl},
      {"SETACL", kLoggedIn, &Session::cmd_setacl},
      {"DELETEACL", kLoggedIn, &Session::cmd_setacl},
      {"GETMETADATA", kLoggedIn, &Session::cmd_getmetadata},
      {"SETMETADATA", kLoggedIn, &Session::cmd_setmetadata},
      {"GETQUOTAROOT", kLoggedIn, &Session::cmd_quota},
      {"GETQUOTA", kLoggedIn, &Session::cmd_quota},
      {"SETQUOTA", kLoggedIn, &Session::cmd_quota},
      {"CHECK", kSelected, &Session::cmd_noop},
      {"CLOSE", kSelected, &Session::cmd_close},
      {"UNSELECT", kSelected, &Session::cmd_close},
      {"EXPUNGE", kSelected, &Session::cmd_expunge},
      {"SEARCH", kSelected, &Session::cmd_search},
      {"SORT", kSelected, &Session::cmd_sort},
      {"THREAD", kSelected, &Session::cmd_sort},
      {"FETCH", kSelected, &Session::cmd_fetch},
      {"STORE", kSelected, &Session::cmd_store},
      {"COPY", kSelected, &Session::cmd_copy},
      {"MOVE", kSelected, &Session::cmd_copy},
      {"UID", kSelected, &Session::cmd_uid},
  };
  const CommandSpec* spec = nullptr;
  for (const auto& s : kCommands)
    if (s.name == c.name) spec = &s;
  if (!spec) return bad(fmt::format("Unknown command {}", printable(c.name, 40)));
  unsigned mask = state_ == State::not_authenticated ? kNotAuth : state_ == State::authenticated ? kAuth : kSelected;
  if (!(spec->states & mask)) {
    if (state_ == State::not_authenticated) return bad("Please log in first");
    return bad(fmt::format("{} is not valid in this state", c.name));
  }
  return (this->*spec->handler)(c);
}

// ---- any state (RFC 9051 6.1) ---------------------------------------------

Session::Outcome Session::cmd_capability(Command& c) {
  if (!c.args.empty()) return bad("CAPABILITY takes no arguments");
  Outcome o = ok("CAPABILITY completed");
  o.output = "* CAPABILITY " + capabilities() + "\r\n" + o.output;
  return o;
}

Session::Outcome Session::cmd_noop(Command& c) {
  if (!c.args.empty()) return bad(fmt::format("{} takes no arguments", c.name));
  return finish(ok(fmt::format("{} completed", c.name)).output, true);
}

Session::Outcome Session::cmd_logout(Command& c) {
  if (!c.args.empty()) return bad("LOGOUT takes no arguments");
  Outcome o = ok("LOGOUT completed");
  o.output = "* BYE Logging out\r\n" + o.output;
  o.action = Action::close;
  return o;
}

// cmd_id - RFC 2971: the client's fields are taken (not kept); ours is the name.
Session::Outcome Session::cmd_id(Command& c) {
  if (c.args.size() != 1 || !(c.args[0].is_nil() || c.args[0].kind == Value::Kind::list))
    return bad("ID takes NIL or a list of fields");
  if (c.args[0].kind == Value::Kind::list && (c.args[0].items.size() % 2 != 0 || c.args[0].items.size() > 60))
    return bad("ID fields come in pairs, at most 30");
  Outcome o = ok("ID completed");
  o.output = "* ID (\"name\" \"Herald\")\r\n" + o.output;
  return o;
}

// cmd_compress - RFC 4978 3: DEFLATE, once; the OK is the last octets in clear.
Session::Outcome Session::cmd_compress(Command& c) {
  if (c.args.size() != 1 || c.args[0].kind != Value::Kind::atom) return bad("COMPRESS takes a mechanism");
  if (!c.args[0].is_atom("DEFLATE")) return no("Unknown compression mechanism", "CANNOT");
  if (compressed_) return no("DEFLATE active already", "COMPRESSIONACTIVE");
  compressed_ = true;
  Outcome o = ok("DEFLATE active");
  o.action = Action::compress;
  return o;
}

// ---- not authenticated (RFC 9051 6.2) -------------------------------------

Session::Outcome Session::cmd_starttls(Command& c) {
  if (!c.args.empty()) return bad("STARTTLS takes no arguments");
  if (auth_.tls_active || !auth_.starttls_available) return bad("TLS is not available");
  Outcome o = ok("Begin TLS negotiation now");
  o.action = Action::starttls;
  return o;
}

void Session::on_tls_started(ImapAuthOptions options) {
  auth_ = std::move(options);
  reader_.discard_buffered();
}

Session::Outcome Session::cmd_login(Command& c) {
  if (c.args.size() != 2 || !c.args[0].is_astring() || !c.args[1].is_astring())
    return bad("LOGIN takes a user name and a password");
  // RFC 9051 6.2.3: LOGINDISABLED - no password in clear.
  if (!auth_.tls_active && !auth_.plaintext_allowed)
    return no("Plaintext authentication disallowed on non-secure connections", "PRIVACYREQUIRED");
  user_ = c.args[0].text;
  password_ = c.args[1].text;
  std::fill(c.args[1].text.begin(), c.args[1].text.end(), '\0');
  sasl_verified_ = false;
  Outcome o;
  o.action = Action::login;
  return o;
}

std::string Session::on_login(LoginResult result) {
  std::fill(password_.begin(), password_.end(), '\0');
  password_.clear();
  switch (result) {
    case LoginResult::ok:
      unselect();
      bad_in_a_row_ = 0;
      reader_.set_max_command(limits_.reader.max_command);
      // RFC 9051 6.2.3: the capabilities may change after login; say them.
      return fmt::format("{} OK [CAPABILITY {}] Logged in\r\n", tag_, capabilities());
    case LoginResult::bad_credentials:
      sasl_verified_ = false;
      if (++bad_in_a_row_ >= limits_.max_bad_commands) {
        close();
        next_action_ = Action::close;
        return fmt::format("{} {}\r\n* BYE Too many failures\r\n", tag_, kAuthFailed);
      }
      return fmt::format("{} {}\r\n", tag_, kAuthFailed);
    case LoginResult::temp_fail:
      sasl_verified_ = false;
      return fmt::format("{} {}\r\n", tag_, kTempFail);
    case LoginResult::too_many:
      sasl_verified_ = false;
      return fmt::format("{} NO [LIMIT] Too many sessions for this user\r\n", tag_);
  }
  return {};
}

// cmd_authenticate - RFC 9051 6.2.2, with SASL-IR (RFC 4959).
Session::Outcome Session::cmd_authenticate(Command& c) {
  if (c.args.empty() || c.args.size() > 2 || c.args[0].kind != Value::Kind::atom ||
      (c.args.size() == 2 && c.args[1].kind != Value::Kind::atom))
    return bad("AUTHENTICATE takes a mechanism and an optional initial response");
  if (auth_.mechanisms.empty()) {
    if (!auth_.tls_active && !auth_.plaintext_allowed)
      return no("Authentication disallowed on non-secure connections", "PRIVACYREQUIRED");
    return no("Authentication is not available");
  }
  exchange_ = sasl::start_exchange(auth_, c.args[0].text);
  if (!exchange_) return no("Unsupported authentication mechanism", "CANNOT");
  std::optional<std::string_view> initial;
  if (c.args.size() == 2) initial = c.args[1].text;
  return auth_step(exchange_->start(initial));
}

Session::Outcome Session::auth_step(sasl::Exchange::Outcome o) {
  using Kind = sasl::Exchange::Kind;
  std::string mechanism = exchange_ ? std::string(exchange_->mechanism_name()) : std::string();
  std::string who = exchange_ ? exchange_->authcid() : std::string();
  Outcome out;
  switch (o.kind) {
    case Kind::challenge:
      out.output = "+ " + o.data + "\r\n";
      reader_.expect_line();
      return out;
    case Kind::check:
      out.action = Action::sasl_check;
      return out;
    case Kind::success:
      user_ = exchange_->identity();
      exchange_.reset();
      sasl_verified_ = true;
      auth_event_ = sasl::AuthEvent{true, user_, mechanism, ""};
      out.action = Action::login;
      return out;
    case Kind::malformed:
      exchange_.reset();
      auth_event_ = sasl::AuthEvent{false, who, mechanism, o.reason};
      return bad("Invalid base64 data or malformed response");
    case Kind::cancelled:
      exchange_.reset();
      return bad("Authentication cancelled");  // RFC 9051 6.2.2
    case Kind::failed: {
      exchange_.reset();
      auth_event_ = sasl::AuthEvent{false, who, mechanism, o.reason};
      out.output = fmt::format("{} {}\r\n", tag_, kAuthFailed);
      out.bad = true;  // failed logins count as errors in a row
      return out;
    }
    case Kind::temp_failed:
      exchange_.reset();
      auth_event_ = sasl::AuthEvent{false, who, mechanism, o.reason, true};
      out.output = fmt::format("{} {}\r\n", tag_, kTempFail);
      return out;
  }
  return bad("Authentication failed");
}

std::string Session::on_auth_checked(sasl::Exchange::Outcome outcome) {
  Outcome o = auth_step(std::move(outcome));
  if (o.bad && ++bad_in_a_row_ >= limits_.max_bad_commands) {
    o.output += "* BYE Too many failures\r\n";
    close();
    next_action_ = Action::close;
    return o.output;
  }
  if (o.action != Action::need_more) next_action_ = o.action;
  return o.output;
}

}  // namespace herald::imap

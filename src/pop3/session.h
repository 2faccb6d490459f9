// pop3/session.h - the POP3 server session as a pure, byte-fed state machine.
//
// What it is for: turning a client's command lines into POP3 replies and into
// requests the socket driver (server/pop3d) must carry out - check credentials,
// load a message, apply deletions. It never touches sockets, clocks, files,
// the store or the log; unit tests and fuzzers drive it directly.
//
// Invariants:
//   - States follow RFC 1939 3: AUTHORIZATION -> TRANSACTION -> UPDATE, plus a
//     terminal closed state. At most one driver request is pending at a time,
//     and step() is never called while one is.
//   - Replies are produced strictly in command order, so pipelined commands
//     (RFC 2449 6.6) get their answers in the order they were sent.
//   - Deletions are only marks until UPDATE (RFC 1939 6): nothing the client
//     does before QUIT in TRANSACTION changes the maildrop.
//   - Input is bounded by Pop3Limits::max_line (base/LineReader); every
//     multi-line reply is byte-stuffed and ends with ".\r\n" (RFC 1939 3).
//
// Security notes:
//   - Login failures use one fixed text, whether the user is unknown or the
//     password wrong; the detail is for the driver's log. USER always answers
//     +OK (RFC 1939 7 allows it even for no such mailbox), so neither command
//     can probe for accounts.
//   - The password is kept only until the driver answers on_authenticated(),
//     then overwritten. Whether plaintext USER/PASS is allowed on a
//     connection without TLS is the driver's decision.
//   - Unknown, malformed and wrong-state commands, over-long lines and failed
//     logins each count as an error; at Pop3Limits::max_errors the session
//     says "-ERR too many errors" and asks to close, bounding garbage peers
//     and password guessing on one connection.
//   - Message content is re-terminated line by line with CRLF and dot-stuffed,
//     so stored bytes can never end a multi-line reply early.
//   - Output of one step() grows with the pipelined input and the maildrop
//     size (LIST/UIDL); the driver bounds it by bounding each read.
//
// RFCs: RFC 1939 (POP3: USER, PASS, STAT, LIST, RETR, DELE, NOOP, RSET, TOP,
// UIDL, QUIT; APOP not offered), RFC 2449 (CAPA, RESP-CODES, PIPELINING,
// EXPIRE, IMPLEMENTATION, 255-octet command lines), RFC 3206 (SYS/TEMP and
// AUTH response codes, AUTH-RESP-CODE).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/line_reader.h"
#include "base/result.h"
#include "sasl/exchange.h"
#include "sasl/protocol.h"

namespace herald::pop3 {

// Pop3Limits - bounds of one session. A bound that is a config key has its
// default there only (config's key table), none here.
struct Pop3Limits {
  std::size_t max_line = 255;       // RFC 2449 4: command lines up to 255 octets incl. CRLF
  std::uint32_t max_errors = 0;     // pop3.max_errors: unknown/bad commands before "-ERR" and close
};

// One message of the maildrop: message number = index + 1 (RFC 1939 5).
// size is the exact octet count as stored (CRLF lines); uidl is the RFC 1939 7
// unique-id: 1 to 70 characters in the range 0x21 to 0x7E.
struct MaildropEntry {
  std::uint64_t size = 0;
  std::string uidl;
};

// authenticate: check user()/password() (USER/PASS), or - when
// sasl_verified() - only lock and load user()'s maildrop (AUTH succeeded).
// starttls: discard_input(), handshake, on_tls_started(). sasl_check: answer
// auth_exchange()'s Kind::check, then on_auth_checked().
// flush: write output, then step() again before reading more - the replies
// so far passed kFlushOutput (a pipelined run of LISTs and UIDLs of a large
// maildrop would otherwise be answered all in one string).
enum class Action { need_more, authenticate, retrieve, update, close, starttls, sasl_check, flush };

// kFlushOutput - the replies one step() gathers before it asks for a
// flush. Not a config key: it bounds a buffer, as the driver's read size
// does, and changes no behaviour the client can see.
inline constexpr std::size_t kFlushOutput = 64 * 1024;

// Pop3AuthOptions - what this connection offers now (RFC 2595, RFC 5034):
// sasl::AuthOptions (starttls_available: STLS) and USER/PASS's rule.
struct Pop3AuthOptions : sasl::AuthOptions {
  bool plaintext_allowed = true;  // USER/PASS (and AUTH) without TLS
};

struct Step {
  std::string output;                 // replies to write before acting
  Action action = Action::need_more;
};

enum class AuthResult { ok, bad_credentials, in_use, temp_fail };

class Session {
 public:
  Session(Pop3Limits limits, std::string hostname);
  ~Session();
  Session(const Session&) = delete;  // one session per connection
  Session& operator=(const Session&) = delete;
  Session(Session&&) = default;
  Session& operator=(Session&&) = default;

  // greeting - the RFC 1939 4 greeting that opens AUTHORIZATION.
  std::string greeting() const;

  // feed - buffer bytes from the client; ignored once the session is closed.
  void feed(std::string_view bytes);

  // step - process buffered input until the driver must act (authenticate,
  // retrieve, update, close), its replies pass kFlushOutput (flush) or
  // input runs out (need_more). output holds the replies produced so far
  // (may be non-empty with any action) - the driver writes output, then
  // performs the action. On a closed session it returns Action::close with
  // no output.
  // REQUIRES: no action pending (each one answered by its on_* call).
  Step step();

  // user, password - after Action::authenticate (from PASS): the credentials.
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }

  // on_authenticated - the driver's answer to Action::authenticate; returns the
  // reply to write. ok enters TRANSACTION with this maildrop; anything else
  // stays in AUTHORIZATION and the client must send USER again.
  // REQUIRES: Action::authenticate pending; each uidl valid (see MaildropEntry).
  std::string on_authenticated(AuthResult result, std::vector<MaildropEntry> maildrop);

  // retrieve_index - after Action::retrieve: which message (0-based) to load.
  std::size_t retrieve_index() const;

  // on_retrieved - the driver's answer to Action::retrieve: the whole message
  // (CRLF lines) or an error. Returns the RETR or TOP reply.
  // REQUIRES: Action::retrieve pending.
  std::string on_retrieved(Result<std::string> message);

  // deleted - after Action::update: the 0-based indexes marked deleted, ascending.
  std::vector<std::size_t> deleted() const;

  // on_updated - the driver's answer to Action::update; returns the final
  // reply. The session is closed afterwards.
  // REQUIRES: Action::update pending.
  std::string on_updated(Status result);

  bool closed() const;

  // TLS and SASL.
  void set_auth_options(Pop3AuthOptions options) { auth_ = std::move(options); }
  // discard_input - RFC 2595 4: nothing sent in clear after STLS is acted on.
  void discard_input() { reader_.discard_buffered(); }
  // on_tls_started - back to a fresh AUTHORIZATION state under TLS.
  void on_tls_started(Pop3AuthOptions options);
  sasl::Exchange& auth_exchange() { return *exchange_; }
  // on_auth_checked - the check's outcome; returns the reply to write (may be
  // empty when the next action is Action::authenticate).
  std::string on_auth_checked(sasl::Exchange::Outcome outcome, Action& next);
  bool sasl_verified() const { return sasl_verified_; }
  std::optional<sasl::AuthEvent> take_auth_event() { return std::exchange(auth_event_, std::nullopt); }
  // authenticated - a maildrop was granted (true from login until destruction,
  // so the driver knows it holds the maildrop lock).
  bool authenticated() const { return authenticated_; }

  const std::string& hostname() const { return hostname_; }

 private:
  // RFC 1939 3 states. UPDATE is a TRANSACTION with Pending::update.
  struct Authorization {
    std::optional<std::string> user;  // set by USER, consumed by PASS
  };
  struct Transaction {
    std::vector<MaildropEntry> maildrop;
    std::vector<bool> deleted;        // marks only; applied in UPDATE
  };
  struct Closed {};

  enum class Pending { none, authenticate, retrieve, update, sasl_check };

  // A parsed command line; views into the line being handled.
  struct Command {
    std::string keyword;                  // upper-cased
    std::vector<std::string_view> args;   // split on spaces
    std::string_view rest;                // everything after "KEYWORD "
  };

  // What one handler produced.
  struct Outcome {
    std::string reply;
    Action action = Action::need_more;
    bool error = false;                   // counts towards max_errors
  };

  struct CommandSpec;

  Outcome dispatch(const Line& line);
  bool count_error(std::string& output);
  void close();

  // Validation shared by handlers: message number argument -> 0-based index.
  struct MessageRef {
    std::size_t index = 0;
    std::optional<Outcome> refusal;
  };
  MessageRef check_message(const Transaction& t, std::string_view arg) const;

  // One handler per command (RFC 1939 4-7, RFC 2449 5).
  Outcome cmd_user(const Command& c);
  Outcome cmd_pass(const Command& c);
  Outcome cmd_apop(const Command& c);
  Outcome cmd_auth(const Command& c);
  Outcome cmd_capa(const Command& c);
  Outcome cmd_quit(const Command& c);
  Outcome cmd_stat(const Command& c);
  Outcome cmd_list(const Command& c);
  Outcome cmd_retr(const Command& c);
  Outcome cmd_dele(const Command& c);
  Outcome cmd_noop(const Command& c);
  Outcome cmd_rset(const Command& c);
  Outcome cmd_top(const Command& c);
  Outcome cmd_uidl(const Command& c);
  Outcome cmd_stls(const Command& c);
  Outcome auth_outcome(sasl::Exchange::Outcome o);
  std::string capabilities() const;

  Pop3Limits limits_;
  std::string hostname_;
  LineReader reader_;
  std::variant<Authorization, Transaction, Closed> state_;
  Pending pending_ = Pending::none;
  std::string user_;
  std::string password_;
  std::size_t retrieve_index_ = 0;
  std::optional<std::uint64_t> top_lines_;  // set: TOP n; unset: RETR
  std::uint32_t errors_ = 0;
  bool authenticated_ = false;
  Pop3AuthOptions auth_;
  std::unique_ptr<sasl::Exchange> exchange_;  // set during an AUTH exchange
  bool sasl_verified_ = false;
  std::optional<sasl::AuthEvent> auth_event_;
};

}  // namespace herald::pop3

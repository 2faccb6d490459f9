// smtp/session.h - the SMTP server session as a pure state machine.
//
// Bytes in, replies and requests out: no sockets, clocks, files, store or
// queue here (docs/ARCHITECTURE.md). The driver in server/smtpd feeds what it reads,
// writes what step() returns and performs the requested action (submit the
// message, check a recipient or a sender, close). The checks read the store,
// so the session asks them as actions and waits for the answer, as it does
// for AUTH: the driver runs them off its I/O thread, and pipelined commands
// behind them wait their turn, so replies keep the commands' order
// (RFC 2920 3.1).
//
// Invariants: input is bounded (command lines by max_command_line, text lines
// by max_text_line, the message by max_message_size; over-size data is
// consumed and discarded, never buffered). The state is one std::variant of
// connection phases - Greeted, Introduced (HELO/EHLO done), Authenticating
// (an AUTH exchange), Closed - and a transaction exists only inside
// Introduced, as its own phase: no MAIL, MAIL given, receiving DATA, between
// BDAT chunks, receiving a chunk. So "DATA before HELO" or "AUTH inside a
// transaction" cannot be represented, only refused. Each command has one
// handler in a table whose rules (HELO/EHLO first, inside or outside a
// transaction, no arguments, pipelining) are checked in one place. The
// envelope and message (Transaction) are an object apart, reset by RSET,
// HELO/EHLO, STARTTLS and the end of data.
//
// Security: only CRLF.CRLF ends DATA, and bare CR / LF in DATA are refused
// unless allow_bare_lf (SMTP smuggling, 2023). Commands pipelined before the
// client has seen our EHLO reply are refused (as Postfix's
// smtpd_forbid_unauth_pipelining). Address text is parsed by the RFC grammar.
// Malformed UTF-8 in MAIL, RCPT, VRFY (553 5.6.7) and EHLO/HELO (501 5.5.2)
// is refused (RFC 6531 3.3), so none reaches a header, the log or the store.
//
// RFCs: 5321 (SMTP), 1870 (SIZE), 2920 (PIPELINING), 6152 (8BITMIME),
// 2034/3463 (enhanced status codes), 6531 (SMTPUTF8), 3030 (CHUNKING/BDAT),
// 3207 (STARTTLS), 4954 (AUTH).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/line_reader.h"
#include "base/result.h"
#include "sasl/exchange.h"
#include "sasl/protocol.h"
#include "smtp/address.h"
#include "smtp/reply.h"

namespace herald::smtp {

enum class VrfyMode { ambiguous, verify, disabled };

// SmtpLimits - the session's bounds. Those that are config keys ([smtp])
// have their defaults in config's key table only, none here; the driver
// fills them from the config. The rest are the RFC's.
struct SmtpLimits {
  std::size_t max_command_line = 512;  // RFC 5321 4.5.3.1.4
  std::size_t max_text_line = 0;       // smtp.max_line_length (RFC 5321 4.5.3.1.6)
  std::uint32_t max_recipients = 0;    // smtp.max_recipients (RFC 5321 4.5.3.1.8)
  std::uint64_t max_message_size = 0;  // smtp.max_message_size (RFC 1870)
  std::uint32_t max_errors = 0;        // smtp.max_errors
  std::uint32_t junk_command_limit = 0;         // smtp.junk_command_limit
  std::uint32_t recipient_overshoot_limit = 0;  // smtp.recipient_overshoot_limit
  bool allow_bare_lf = false;          // smtp.allow_bare_lf
  VrfyMode vrfy = VrfyMode::ambiguous; // smtp.vrfy
  AddressLimits address;               // RFC 5321 4.5.3.1.1 and 4.5.3.1.2
};

enum class RcptStatus { ok, unknown_user, relay_denied, over_quota, alias_loop, alias_too_large, temp_fail };

struct RcptDecision {
  RcptStatus status = RcptStatus::ok;
  std::vector<std::string> deliver_to;  // final addresses after alias expansion
};

// RecipientCheck - what Action::check_recipient asks (RCPT, RFC 5321
// 4.1.1.3; VRFY in VrfyMode::verify): may this forward-path receive mail,
// and where does it go. The driver answers with on_recipient_checked().
struct RecipientCheck {
  Mailbox forward_path;
  std::uint64_t declared_size = 0;  // MAIL's SIZE= (RFC 1870), 0 when not given
};

// SenderCheck - what Action::check_sender asks: may the authenticated user
// use this reverse-path (RFC 6409 6.1, submission's "verify mail from
// user")? Answered with on_sender_checked().
struct SenderCheck {
  Mailbox reverse_path;
  bool null_sender = false;
  std::string user;  // the authenticated user
};

// SenderVerdict - the answer; temp_fail when the lookup could not be made
// (451 4.3.0: the client tries again, RFC 5321 4.2.5).
enum class SenderVerdict { allowed, refused, temp_fail };

// AuthOptions - what this listener offers and demands (RFC 4954, RFC 3207)
// on top of what every protocol's AUTH offers (sasl::AuthOptions).
struct AuthOptions : sasl::AuthOptions {
  bool auth_required = false;  // MAIL needs AUTH first (submission, 530 5.7.0)
  bool tls_required = false;   // MAIL needs TLS first (530 5.7.0)
};

struct Recipient {
  Mailbox forward_path;                 // as the client gave it
  std::vector<std::string> deliver_to;  // where it resolves to
  std::optional<Notify> notify;         // RFC 3461 4.1 NOTIFY; none given: failures and delays
  std::optional<Orcpt> orcpt;           // RFC 3461 4.2 ORCPT
};

// Transaction - one MAIL..end-of-data exchange (RFC 5321 3.3).
struct Transaction {
  bool null_sender = false;
  Mailbox reverse_path;
  bool smtputf8 = false;
  bool body_8bit = false;
  std::uint64_t declared_size = 0;  // SIZE= on MAIL
  DsnRet ret = DsnRet::unspecified;  // RFC 3461 4.3 RET
  std::string envid;                 // RFC 3461 4.4 ENVID, decoded; "" = none
  std::vector<Recipient> recipients;
  // The message, CRLF lines, dot-unstuffed: what take_body() has not taken.
  std::string data;
  std::uint64_t data_size = 0;  // octets of the message so far, taken or not
  std::string sender() const { return null_sender ? std::string() : reverse_path.str(); }
};

enum class Action {
  need_more,
  submit,           // commit transaction(), then on_submitted()
  starttls,         // discard_input(), handshake, then on_tls_started() (or close)
  authenticate,     // check auth_exchange() credentials, then on_auth_checked()
  check_recipient,  // answer recipient_check() with on_recipient_checked()
  check_sender,     // answer sender_check() with on_sender_checked()
  flush_queue,      // ETRN: make etrn_request()'s mail due now, then on_queue_flushed()
  close,
};

// EtrnRequest - RFC 1985: the mail waiting for domain (and, with
// subdomains, for the domains below it) is to be tried now.
struct EtrnRequest {
  std::string domain;  // lower case
  bool subdomains = false;  // "ETRN @domain"
};

struct Step {
  std::string output;
  Action action = Action::need_more;
};

// Rejection - a refusal the session gave, for the driver's log line and
// journal row (Postfix's "NOQUEUE: reject: RCPT from ...").
struct Rejection {
  std::string command;    // "MAIL", "RCPT", "DATA", "END-OF-MESSAGE", ...
  std::string reply;      // the reply line, without CRLF
  std::string sender;     // the transaction's reverse-path, when there is one
  std::string recipient;  // the forward-path refused, for RCPT
};

enum class SubmitOutcome { queued, temp_fail, rejected };

class Session {
 public:
  Session(const SmtpLimits& limits, std::string hostname);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  std::string greeting() const;

  void feed(std::string_view bytes) { reader_.feed(bytes); }
  // step - run buffered input until the driver must act or input runs out.
  Step step();

  // The question an Action::check_recipient / check_sender is about, and
  // its answer; the reply comes with the next step().
  // REQUIRES: that action was returned and not yet answered.
  const RecipientCheck& recipient_check() const;
  void on_recipient_checked(RcptDecision decision);
  const SenderCheck& sender_check() const;
  void on_sender_checked(SenderVerdict verdict);
  // ETRN (Action::flush_queue): how many recipients were made due, or
  // nullopt when that could not be done (458).
  const EtrnRequest& etrn_request() const;
  void on_queue_flushed(std::optional<std::size_t> recipients);

  // The transaction to commit after Action::submit.
  Transaction& transaction() { return tx_; }
  // take_body - the message octets received since the last take, so that
  // the driver, not the session, decides where a large body is kept.
  std::string take_body() { return std::exchange(tx_.data, std::string()); }
  // in_message - a message has begun (DATA's 354 or a first BDAT chunk)
  // and has not ended: its octets are still to come.
  bool in_message() const;
  // on_submitted - the commit's outcome; the reply comes with the next step().
  void on_submitted(SubmitOutcome outcome, std::string_view queue_id_or_reason);

  // TLS and AUTH (set by the driver as the connection's state changes).
  void set_auth_options(AuthOptions options) { auth_ = std::move(options); }
  const AuthOptions& auth_options() const { return auth_; }
  // discard_input - RFC 3207 4.2 / CVE-2011-0411: whatever came after
  // STARTTLS in clear must never be acted on once TLS is up.
  void discard_input() { reader_.discard_buffered(); }
  // on_tls_started - RFC 3207 4.2: forget everything learned in clear.
  void on_tls_started(AuthOptions options);
  // The exchange an Action::authenticate is about, and its outcome.
  // REQUIRES: Action::authenticate was returned and not yet answered.
  sasl::Exchange& auth_exchange();
  void on_auth_checked(sasl::Exchange::Outcome outcome);
  const std::string& authenticated_user() const { return auth_user_; }
  std::optional<sasl::AuthEvent> take_auth_event() { return std::exchange(auth_event_, std::nullopt); }
  // take_rejections - the refusals given since the last call, in order.
  std::vector<Rejection> take_rejections() { return std::exchange(rejections_, {}); }
  bool tls_active() const { return auth_.tls_active; }
  // set_storage_low - the data directory is short of space: MAIL gets 452
  // 4.3.1 until it is not (the driver says so before each step).
  void set_storage_low(bool low) { storage_low_ = low; }
  // set_etrn_allowed - this client may ask for ETRN (smtp.etrn_networks):
  // EHLO offers it; others get 459.
  void set_etrn_allowed(bool allowed) { etrn_allowed_ = allowed; }

  // in_data - the client is sending something other than commands: message
  // data, a BDAT chunk or an AUTH response (the driver's data timeout).
  bool in_data() const { return input() == Input::sasl || receiving_message(); }
  // receiving_message - a message body is being read (DATA or a BDAT chunk).
  bool receiving_message() const { return input() == Input::data || input() == Input::chunk; }
  // helo_name - the HELO/EHLO argument; "" before one (and after STARTTLS).
  const std::string& helo_name() const;
  // extended - the client said EHLO (Postfix's proto=ESMTP).
  bool extended() const { return helo() && helo()->esmtp; }
  // with_protocol - the Received "with" keyword (RFC 3848, RFC 6531 3.7.3).
  std::string with_protocol() const;
  // timeout_reply / too_busy_reply - what to send before the driver hangs up.
  std::string timeout_reply() const;
  std::string too_many_connections_reply() const;
  std::string pregreet_reply() const;

  std::uint32_t errors() const { return errors_; }

 private:
  // ---- State ----
  // Helo - what the client said it is (RFC 5321 4.1.1.1).
  struct Helo {
    std::string name;
    bool esmtp = false;  // EHLO rather than HELO
  };

  // Transaction phases, MAIL to the end of the data (RFC 5321 3.3). The
  // envelope and message are tx_; the phase says how far the exchange is.
  struct NoMail {};
  struct MailGiven {};  // MAIL accepted: RCPT, then DATA or BDAT
  // ReceivingData - after DATA's 354, until CRLF.CRLF (RFC 5321 4.1.1.4).
  // What was seen is decided on at the end, so the client is never answered
  // in the middle of its data.
  struct ReceivingData {
    bool prev_line_crlf = true;  // only a "." after a CRLF ends the data
  };
  // Chunking - between BDAT chunks (RFC 3030 2): no DATA in this transaction.
  struct Chunking {};
  // ReceivingChunk - the octets of an accepted BDAT chunk.
  struct ReceivingChunk {
    std::uint64_t remaining = 0;
    std::uint64_t size = 0;  // for the reply (RFC 3030 4.2)
    bool last = false;
  };
  // BodyFaults - what the content rules found in the message so far, DATA
  // or BDAT alike; decided on at the end, so the client is never answered
  // in the middle of its data.
  struct BodyFaults {
    bool over_size = false;      // past max_message_size: read on, keep nothing
    bool bare_line_end = false;  // a bare CR or LF (SMTP smuggling)
    bool nul_seen = false;
    bool line_too_long = false;  // over max_text_line (RFC 5321 4.5.3.1.6)
    // BDAT's octets are scanned as they come, across chunk boundaries.
    bool cr_pending = false;     // the last octet was a CR
    std::size_t line_length = 0; // octets of the current line, CRLF excluded
  };
  using TxPhase = std::variant<NoMail, MailGiven, ReceivingData, Chunking, ReceivingChunk>;

  // Connection phases. A transaction exists only inside Introduced, so a new
  // HELO/EHLO (RFC 5321 4.1.4) or STARTTLS (RFC 3207 4.2), which replace
  // the phase, cannot leave one behind.
  struct Greeted {};  // before HELO/EHLO, and again after STARTTLS
  struct Introduced {
    Helo helo;
    TxPhase tx;
  };
  // Authenticating - an AUTH exchange (RFC 4954 4): every line is a SASL
  // response until it ends. AUTH needs EHLO and no transaction, so the
  // exchange returns to Introduced with this Helo and no transaction.
  struct Authenticating {
    Helo helo;
    std::unique_ptr<sasl::Exchange> exchange;
    bool checking = false;  // Action::authenticate is out: nothing is read
  };
  struct Closed {
    std::optional<Helo> helo;  // helo_name() stays answerable for the driver's log
  };
  using Phase = std::variant<Greeted, Introduced, Authenticating, Closed>;

  // Refusal - a reply for the client's mistake, not yet sent.
  struct Refusal {
    int code = 0;
    std::string_view enhanced;
    std::string text;
  };
  // RefusedChunk - a BDAT refused out of sequence. RFC 3030 2: the chunk
  // follows the command at once, so its octets are read and dropped before
  // the refusal goes out; the phase stays as it was.
  struct RefusedChunk {
    std::uint64_t remaining = 0;
    Refusal refusal;
  };

  // Checks - a command waiting for the driver's answer to its check; until
  // then nothing more is read. MAIL keeps the transaction it would open.
  struct RecipientWait {
    RecipientCheck check;
    bool vrfy = false;  // VRFY asked, not RCPT
    std::optional<Notify> notify;  // RCPT's DSN parameters, kept with the recipient
    std::optional<Orcpt> orcpt;
  };
  struct SenderWait {
    SenderCheck check;
    Transaction tx;
  };
  struct EtrnWait {
    EtrnRequest request;
  };
  using Waiting = std::variant<RecipientWait, SenderWait, EtrnWait>;

  // What the next octets from the client are.
  enum class Input { command, sasl, data, chunk, none };

  // ---- The command table (as Postfix's smtpd_cmd_table) ----
  // Its rules are checked once, in run_command, before the handler runs.
  enum class Needs { nothing, helo, ehlo };  // RFC 5321 4.1.4; RFC 4954 4: AUTH after EHLO
  enum class Tx { any, opens, needs };       // MAIL opens a transaction; RCPT, DATA, BDAT need one
  // RFC 2920 3.1: may_continue, or last in a pipelined group; alone: not
  // even a partial line may follow in the same write (checked: EHLO, HELO).
  enum class Group { may_continue, last, alone };
  using Handler = void (Session::*)(std::string_view args);
  struct CommandSpec {
    std::string_view verb;
    Handler handler = nullptr;
    bool offered = true;            // false: a known verb we refuse (502), counted as an error
    Needs needs = Needs::nothing;
    Tx tx = Tx::any;
    std::string_view usage;         // set: takes no arguments, else 501 "Syntax: <usage>"
    Group group = Group::may_continue;
    bool long_line = false;         // RFC 4954 4: up to 12288 octets, not max_command_line
    bool refuse_after_chunk = false;  // BDAT: a refusal waits for the chunk to be read
    bool junk = false;  // counts toward smtp.junk_command_limit (Postfix's smtpd_junk_command_limit)
  };
  static const CommandSpec kCommands[];
  static const CommandSpec* find_command(std::string_view verb);

  // State queries.
  Introduced* introduced() { return std::get_if<Introduced>(&phase_); }
  const Introduced* introduced() const { return std::get_if<Introduced>(&phase_); }
  const Helo* helo() const;
  bool closed() const { return std::holds_alternative<Closed>(phase_); }
  bool in_transaction() const;
  Input input() const;
  std::optional<Refusal> refusal(const CommandSpec& spec, std::string_view args) const;

  void reply(int code, std::string_view enhanced, std::string_view text);
  void client_error(int code, std::string_view enhanced, std::string_view text);
  void count_error();
  void refuse_and_close(std::string line);
  void note_rejection(std::string_view line);
  void close();
  void reset_transaction();
  std::size_t command_line_bound() const;

  bool read_command();
  bool read_sasl_line();
  void run_command(std::string_view line);
  void run_data();
  void run_chunk();
  void run_refused_chunk();
  void finish_data();
  void scan_chunk(std::string_view octets);
  std::optional<Refusal> content_refusal(bool bare_line_ends_allowed) const;
  void end_message(bool bare_line_ends_allowed);
  void synchronization_lost();

  void cmd_ehlo(std::string_view args);
  void cmd_helo(std::string_view args);
  void cmd_mail(std::string_view args);
  void cmd_rcpt(std::string_view args);
  void open_transaction(Transaction tx);
  void rcpt_checked(Mailbox forward_path, RcptDecision d, std::optional<Notify> notify, std::optional<Orcpt> orcpt);
  void vrfy_checked(const Mailbox& mailbox, const RcptDecision& d);
  void cmd_data(std::string_view args);
  void cmd_bdat(std::string_view args);
  void cmd_rset(std::string_view args);
  void cmd_noop(std::string_view args);
  void cmd_quit(std::string_view args);
  void cmd_help(std::string_view args);
  void cmd_vrfy(std::string_view args);
  void cmd_etrn(std::string_view args);
  void cmd_starttls(std::string_view args);
  void cmd_auth(std::string_view args);
  void auth_outcome(sasl::Exchange::Outcome outcome);
  void end_exchange();
  void end_failed_exchange(const std::string& reason, bool temporary = false);

  const SmtpLimits& limits_;
  std::string hostname_;
  LineReader reader_;
  std::string out_;
  Action pending_ = Action::need_more;  // asked of the driver in this step()

  Phase phase_;
  Transaction tx_;  // empty unless the phase holds a transaction
  std::optional<RefusedChunk> refused_chunk_;
  std::optional<Waiting> waiting_;  // a check_recipient / check_sender out

  // Facts about the connection, whatever the phase.
  AuthOptions auth_;       // tls_active: TLS is on (RFC 3207)
  std::string auth_user_;  // set by a successful AUTH; cleared only by STARTTLS
  std::optional<sasl::AuthEvent> auth_event_;
  bool storage_low_ = false;
  bool etrn_allowed_ = false;
  std::uint32_t errors_ = 0;
  std::uint32_t junk_commands_ = 0;
  std::uint32_t overshoot_ = 0;  // RCPTs past max_recipients in this transaction
  BodyFaults body_;              // the message's content, reset with the transaction
  // What the client is being answered about, for rejections_.
  std::string_view command_;  // a verb of kCommands, or a phase ("END-OF-MESSAGE")
  std::string mail_from_;     // the reverse-path MAIL gave, printable
  std::string recipient_;     // the forward-path RCPT or VRFY gave, printable
  std::vector<Rejection> rejections_;
};

}  // namespace herald::smtp

// imap/session.h - the IMAP server session (IMAP4rev2, RFC 9051, and
// IMAP4rev1, RFC 3501, for the clients that speak only that) as a pure,
// byte-fed state machine.
//
// What it is for: turning a client's commands into responses and into
// requests the driver (server/imapd) carries out - check a password, ask
// the store (imap/mailstore.h), start TLS, wait in IDLE. It never touches
// sockets, clocks, files, the store or the log; unit tests and fuzzers
// drive it directly.
//
// Invariants:
//   - States of RFC 9051 3: not authenticated, authenticated, selected,
//     logout. At most one driver request is pending, and step() is not
//     called while one is (each is answered by its on_* call).
//   - Commands are answered one at a time in the order they came; a
//     command's untagged responses come before its tagged one.
//   - The selected mailbox's sequence numbers change only as the client is
//     told (imap/view.h), never during FETCH, STORE or SEARCH.
//   - Input is bounded by the command reader's limits (imap/command.h);
//     output of one step is bounded by kFlushOutput, and a FETCH of many
//     messages reads them from the store a batch at a time.
//
// Security notes:
//   - LOGIN and AUTHENTICATE failures get one fixed text, whoever the user;
//     a mailbox that does not exist and one that cannot be opened get the
//     same NO, so nothing tells another user's mailboxes apart.
//   - LOGIN is refused without TLS unless the operator allows plaintext
//     (LOGINDISABLED, RFC 9051 6.2.3).
//   - max_bad_commands BADs in a row end the session (with BYE).
//
// RFCs: 9051, 3501, 2177 (IDLE), 2342 (NAMESPACE), 3691 (UNSELECT), 4315
// (UIDPLUS), 4959 (SASL-IR), 5161 (ENABLE), 5258 (LIST-EXTENDED), 5530
// (response codes), 5819 (LIST-STATUS), 6154 (SPECIAL-USE), 6851 (MOVE),
// 7162 (CONDSTORE, QRESYNC), 9208 (QUOTA), 5182 (SEARCHRES), 8474 (OBJECTID),
// 5256 (SORT, THREAD), 5957 (SORT=DISPLAY), 4978 (COMPRESS=DEFLATE), 8970 (PREVIEW),
// 7888 (LITERAL-), 2971 (ID), 3348 (CHILDREN), 8438 (STATUS=SIZE), 5465 (NOTIFY).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "imap/acl.h"
#include "imap/command.h"
#include "imap/mailstore.h"
#include "imap/notify.h"
#include "imap/view.h"
#include "imap/writer.h"
#include "sasl/exchange.h"
#include "sasl/protocol.h"

namespace herald::imap {

// ImapLimits - bounds of one session. The config key table (imap.*) has
// the defaults of those that are keys.
struct ImapLimits {
  CommandLimits reader;
  std::uint32_t max_bad_commands = 20;  // imap.max_bad_commands: BADs in a row before BYE
  std::size_t fetch_batch = 64;         // messages read from the store at once (FETCH, SEARCH)
  std::uint64_t batch_octets = 8 << 20;  // octets one FETCH or SEARCH batch reads at most
  std::uint64_t append_limit = 0;       // APPENDLIMIT (RFC 7889); 0: none advertised
  std::uint64_t metadata_max_size = 64 * 1024;  // imap.metadata_max_size: octets of one annotation's value
  std::uint32_t metadata_max_entries = 1000;    // imap.metadata_max_entries: annotations one user may hold
};

// ImapAuthOptions - what this connection offers now (sasl::AuthOptions:
// STARTTLS and the mechanisms) and LOGIN's rule.
struct ImapAuthOptions : sasl::AuthOptions {
  bool plaintext_allowed = true;  // LOGIN (and AUTHENTICATE) without TLS
};

// login: check user()/password() (LOGIN) or, when sasl_verified(), only
// find user() (AUTHENTICATE succeeded); answer on_login().
// store: carry out request(), answer on_store().
// idle: wait for input or a change of a mailbox the session watches (then
// on_idle_wake()): in IDLE, or between commands while NOTIFY asks for
// events (watched_mailboxes(), wants_selected_changes()); input goes on
// through feed()/step().
// starttls, sasl_check, flush, close: as for POP3 (server/driver.h).
// compress: RFC 4978: write the output in clear, then compress both ways,
// taking take_buffered_input() as compressed octets already read.
enum class Action { need_more, login, store, idle, starttls, sasl_check, flush, close, compress };

inline constexpr std::size_t kFlushOutput = 64 * 1024;

struct Step {
  std::string output;
  Action action = Action::need_more;
};

// too_many: the user has imap.max_sessions_per_user sessions already.
enum class LoginResult { ok, bad_credentials, temp_fail, too_many };

class Session {
 public:
  Session(ImapLimits limits, std::string hostname);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // greeting - "* OK [CAPABILITY ...] ..." (RFC 9051 7.1.1).
  std::string greeting() const;
  void feed(std::string_view octets);
  // step - handle buffered input until the driver must act or input runs
  // out. REQUIRES: no action pending.
  Step step();

  // LOGIN / AUTHENTICATE.
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  bool sasl_verified() const { return sasl_verified_; }
  // on_login - the answer to Action::login; returns the tagged reply.
  std::string on_login(LoginResult result);

  // The store.
  const Request& request() const { return *request_; }
  Request& request() { return *request_; }  // the driver may move what it hands on (APPEND's message)
  // on_store - the answer to Action::store; returns what to write (the
  // next step() may ask again).
  std::string on_store(Answer answer);

  // IDLE (RFC 2177) and NOTIFY (RFC 5465): mailboxes changed - the
  // selected one (when wants_selected_changes()) and/or those of changed
  // that watched_mailboxes() named; the next step() asks for what to tell.
  // REQUIRES: Action::idle was returned, no input fed since.
  void on_idle_wake(std::vector<std::int64_t> changed = {});
  bool idling() const { return idling_; }
  // wants_selected_changes - a change of the selected mailbox is told
  // now (IDLE, NOTIFY SELECTED), not at the next command's end.
  bool wants_selected_changes() const;
  // watched_mailboxes - the store ids of the other mailboxes NOTIFY names
  // (RFC 5465 6); watch_generation() changes whenever they do.
  std::vector<std::int64_t> watched_mailboxes() const;
  std::uint64_t watch_generation() const { return watch_generation_; }

  // TLS and SASL.
  void set_auth_options(ImapAuthOptions options) { auth_ = std::move(options); }
  void discard_input() { reader_.discard_buffered(); }
  std::string take_buffered_input() { return reader_.take_buffered(); }
  void on_tls_started(ImapAuthOptions options);
  sasl::Exchange& auth_exchange() { return *exchange_; }
  // on_auth_checked - the check's outcome; returns what to write. A success
  // leads to Action::login at the next step().
  std::string on_auth_checked(sasl::Exchange::Outcome outcome);
  std::optional<sasl::AuthEvent> take_auth_event() { return std::exchange(auth_event_, std::nullopt); }

  bool closed() const { return state_ == State::logout; }
  bool authenticated() const { return state_ == State::authenticated || state_ == State::selected; }
  // selected_mailbox - the store id of the selected mailbox, 0 when none
  // (what the driver watches for IDLE).
  std::int64_t selected_mailbox() const { return state_ == State::selected ? view_.id() : 0; }
  // known_modseq - the MODSEQ the selected mailbox's view is complete up to.
  std::uint64_t known_modseq() const { return view_.modseq(); }
  // view - the selected mailbox's view, for the driver to share its
  // listing with other sessions (MailboxView::shareable, adopt).
  MailboxView& view() { return view_; }
  // LiteralBudget - the octets of literals every session holds in memory
  // together: reserve(n) takes n (false: not now), release(n) gives back.
  // Literals up to kSmallLiteral are not counted.
  struct LiteralBudget {
    std::function<bool(std::uint64_t)> reserve;
    std::function<void(std::uint64_t)> release;
  };
  static constexpr std::uint64_t kSmallLiteral = 64 * 1024;
  void set_literal_budget(LiteralBudget budget) { budget_ = std::move(budget); }
  // set_clock - unix seconds now, for SEARCH OLDER/YOUNGER (RFC 5032);
  // the session has no clock of its own.
  void set_clock(std::function<std::int64_t()> clock) { clock_ = std::move(clock); }
  // on_timeout - the BYE of an autologout (RFC 9051 5.4).
  std::string on_timeout() const { return "* BYE Autologout; idle for too long\r\n"; }
  // autologout - the same, ending the session (IDLE's timer ran out).
  std::string autologout() {
    close();
    return on_timeout();
  }

  struct Outcome;
  using Continue = std::function<Outcome(Answer&)>;
  struct CommandSpec;

 private:
  enum class State { not_authenticated, authenticated, selected, logout };

  Outcome dispatch(Command& c);
  Outcome run(Outcome o);  // apply an outcome: output, actions, requests
  void close();
  StringForm form() const { return {utf8_, 1024}; }
  std::string capabilities() const;

  // Helpers shared by the handlers.
  Outcome ok(std::string_view text, std::string_view code = "") const;
  Outcome no(std::string_view text, std::string_view code = "") const;
  Outcome bad(std::string_view text) const;
  Outcome store_failed(const Answer& a) const;
  Outcome ask(Request r, Continue then);
  // prefixed - rest, with output written before its own.
  static Outcome prefixed(std::string output, Outcome rest);
  // finish - a command in the selected state ends: the mailbox's changes
  // first (expunges only when allowed), then the tagged reply.
  Outcome finish(std::string tagged, bool allow_expunge);
  // unselect - back to the authenticated state; the view's listing let go.
  void unselect() {
    state_ = State::authenticated;
    view_ = MailboxView{};
  }
  std::optional<std::string> mailbox_arg(const Value& v, std::string& error) const;  // to the store's form
  std::optional<std::string> metadata_mailbox(const Value& v, std::string& error) const;  // "" or mailbox_arg
  std::string mailbox_out(const std::string& name) const;                              // to the client's form
  bool parse_flags(const Value& v, std::uint32_t& flags, std::vector<std::string>& keywords, bool allow_recent) const;

  // Any state (RFC 9051 6.1).
  Outcome cmd_capability(Command& c);
  Outcome cmd_noop(Command& c);
  Outcome cmd_logout(Command& c);
  Outcome cmd_id(Command& c);
  // Not authenticated (6.2).
  Outcome cmd_starttls(Command& c);
  Outcome cmd_authenticate(Command& c);
  Outcome cmd_login(Command& c);
  Outcome auth_step(sasl::Exchange::Outcome o);
  // Authenticated (6.3).
  Outcome cmd_enable(Command& c);
  Outcome cmd_select(Command& c);
  Outcome qresync_select(std::string untagged, std::string tagged, std::uint64_t since,
                         std::optional<SequenceSet> known);
  Outcome cmd_create(Command& c);
  Outcome cmd_delete(Command& c);
  Outcome cmd_rename(Command& c);
  Outcome cmd_subscribe(Command& c);
  Outcome cmd_list(Command& c);
  Outcome cmd_namespace(Command& c);
  Outcome cmd_status(Command& c);
  Outcome cmd_append(Command& c);
  Outcome cmd_acl(Command& c);
  Outcome cmd_setacl(Command& c);
  Outcome cmd_getmetadata(Command& c);
  Outcome cmd_setmetadata(Command& c);
  Outcome cmd_idle(Command& c);
  Outcome cmd_quota(Command& c);
  Outcome cmd_compress(Command& c);
  Outcome idle_line(std::string line);
  // NOTIFY (RFC 5465), in session_notify.cpp.
  Outcome cmd_notify(Command& c);
  std::string notify_resolve(const answer::List& list);  // the mailboxes the groups name
  Outcome notify_refresh(std::string tagged);  // resolved again (CREATE, SUBSCRIBE...), then tagged
  Outcome tell_changes(std::vector<std::int64_t> changed);
  Outcome tell_status(std::vector<std::int64_t> changed);
  void note_own_change(const std::string& mailbox);  // its next change is not told
  bool waits_for_events() const;  // between commands, Action::idle instead of need_more
  // Selected (6.4).
  Outcome cmd_close(Command& c);
  Outcome cmd_expunge(Command& c);
  Outcome cmd_search(Command& c);
  Outcome cmd_fetch(Command& c);
  Outcome cmd_store(Command& c);
  Outcome cmd_copy(Command& c);
  Outcome cmd_uid(Command& c);
  // resolve - a set (or "$", RFC 5182) to sequence numbers; false: invalid.
  bool resolve(const SequenceSet& set, std::vector<std::uint32_t>& msns) const;
  Outcome fetch_batch(std::shared_ptr<struct FetchJob> job);
  Outcome fetch_vanished(std::shared_ptr<struct FetchJob> job);
  // fetch_untagged - FETCH responses for msns without a tagged reply
  // (NOTIFY's MessageNew, RFC 5465 5.2); then done().
  Outcome fetch_untagged(const FetchSpec& spec, std::vector<std::uint32_t> msns, std::function<Outcome()> done);
  Outcome search_batch(std::shared_ptr<struct SearchJob> job);
  Outcome cmd_sort(Command& c);
  Outcome start_search(std::shared_ptr<struct SearchJob> job, struct SearchParse parsed);
  Outcome search_text(std::shared_ptr<struct SearchJob> job);
  std::string ordered(const struct SearchJob& job) const;

  ImapLimits limits_;
  std::string hostname_;
  CommandReader reader_;
  State state_ = State::not_authenticated;
  std::string tag_;  // of the command being answered
  bool uid_ = false; // the command came as UID <command>
  // A request to the store and what follows its answer.
  std::optional<Request> request_;
  Continue then_;
  Continue resume_;  // more of a command after a flush (FETCH's next batch)
  std::function<std::int64_t()> clock_;
  LiteralBudget budget_;
  std::uint64_t reading_reserved_ = 0;  // of budget_: the command being read
  std::uint64_t running_reserved_ = 0;  // of budget_: the command being answered
  void release_literals();
  void settle(const Outcome& o);  // a command that ended gives its literals back
  std::optional<Action> next_action_;  // asked by an answer, returned at the next step()
  MailboxView view_;
  std::vector<std::uint32_t> saved_uids_;  // SEARCH RETURN (SAVE): what "$" names (RFC 5182)
  bool read_only_ = false;
  Rights rights_ = Rights::all();  // of the selected mailbox (RFC 4314)
  ViewOptions view_options_;
  void enable_condstore() { view_options_.condstore = true; }
  bool rev2_ = false;   // ENABLE IMAP4rev2
  bool utf8_ = false;   // UTF8=ACCEPT or IMAP4rev2: names and strings in UTF-8
  bool idling_ = false;
  bool compressed_ = false;  // COMPRESS DEFLATE is on
  bool idle_done_ = false;
  std::uint32_t bad_in_a_row_ = 0;
  // NOTIFY: the groups in force, and the mailboxes they name but the
  // selected one, each with what the client was last told of it.
  std::optional<NotifySpec> notify_;
  struct NotifyMailbox {
    MailboxInfo told;
    const NotifyGroup* group = nullptr;  // in notify_
    bool own_change = false;  // this session's APPEND, COPY or MOVE changed it since
  };
  std::vector<NotifyMailbox> notify_mailboxes_;
  std::uint64_t watch_generation_ = 0;
  // Login.
  std::string user_, password_;
  bool sasl_verified_ = false;
  ImapAuthOptions auth_;
  std::unique_ptr<sasl::Exchange> exchange_;
  std::optional<sasl::AuthEvent> auth_event_;
};

// Outcome - what a handler (or a continuation) produced.
struct Session::Outcome {
  std::string output;
  Action action = Action::need_more;
  bool bad = false;        // a BAD: counts towards max_bad_commands
  std::optional<Request> request;
  Continue then;           // with request: runs on its answer
};

}  // namespace herald::imap

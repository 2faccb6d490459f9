// imap/session_fuzz.cpp - any bytes into a logged-in IMAP session with
// INBOX selected (imap/session_test_store.h: three messages, one a
// multipart with a base64 attachment), every action answered as the
// driver would. Checks: no crash; the session asks for nothing its state
// does not allow (a login once logged in, a store request before login,
// IDLE's wait when not idling); every step's output ends a line and is
// bounded; the whole output is bounded per input octet; and the input fed
// whole and fed in slices cut by its own octets gives the same output.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "imap/session.h"
#include "imap/session_test_store.h"

extern const std::vector<std::string> kFuzzSeeds;
const std::vector<std::string> kFuzzSeeds = {
    "a FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)\r\n"
    "b FETCH 2 (BODY.PEEK[1] BODY[2.MIME] BINARY[2] BINARY.SIZE[2] BODY[]<0.10>)\r\n"
    "c STORE 1:2 +FLAGS (\\Deleted $X)\r\nd EXPUNGE\r\ne NOOP\r\nf LOGOUT\r\n",
    "a SEARCH UNSEEN SUBJECT report\r\nb UID SEARCH RETURN (MIN MAX COUNT) ALL\r\n"
    "c SEARCH CHARSET KOI8-R x\r\nd COPY 1:* Sent\r\ne MOVE 2 Trash\r\nf UID EXPUNGE 1:3\r\n",
    "a LIST \"\" \"*\" RETURN (STATUS (MESSAGES UNSEEN SIZE))\r\nb LSUB \"\" %\r\n"
    "c CREATE a/b/\r\nd RENAME a c\r\ne DELETE c/b\r\nf STATUS c (MESSAGES UIDNEXT)\r\n"
    "g APPEND INBOX (\\Seen) \"14-Nov-2023 10:00:00 +0100\" {12+}\r\nSubject: x\r\n\r\n"
    "h APPEND Nope {3}\r\nabc\r\n",
    "a IDLE\r\nDONE\r\nb IDLE\r\nx\r\nc CLOSE\r\nd SELECT Work\r\ne EXAMINE INBOX\r\n"
    "f STORE 1 FLAGS (\\Seen)\r\ng UNSELECT\r\nh ENABLE IMAP4rev2 UTF8=ACCEPT\r\n"
    "i SELECT INBOX\r\nj SEARCH ALL\r\nk FETCH 1:3 BODY[]\r\n",
    "a LOGIN {4294967296}\r\nb FETCH 99 FLAGS\r\nc UID FETCH 99 FLAGS\r\nd ID (\"name\" \"x\")\r\n"
    "e NAMESPACE\r\nf CREATE Entw&APw-rfe\r\ng LIST \"\" Entw*\r\nh CAPABILITY\r\n",
    "a SETACL Work bob@example.test +lrs\r\nb GETACL Work\r\nc LISTRIGHTS Work anyone\r\nd MYRIGHTS INBOX\r\n"
    "e DELETEACL Work bob@example.test\r\nf SETMETADATA INBOX (/private/comment {3+}\r\nabc /shared/x NIL)\r\n"
    "g GETMETADATA (DEPTH infinity MAXSIZE 2) \"\" (/private /shared/x)\r\n"
    "h APPEND Sent {2+}\r\nab (\\Seen) {2+}\r\ncd\r\ni FETCH 1 (SAVEDATE)\r\n",
    "a NOTIFY SET STATUS (SELECTED (MessageNew (UID BODY.PEEK[1]) MessageExpunge)) (PERSONAL (MessageNew "
    "MessageExpunge FlagChange))\r\nb APPEND Work {2+}\r\nab\r\nc SUBSCRIBE Work\r\nd IDLE\r\nDONE\r\n"
    "e NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge)) (SUBTREE (Work Nope) NONE)\r\nf NOTIFY NONE\r\n",
};

namespace {

using herald::imap::Action;
using herald::imap::ImapAuthOptions;
using herald::imap::ImapLimits;
using herald::imap::LoginResult;
using herald::imap::Session;
using herald::imap::fake::FakeStore;

constexpr std::string_view kPrefix = "P1 LOGIN alice secret\r\nP2 SELECT INBOX\r\n";

void check(bool ok) {
  if (!ok) std::abort();
}

struct Transcript {
  std::string output;
  bool closed = false;
};

// drain - step() until input runs out, answering each action; checks what
// may be asked in each state.
void drain(Session& s, FakeStore& store, Transcript& t, std::size_t& steps, std::size_t max_steps) {
  bool woke = false;
  while (!t.closed) {
    check(++steps <= max_steps);  // no endless flush or store loop
    herald::imap::Step step = s.step();
    check(step.output.size() <= 2 * herald::imap::kFlushOutput);
    if (!step.output.empty()) check(step.output.size() >= 2 && step.output.ends_with("\r\n"));
    t.output += step.output;
    std::string reply;
    switch (step.action) {
      case Action::need_more: return;
      case Action::flush: continue;
      case Action::close:
        check(s.closed());
        t.closed = true;
        return;
      case Action::login: {
        check(!s.authenticated());
        bool ok = s.sasl_verified() ? s.user() == "alice" : s.user() == "alice" && s.password() == "secret";
        reply = s.on_login(ok ? LoginResult::ok : LoginResult::bad_credentials);
        break;
      }
      case Action::store:
        check(s.authenticated() || s.closed());
        check(!s.closed());
        reply = s.on_store(store.answer(s.request()));
        break;
      case Action::sasl_check: {
        check(!s.authenticated());
        auto& e = s.auth_exchange();
        reply = s.on_auth_checked(e.needs_password_check()
                                      ? e.password_checked(e.authcid() == "alice" && e.password() == "secret")
                                      : e.credentials(std::nullopt));
        break;
      }
      case Action::starttls: s.on_tls_started(ImapAuthOptions{}); continue;
      case Action::compress: check(s.authenticated()); continue;  // the connection's layer: transparent here
      case Action::idle:
        // In IDLE, or between commands under NOTIFY (RFC 5465).
        check(s.idling() || s.wants_selected_changes() || !s.watched_mailboxes().empty());
        if (!woke) {
          // A change may have come: the session asks for it, and says
          // nothing new when there is none. (Other mailboxes are not
          // named: their STATUS would depend on where the input was cut.)
          woke = true;
          s.on_idle_wake();
          continue;
        }
        return;
    }
    if (!reply.empty()) check(reply.ends_with("\r\n"));
    t.output += reply;
  }
}

Transcript session_run(std::string_view input, bool sliced) {
  FakeStore store = herald::imap::fake::standard_store();
  ImapLimits limits;
  limits.fetch_batch = 2;  // several batches for FETCH 1:* and SEARCH
  Session s(limits, "imap.fuzz.test");
  ImapAuthOptions auth;
  auth.mechanisms = {"PLAIN"};
  s.set_auth_options(auth);
  Transcript t;
  t.output = s.greeting();
  std::size_t steps = 0;
  const std::size_t max_steps = 10000 + 200 * input.size();
  s.feed(kPrefix);
  drain(s, store, t, steps, max_steps);
  if (!sliced) {
    if (!t.closed) s.feed(input);
    drain(s, store, t, steps, max_steps);
  } else {
    std::size_t pos = 0, i = 0;
    while (pos < input.size() && !t.closed) {
      std::size_t n = 1 + static_cast<unsigned char>(input[i++ % input.size()]) % 23;
      s.feed(input.substr(pos, n));
      pos += n;
      drain(s, store, t, steps, max_steps);
    }
  }
  // Bounded per octet of input: the largest thing one octet may ask for is
  // another copy of every stored message (one more BODY[] item).
  std::size_t stored = 0;
  for (const auto& [name, mb] : herald::imap::fake::standard_store().mailboxes)
    for (const auto& m : mb.messages) stored += m.octets.size();
  check(t.output.size() <= 8192 + (input.size() + kPrefix.size()) * (stored + 2048));
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Transcript whole = session_run(input, false);
  Transcript sliced = session_run(input, true);
  check(whole.output == sliced.output);
  check(whole.closed == sliced.closed);
  return 0;
}

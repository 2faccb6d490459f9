#include "pop3/session.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace herald::pop3 {
namespace {

// Two stored messages, CRLF lines as the store keeps them. The first has lines
// starting with "." to exercise byte-stuffing (RFC 1939 3).
const std::string kMsg1 =
    "From: a@example.test\r\n"
    "Subject: one\r\n"
    "\r\n"
    "Hello\r\n"
    ".hidden\r\n"
    "..two\r\n"
    "last\r\n";
const std::string kMsg2 =
    "Subject: two\r\n"
    "\r\n"
    "body\r\n";

// FakeDriver - what server/pop3d does around the session, without sockets.
struct FakeDriver {
  std::map<std::string, std::string> passwords{{"alice", "secret"}, {"bob", "a b c"}};
  std::vector<std::optional<std::string>> messages{kMsg1, kMsg2};  // nullopt: read fails
  std::vector<std::string> uidls{"uid-1", "uid-2"};
  Errc read_error = Errc::io;
  Status update_result;

  // Recorded by run().
  std::vector<std::pair<std::string, std::string>> logins;
  std::optional<std::vector<std::size_t>> applied;  // set only when UPDATE ran
  std::vector<std::size_t> retrieved;

  AuthResult check(const std::string& user, const std::string& password) const {
    if (user == "locked") return AuthResult::in_use;
    if (user == "flaky") return AuthResult::temp_fail;
    auto it = passwords.find(user);
    return it != passwords.end() && it->second == password ? AuthResult::ok
                                                           : AuthResult::bad_credentials;
  }

  std::vector<MaildropEntry> maildrop() const {
    std::vector<MaildropEntry> out;
    for (std::size_t i = 0; i < messages.size(); ++i)
      out.push_back({messages[i] ? messages[i]->size() : 100, uidls[i]});
    return out;
  }
};

struct Transcript {
  std::string output;
  bool closed = false;
  bool authenticated = false;
  std::vector<std::pair<std::string, std::string>> logins;
  std::optional<std::vector<std::size_t>> applied;
  std::vector<std::size_t> retrieved;
};

// test_limits - the bounds the tests run with (the defaults are config's).
Pop3Limits test_limits() {
  Pop3Limits l;
  l.max_errors = 10;
  return l;
}

// run - feed input in chunks of `chunk` octets, acting on every step like the
// driver would; the transcript holds the greeting and every reply in order.
Transcript run(std::string_view input, std::size_t chunk, FakeDriver driver = {},
               Pop3Limits limits = test_limits()) {
  Session s(limits, "mx.example.test");
  Transcript t;
  t.output = s.greeting();
  std::size_t pos = 0;
  bool done = false;
  while (!done) {
    if (pos < input.size()) {
      s.feed(input.substr(pos, chunk));
      pos += chunk;
    }
    for (;;) {
      Step step = s.step();
      t.output += step.output;
      if (step.action == Action::need_more) break;
      if (step.action == Action::close) {
        done = true;
        break;
      }
      switch (step.action) {
        case Action::authenticate: {
          driver.logins.emplace_back(s.user(), s.password());
          AuthResult r = driver.check(s.user(), s.password());
          t.output += s.on_authenticated(r, r == AuthResult::ok ? driver.maildrop()
                                                                : std::vector<MaildropEntry>{});
          break;
        }
        case Action::retrieve: {
          std::size_t i = s.retrieve_index();
          driver.retrieved.push_back(i);
          if (driver.messages[i])
            t.output += s.on_retrieved(*driver.messages[i]);
          else
            t.output += s.on_retrieved(make_error(driver.read_error, "/var/blobs/x: EIO"));
          break;
        }
        case Action::update:
          driver.applied = s.deleted();
          t.output += s.on_updated(driver.update_result);
          break;
        default:
          break;
      }
    }
    if (pos >= input.size()) done = true;
  }
  t.closed = s.closed();
  t.authenticated = s.authenticated();
  t.logins = driver.logins;
  t.applied = driver.applied;
  t.retrieved = driver.retrieved;
  return t;
}

// converse - run the script whole and one octet at a time (docs/ARCHITECTURE.md: parser
// tests feed each case both ways); both runs must agree exactly.
Transcript converse(std::string_view input, FakeDriver driver = {}, Pop3Limits limits = test_limits()) {
  Transcript whole = run(input, input.size() + 1, driver, limits);
  Transcript bytewise = run(input, 1, driver, limits);
  EXPECT_EQ(whole.output, bytewise.output);
  EXPECT_EQ(whole.closed, bytewise.closed);
  EXPECT_EQ(whole.authenticated, bytewise.authenticated);
  EXPECT_EQ(whole.logins, bytewise.logins);
  EXPECT_EQ(whole.applied, bytewise.applied);
  EXPECT_EQ(whole.retrieved, bytewise.retrieved);
  return whole;
}

const std::string kGreeting = "+OK Herald POP3 server ready\r\n";
const std::string kLogin = "USER alice\r\nPASS secret\r\n";
const std::string kLoggedIn =
    "+OK send PASS\r\n+OK maildrop has 2 messages (" +
    std::to_string(kMsg1.size() + kMsg2.size()) + " octets)\r\n";
const std::string kAuthFailed = "-ERR [AUTH] Authentication failed.\r\n";
const std::string kCapa =
    "+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nPIPELINING\r\n"
    "EXPIRE NEVER\r\nAUTH-RESP-CODE\r\nIMPLEMENTATION Herald\r\n.\r\n";
const std::string kBye = "+OK Herald POP3 server signing off\r\n";
const std::string kWrongState = "-ERR command not valid in this state\r\n";

// Output after the greeting and the login replies.
std::string after_login(const Transcript& t) {
  std::string prefix = kGreeting + kLoggedIn;
  EXPECT_EQ(t.output.substr(0, prefix.size()), prefix);
  return t.output.substr(std::min(prefix.size(), t.output.size()));
}

// ---- AUTHORIZATION ----

TEST(Pop3Session, Greeting) {
  Session s({}, "mx.example.test");
  EXPECT_EQ(s.greeting(), kGreeting);
  EXPECT_FALSE(s.closed());
  EXPECT_FALSE(s.authenticated());
  Step step = s.step();
  EXPECT_EQ(step.output, "");
  EXPECT_EQ(step.action, Action::need_more);
}

TEST(Pop3Session, LoginEntersTransaction) {
  Transcript t = converse(kLogin);
  EXPECT_EQ(t.output, kGreeting + kLoggedIn);
  EXPECT_TRUE(t.authenticated);
  EXPECT_FALSE(t.closed);
  ASSERT_EQ(t.logins.size(), 1u);
  EXPECT_EQ(t.logins[0], std::make_pair(std::string("alice"), std::string("secret")));
}

TEST(Pop3Session, StepStopsAtAuthenticateWithEarlierReplies) {
  Session s({}, "h");
  s.feed("USER alice\r\nPASS secret\r\nNOOP\r\n");
  Step step = s.step();
  EXPECT_EQ(step.output, "+OK send PASS\r\n");
  EXPECT_EQ(step.action, Action::authenticate);
  EXPECT_EQ(s.user(), "alice");
  EXPECT_EQ(s.password(), "secret");
  EXPECT_FALSE(s.authenticated());
  EXPECT_EQ(s.on_authenticated(AuthResult::ok, {{5, "u1"}}),
            "+OK maildrop has 1 messages (5 octets)\r\n");
  EXPECT_TRUE(s.password().empty());  // the secret is not kept after the check
  EXPECT_EQ(s.user(), "alice");
  EXPECT_TRUE(s.authenticated());
  step = s.step();
  EXPECT_EQ(step.output, "+OK\r\n");
  EXPECT_EQ(step.action, Action::need_more);
}

TEST(Pop3Session, WrongPasswordAndUnknownUserLookTheSame) {
  Transcript t = converse("USER alice\r\nPASS wrong\r\nUSER nobody\r\nPASS secret\r\n");
  EXPECT_EQ(t.output,
            kGreeting + "+OK send PASS\r\n" + kAuthFailed + "+OK send PASS\r\n" + kAuthFailed);
  EXPECT_FALSE(t.authenticated);
  EXPECT_FALSE(t.closed);
}

TEST(Pop3Session, FailedLoginNeedsUserAgain) {
  Transcript t = converse("USER alice\r\nPASS wrong\r\nPASS secret\r\n" + kLogin + "STAT\r\n");
  EXPECT_EQ(t.output, kGreeting + "+OK send PASS\r\n" + kAuthFailed +
                          "-ERR send USER first\r\n" + kLoggedIn + "+OK 2 " +
                          std::to_string(kMsg1.size() + kMsg2.size()) + "\r\n");
  EXPECT_TRUE(t.authenticated);
  EXPECT_EQ(t.logins.size(), 2u);  // PASS without USER never reaches the driver
}

TEST(Pop3Session, MaildropInUse) {
  Transcript t = converse("USER locked\r\nPASS x\r\nSTAT\r\n");
  EXPECT_EQ(t.output, kGreeting + "+OK send PASS\r\n" +
                          "-ERR [IN-USE] Mailbox is locked by another session.\r\n" + kWrongState);
  EXPECT_FALSE(t.authenticated);
}

TEST(Pop3Session, TemporaryFailure) {
  Transcript t = converse("USER flaky\r\nPASS x\r\n");
  EXPECT_EQ(t.output, kGreeting + "+OK send PASS\r\n" +
                          "-ERR [SYS/TEMP] Temporary failure, try again later.\r\n");
  EXPECT_FALSE(t.authenticated);
}

TEST(Pop3Session, PassWithoutUser) {
  Transcript t = converse("PASS secret\r\n");
  EXPECT_EQ(t.output, kGreeting + "-ERR send USER first\r\n");
  EXPECT_TRUE(t.logins.empty());
}

TEST(Pop3Session, PasswordMayContainSpaces) {
  // RFC 1939 7: PASS has one argument, spaces included.
  Transcript t = converse("USER bob\r\nPASS a b c\r\n");
  ASSERT_EQ(t.logins.size(), 1u);
  EXPECT_EQ(t.logins[0].second, "a b c");
  EXPECT_TRUE(t.authenticated);
}

TEST(Pop3Session, UserAndPassArgumentErrors) {
  Transcript t = converse(
      "USER\r\nUSER a b\r\nPASS\r\nUSER a\x01"
      "b\r\nUSER alice\r\nPASS sec\x7fret\r\nUSER alice\r\nPASS secret\r\n");
  EXPECT_EQ(t.output, kGreeting + "-ERR usage: USER name\r\n" + "-ERR usage: USER name\r\n" +
                          "-ERR usage: PASS password\r\n" + "-ERR invalid user name\r\n" +
                          "+OK send PASS\r\n" + "-ERR invalid password\r\n" + kLoggedIn);
  EXPECT_EQ(t.logins.size(), 1u);
}

TEST(Pop3Session, UserReplacesEarlierUser) {
  Transcript t = converse("USER nobody\r\nUSER alice\r\nPASS secret\r\n");
  ASSERT_EQ(t.logins.size(), 1u);
  EXPECT_EQ(t.logins[0].first, "alice");
  EXPECT_TRUE(t.authenticated);
}

TEST(Pop3Session, ApopAndAuthNotOffered) {
  // Without mechanisms (the driver offers none here) AUTH lists nothing.
  Transcript t = converse("APOP alice 0123456789abcdef\r\nAUTH PLAIN\r\nAUTH\r\n");
  EXPECT_EQ(t.output, kGreeting + "-ERR APOP not supported\r\n" + "-ERR AUTH not available\r\n" +
                          "+OK\r\n.\r\n");
  EXPECT_TRUE(t.logins.empty());
}

TEST(Pop3Session, CapaInBothStates) {
  Transcript t = converse("CAPA\r\n" + kLogin + "CAPA\r\nCAPA x\r\n");
  EXPECT_EQ(t.output, kGreeting + kCapa + kLoggedIn + kCapa + "-ERR usage: CAPA\r\n");
}

TEST(Pop3Session, TransactionCommandsRefusedBeforeLogin) {
  Transcript t = converse(
      "STAT\r\nLIST\r\nRETR 1\r\nDELE 1\r\nNOOP\r\nRSET\r\nTOP 1 1\r\nUIDL\r\n");
  std::string expected = kGreeting;
  for (int i = 0; i < 8; ++i) expected += kWrongState;
  EXPECT_EQ(t.output, expected);
  EXPECT_TRUE(t.retrieved.empty());
  EXPECT_FALSE(t.closed);
}

TEST(Pop3Session, AuthorizationCommandsRefusedAfterLogin) {
  Transcript t = converse(kLogin + "USER bob\r\nPASS a b c\r\nAPOP x y\r\nAUTH PLAIN\r\n");
  EXPECT_EQ(after_login(t), kWrongState + kWrongState + kWrongState + kWrongState);
  EXPECT_EQ(t.logins.size(), 1u);
}

TEST(Pop3Session, QuitInAuthorization) {
  Transcript t = converse("USER alice\r\nQUIT\r\nPASS secret\r\nSTAT\r\n");
  EXPECT_EQ(t.output, kGreeting + "+OK send PASS\r\n" + kBye);
  EXPECT_TRUE(t.closed);
  EXPECT_TRUE(t.logins.empty());  // input after QUIT is not acted on
  EXPECT_FALSE(t.applied);        // no UPDATE without TRANSACTION
}

TEST(Pop3Session, QuitWithArgumentIsRefused) {
  Transcript t = converse("QUIT now\r\n");
  EXPECT_EQ(t.output, kGreeting + "-ERR usage: QUIT\r\n");
  EXPECT_FALSE(t.closed);
}

TEST(Pop3Session, ClosedSessionKeepsAskingToClose) {
  Session s({}, "h");
  s.feed("QUIT\r\n");
  Step step = s.step();
  EXPECT_EQ(step.output, kBye);
  EXPECT_EQ(step.action, Action::close);
  EXPECT_TRUE(s.closed());
  s.feed("USER alice\r\n");
  step = s.step();
  EXPECT_EQ(step.output, "");
  EXPECT_EQ(step.action, Action::close);
}

// ---- TRANSACTION ----

TEST(Pop3Session, Stat) {
  Transcript t = converse(kLogin + "STAT\r\nSTAT 1\r\n");
  EXPECT_EQ(after_login(t), "+OK 2 " + std::to_string(kMsg1.size() + kMsg2.size()) + "\r\n" +
                                "-ERR usage: STAT\r\n");
}

TEST(Pop3Session, ListAll) {
  Transcript t = converse(kLogin + "LIST\r\n");
  EXPECT_EQ(after_login(t), "+OK 2 messages (" + std::to_string(kMsg1.size() + kMsg2.size()) +
                                " octets)\r\n1 " + std::to_string(kMsg1.size()) + "\r\n2 " +
                                std::to_string(kMsg2.size()) + "\r\n.\r\n");
}

// A pipelined run of LISTs of a large maildrop is answered in flushes of
// about kFlushOutput, each written before the session answers more, so
// what it holds is bounded whatever the client pipelines without reading.
TEST(Pop3Session, PipelinedRepliesAskForAFlushPastTheBound) {
  Session s(test_limits(), "mx.example.test");
  s.feed(kLogin);
  ASSERT_EQ(s.step().action, Action::authenticate);
  std::vector<MaildropEntry> maildrop(1000, MaildropEntry{12345, "u"});
  s.on_authenticated(AuthResult::ok, std::move(maildrop));
  std::string one_list;
  s.feed("LIST\r\n");
  Step first = s.step();
  ASSERT_EQ(first.action, Action::need_more);
  one_list = first.output;
  ASSERT_LT(one_list.size(), kFlushOutput);
  for (int i = 0; i < 100; ++i) s.feed("LIST\r\n");
  std::size_t total = 0, flushes = 0;
  for (;;) {
    Step step = s.step();
    EXPECT_LT(step.output.size(), kFlushOutput + one_list.size());
    total += step.output.size();
    if (step.action == Action::need_more) break;
    ASSERT_EQ(step.action, Action::flush);
    EXPECT_GE(step.output.size(), kFlushOutput);
    ++flushes;
  }
  EXPECT_EQ(total, 100 * one_list.size());
  EXPECT_GE(flushes, 100 * one_list.size() / (kFlushOutput + one_list.size()));
}

TEST(Pop3Session, ListOneAndErrors) {
  Transcript t = converse(kLogin + "LIST 2\r\nLIST 0\r\nLIST 3\r\nLIST x\r\nLIST -1\r\n"
                                   "LIST 1 2\r\nLIST 99999999999999999999999\r\n");
  EXPECT_EQ(after_login(t), "+OK 2 " + std::to_string(kMsg2.size()) + "\r\n" +
                                "-ERR no such message\r\n" + "-ERR no such message\r\n" +
                                "-ERR invalid message number\r\n" +
                                "-ERR invalid message number\r\n" + "-ERR usage: LIST [msg]\r\n" +
                                "-ERR invalid message number\r\n");
}

TEST(Pop3Session, SizesAreThoseOfTheMaildrop) {
  // The driver's sizes are reported as given (they are the exact stored octets).
  FakeDriver d;
  d.messages = {std::nullopt, kMsg2};  // first size becomes 100
  Transcript t = converse("USER alice\r\nPASS secret\r\nSTAT\r\nLIST 1\r\n", d);
  std::string expected_login =
      "+OK send PASS\r\n+OK maildrop has 2 messages (" + std::to_string(100 + kMsg2.size()) +
      " octets)\r\n";
  EXPECT_EQ(t.output, kGreeting + expected_login + "+OK 2 " +
                          std::to_string(100 + kMsg2.size()) + "\r\n+OK 1 100\r\n");
}

TEST(Pop3Session, RetrExactOctetsAndByteStuffing) {
  Transcript t = converse(kLogin + "RETR 1\r\nRETR 2\r\n");
  EXPECT_EQ(after_login(t), "+OK " + std::to_string(kMsg1.size()) +
                                " octets\r\n"
                                "From: a@example.test\r\n"
                                "Subject: one\r\n"
                                "\r\n"
                                "Hello\r\n"
                                "..hidden\r\n"
                                "...two\r\n"
                                "last\r\n"
                                ".\r\n"
                                "+OK " +
                                std::to_string(kMsg2.size()) + " octets\r\n" + kMsg2 + ".\r\n");
  EXPECT_EQ(t.retrieved, (std::vector<std::size_t>{0, 1}));
}

TEST(Pop3Session, RetrAddsMissingFinalCrlfAndFixesBareLf) {
  FakeDriver d;
  d.messages = {std::string("Subject: x\r\n\r\nno newline"), std::string("a\n.b\nc\r\n")};
  Transcript t = converse(kLogin + "RETR 1\r\nRETR 2\r\n", d);
  std::string out = t.output.substr(t.output.find("+OK 24 octets"));
  EXPECT_EQ(out,
            "+OK 24 octets\r\nSubject: x\r\n\r\nno newline\r\n.\r\n"
            "+OK 8 octets\r\na\r\n..b\r\nc\r\n.\r\n");
}

TEST(Pop3Session, RetrOfEmptyMessage) {
  FakeDriver d;
  d.messages = {std::string(), kMsg2};
  Transcript t = converse(kLogin + "RETR 1\r\n", d);
  EXPECT_NE(t.output.find("+OK 0 octets\r\n.\r\n"), std::string::npos);
}

TEST(Pop3Session, RetrArgumentErrors) {
  Transcript t = converse(kLogin + "RETR\r\nRETR 0\r\nRETR 3\r\nRETR one\r\nRETR 1 2\r\n");
  EXPECT_EQ(after_login(t), "-ERR usage: RETR msg\r\n"
                            "-ERR no such message\r\n"
                            "-ERR no such message\r\n"
                            "-ERR invalid message number\r\n"
                            "-ERR usage: RETR msg\r\n");
  EXPECT_TRUE(t.retrieved.empty());
}

TEST(Pop3Session, RetrReadFailure) {
  FakeDriver d;
  d.messages = {std::nullopt, kMsg2};
  Transcript t = converse(kLogin + "RETR 1\r\nRETR 2\r\n", d);
  // The driver's detail (a path) never reaches the client.
  EXPECT_EQ(t.output.find("/var/blobs"), std::string::npos);
  EXPECT_NE(t.output.find("-ERR [SYS/TEMP] Temporary failure, try again later.\r\n+OK "),
            std::string::npos);

  d.read_error = Errc::not_found;
  t = converse(kLogin + "RETR 1\r\nNOOP\r\n", d);
  EXPECT_NE(t.output.find("-ERR [SYS/PERM] message no longer available\r\n+OK\r\n"),
            std::string::npos);
}

TEST(Pop3Session, TopHeadersAndBodyLines) {
  Transcript t = converse(kLogin + "TOP 1 0\r\nTOP 1 2\r\nTOP 1 100\r\n");
  const std::string head = "From: a@example.test\r\nSubject: one\r\n\r\n";
  const std::string top = "+OK top of message follows\r\n";
  EXPECT_EQ(after_login(t), top + head + ".\r\n" + top + head + "Hello\r\n..hidden\r\n.\r\n" +
                                top + head + "Hello\r\n..hidden\r\n...two\r\nlast\r\n.\r\n");
}

TEST(Pop3Session, TopOfMessageWithoutBody) {
  FakeDriver d;
  d.messages = {std::string("Subject: a\r\nX: b\r\n"), std::string("Subject: a")};
  Transcript t = converse(kLogin + "TOP 1 5\r\nTOP 2 0\r\n", d);
  EXPECT_NE(t.output.find("+OK top of message follows\r\nSubject: a\r\nX: b\r\n.\r\n"
                          "+OK top of message follows\r\nSubject: a\r\n.\r\n"),
            std::string::npos);
}

TEST(Pop3Session, TopArgumentErrors) {
  Transcript t = converse(kLogin + "TOP 1\r\nTOP 1 -1\r\nTOP 1 x\r\nTOP 3 1\r\nTOP 1 1 1\r\n");
  EXPECT_EQ(after_login(t), "-ERR usage: TOP msg lines\r\n"
                            "-ERR invalid number of lines\r\n"
                            "-ERR invalid number of lines\r\n"
                            "-ERR no such message\r\n"
                            "-ERR usage: TOP msg lines\r\n");
  EXPECT_TRUE(t.retrieved.empty());
}

TEST(Pop3Session, Uidl) {
  Transcript t = converse(kLogin + "UIDL\r\nUIDL 2\r\nUIDL 3\r\nUIDL a\r\nUIDL 1 2\r\n");
  EXPECT_EQ(after_login(t), "+OK unique-id listing follows\r\n1 uid-1\r\n2 uid-2\r\n.\r\n"
                            "+OK 2 uid-2\r\n"
                            "-ERR no such message\r\n"
                            "-ERR invalid message number\r\n"
                            "-ERR usage: UIDL [msg]\r\n");
}

TEST(Pop3Session, Noop) {
  Transcript t = converse(kLogin + "NOOP\r\nNOOP x\r\n");
  EXPECT_EQ(after_login(t), "+OK\r\n-ERR usage: NOOP\r\n");
}

TEST(Pop3Session, KeywordsAreCaseInsensitive) {
  Transcript t = converse("user alice\r\npAsS secret\r\nnoop\r\nList 2\r\nuidl 1\r\nquit\r\n");
  EXPECT_EQ(after_login(t), "+OK\r\n+OK 2 " + std::to_string(kMsg2.size()) +
                                "\r\n+OK 1 uid-1\r\n+OK Herald POP3 server signing off "
                                "(2 messages left)\r\n");
  EXPECT_TRUE(t.closed);
}

TEST(Pop3Session, BareLfAndExtraSpacesTolerated) {
  Transcript t = converse("USER alice\nPASS secret\nLIST  2 \r\n");
  EXPECT_EQ(after_login(t), "+OK 2 " + std::to_string(kMsg2.size()) + "\r\n");
}

// ---- deletion and UPDATE (RFC 1939 5, 6) ----

TEST(Pop3Session, DeletedMessagesAreHiddenButNotRemovedBeforeQuit) {
  Transcript t = converse(kLogin +
                          "DELE 1\r\nSTAT\r\nLIST\r\nLIST 1\r\nRETR 1\r\nTOP 1 0\r\n"
                          "DELE 1\r\nUIDL\r\nUIDL 1\r\n");
  EXPECT_EQ(after_login(t), "+OK message 1 deleted\r\n"
                            "+OK 1 " + std::to_string(kMsg2.size()) + "\r\n"
                            "+OK 1 messages (" + std::to_string(kMsg2.size()) + " octets)\r\n"
                            "2 " + std::to_string(kMsg2.size()) + "\r\n.\r\n"
                            "-ERR message 1 already deleted\r\n"
                            "-ERR message 1 already deleted\r\n"
                            "-ERR message 1 already deleted\r\n"
                            "-ERR message 1 already deleted\r\n"
                            "+OK unique-id listing follows\r\n2 uid-2\r\n.\r\n"
                            "-ERR message 1 already deleted\r\n");
  // The connection ended without QUIT: RFC 1939 6, no UPDATE, nothing removed.
  EXPECT_FALSE(t.applied);
  EXPECT_FALSE(t.closed);
  EXPECT_TRUE(t.retrieved.empty());
}

TEST(Pop3Session, QuitAppliesDeletions) {
  Transcript t = converse(kLogin + "DELE 2\r\nQUIT\r\nNOOP\r\n");
  EXPECT_EQ(after_login(t), "+OK message 2 deleted\r\n"
                            "+OK Herald POP3 server signing off (1 messages left)\r\n");
  ASSERT_TRUE(t.applied);
  EXPECT_EQ(*t.applied, (std::vector<std::size_t>{1}));
  EXPECT_TRUE(t.closed);
  EXPECT_TRUE(t.authenticated);
}

TEST(Pop3Session, QuitWithEverythingDeleted) {
  Transcript t = converse(kLogin + "DELE 2\r\nDELE 1\r\nQUIT\r\n");
  EXPECT_EQ(after_login(t), "+OK message 2 deleted\r\n+OK message 1 deleted\r\n"
                            "+OK Herald POP3 server signing off (maildrop empty)\r\n");
  ASSERT_TRUE(t.applied);
  EXPECT_EQ(*t.applied, (std::vector<std::size_t>{0, 1}));
}

TEST(Pop3Session, RsetUndoesDeletions) {
  Transcript t = converse(kLogin + "DELE 1\r\nDELE 2\r\nRSET\r\nSTAT\r\nRETR 2\r\nRSET 1\r\nQUIT\r\n");
  std::string total = std::to_string(kMsg1.size() + kMsg2.size());
  EXPECT_EQ(after_login(t), "+OK message 1 deleted\r\n+OK message 2 deleted\r\n"
                            "+OK maildrop has 2 messages (" + total + " octets)\r\n"
                            "+OK 2 " + total + "\r\n"
                            "+OK " + std::to_string(kMsg2.size()) + " octets\r\n" + kMsg2 +
                            ".\r\n-ERR usage: RSET\r\n"
                            "+OK Herald POP3 server signing off (2 messages left)\r\n");
  ASSERT_TRUE(t.applied);
  EXPECT_TRUE(t.applied->empty());
}

TEST(Pop3Session, DeleArgumentErrors) {
  Transcript t = converse(kLogin + "DELE\r\nDELE 0\r\nDELE 3\r\nDELE x\r\nDELE 1 2\r\nQUIT\r\n");
  EXPECT_EQ(after_login(t), "-ERR usage: DELE msg\r\n"
                            "-ERR no such message\r\n"
                            "-ERR no such message\r\n"
                            "-ERR invalid message number\r\n"
                            "-ERR usage: DELE msg\r\n"
                            "+OK Herald POP3 server signing off (2 messages left)\r\n");
  ASSERT_TRUE(t.applied);
  EXPECT_TRUE(t.applied->empty());
}

TEST(Pop3Session, UpdateFailure) {
  FakeDriver d;
  d.update_result = make_error(Errc::io, "disk full");
  Transcript t = converse(kLogin + "DELE 1\r\nQUIT\r\n", d);
  EXPECT_EQ(after_login(t), "+OK message 1 deleted\r\n-ERR some deleted messages not removed\r\n");
  EXPECT_TRUE(t.closed);
}

TEST(Pop3Session, DeletedIsEmptyOutsideTransaction) {
  Session s({}, "h");
  EXPECT_TRUE(s.deleted().empty());
}

// ---- pipelining (RFC 2449 6.6) ----

TEST(Pop3Session, PipelinedCommandsAnsweredInOrder) {
  Transcript t = converse("CAPA\r\nUSER alice\r\nPASS secret\r\nSTAT\r\nRETR 2\r\nDELE 1\r\n"
                          "TOP 2 0\r\nLIST\r\nQUIT\r\n");
  std::string total = std::to_string(kMsg1.size() + kMsg2.size());
  EXPECT_EQ(t.output, kGreeting + kCapa + kLoggedIn + "+OK 2 " + total + "\r\n" + "+OK " +
                          std::to_string(kMsg2.size()) + " octets\r\n" + kMsg2 + ".\r\n" +
                          "+OK message 1 deleted\r\n" + "+OK top of message follows\r\n" +
                          "Subject: two\r\n\r\n.\r\n" + "+OK 1 messages (" +
                          std::to_string(kMsg2.size()) + " octets)\r\n2 " +
                          std::to_string(kMsg2.size()) + "\r\n.\r\n" +
                          "+OK Herald POP3 server signing off (1 messages left)\r\n");
  EXPECT_EQ(t.retrieved, (std::vector<std::size_t>{1, 1}));
  ASSERT_TRUE(t.applied);
  EXPECT_EQ(*t.applied, (std::vector<std::size_t>{0}));
}

TEST(Pop3Session, StepResumesAfterRetrieve) {
  Session s({}, "h");
  s.feed("USER a\r\nPASS b\r\n");
  ASSERT_EQ(s.step().action, Action::authenticate);
  (void)s.on_authenticated(AuthResult::ok, {{3, "x"}});
  s.feed("NOOP\r\nRETR 1\r\nNOOP\r\nQUIT\r\n");
  Step step = s.step();
  EXPECT_EQ(step.output, "+OK\r\n");
  EXPECT_EQ(step.action, Action::retrieve);
  EXPECT_EQ(s.retrieve_index(), 0u);
  EXPECT_EQ(s.on_retrieved(std::string("a\r\n")), "+OK 3 octets\r\na\r\n.\r\n");
  step = s.step();
  EXPECT_EQ(step.output, "+OK\r\n");
  EXPECT_EQ(step.action, Action::update);
  EXPECT_TRUE(s.deleted().empty());
  EXPECT_EQ(s.on_updated(Status{}), "+OK Herald POP3 server signing off (1 messages left)\r\n");
  EXPECT_TRUE(s.closed());
  EXPECT_EQ(s.step().action, Action::close);
}

// ---- limits and errors ----

TEST(Pop3Session, UnknownAndEmptyCommands) {
  Transcript t = converse("HELO x\r\n\r\nRETRX 1\r\nNOOP\r\n");
  EXPECT_EQ(t.output, kGreeting + "-ERR unknown command\r\n-ERR unknown command\r\n"
                                  "-ERR unknown command\r\n" + kWrongState);
}

TEST(Pop3Session, LineLengthLimit) {
  // RFC 2449 4: 255 octets including CRLF is allowed, one more is not.
  std::string fits = "USER " + std::string(248, 'a');  // 253 + CRLF = 255
  std::string too_long = "USER " + std::string(249, 'a');
  Transcript t = converse(too_long + "\r\n" + fits + "\r\n");
  EXPECT_EQ(t.output, kGreeting + "-ERR line too long\r\n+OK send PASS\r\n");
}

TEST(Pop3Session, OverlongLineIsDroppedAndSessionGoesOn) {
  std::string junk = "PASS " + std::string(5000, 'x');
  Transcript t = converse("USER alice\r\n" + junk + "\r\nPASS secret\r\n");
  EXPECT_EQ(t.output, kGreeting + "+OK send PASS\r\n-ERR line too long\r\n" +
                          kLoggedIn.substr(std::string("+OK send PASS\r\n").size()));
  ASSERT_EQ(t.logins.size(), 1u);
  EXPECT_EQ(t.logins[0].second, "secret");  // no part of the long line was used
}

TEST(Pop3Session, TooManyErrorsCloses) {
  std::string input;
  for (int i = 0; i < 10; ++i) input += "BOGUS\r\n";
  input += "USER alice\r\n";
  Transcript t = converse(input);
  std::string expected = kGreeting;
  for (int i = 0; i < 10; ++i) expected += "-ERR unknown command\r\n";
  expected += "-ERR too many errors\r\n";
  EXPECT_EQ(t.output, expected);
  EXPECT_TRUE(t.closed);
}

TEST(Pop3Session, ErrorsBelowTheLimitAreTolerated) {
  std::string input;
  for (int i = 0; i < 9; ++i) input += "BOGUS\r\n";
  Transcript t = converse(input + kLogin + "NOOP\r\n");
  EXPECT_FALSE(t.closed);
  EXPECT_NE(t.output.find(kLoggedIn + "+OK\r\n"), std::string::npos);
}

TEST(Pop3Session, EveryKindOfErrorCounts) {
  Pop3Limits limits = test_limits();
  limits.max_errors = 5;
  // unknown, wrong state, bad arguments, over-long line, failed login.
  Transcript t = converse("XYZZY\r\nSTAT\r\nUSER\r\n" + std::string(300, 'a') +
                              "\r\nUSER alice\r\nPASS nope\r\nUSER alice\r\nPASS secret\r\n",
                          FakeDriver{}, limits);
  EXPECT_EQ(t.output, kGreeting + "-ERR unknown command\r\n" + kWrongState +
                          "-ERR usage: USER name\r\n-ERR line too long\r\n+OK send PASS\r\n" +
                          kAuthFailed + "-ERR too many errors\r\n");
  EXPECT_TRUE(t.closed);
  EXPECT_FALSE(t.authenticated);
  EXPECT_EQ(t.logins.size(), 1u);
}

TEST(Pop3Session, RefusalsAboutMessagesDoNotCount) {
  Pop3Limits limits = test_limits();
  limits.max_errors = 2;
  Transcript t = converse(kLogin + "DELE 1\r\nDELE 1\r\nRETR 1\r\nLIST 9\r\nNOOP\r\n",
                          FakeDriver{}, limits);
  EXPECT_FALSE(t.closed);
  EXPECT_EQ(after_login(t), "+OK message 1 deleted\r\n-ERR message 1 already deleted\r\n"
                            "-ERR message 1 already deleted\r\n-ERR no such message\r\n+OK\r\n");
}

TEST(Pop3Session, ErrorsInTransactionClose) {
  Pop3Limits limits = test_limits();
  limits.max_errors = 2;
  Transcript t = converse(kLogin + "DELE 1\r\nFOO\r\nLIST x\r\nQUIT\r\n", FakeDriver{}, limits);
  EXPECT_EQ(after_login(t), "+OK message 1 deleted\r\n-ERR unknown command\r\n"
                            "-ERR invalid message number\r\n-ERR too many errors\r\n");
  EXPECT_TRUE(t.closed);
  EXPECT_FALSE(t.applied);  // closed for errors: no UPDATE, nothing removed
}

}  // namespace
}  // namespace herald::pop3

namespace herald::pop3 {
namespace {

// The TLS and SASL paths, driven step by step (RFC 2595, RFC 5034).
Pop3AuthOptions secure_options(bool tls) {
  Pop3AuthOptions o;
  o.starttls_available = !tls;
  o.tls_active = tls;
  o.plaintext_allowed = false;
  if (tls) o.mechanisms = {"PLAIN", "LOGIN"};
  return o;
}

TEST(Pop3Tls, PlaintextLoginRefusedBeforeTls) {
  Session s(test_limits(), "pop.test");
  s.set_auth_options(secure_options(false));
  s.feed("CAPA\r\nUSER alice\r\nAUTH PLAIN\r\n");
  Step step = s.step();
  EXPECT_EQ(step.output.find("\r\nUSER\r\n"), std::string::npos) << step.output;
  EXPECT_NE(step.output.find("\r\nSTLS\r\n"), std::string::npos) << step.output;
  EXPECT_NE(step.output.find("-ERR [AUTH] Plaintext authentication disallowed"), std::string::npos);
  EXPECT_EQ(step.action, Action::need_more);
}

TEST(Pop3Tls, StlsDropsPipelinedCommandsAndResets) {
  Session s(test_limits(), "pop.test");
  s.set_auth_options(secure_options(false));
  s.feed("STLS\r\nUSER mallory\r\nPASS x\r\n");
  Step step = s.step();
  EXPECT_EQ(step.output, "+OK Begin TLS negotiation\r\n");
  ASSERT_EQ(step.action, Action::starttls);
  s.discard_input();
  s.on_tls_started(secure_options(true));
  EXPECT_EQ(s.step().action, Action::need_more);  // nothing left to run
  s.feed("STLS\r\n");
  EXPECT_EQ(s.step().output, "-ERR TLS already active\r\n");
}

TEST(Pop3Tls, AuthPlainOpensTheMaildrop) {
  Session s(test_limits(), "pop.test");
  s.set_auth_options(secure_options(true));
  // "\0alice\0secret" in base64.
  s.feed("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
  Step step = s.step();
  ASSERT_EQ(step.action, Action::sasl_check);
  EXPECT_TRUE(s.auth_exchange().needs_password_check());
  EXPECT_EQ(s.auth_exchange().authcid(), "alice");
  EXPECT_EQ(s.auth_exchange().password(), "secret");
  Action next = Action::need_more;
  std::string reply = s.on_auth_checked(s.auth_exchange().password_checked(true), next);
  EXPECT_EQ(reply, "");
  ASSERT_EQ(next, Action::authenticate);
  EXPECT_TRUE(s.sasl_verified());
  EXPECT_EQ(s.user(), "alice");
  auto ev = s.take_auth_event();
  ASSERT_TRUE(ev);
  EXPECT_TRUE(ev->success);
  EXPECT_EQ(s.on_authenticated(AuthResult::ok, {{10, "u1"}}).rfind("+OK", 0), 0u);
  EXPECT_FALSE(s.sasl_verified());
}

TEST(Pop3Tls, AuthFailureAndMalformedResponses) {
  Session s(test_limits(), "pop.test");
  s.set_auth_options(secure_options(true));
  s.feed("AUTH PLAIN\r\n");
  Step step = s.step();
  EXPECT_EQ(step.output, "+ \r\n");  // empty challenge: send the credentials
  s.feed("AGFsaWNlAHdyb25n\r\n");
  step = s.step();
  ASSERT_EQ(step.action, Action::sasl_check);
  Action next = Action::need_more;
  EXPECT_EQ(s.on_auth_checked(s.auth_exchange().password_checked(false), next),
            "-ERR [AUTH] Authentication failed.\r\n");
  EXPECT_EQ(next, Action::need_more);
  s.feed("AUTH PLAIN !!!notbase64\r\nAUTH LOGIN\r\n*\r\n");
  step = s.step();
  EXPECT_NE(step.output.find("-ERR [AUTH] Invalid base64"), std::string::npos) << step.output;
  EXPECT_NE(step.output.find("+ VXNlcm5hbWU6\r\n"), std::string::npos) << step.output;  // "Username:"
  EXPECT_NE(step.output.find("-ERR Authentication cancelled."), std::string::npos) << step.output;
}

// RFC 3206 4: a check that could not be made (the store failed) is
// [SYS/TEMP], not [AUTH]: not counted as an error, and the client may try
// again, with a password or with SCRAM.
TEST(Pop3Tls, StoreFailureIsATemporaryFailure) {
  Pop3Limits limits = test_limits();
  limits.max_errors = 1;  // one error would close the session
  Session s(limits, "pop.test");
  Pop3AuthOptions options = secure_options(true);
  options.mechanisms.push_back("SCRAM-SHA-256");
  s.set_auth_options(options);
  s.feed("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
  ASSERT_EQ(s.step().action, Action::sasl_check);
  Action next = Action::need_more;
  EXPECT_EQ(s.on_auth_checked(s.auth_exchange().temp_failure("store: database is locked"), next),
            "-ERR [SYS/TEMP] Temporary failure, try again later.\r\n");
  EXPECT_EQ(next, Action::need_more);
  auto ev = s.take_auth_event();
  ASSERT_TRUE(ev);
  EXPECT_FALSE(ev->success);
  EXPECT_TRUE(ev->temporary);
  EXPECT_EQ(ev->user, "alice");
  // "n,,n=alice,r=abc"
  s.feed("AUTH SCRAM-SHA-256 biwsbj1hbGljZSxyPWFiYw==\r\n");
  ASSERT_EQ(s.step().action, Action::sasl_check);
  ASSERT_FALSE(s.auth_exchange().needs_password_check());
  EXPECT_EQ(s.on_auth_checked(s.auth_exchange().temp_failure("store: disk I/O error"), next),
            "-ERR [SYS/TEMP] Temporary failure, try again later.\r\n");
  EXPECT_TRUE(s.take_auth_event()->temporary);
  EXPECT_FALSE(s.closed());
  s.feed("AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
  ASSERT_EQ(s.step().action, Action::sasl_check);
  EXPECT_EQ(s.on_auth_checked(s.auth_exchange().password_checked(true), next), "");
  EXPECT_EQ(next, Action::authenticate);
}

}  // namespace
}  // namespace herald::pop3

// smtp/session_test.cpp - the SMTP session state machine, driven as the
// server driver drives it: greeting(), feed(), step() until need_more, and
// on_submitted() after each Action::submit.
//
// Every conversation runs twice (Dovecot's rule for parsers): each client
// write fed whole, then one byte at a time; both must give the same replies
// and the same submitted transactions. The one deliberate exception is the
// pipelining refusal, which only a whole write can show (a byte-at-a-time
// client is indistinguishable from one that waits for each reply).
#include "smtp/session.h"
#include "smtp/test_limits.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace herald::smtp {
namespace {

using namespace std::string_literals;

// FakePolicy - local domain example.test; the local part picks the outcome.
class FakePolicy {
 public:
  RcptDecision check_recipient(const Mailbox& m, std::uint64_t declared_size) {
    asked.push_back(m.str());
    declared_sizes.push_back(declared_size);
    if (m.domain.empty()) {  // bare "postmaster" (RFC 5321 4.5.1)
      return {RcptStatus::ok, {"postmaster@example.test"}};
    }
    if (m.domain != "example.test") return {RcptStatus::relay_denied, {}};
    static const std::map<std::string, RcptStatus> kOutcomes = {
        {"unknown", RcptStatus::unknown_user},
        {"full", RcptStatus::over_quota},
        {"loop", RcptStatus::alias_loop},
        {"huge", RcptStatus::alias_too_large},
        {"tmp", RcptStatus::temp_fail},
    };
    if (auto it = kOutcomes.find(m.local_part); it != kOutcomes.end()) return {it->second, {}};
    if (m.local_part == "sales") {
      return {RcptStatus::ok, {"alice@example.test", "bob@example.test"}};
    }
    return {RcptStatus::ok, {m.str()}};
  }
  SenderVerdict check_sender(const Mailbox&, bool, const std::string&) { return SenderVerdict::allowed; }
  std::vector<std::string> asked;
  std::vector<std::uint64_t> declared_sizes;
};

// answer_checks - the fake driver's part for Action::check_recipient and
// check_sender: answer from policy (the real driver does it off its I/O
// thread) and step on, gathering the output, until another action.
template <typename Policy>
Step answer_checks(Session& s, Policy& policy, Step step) {
  for (;;) {
    if (step.action == Action::check_recipient) {
      const RecipientCheck& q = s.recipient_check();
      s.on_recipient_checked(policy.check_recipient(q.forward_path, q.declared_size));
    } else if (step.action == Action::check_sender) {
      const SenderCheck& q = s.sender_check();
      s.on_sender_checked(policy.check_sender(q.reverse_path, q.null_sender, q.user));
    } else {
      return step;
    }
    Step next = s.step();
    step.output += next.output;
    step.action = next.action;
  }
}

enum class Chunking { whole, bytewise };

std::string chunking_name(const ::testing::TestParamInfo<Chunking>& info) {
  return info.param == Chunking::whole ? "Whole" : "Bytewise";
}

struct Conversation {
  std::string output;                 // the greeting and every reply, in order
  std::vector<Transaction> submitted;  // what each Action::submit handed over
  bool closed = false;
};

struct SubmitAnswer {
  SubmitOutcome outcome = SubmitOutcome::queued;
  std::string detail = "QUEUEID";
};

// run - one SMTP conversation. Each string of `writes` is one client write:
// up to and including EHLO, one command per write (the session refuses
// anything pipelined earlier, see PipeliningTest); after EHLO a write may
// hold a pipelined group. Chunking::whole feeds each write at once,
// Chunking::bytewise one octet at a time; after every feed the session is
// stepped until it needs more input, answering each submit with `answer`.
Conversation run(const std::vector<std::string>& writes, Chunking chunking,
                 const SmtpLimits& limits, const SubmitAnswer& answer = {}) {
  FakePolicy policy;
  Session s(limits, "mx.example.test");
  Conversation c;
  c.output = s.greeting();
  auto drive = [&] {
    for (;;) {
      Step st = answer_checks(s, policy, s.step());
      c.output += st.output;
      if (st.action == Action::submit) {
        c.submitted.push_back(s.transaction());
        s.on_submitted(answer.outcome, answer.detail);
        continue;  // the reply to the submission comes with the next step
      }
      if (st.action == Action::close) c.closed = true;
      return;
    }
  };
  for (const auto& w : writes) {
    if (chunking == Chunking::whole) {
      if (c.closed) break;
      s.feed(w);
      drive();
    } else {
      for (char ch : w) {
        if (c.closed) break;
        s.feed(std::string_view(&ch, 1));
        drive();
      }
    }
  }
  return c;
}

const std::string kGreeting = "220 mx.example.test ESMTP Herald\r\n";
const std::string kEhlo = "EHLO client.test\r\n";
const std::string kMailOk = "250 2.1.0 Ok\r\n";
const std::string kRcptOk = "250 2.1.5 Ok\r\n";
const std::string kGoAhead = "354 End data with <CR><LF>.<CR><LF>\r\n";
const std::string kQueued = "250 2.0.0 Ok: queued as QUEUEID\r\n";
const std::string kOk = "250 2.0.0 Ok\r\n";
const std::string kBye = "221 2.0.0 Bye\r\n";
const std::string kNeedMail = "503 5.5.1 Error: need MAIL command\r\n";
const std::string kNeedRcpt = "503 5.5.1 Error: need RCPT command\r\n";
const std::string kBareLineEnd = "550 5.5.2 Error: bare <CR> or <LF> in message data\r\n";
const std::string kTooBig = "552 5.3.4 Error: message file too big\r\n";
const std::string kSync = "554 5.5.0 mx.example.test Error: SMTP protocol synchronization\r\n";

std::string ehlo_reply(const SmtpLimits& l) {
  std::string r = "250-mx.example.test\r\n250-PIPELINING\r\n";
  r += "250-SIZE " + std::to_string(l.max_message_size) + "\r\n";
  if (l.vrfy != VrfyMode::disabled) r += "250-VRFY\r\n";
  r += "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n";
  return r;
}

class SessionTest : public ::testing::TestWithParam<Chunking> {
 protected:
  Conversation run(const std::vector<std::string>& writes, const SubmitAnswer& answer = {}) {
    return smtp::run(writes, GetParam(), limits_, answer);
  }
  // run_ehlo - EHLO in its own write, then `writes`.
  Conversation run_ehlo(std::vector<std::string> writes, const SubmitAnswer& answer = {}) {
    writes.insert(writes.begin(), kEhlo);
    return run(writes, answer);
  }
  // start - what the server says up to and including its EHLO reply.
  std::string start() const { return kGreeting + ehlo_reply(limits_); }

  SmtpLimits limits_ = test_limits();
};

INSTANTIATE_TEST_SUITE_P(WholeAndBytewise, SessionTest,
                         ::testing::Values(Chunking::whole, Chunking::bytewise), chunking_name);

// --- Session commands ----------------------------------------------------

TEST_P(SessionTest, GreetingAndQuit) {
  auto c = run({"QUIT\r\n", "NOOP\r\n"});
  EXPECT_EQ(c.output, kGreeting + kBye);  // nothing after QUIT is answered
  EXPECT_TRUE(c.closed);
}

TEST_P(SessionTest, EhloAdvertisesExtensions) {
  auto c = run({kEhlo});
  EXPECT_EQ(c.output,
            "220 mx.example.test ESMTP Herald\r\n"
            "250-mx.example.test\r\n"
            "250-PIPELINING\r\n"
            "250-SIZE 26214400\r\n"
            "250-VRFY\r\n"
            "250-8BITMIME\r\n"
            "250-ENHANCEDSTATUSCODES\r\n"
            "250-DSN\r\n"
            "250-SMTPUTF8\r\n"
            "250 CHUNKING\r\n");
  EXPECT_FALSE(c.closed);
}

TEST_P(SessionTest, EhloSizeFollowsLimitAndVrfyHiddenWhenDisabled) {
  limits_.max_message_size = 1000;
  limits_.vrfy = VrfyMode::disabled;
  auto c = run({kEhlo});
  EXPECT_EQ(c.output, kGreeting +
                          "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
                          "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-DSN\r\n250-SMTPUTF8\r\n"
                          "250 CHUNKING\r\n");
}

TEST_P(SessionTest, EhloAndHeloNeedAHostname) {
  auto c = run({"EHLO\r\n", "HELO  \r\n", kEhlo});
  EXPECT_EQ(c.output, kGreeting + "501 5.5.4 Syntax: EHLO hostname\r\n" +
                          "501 5.5.4 Syntax: HELO hostname\r\n" + ehlo_reply(limits_));
}

TEST_P(SessionTest, HeloTransaction) {
  // Without EHLO there is no pipelining: one command per write, and no
  // ESMTP parameters.
  auto c = run({"HELO client.test\r\n", "MAIL FROM:<alice@example.test> SIZE=10\r\n",
                "MAIL FROM:<alice@example.test>\r\n", "RCPT TO:<bob@example.test>\r\n",
                "DATA\r\n", "Hi\r\n.\r\n", "QUIT\r\n"});
  EXPECT_EQ(c.output, kGreeting + "250 2.0.0 mx.example.test\r\n" +
                          "555 5.5.4 Error: parameters need EHLO\r\n" + kMailOk + kRcptOk +
                          kGoAhead + kQueued + kBye);
  ASSERT_EQ(c.submitted.size(), 1u);
  EXPECT_EQ(c.submitted[0].data, "Hi\r\n");
}

TEST_P(SessionTest, NoopRsetHelp) {
  auto c = run({"NOOP\r\n", "RSET\r\n", "HELP\r\n", "noop ignored args\r\n"});
  EXPECT_EQ(c.output, kGreeting + kOk + kOk +
                          "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT "
                          "HELP VRFY\r\n" +
                          kOk);
}

TEST_P(SessionTest, VerbsAreCaseInsensitive) {
  auto c = run({"ehlo client.test\r\n",
                "mail from:<alice@example.test>\r\nrcpt to:<bob@example.test>\r\ndata\r\n",
                "x\r\n.\r\n", "quit\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kQueued + kBye);
}

TEST_P(SessionTest, VrfyAmbiguousByDefault) {
  auto c = run_ehlo({"VRFY bob@example.test\r\n"});
  EXPECT_EQ(c.output,
            start() + "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n");
}

TEST_P(SessionTest, VrfyDisabled) {
  limits_.vrfy = VrfyMode::disabled;
  auto c = run_ehlo({"VRFY bob@example.test\r\n"});
  EXPECT_EQ(c.output, start() + "502 5.5.1 VRFY command is disabled\r\n");
}

TEST_P(SessionTest, VrfyVerify) {
  limits_.vrfy = VrfyMode::verify;
  auto c = run_ehlo({"VRFY bob@example.test\r\n", "VRFY <Bob@Example.TEST>\r\n",
                     "VRFY unknown@example.test\r\n", "VRFY full@example.test\r\n",
                     "VRFY ;sleep 1;\r\n"});
  EXPECT_EQ(c.output, start() + "250 2.1.5 <bob@example.test>\r\n" +
                          "250 2.1.5 <Bob@example.test>\r\n" + "550 5.1.1 User unknown\r\n" +
                          "252 2.0.0 Cannot VRFY user\r\n" + "501 5.1.3 Bad address syntax\r\n");
}

TEST_P(SessionTest, UnofferedVerbsAre502) {
  // RFC 5321 4.5.1 / 7.3: known verbs we do not implement.
  auto c = run_ehlo({"EXPN staff\r\n", "SEND FROM:<a@example.test>\r\n",
                     "SOML FROM:<a@example.test>\r\n", "SAML FROM:<a@example.test>\r\n",
                     "TURN\r\n", "NOOP\r\n"});
  std::string e502 = "502 5.5.1 Error: command not implemented\r\n";
  EXPECT_EQ(c.output, start() + e502 + e502 + e502 + e502 + e502 + kOk);
  EXPECT_FALSE(c.closed);
}

TEST_P(SessionTest, UnknownCommandIs500AndSessionContinues) {
  auto c = run_ehlo({"FOO bar\r\n", "\r\n", "NOOP\r\n"});
  std::string e500 = "500 5.5.2 Error: command not recognized\r\n";
  EXPECT_EQ(c.output, start() + e500 + e500 + kOk);
}

TEST_P(SessionTest, NulInCommand) {
  auto c = run_ehlo({"NO\0OP\r\n"s, "NOOP\r\n"});
  EXPECT_EQ(c.output, start() + "500 5.5.2 Error: NUL character in command\r\n" + kOk);
}

TEST_P(SessionTest, CommandLineLimitIs512OctetsWithCrlf) {
  // RFC 5321 4.5.3.1.4: 512 octets including CRLF.
  std::string longest = "NOOP " + std::string(505, 'x') + "\r\n";
  std::string too_long = "NOOP " + std::string(506, 'x') + "\r\n";
  ASSERT_EQ(longest.size(), 512u);
  // The tail of an over-long line must not be run as a command.
  std::string huge = "NOOP " + std::string(3000, 'x') + " QUIT\r\n";
  auto c = run_ehlo({longest, too_long, "NOOP\r\n", huge, "NOOP\r\n"});
  std::string e500 = "500 5.5.2 Error: line too long\r\n";
  EXPECT_EQ(c.output, start() + kOk + e500 + kOk + e500 + kOk);
  EXPECT_FALSE(c.closed);
}

// --- Sequence errors -----------------------------------------------------

TEST_P(SessionTest, MailBeforeEhlo) {
  auto c = run({"MAIL FROM:<alice@example.test>\r\n", "RCPT TO:<bob@example.test>\r\n",
                "DATA\r\n", kEhlo});
  std::string e503 = "503 5.5.1 Error: send HELO/EHLO first\r\n";
  EXPECT_EQ(c.output, kGreeting + e503 + e503 + e503 + ehlo_reply(limits_));
}

TEST_P(SessionTest, NestedMail) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nMAIL FROM:<carol@example.test>\r\n"
                     "RCPT TO:<bob@example.test>\r\nDATA\r\n",
                     "x\r\n.\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + "503 5.5.1 Error: nested MAIL command\r\n" + kRcptOk +
                          kGoAhead + kQueued);
  ASSERT_EQ(c.submitted.size(), 1u);
  EXPECT_EQ(c.submitted[0].sender(), "alice@example.test");  // the first MAIL stands
}

TEST_P(SessionTest, RcptAndDataOutOfOrder) {
  auto c = run_ehlo({"RCPT TO:<bob@example.test>\r\n", "DATA\r\n",
                     "MAIL FROM:<alice@example.test>\r\n", "DATA\r\n"});
  EXPECT_EQ(c.output, start() + kNeedMail + kNeedMail + kMailOk + kNeedRcpt);
}

TEST_P(SessionTest, DataTakesNoArguments) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n",
                     "DATA now\r\n", "DATA\r\n", "x\r\n.\r\n"});
  EXPECT_EQ(c.output,
            start() + kMailOk + kRcptOk + "501 5.5.4 Syntax: DATA\r\n" + kGoAhead + kQueued);
}

TEST_P(SessionTest, RsetEndsTheTransaction) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nRSET\r\n",
                     "DATA\r\n", "MAIL FROM:<carol@example.test>\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kOk + kNeedMail + kMailOk);
  EXPECT_TRUE(c.submitted.empty());
}

TEST_P(SessionTest, EhloResetsTheTransaction) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\n", kEhlo, "RCPT TO:<bob@example.test>\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + ehlo_reply(limits_) + kNeedMail);
}

// --- The happy path ------------------------------------------------------

TEST_P(SessionTest, MailRcptDataHappyPath) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\n"
                     "RCPT TO:<bob@example.test>\r\n"
                     "RCPT TO:<sales@example.test>\r\n"
                     "DATA\r\n",
                     "Subject: hi\r\n"
                     "\r\n"
                     "..leading dot\r\n"  // RFC 5321 4.5.2: the client doubled it
                     "..\r\n"
                     "...\r\n"
                     "not.a.dot. line\r\n"
                     "\r\n"
                     ".\r\n",
                     "QUIT\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kRcptOk + kGoAhead + kQueued + kBye);
  EXPECT_TRUE(c.closed);
  ASSERT_EQ(c.submitted.size(), 1u);
  const Transaction& tx = c.submitted[0];
  EXPECT_FALSE(tx.null_sender);
  EXPECT_EQ(tx.sender(), "alice@example.test");
  EXPECT_FALSE(tx.smtputf8);
  EXPECT_FALSE(tx.body_8bit);
  ASSERT_EQ(tx.recipients.size(), 2u);
  EXPECT_EQ(tx.recipients[0].forward_path.str(), "bob@example.test");
  EXPECT_EQ(tx.recipients[0].deliver_to, std::vector<std::string>{"bob@example.test"});
  EXPECT_EQ(tx.recipients[1].forward_path.str(), "sales@example.test");
  EXPECT_EQ(tx.recipients[1].deliver_to,
            (std::vector<std::string>{"alice@example.test", "bob@example.test"}));
  EXPECT_EQ(tx.data,
            "Subject: hi\r\n"
            "\r\n"
            ".leading dot\r\n"
            ".\r\n"
            "..\r\n"
            "not.a.dot. line\r\n"
            "\r\n");
}

TEST_P(SessionTest, EmptyMessage) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n",
                     ".\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kQueued);
  ASSERT_EQ(c.submitted.size(), 1u);
  EXPECT_EQ(c.submitted[0].data, "");
}

TEST_P(SessionTest, TwoTransactionsInOneSession) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n",
                     "one\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\n",
                     "two\r\n.\r\nQUIT\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kQueued + kMailOk + kRcptOk +
                          kGoAhead + kQueued + kBye);
  ASSERT_EQ(c.submitted.size(), 2u);
  EXPECT_EQ(c.submitted[0].data, "one\r\n");
  EXPECT_EQ(c.submitted[1].data, "two\r\n");
  EXPECT_TRUE(c.submitted[1].null_sender);
  ASSERT_EQ(c.submitted[1].recipients.size(), 1u);  // nothing left from the first
  EXPECT_EQ(c.submitted[1].recipients[0].forward_path.str(), "carol@example.test");
}

TEST_P(SessionTest, PipelinedGroupAnsweredInOrder) {
  // RFC 2920: after EHLO a client may send MAIL, RCPT..., DATA in one write.
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\n"
                     "RCPT TO:<unknown@example.test>\r\n"
                     "RCPT TO:<bob@example.test>\r\n"
                     "NOOP\r\n"
                     "DATA\r\n",
                     "x\r\n.\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk +
                          "550 5.1.1 <unknown@example.test>: Recipient address rejected: User "
                          "unknown\r\n" +
                          kRcptOk + kOk + kGoAhead + kQueued);
}

TEST_P(SessionTest, SubmitTempFail) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n",
                     "x\r\n.\r\n", "RCPT TO:<bob@example.test>\r\n"},
                    {SubmitOutcome::temp_fail, "disk full"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead +
                          "451 4.3.0 Error: queue file write error (disk full)\r\n" + kNeedMail);
  EXPECT_EQ(c.submitted.size(), 1u);
}

TEST_P(SessionTest, SubmitRejected) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n",
                     "x\r\n.\r\n"},
                    {SubmitOutcome::rejected, "Message refused"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + "554 5.7.1 Message refused\r\n");
}

// --- MAIL and RCPT arguments ---------------------------------------------

TEST_P(SessionTest, BadSenderAddresses) {
  std::string d256 = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                     std::string(63, 'c') + "." + std::string(62, 'd') + ".e";
  auto c = run_ehlo({"MAIL FROM:<;sleep 1;>\r\n", "MAIL FROM:alice@example.test\r\n",
                     "MAIL FROM:<" + std::string(65, 'a') + "@example.test>\r\n",
                     "MAIL FROM:<alice@" + d256 + ">\r\n", "MAIL FROM:<postmaster>\r\n",
                     "MAIL TO:<alice@example.test>\r\n",
                     "MAIL FROM:<" + std::string(64, 'a') + "@example.test>\r\n"});
  EXPECT_EQ(c.output, start() + "501 5.1.7 Bad sender address syntax\r\n" +
                          "501 5.1.7 Bad sender address syntax\r\n" +
                          "501 5.1.7 Sender address too long\r\n" +
                          "501 5.1.7 Sender address too long\r\n" +
                          "501 5.1.7 Bad sender address syntax\r\n" +
                          "501 5.5.4 Syntax: MAIL FROM:<address>\r\n" + kMailOk);
}

TEST_P(SessionTest, BadRecipientAddresses) {
  std::string d256 = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                     std::string(63, 'c') + "." + std::string(62, 'd') + ".e";
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\n", "RCPT TO:<;sleep 1;>\r\n",
                     "RCPT TO:bob@example.test\r\n", "RCPT TO:<>\r\n",
                     "RCPT TO:<" + std::string(65, 'b') + "@example.test>\r\n",
                     "RCPT TO:<bob@" + d256 + ">\r\n", "RCPT FROM:<bob@example.test>\r\n",
                     "DATA\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + "501 5.1.3 Bad recipient address syntax\r\n" +
                          "501 5.1.3 Bad recipient address syntax\r\n" +
                          "501 5.1.3 Bad recipient address syntax\r\n" +
                          "501 5.1.3 Recipient address too long\r\n" +
                          "501 5.1.3 Recipient address too long\r\n" +
                          "501 5.5.4 Syntax: RCPT TO:<address>\r\n" + kNeedRcpt);
}

TEST_P(SessionTest, NullSender) {
  auto c = run_ehlo({"MAIL FROM:<>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n", "bounce\r\n.\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kQueued);
  ASSERT_EQ(c.submitted.size(), 1u);
  EXPECT_TRUE(c.submitted[0].null_sender);
  EXPECT_EQ(c.submitted[0].sender(), "");
}

TEST_P(SessionTest, SourceRouteIsIgnored) {
  auto c = run_ehlo({"MAIL FROM:<@a.example,@b.example:alice@example.test>\r\n"
                     "RCPT TO:<@relay.example:bob@example.test>\r\nDATA\r\n",
                     "x\r\n.\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kQueued);
  ASSERT_EQ(c.submitted.size(), 1u);
  EXPECT_EQ(c.submitted[0].sender(), "alice@example.test");
  ASSERT_EQ(c.submitted[0].recipients.size(), 1u);
  EXPECT_EQ(c.submitted[0].recipients[0].forward_path.str(), "bob@example.test");
}

TEST_P(SessionTest, PostmasterWithoutDomain) {
  // RFC 5321 4.5.1: RCPT TO:<Postmaster> must be accepted.
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nRCPT TO:<Postmaster>\r\nDATA\r\n",
                     "x\r\n.\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kQueued);
  ASSERT_EQ(c.submitted.size(), 1u);
  ASSERT_EQ(c.submitted[0].recipients.size(), 1u);
  EXPECT_EQ(c.submitted[0].recipients[0].forward_path.local_part, "postmaster");
  EXPECT_EQ(c.submitted[0].recipients[0].forward_path.domain, "");
  EXPECT_EQ(c.submitted[0].recipients[0].deliver_to,
            std::vector<std::string>{"postmaster@example.test"});
}

TEST_P(SessionTest, SizeParameter) {
  // RFC 1870 6: refuse at MAIL what will not fit.
  limits_.max_message_size = 1000;
  auto c = run_ehlo({"MAIL FROM:<alice@example.test> SIZE=1001\r\n",
                     "MAIL FROM:<alice@example.test> SIZE=99999999999999999999999\r\n",
                     "MAIL FROM:<alice@example.test> SIZE=\r\n",
                     "MAIL FROM:<alice@example.test> SIZE=1000\r\n"});
  EXPECT_EQ(c.output, start() + "552 5.3.4 Message size exceeds fixed limit\r\n" +
                          "501 5.5.4 Bad SIZE parameter\r\n" +
                          "501 5.5.4 Bad SIZE parameter\r\n" + kMailOk);
}

TEST_P(SessionTest, BodyParameter) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test> BODY=BINARYMIME\r\n",
                     "MAIL FROM:<alice@example.test> body=8bitmime\r\n"
                     "RCPT TO:<bob@example.test>\r\nDATA\r\n",
                     "caf\xC3\xA9\r\n.\r\n",
                     "MAIL FROM:<alice@example.test> BODY=7BIT\r\n"
                     "RCPT TO:<bob@example.test>\r\nDATA\r\n",
                     "cafe\r\n.\r\n"});
  EXPECT_EQ(c.output, start() + "555 5.5.4 Unsupported BODY parameter\r\n" + kMailOk + kRcptOk +
                          kGoAhead + kQueued + kMailOk + kRcptOk + kGoAhead + kQueued);
  ASSERT_EQ(c.submitted.size(), 2u);
  EXPECT_TRUE(c.submitted[0].body_8bit);
  EXPECT_EQ(c.submitted[0].data, "caf\xC3\xA9\r\n");
  EXPECT_FALSE(c.submitted[1].body_8bit);
}

TEST_P(SessionTest, UnsupportedParameters) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test> MT-PRIORITY=3\r\n",
                     "MAIL FROM:<alice@example.test> SMTPUTF8=yes\r\n",
                     "MAIL FROM:<alice@example.test>\r\n",
                     "RCPT TO:<bob@example.test> XFOO=1\r\n"});
  EXPECT_EQ(c.output, start() + "555 5.5.4 Unsupported parameter MT-PRIORITY\r\n" +
                          "555 5.5.4 Unsupported parameter SMTPUTF8\r\n" + kMailOk +
                          "555 5.5.4 Unsupported parameter XFOO\r\n");
}

// RFC 3461: DSN is offered (EHLO above); RET and ENVID on MAIL, NOTIFY and
// ORCPT on RCPT are kept with the transaction, decoded; bad ones get 501.
TEST_P(SessionTest, DsnParameters) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test> RET=BOTH\r\n",
                     "MAIL FROM:<alice@example.test> RET=FULL RET=HDRS\r\n",
                     "MAIL FROM:<alice@example.test> ENVID=a+2\r\n",
                     "MAIL FROM:<alice@example.test> RET=hdrs ENVID=job+2B42\r\n",
                     "RCPT TO:<bob@example.test> NOTIFY=NEVER,SUCCESS\r\n",
                     "RCPT TO:<bob@example.test> ORCPT=rfc822\r\n",
                     "RCPT TO:<bob@example.test> NOTIFY=SUCCESS NOTIFY=FAILURE\r\n",
                     "RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+2Bx@example.test\r\n",
                     "RCPT TO:<carol@example.test>\r\nDATA\r\n", "x\r\n.\r\n"});
  EXPECT_EQ(c.output, start() + "501 5.5.4 Bad RET parameter\r\n" + "501 5.5.4 Bad RET parameter\r\n" +
                          "501 5.5.4 Bad ENVID parameter\r\n" + kMailOk + "501 5.5.4 Bad NOTIFY parameter\r\n" +
                          "501 5.5.4 Bad ORCPT parameter\r\n" + "501 5.5.4 Bad NOTIFY parameter\r\n" + kRcptOk +
                          kRcptOk + kGoAhead + kQueued);
  ASSERT_EQ(c.submitted.size(), 1u);
  const Transaction& tx = c.submitted[0];
  EXPECT_EQ(tx.ret, DsnRet::hdrs);
  EXPECT_EQ(tx.envid, "job+42");
  ASSERT_EQ(tx.recipients.size(), 2u);
  EXPECT_EQ(notify_text(tx.recipients[0].notify), "SUCCESS,FAILURE");
  ASSERT_TRUE(tx.recipients[0].orcpt);
  EXPECT_EQ(tx.recipients[0].orcpt->text(), "rfc822;Bob+x@example.test");
  EXPECT_FALSE(tx.recipients[1].notify);
  EXPECT_FALSE(tx.recipients[1].orcpt);
}

TEST_P(SessionTest, Utf8AddressNeedsSmtputf8) {
  // RFC 6531 3.4: SMTPUTF8 on MAIL covers the whole transaction.
  auto c = run_ehlo({"MAIL FROM:<j\xC3\xBCrgen@example.test>\r\n",
                     "MAIL FROM:<alice@example.test>\r\nRCPT TO:<j\xC3\xBCrgen@example.test>\r\n"
                     "RSET\r\n",
                     "MAIL FROM:<j\xC3\xBCrgen@example.test> SMTPUTF8\r\n"
                     "RCPT TO:<bob@example.test>\r\n"
                     "RCPT TO:<z\xC3\xB6\xC3\xA9@example.test>\r\n"
                     "DATA\r\n",
                     "x\r\n.\r\n"});
  std::string e553 = "553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n";
  EXPECT_EQ(c.output, start() + e553 + kMailOk + e553 + kOk + kMailOk + kRcptOk + kRcptOk +
                          kGoAhead + kQueued);
  ASSERT_EQ(c.submitted.size(), 1u);
  const Transaction& tx = c.submitted[0];
  EXPECT_TRUE(tx.smtputf8);
  EXPECT_EQ(tx.sender(), "j\xC3\xBCrgen@example.test");
  ASSERT_EQ(tx.recipients.size(), 2u);
  EXPECT_EQ(tx.recipients[1].forward_path.str(), "z\xC3\xB6\xC3\xA9@example.test");
}

// RFC 6531 3.3: UTF-8 in a path must be well-formed (RFC 3629): issue 11's
// sender, an overlong form, a surrogate, Latin-1 without SMTPUTF8. Nothing
// of them reaches the transaction.
TEST_P(SessionTest, MalformedUtf8AddressIsRefused) {
  auto c = run_ehlo({"MAIL FROM:<\xff\xfe\x9b" "31m@example.org> SMTPUTF8\r\n",
                     "MAIL FROM:<\xc0\xaf@example.org> SMTPUTF8\r\n",
                     "MAIL FROM:<a@\xed\xa0\x80.example> SMTPUTF8\r\n",
                     "MAIL FROM:<\xe9t\xe9@example.org>\r\n",
                     "MAIL FROM:<j\xC3\xBCrgen@example.test> SMTPUTF8\r\n"
                     "RCPT TO:<\xff@example.test>\r\n"
                     "RCPT TO:<z\xC3\xB6\xC3@example.test>\r\n"
                     "RCPT TO:<bob@example.test>\r\n"
                     "DATA\r\n",
                     "x\r\n.\r\n"});
  std::string sender = "553 5.6.7 Bad UTF-8 syntax in sender address\r\n";
  std::string recipient = "553 5.6.7 Bad UTF-8 syntax in recipient address\r\n";
  EXPECT_EQ(c.output, start() + sender + sender + sender + sender + kMailOk + recipient + recipient + kRcptOk +
                          kGoAhead + kQueued);
  ASSERT_EQ(c.submitted.size(), 1u);
  ASSERT_EQ(c.submitted[0].recipients.size(), 1u);
  EXPECT_EQ(c.submitted[0].recipients[0].forward_path.str(), "bob@example.test");
}

// RFC 6531 3.7.1: an EHLO domain may be in UTF-8, well-formed.
TEST_P(SessionTest, MalformedUtf8HostnameIsRefused) {
  auto c = run({"EHLO \xff\xfe.example\r\n", "HELO caf\xc3\xa9\xc0\r\n", "EHLO caf\xc3\xa9.example\r\n",
                "MAIL FROM:<alice@example.test>\r\n"});
  std::string bad = "501 5.5.2 Bad UTF-8 syntax in hostname\r\n";
  EXPECT_EQ(c.output, kGreeting + bad + bad + ehlo_reply(limits_) + kMailOk);
}

TEST_P(SessionTest, VrfyRefusesMalformedUtf8) {
  std::string bad = "553 5.6.7 Bad UTF-8 syntax in address\r\n";
  limits_.vrfy = VrfyMode::verify;
  auto c = run_ehlo({"VRFY <\xff@example.test> SMTPUTF8\r\n", "VRFY <b\xc3\xbc@example.test> SMTPUTF8\r\n"});
  EXPECT_EQ(c.output, start() + bad + "250 2.1.5 <b\\xc3\\xbc@example.test>\r\n");
  limits_.vrfy = VrfyMode::ambiguous;
  c = run_ehlo({"VRFY \x1b[2J\xc3\r\n"});
  EXPECT_EQ(c.output, start() + bad);
}

TEST_P(SessionTest, TooManyRecipients) {
  // RFC 5321 4.5.3.1.10: 452, not 5xx, and the transaction goes on.
  limits_.max_recipients = 2;
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\n"
                     "RCPT TO:<a@example.test>\r\nRCPT TO:<b@example.test>\r\n"
                     "RCPT TO:<c@example.test>\r\nDATA\r\n",
                     "x\r\n.\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kRcptOk +
                          "452 4.5.3 Error: too many recipients\r\n" + kGoAhead + kQueued);
  ASSERT_EQ(c.submitted.size(), 1u);
  EXPECT_EQ(c.submitted[0].recipients.size(), 2u);
}

TEST_P(SessionTest, RecipientPolicyOutcomes) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\n"
                     "RCPT TO:<unknown@example.test>\r\n"
                     "RCPT TO:<bob@elsewhere.example>\r\n"
                     "RCPT TO:<full@example.test>\r\n"
                     "RCPT TO:<loop@example.test>\r\n"
                     "RCPT TO:<huge@example.test>\r\n"
                     "RCPT TO:<tmp@example.test>\r\n"
                     "DATA\r\n"});
  EXPECT_EQ(c.output,
            start() + kMailOk +
                "550 5.1.1 <unknown@example.test>: Recipient address rejected: User unknown\r\n" +
                "554 5.7.1 <bob@elsewhere.example>: Relay access denied\r\n" +
                "452 4.2.2 <full@example.test>: Mailbox full\r\n" +
                "550 5.4.6 <loop@example.test>: Alias expansion loop\r\n" +
                "550 5.2.4 <huge@example.test>: Alias expands to too many recipients\r\n" +
                "451 4.3.0 <tmp@example.test>: Temporary lookup failure\r\n" + kNeedRcpt);
  EXPECT_TRUE(c.submitted.empty());
}

// --- DATA ----------------------------------------------------------------

// data_with - the writes for a MAIL/RCPT/DATA group followed by `body`.
std::vector<std::string> data_with(std::string body) {
  return {"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n",
          std::move(body), "NOOP\r\n"};
}

TEST_P(SessionTest, MessageOverMaxSizeRefusedAfterEndOfData) {
  limits_.max_message_size = 64;
  auto c = run_ehlo(data_with(std::string(40, 'a') + "\r\n" + std::string(40, 'b') + "\r\n" +
                              "QUIT\r\n.\r\n"));
  // The data is consumed to its end (no reply in the middle), then refused;
  // the session is still in step, so the NOOP after it is a command.
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kTooBig + kOk);
  EXPECT_TRUE(c.submitted.empty());
}

TEST_P(SessionTest, MessageOfExactlyMaxSizeIsAccepted) {
  limits_.max_message_size = 10;
  auto c = run_ehlo(data_with("12345678\r\n.\r\n"));
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kQueued + kOk);
  ASSERT_EQ(c.submitted.size(), 1u);
  EXPECT_EQ(c.submitted[0].data, "12345678\r\n");
}

TEST_P(SessionTest, BareLfInDataRefused) {
  auto c = run_ehlo(data_with("one\ntwo\r\n.\r\n"));
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kBareLineEnd + kOk);
  EXPECT_TRUE(c.submitted.empty());
}

TEST_P(SessionTest, BareCrInDataRefused) {
  auto c = run_ehlo(data_with("one\rtwo\r\n.\r\n"));
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kBareLineEnd + kOk);
  EXPECT_TRUE(c.submitted.empty());
}

TEST_P(SessionTest, AllowBareLfNormalisesToCrlf) {
  limits_.allow_bare_lf = true;
  auto c = run_ehlo(data_with("one\ntwo\rthree\r\n..four\r\n.\r\n"));
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kQueued + kOk);
  ASSERT_EQ(c.submitted.size(), 1u);
  EXPECT_EQ(c.submitted[0].data, "one\r\ntwo\r\nthree\r\n.four\r\n");
}

TEST_P(SessionTest, OnlyCrlfDotCrlfEndsData) {
  // SMTP smuggling (2023): "<LF>.<CR><LF>" and "<CR><LF>.<LF>" must not end
  // the message, or a second, forged message rides inside the first.
  for (std::string fake_end : {"\n.\r\n", "\r\n.\n", "\r.\r\n"}) {
    SCOPED_TRACE(::testing::PrintToString(fake_end));
    auto c = run_ehlo(data_with("Hello" + fake_end +
                                "MAIL FROM:<evil@example.test>\r\n"
                                "RCPT TO:<carol@example.test>\r\n"
                                "DATA\r\n"
                                "smuggled\r\n"
                                ".\r\n"));
    EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kBareLineEnd + kOk);
    EXPECT_TRUE(c.submitted.empty());
  }
}

TEST_P(SessionTest, SmuggledEndStaysInsideTheMessageWithAllowBareLf) {
  limits_.allow_bare_lf = true;
  auto c = run_ehlo(data_with("Hello\n.\r\nMAIL FROM:<evil@example.test>\r\nsmuggled\r\n.\r\n"));
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead + kQueued + kOk);
  ASSERT_EQ(c.submitted.size(), 1u);  // one message, not two
  const std::string& data = c.submitted[0].data;
  EXPECT_EQ(data.rfind("Hello\r\n", 0), 0u);
  EXPECT_NE(data.find("\r\nMAIL FROM:<evil@example.test>\r\nsmuggled\r\n"), std::string::npos);
}

TEST_P(SessionTest, NulInDataRefused) {
  auto c = run_ehlo(data_with("a\0b\r\n.\r\n"s));
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + kGoAhead +
                          "554 5.6.0 Error: NUL character in message data\r\n" + kOk);
  EXPECT_TRUE(c.submitted.empty());
}

TEST_P(SessionTest, TextLineLimitIs1000OctetsWithCrlf) {
  // RFC 5321 4.5.3.1.6.
  auto ok = run_ehlo(data_with(std::string(998, 'x') + "\r\n.\r\n"));
  EXPECT_EQ(ok.output, start() + kMailOk + kRcptOk + kGoAhead + kQueued + kOk);
  ASSERT_EQ(ok.submitted.size(), 1u);
  EXPECT_EQ(ok.submitted[0].data, std::string(998, 'x') + "\r\n");

  // One octet more is refused at the end of data; a far longer line is cut
  // (bytewise, before its end arrives) and its tail skipped up to its LF.
  auto bad = run_ehlo(data_with(std::string(999, 'x') + "\r\n" + std::string(3000, 'y') +
                                "\r\nafter\r\n.\r\n"));
  EXPECT_EQ(bad.output, start() + kMailOk + kRcptOk + kGoAhead +
                            "500 5.5.2 Error: message line longer than 1000 octets\r\n" + kOk);
  EXPECT_TRUE(bad.submitted.empty());
}

// --- BDAT (RFC 3030) -----------------------------------------------------

TEST_P(SessionTest, BdatHappyPath) {
  // Chunks are raw octets: no dot-stuffing; a CRLF may span two chunks.
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
                     "BDAT 7\r\n"
                     "a\r\n.\r\nb",
                     "BDAT 4\r\n.\r\n\r",
                     "BDAT 4 LAST\r\n"
                     "\nc\r\n"s,
                     "QUIT\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + "250 2.0.0 7 octets received\r\n" +
                          "250 2.0.0 4 octets received\r\n" +  // RFC 3030 4.2: this chunk's
                          kQueued + kBye);
  ASSERT_EQ(c.submitted.size(), 1u);
  EXPECT_EQ(c.submitted[0].data, "a\r\n.\r\nb.\r\n\r\nc\r\n"s);
  EXPECT_EQ(c.submitted[0].sender(), "alice@example.test");
}

TEST_P(SessionTest, BdatZeroLast) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
                     "BDAT 3\r\nabcBDAT 0 last\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + "250 2.0.0 3 octets received\r\n" + kQueued);
  ASSERT_EQ(c.submitted.size(), 1u);
  EXPECT_EQ(c.submitted[0].data, "abc");
}

TEST_P(SessionTest, BdatOutOfSequenceConsumesItsChunk) {
  // The chunk "QUIT\r\n" must be eaten as data, not run as a command.
  auto c = run_ehlo({"BDAT 6\r\nQUIT\r\n", "NOOP\r\n",
                     "MAIL FROM:<alice@example.test>\r\nBDAT 6 LAST\r\nQUIT\r\nNOOP\r\n"});
  EXPECT_EQ(c.output, start() + kNeedMail + kOk + kMailOk + kNeedRcpt + kOk);
  EXPECT_FALSE(c.closed);
  EXPECT_TRUE(c.submitted.empty());
}

TEST_P(SessionTest, DataAfterBdatRefused) {
  // RFC 3030 2: DATA and BDAT may not be mixed in one transaction.
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
                     "BDAT 3\r\nabc",
                     "DATA\r\n", "BDAT 3 LAST\r\ndef"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + "250 2.0.0 3 octets received\r\n" +
                          "503 5.5.1 Error: DATA after BDAT\r\n" + kQueued);
  ASSERT_EQ(c.submitted.size(), 1u);
  EXPECT_EQ(c.submitted[0].data, "abcdef");
}

// RFC 5321 4.4: the trace header at the message's top names the
// recipients, so none may be added once the message has begun.
TEST_P(SessionTest, RcptAfterBdatRefused) {
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
                     "BDAT 3\r\nabc",
                     "RCPT TO:<carol@example.test>\r\n", "BDAT 3 LAST\r\ndef"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + "250 2.0.0 3 octets received\r\n" +
                          "503 5.5.1 Error: RCPT after BDAT\r\n" + kQueued);
  ASSERT_EQ(c.submitted.size(), 1u);
  EXPECT_EQ(c.submitted[0].recipients.size(), 1u);
}

TEST_P(SessionTest, BdatOverSizeIsDrainedThenRefused) {
  limits_.max_message_size = 10;
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
                     "BDAT 6\r\n123456",
                     "BDAT 6\r\nQUIT\r\n", "BDAT 2 LAST\r\nab", "NOOP\r\n",
                     "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
                     "BDAT 20 LAST\r\n" +
                         std::string(20, 'z'),
                     "NOOP\r\n"});
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + "250 2.0.0 6 octets received\r\n" + kTooBig +
                          kTooBig + kOk + kMailOk + kRcptOk + kTooBig + kOk);
  EXPECT_TRUE(c.submitted.empty());
}

// RFC 3030 3 and the DATA rules: what DATA refuses, BDAT refuses too, at
// the end of the message, whatever allow_bare_lf says.
TEST_P(SessionTest, BdatContentRules) {
  limits_.allow_bare_lf = true;
  limits_.max_text_line = 80;
  const std::string tx = "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n";
  struct Case {
    std::string chunk;
    std::string refusal;
  };
  const Case cases[] = {
      {"a\nb\r\n", kBareLineEnd},
      {"a\rb\r\n", kBareLineEnd},
      {"ab\r\n\r", kBareLineEnd},  // a CR at the very end
      {"a\0b\r\n"s, "554 5.6.0 Error: NUL character in message data\r\n"},
      {std::string(79, 'x') + "\r\n", "500 5.5.2 Error: message line longer than 80 octets\r\n"},
  };
  for (const Case& k : cases) {
    auto c = run_ehlo({tx + "BDAT 2\r\nok", "BDAT " + std::to_string(k.chunk.size()) + " LAST\r\n" + k.chunk,
                       "NOOP\r\n"});
    EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + "250 2.0.0 2 octets received\r\n" + k.refusal + kOk)
        << k.chunk;
    EXPECT_TRUE(c.submitted.empty()) << k.chunk;
  }
  // A line of exactly 80 octets with its CRLF passes.
  auto c = run_ehlo({tx + "BDAT 80 LAST\r\n" + std::string(78, 'x') + "\r\n"});
  EXPECT_EQ(c.submitted.size(), 1u);
}

// --- Junk commands and recipient overshoot (Postfix's limits) -------------

TEST_P(SessionTest, JunkCommandsPastTheLimitCountAsErrors) {
  limits_.junk_command_limit = 3;
  limits_.max_errors = 2;
  auto c = run_ehlo({"NOOP\r\n", "RSET\r\n", "HELP\r\n", "VRFY bob\r\n", "NOOP\r\n", "NOOP\r\n"});
  const std::string help = "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY\r\n";
  const std::string vrfy = "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery\r\n";
  EXPECT_EQ(c.output, start() + kOk + kOk + help + vrfy + kOk + "421 4.7.0 mx.example.test Error: too many errors\r\n");
  EXPECT_TRUE(c.closed);
}

TEST_P(SessionTest, DeliveredMailRestartsTheJunkAndErrorCounts) {
  limits_.junk_command_limit = 1;
  limits_.max_errors = 2;
  auto c = run_ehlo({"NOOP\r\n", "NOOP\r\n",  // one error
                     "MAIL FROM:<alice@example.test>\r\n", "RCPT TO:<bob@example.test>\r\n", "DATA\r\n",
                     "hi\r\n.\r\n", "NOOP\r\n", "NOOP\r\n", "QUIT\r\n"});
  EXPECT_EQ(c.output, start() + kOk + kOk + kMailOk + kRcptOk + kGoAhead + kQueued + kOk + kOk + kBye);
}

TEST_P(SessionTest, RecipientOvershootPastTheLimitCountsAsErrors) {
  limits_.max_recipients = 1;
  limits_.recipient_overshoot_limit = 2;
  limits_.max_errors = 2;
  std::string rcpts;
  for (int i = 0; i < 5; ++i) rcpts += "RCPT TO:<bob@example.test>\r\n";
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\n" + rcpts});
  const std::string too_many = "452 4.5.3 Error: too many recipients\r\n";
  EXPECT_EQ(c.output, start() + kMailOk + kRcptOk + too_many + too_many + too_many + too_many +
                          "421 4.7.0 mx.example.test Error: too many errors\r\n");
  EXPECT_TRUE(c.closed);
}

TEST_P(SessionTest, BdatWithoutSizeClosesTheSession) {
  // Without a size the end of the chunk is unknown: nothing can follow.
  auto c = run_ehlo({"BDAT LAST\r\n", "NOOP\r\n"});
  EXPECT_EQ(c.output, start() + "501 5.5.4 Syntax: BDAT size [LAST]\r\n");
  EXPECT_TRUE(c.closed);
}

// --- Error limit ---------------------------------------------------------

TEST_P(SessionTest, TooManyErrorsCloses) {
  limits_.max_errors = 3;
  auto c = run_ehlo({"FOO\r\n", "RCPT TO:<bob@example.test>\r\n", "BAR\r\n", "NOOP\r\n"});
  EXPECT_EQ(c.output, start() + "500 5.5.2 Error: command not recognized\r\n" + kNeedMail +
                          "500 5.5.2 Error: command not recognized\r\n" +
                          "421 4.7.0 mx.example.test Error: too many errors\r\n");
  EXPECT_TRUE(c.closed);
}

TEST_P(SessionTest, TooManyErrorsCountsBdatSequenceErrors) {
  limits_.max_errors = 2;
  auto c = run_ehlo({"FOO\r\n", "BDAT 4\r\nabcd", "NOOP\r\n"});
  EXPECT_EQ(c.output, start() + "500 5.5.2 Error: command not recognized\r\n" + kNeedMail +
                          "421 4.7.0 mx.example.test Error: too many errors\r\n");
  EXPECT_TRUE(c.closed);
}

TEST_P(SessionTest, RejectedRecipientsCountAsErrors) {
  limits_.max_errors = 2;
  auto c = run_ehlo({"MAIL FROM:<alice@example.test>\r\n"
                     "RCPT TO:<full@example.test>\r\n"  // 4xx: not the client's fault
                     "RCPT TO:<unknown@example.test>\r\n"
                     "RCPT TO:<bob@elsewhere.example>\r\n"
                     "NOOP\r\n"});
  EXPECT_EQ(c.output,
            start() + kMailOk + "452 4.2.2 <full@example.test>: Mailbox full\r\n" +
                "550 5.1.1 <unknown@example.test>: Recipient address rejected: User unknown\r\n" +
                "554 5.7.1 <bob@elsewhere.example>: Relay access denied\r\n" +
                "421 4.7.0 mx.example.test Error: too many errors\r\n");
  EXPECT_TRUE(c.closed);
}

// --- Pipelining refusal (whole writes only) -------------------------------

// RFC 2920 3.1 and Postfix's smtpd_forbid_unauth_pipelining: a client may not
// send before it has seen the EHLO reply, nor put anything after EHLO/HELO in
// the same write.
TEST(PipeliningTest, CommandsBeforeEhloReplyRefused) {
  SmtpLimits limits = test_limits();
  auto c = run({"EHLO client.test\r\nMAIL FROM:<alice@example.test>\r\n"}, Chunking::whole, limits);
  EXPECT_EQ(c.output, kGreeting + kSync);
  EXPECT_TRUE(c.closed);

  // Even a partial next line counts.
  auto partial = run({"EHLO client.test\r\nMA"}, Chunking::whole, limits);
  EXPECT_EQ(partial.output, kGreeting + kSync);

  // The same octets one at a time are a client that waited: accepted.
  auto slow = run({"EHLO client.test\r\nMAIL FROM:<alice@example.test>\r\n"}, Chunking::bytewise,
                  limits);
  EXPECT_EQ(slow.output, kGreeting + ehlo_reply(limits) + kMailOk);
}

TEST(PipeliningTest, GroupBeforeEhloRefused) {
  SmtpLimits limits = test_limits();
  auto c = run({"NOOP\r\nNOOP\r\n"}, Chunking::whole, limits);
  EXPECT_EQ(c.output, kGreeting + kSync);
  EXPECT_TRUE(c.closed);
}

TEST(PipeliningTest, HeloSessionMayNotPipeline) {
  SmtpLimits limits = test_limits();
  auto c = run({"HELO client.test\r\n", "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n"},
               Chunking::whole, limits);
  EXPECT_EQ(c.output, kGreeting + "250 2.0.0 mx.example.test\r\n" + kSync);
  EXPECT_TRUE(c.closed);
}

// RFC 2920 3.1: DATA, BDAT LAST, QUIT, STARTTLS and VRFY end a group;
// what follows them before their reply is refused and the client dropped.
TEST(PipeliningTest, NothingMayFollowTheLastCommandOfAGroup) {
  SmtpLimits limits = test_limits();
  const std::string tx = "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n";
  const std::string start = kGreeting + ehlo_reply(limits);
  // The body sent before the 354.
  auto data = run({kEhlo, tx + "DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n"}, Chunking::whole, limits);
  EXPECT_EQ(data.output, start + kMailOk + kRcptOk + kSync);
  EXPECT_TRUE(data.closed);
  EXPECT_TRUE(data.submitted.empty());
  // The smuggling shape: a refused RCPT, then DATA and a body of commands.
  auto smuggled = run({kEhlo, "MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@elsewhere.example>\r\n"
                              "DATA\r\nMAIL FROM:<evil@example.test>\r\nRCPT TO:<bob@example.test>\r\n"},
                      Chunking::whole, limits);
  EXPECT_EQ(smuggled.output,
            start + kMailOk + "554 5.7.1 <bob@elsewhere.example>: Relay access denied\r\n" + kSync);
  EXPECT_TRUE(smuggled.submitted.empty());
  // A whole second transaction after the first one's BDAT LAST.
  auto bdat = run({kEhlo, tx + "BDAT 4 LAST\r\nhi\r\n" + tx}, Chunking::whole, limits);
  EXPECT_EQ(bdat.output, start + kMailOk + kRcptOk + kSync);
  EXPECT_TRUE(bdat.submitted.empty());
  for (std::string last : {"QUIT", "STARTTLS", "VRFY bob"}) {
    auto c = run({kEhlo, last + "\r\nNOOP\r\n"}, Chunking::whole, limits);
    EXPECT_EQ(c.output, start + kSync) << last;
    EXPECT_TRUE(c.closed) << last;
  }
  // The end of the data may be followed by the next transaction (RFC 2920
  // 3.1: message content may start a group).
  auto next = run({kEhlo, tx + "DATA\r\n", "hi\r\n.\r\n" + tx + "QUIT\r\n"}, Chunking::whole, limits);
  EXPECT_EQ(next.output, start + kMailOk + kRcptOk + kGoAhead + kQueued + kMailOk + kRcptOk + kBye);
}

TEST(PipeliningTest, NothingMayFollowASecondEhloInTheSameWrite) {
  SmtpLimits limits = test_limits();
  auto ok = run({kEhlo, "RSET\r\nEHLO again.test\r\n"}, Chunking::whole, limits);
  EXPECT_EQ(ok.output, kGreeting + ehlo_reply(limits) + kOk + ehlo_reply(limits));
  auto bad = run({kEhlo, "RSET\r\nEHLO again.test\r\nNOOP\r\n"}, Chunking::whole, limits);
  EXPECT_EQ(bad.output, kGreeting + ehlo_reply(limits) + kOk + kSync);
  EXPECT_TRUE(bad.closed);
}

// --- Driving the session step by step --------------------------------------

class DirectTest : public ::testing::Test {
 protected:
  DirectTest() : session_(limits_, "mx.example.test") {}

  // say - feed whole and take one step (recipient checks answered).
  Step say(std::string_view bytes) {
    session_.feed(bytes);
    return answer_checks(session_, policy_, session_.step());
  }

  SmtpLimits limits_ = test_limits();
  FakePolicy policy_;
  Session session_;
};

TEST_F(DirectTest, PipelinedGroupIsAnsweredInOneStep) {
  ASSERT_EQ(say(kEhlo).output, ehlo_reply(limits_));
  Step s = say("MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
  EXPECT_EQ(s.output, kMailOk + kRcptOk + kGoAhead);
  EXPECT_EQ(s.action, Action::need_more);
  EXPECT_TRUE(session_.in_data());
}

TEST_F(DirectTest, SubmitHandsOverTheTransactionAndWaits) {
  say(kEhlo);
  say("MAIL FROM:<alice@example.test> SMTPUTF8\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
  Step s = say("hi\r\n.\r\nNOOP\r\n");
  EXPECT_EQ(s.output, "");
  ASSERT_EQ(s.action, Action::submit);
  EXPECT_EQ(session_.transaction().data, "hi\r\n");
  EXPECT_EQ(session_.with_protocol(), "UTF8SMTP");
  // Until the driver answers, the NOOP waits its turn.
  session_.on_submitted(SubmitOutcome::queued, "Q1");
  s = session_.step();
  EXPECT_EQ(s.output, "250 2.0.0 Ok: queued as Q1\r\n" + kOk);
  EXPECT_EQ(s.action, Action::need_more);
  EXPECT_FALSE(session_.in_data());
  EXPECT_EQ(session_.with_protocol(), "ESMTP");
}

TEST_F(DirectTest, NoReplyBeforeTheEndOfOversizeData) {
  limits_.max_message_size = 16;
  say(kEhlo);
  say("MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
  for (int i = 0; i < 100; ++i) {
    Step s = say("0123456789abcdef\r\n");
    ASSERT_EQ(s.output, "");
    ASSERT_EQ(s.action, Action::need_more);
    // Over-size data is discarded, never buffered.
    ASSERT_LE(session_.transaction().data.size(), limits_.max_message_size);
  }
  EXPECT_EQ(say(".\r\n").output, kTooBig);
}

TEST_F(DirectTest, HugeBdatSizeIsNotBuffered) {
  // A size near 2^64 must not wrap the size check and let the chunk grow the
  // transaction without bound.
  limits_.max_message_size = 1000;
  say(kEhlo);
  say("MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nBDAT 5\r\nhello");
  Step s = say("BDAT 18446744073709551614 LAST\r\n");
  EXPECT_EQ(s.output, "");
  for (int i = 0; i < 10; ++i) say(std::string(1000, 'x'));
  EXPECT_LE(session_.transaction().data.size(), limits_.max_message_size);
}

// Each refusal is handed to the driver for its log line and journal row;
// commands that are not SMTP are not, only the 421 they lead to.
TEST_F(DirectTest, RefusalsAreHandedOverForTheLog) {
  limits_.max_errors = 3;
  say(kEhlo);
  say("MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@elsewhere.example>\r\nRCPT TO:<bob@example.test>\r\n");
  auto r = session_.take_rejections();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].command, "RCPT");
  EXPECT_EQ(r[0].reply, "554 5.7.1 <bob@elsewhere.example>: Relay access denied");
  EXPECT_EQ(r[0].sender, "alice@example.test");
  EXPECT_EQ(r[0].recipient, "bob@elsewhere.example");
  say("DATA\r\n");
  say("a\nb\r\n.\r\n");
  r = session_.take_rejections();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].command, "END-OF-MESSAGE");
  EXPECT_EQ(r[0].reply, "550 5.5.2 Error: bare <CR> or <LF> in message data");
  EXPECT_EQ(r[0].sender, "alice@example.test");
  say("FOO\r\n");
  r = session_.take_rejections();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].reply, "421 4.7.0 mx.example.test Error: too many errors");
  EXPECT_TRUE(session_.take_rejections().empty());
}

TEST_F(DirectTest, NullSenderAndPostmasterAreWrittenWithoutAnAt) {
  say(kEhlo);
  say("MAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\n");
  ASSERT_EQ(policy_.asked.size(), 1u);
  EXPECT_EQ(policy_.asked[0], "postmaster");
  say("RCPT TO:<bob@elsewhere.example>\r\n");
  auto r = session_.take_rejections();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].sender, "");
}

TEST_F(DirectTest, MailWaitsWhileStorageIsLow) {
  say(kEhlo);
  session_.set_storage_low(true);
  EXPECT_EQ(say("MAIL FROM:<alice@example.test>\r\n").output, "452 4.3.1 Insufficient system storage\r\n");
  auto r = session_.take_rejections();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].command, "MAIL");
  EXPECT_EQ(r[0].sender, "alice@example.test");
  // Not the client's error: many of them do not end the session.
  for (int i = 0; i < 30; ++i) say("MAIL FROM:<alice@example.test>\r\n");
  session_.set_storage_low(false);
  EXPECT_EQ(say("MAIL FROM:<alice@example.test>\r\n").output, kMailOk);
}

TEST_F(DirectTest, PolicySeesTheDeclaredSize) {
  say(kEhlo);
  say("MAIL FROM:<alice@example.test> SIZE=1234\r\nRCPT TO:<bob@example.test>\r\nRSET\r\n"
      "MAIL FROM:<alice@example.test>\r\nRCPT TO:<carol@example.test>\r\n");
  EXPECT_EQ(policy_.asked, (std::vector<std::string>{"bob@example.test", "carol@example.test"}));
  EXPECT_EQ(policy_.declared_sizes, (std::vector<std::uint64_t>{1234, 0}));
}

// The checks read the store, so the session asks them one at a time and
// reads nothing more until answered: pipelined commands keep their order
// (RFC 2920 3.1), and the replies gathered so far wait with them.
TEST_F(DirectTest, RecipientChecksWaitTheirTurn) {
  say(kEhlo);
  session_.feed("MAIL FROM:<alice@example.test> SIZE=99\r\nRCPT TO:<bob@example.test>\r\n"
                "RCPT TO:<unknown@example.test>\r\nDATA\r\n");
  Step s = session_.step();
  EXPECT_EQ(s.output, kMailOk);
  ASSERT_EQ(s.action, Action::check_recipient);
  EXPECT_EQ(session_.recipient_check().forward_path.str(), "bob@example.test");
  EXPECT_EQ(session_.recipient_check().declared_size, 99u);
  // Unanswered, the session waits: nothing is read, nothing is said.
  s = session_.step();
  EXPECT_EQ(s.output, "");
  EXPECT_EQ(s.action, Action::need_more);
  session_.on_recipient_checked({RcptStatus::ok, {"bob@example.test"}});
  s = session_.step();
  EXPECT_EQ(s.output, kRcptOk);
  ASSERT_EQ(s.action, Action::check_recipient);
  EXPECT_EQ(session_.recipient_check().forward_path.str(), "unknown@example.test");
  session_.on_recipient_checked({RcptStatus::unknown_user, {}});
  s = session_.step();
  EXPECT_EQ(s.output, "550 5.1.1 <unknown@example.test>: Recipient address rejected: User unknown\r\n" +
                          kGoAhead);
  EXPECT_EQ(s.action, Action::need_more);
  ASSERT_EQ(session_.transaction().recipients.size(), 1u);
  EXPECT_EQ(session_.transaction().recipients[0].deliver_to, std::vector<std::string>{"bob@example.test"});
  EXPECT_TRUE(policy_.asked.empty()) << "answered here, not by the fake driver";
}

TEST_F(DirectTest, VrfyAsksTheRecipientCheck) {
  limits_.vrfy = VrfyMode::verify;
  say(kEhlo);
  session_.feed("VRFY bob@example.test\r\n");
  Step s = session_.step();
  ASSERT_EQ(s.action, Action::check_recipient);
  EXPECT_EQ(session_.recipient_check().forward_path.str(), "bob@example.test");
  EXPECT_EQ(session_.recipient_check().declared_size, 0u);
  session_.on_recipient_checked({RcptStatus::ok, {"bob@example.test"}});
  EXPECT_EQ(session_.step().output, "250 2.1.5 <bob@example.test>\r\n");
  EXPECT_TRUE(session_.transaction().recipients.empty()) << "VRFY adds no recipient";
}

TEST_F(DirectTest, WithProtocol) {
  say("HELO client.test\r\n");
  EXPECT_EQ(session_.with_protocol(), "SMTP");
  EXPECT_EQ(session_.helo_name(), "client.test");
  say(kEhlo);
  EXPECT_EQ(session_.with_protocol(), "ESMTP");
}

TEST_F(DirectTest, DriverReplies) {
  EXPECT_EQ(session_.timeout_reply(), "421 4.4.2 mx.example.test Error: timeout exceeded\r\n");
  EXPECT_EQ(session_.too_many_connections_reply(),
            "421 4.7.0 mx.example.test Error: too many connections\r\n");
  EXPECT_EQ(session_.pregreet_reply(),
            "554 5.5.0 mx.example.test Error: client talked before the greeting\r\n");
}

}  // namespace
}  // namespace herald::smtp

namespace herald::smtp {
namespace {

// STARTTLS (RFC 3207) and AUTH (RFC 4954), driven step by step as the
// driver does: the handshake and the credential check happen outside.
class OwnerPolicy {
 public:
  RcptDecision check_recipient(const Mailbox& m, std::uint64_t) { return {RcptStatus::ok, {m.str()}}; }
  SenderVerdict check_sender(const Mailbox& m, bool null_sender, const std::string& user) {
    if (store_down) return SenderVerdict::temp_fail;
    return !null_sender && m.str() == user ? SenderVerdict::allowed : SenderVerdict::refused;
  }
  bool store_down = false;  // the lookup fails
};

AuthOptions submission(bool tls) {
  AuthOptions o;
  o.starttls_available = !tls;
  o.auth_required = true;
  if (tls) o.mechanisms = {"PLAIN", "LOGIN"};
  return o;
}

// A submission session whose owner may send only as themselves.
class SmtpAuth : public ::testing::Test {
 protected:
  // drain - step (checks answered by policy) and expect an action.
  std::string drain(Session& session, Action expect = Action::need_more) {
    Step step = answer_checks(session, policy, session.step());
    EXPECT_EQ(step.action, expect) << step.output;
    return step.output;
  }

  // ehlo_inside_tls - the session after a handshake and a new EHLO.
  void ehlo_inside_tls() {
    s.on_tls_started(submission(true));
    s.feed("EHLO c\r\n");
    drain(s);
  }
  SmtpLimits limits = test_limits();
  OwnerPolicy policy;
  Session s{limits, "mx.test"};
};
using SmtpTls = SmtpAuth;

TEST_F(SmtpTls, StartTlsDropsWhatWasPipelinedAndForgetsTheEhlo) {
  s.set_auth_options(submission(false));
  s.feed("EHLO c\r\n");
  std::string ehlo = drain(s);
  EXPECT_NE(ehlo.find("250-STARTTLS\r\n"), std::string::npos);
  EXPECT_EQ(ehlo.find("AUTH"), std::string::npos) << "no AUTH in clear";
  s.feed("STARTTLS\r\n");
  EXPECT_EQ(drain(s, Action::starttls), "220 2.0.0 Ready to start TLS\r\n");
  // Sent after the 220 but before the handshake: in clear, never run.
  s.feed("MAIL FROM:<evil@x.test>\r\n");
  s.discard_input();
  s.on_tls_started(submission(true));
  EXPECT_EQ(drain(s), "") << "the pipelined MAIL must never run";
  s.feed("MAIL FROM:<a@b.test>\r\n");
  EXPECT_EQ(drain(s).substr(0, 9), "503 5.5.1") << "RFC 3207 4.2: EHLO again first";
  s.feed("EHLO c\r\n");
  std::string again = drain(s);
  EXPECT_EQ(again.find("STARTTLS"), std::string::npos);
  EXPECT_NE(again.find("250-AUTH PLAIN LOGIN\r\n"), std::string::npos);
  s.feed("STARTTLS\r\n");
  EXPECT_EQ(drain(s).substr(0, 9), "503 5.5.1");
  EXPECT_EQ(s.with_protocol(), "ESMTPS");
}

TEST_F(SmtpAuth, PlainThenSubmissionRules) {
  ehlo_inside_tls();
  s.feed("MAIL FROM:<alice@example.test>\r\n");
  EXPECT_EQ(drain(s).substr(0, 9), "530 5.7.0");
  // "\0alice@example.test\0secret"
  s.feed("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n");
  ASSERT_EQ(s.step().action, Action::authenticate);
  ASSERT_TRUE(s.auth_exchange().needs_password_check());
  EXPECT_EQ(s.auth_exchange().authcid(), "alice@example.test");
  s.on_auth_checked(s.auth_exchange().password_checked(true));
  EXPECT_EQ(drain(s), "235 2.7.0 Authentication successful\r\n");
  auto ev = s.take_auth_event();
  ASSERT_TRUE(ev);
  EXPECT_TRUE(ev->success);
  EXPECT_EQ(s.authenticated_user(), "alice@example.test");
  s.feed("MAIL FROM:<mallory@example.test>\r\n");
  EXPECT_EQ(drain(s).substr(0, 9), "553 5.7.1") << "a forged sender must not pass";
  s.feed("MAIL FROM:<alice@example.test>\r\n");
  EXPECT_EQ(drain(s), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(s.with_protocol(), "ESMTPSA");
  s.feed("AUTH PLAIN\r\n");
  EXPECT_EQ(drain(s).substr(0, 9), "503 5.5.1");
}

// A sender check that could not be made (the store failed) is a
// temporary failure, 451 4.3.0, not "not owned by user" 553 5.7.1: the
// client tries again later and its mail is not bounced. Not counted as the
// client's error either.
TEST_F(SmtpAuth, SenderLookupFailureIsTemporary) {
  ehlo_inside_tls();
  s.feed("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n");
  ASSERT_EQ(s.step().action, Action::authenticate);
  s.on_auth_checked(s.auth_exchange().password_checked(true));
  EXPECT_EQ(drain(s), "235 2.7.0 Authentication successful\r\n");
  s.feed("MAIL FROM:<alice@example.test>\r\n");
  Step step = s.step();
  ASSERT_EQ(step.action, Action::check_sender);
  EXPECT_EQ(s.sender_check().user, "alice@example.test");
  EXPECT_EQ(s.sender_check().reverse_path.str(), "alice@example.test");
  EXPECT_FALSE(s.sender_check().null_sender);
  s.on_sender_checked(SenderVerdict::temp_fail);
  EXPECT_EQ(drain(s), "451 4.3.0 <alice@example.test>: Temporary lookup failure\r\n");
  EXPECT_EQ(s.errors(), 0u);
  policy.store_down = true;
  s.feed("MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n");
  EXPECT_EQ(drain(s), "451 4.3.0 <alice@example.test>: Temporary lookup failure\r\n"
                      "503 5.5.1 Error: need MAIL command\r\n")
      << "no transaction was opened";
  policy.store_down = false;
  s.feed("MAIL FROM:<alice@example.test>\r\n");
  EXPECT_EQ(drain(s), "250 2.1.0 Ok\r\n");
}

TEST_F(SmtpAuth, FailuresMalformedAndCancel) {
  ehlo_inside_tls();
  s.feed("AUTH PLAIN AGFsaWNlAHdyb25n\r\n");
  ASSERT_EQ(s.step().action, Action::authenticate);
  s.on_auth_checked(s.auth_exchange().password_checked(false));
  EXPECT_EQ(drain(s), "535 5.7.8 Error: authentication failed\r\n");
  for (const char* bad : {"AUTH PLAIN !\r\n", "AUTH PLAIN AGFsaWNl\r\n", "AUTH PLAIN YQ\r\n"}) {
    s.feed(bad);
    EXPECT_EQ(drain(s).substr(0, 9), "501 5.5.2") << bad;
  }
  s.feed("AUTH LOGIN\r\n");
  EXPECT_EQ(drain(s), "334 VXNlcm5hbWU6\r\n");
  s.feed("*\r\n");
  EXPECT_EQ(drain(s).substr(0, 9), "501 5.0.0");
  s.feed("AUTH CRAM-MD5\r\n");
  EXPECT_EQ(drain(s).substr(0, 9), "504 5.5.4");
  EXPECT_FALSE(s.take_auth_event()->success);
}

// RFC 4954 6: a check that could not be made (the store failed) is a
// temporary failure, not a wrong password: 454 4.7.0, not counted as the
// client's error, and the client may try again.
TEST_F(SmtpAuth, StoreFailureIsATemporaryFailure) {
  limits.max_errors = 1;  // one client error would close the session
  AuthOptions scram = submission(true);
  scram.mechanisms.push_back("SCRAM-SHA-256");
  s.on_tls_started(scram);
  s.feed("EHLO c\r\n");
  drain(s);
  s.feed("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n");
  ASSERT_EQ(s.step().action, Action::authenticate);
  s.on_auth_checked(s.auth_exchange().temp_failure("store: database is locked"));
  EXPECT_EQ(drain(s), "454 4.7.0 Temporary authentication failure\r\n");
  auto ev = s.take_auth_event();
  ASSERT_TRUE(ev);
  EXPECT_FALSE(ev->success);
  EXPECT_TRUE(ev->temporary);
  EXPECT_EQ(ev->user, "alice@example.test");
  EXPECT_EQ(s.errors(), 0u);
  EXPECT_EQ(s.authenticated_user(), "");
  // SCRAM: the credentials lookup fails the same way, unlike an unknown user.
  s.feed("AUTH SCRAM-SHA-256 " + std::string("biwsbj1hbGljZUBleGFtcGxlLnRlc3Qscj1hYmM=") + "\r\n");
  ASSERT_EQ(s.step().action, Action::authenticate);
  ASSERT_FALSE(s.auth_exchange().needs_password_check());
  s.on_auth_checked(s.auth_exchange().temp_failure("store: disk I/O error"));
  EXPECT_EQ(drain(s), "454 4.7.0 Temporary authentication failure\r\n");
  EXPECT_TRUE(s.take_auth_event()->temporary);
  // Then the store is back.
  s.feed("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n");
  ASSERT_EQ(s.step().action, Action::authenticate);
  s.on_auth_checked(s.auth_exchange().password_checked(true));
  EXPECT_EQ(drain(s), "235 2.7.0 Authentication successful\r\n");
}

TEST_F(SmtpAuth, NoAuthInClearWithoutConfiguration) {
  s.set_auth_options(submission(false));
  s.feed("EHLO c\r\n");
  drain(s);
  s.feed("AUTH PLAIN AGEAYg==\r\n");
  EXPECT_EQ(drain(s).substr(0, 10), "538 5.7.11");
}

TEST_F(SmtpAuth, LongAuthLineAllowedButOtherCommandsStillBounded) {
  ehlo_inside_tls();
  s.feed("NOOP " + std::string(600, 'x') + "\r\n");
  EXPECT_EQ(drain(s).substr(0, 9), "500 5.5.2");
  // RFC 4954 4: an AUTH line up to 12288 octets; this one decodes to garbage.
  s.feed("AUTH PLAIN " + std::string(4000, 'A') + "\r\n");
  EXPECT_NE(drain(s).substr(0, 3), "500");
}

TEST_F(SmtpAuth, MailAuthParameterIsAccepted) {
  s.feed("EHLO c\r\n");
  drain(s);
  s.feed("MAIL FROM:<a@b.test> AUTH=<>\r\n");
  EXPECT_EQ(drain(s), "250 2.1.0 Ok\r\n");
}

}  // namespace
}  // namespace herald::smtp

namespace herald::smtp {
namespace {

// take_body - what a driver does to keep a large body out of the session:
// it takes the octets after each step. Together they are the message; the
// size limit still counts every octet, taken or not; in_message() holds
// from the 354 (or the first chunk) to the end of the message.
TEST(SessionBody, TakenPiecesMakeTheMessageAndStillCountAgainstItsSize) {
  for (const char* verb : {"DATA", "BDAT"}) {
    SCOPED_TRACE(verb);
    SmtpLimits limits = test_limits();
    limits.max_message_size = 40'000;
    FakePolicy policy;
    Session s(limits, "mx.example.test");
    std::string taken, output;
    bool submitted = false;
    auto say = [&](std::string_view bytes) {
      s.feed(bytes);
      for (;;) {
        Step st = answer_checks(s, policy, s.step());
        output += st.output;
        taken += s.take_body();
        if (st.action != Action::submit) break;
        submitted = true;
        EXPECT_FALSE(s.in_message());
        EXPECT_EQ(s.transaction().data_size, 30'000u);
        s.on_submitted(SubmitOutcome::queued, "Q");
      }
    };
    say(kEhlo);
    say("MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\n");
    EXPECT_FALSE(s.in_message());
    const std::string line = std::string(98, 'x') + "\r\n";
    std::string message;
    for (int i = 0; i < 300; ++i) message += line;
    if (std::string_view(verb) == "DATA") {
      say("DATA\r\n");
      for (int i = 0; i < 300; ++i) {
        say(line);
        EXPECT_TRUE(s.in_message());
      }
      say(".\r\n");
    } else {
      say("BDAT 20000\r\n" + message.substr(0, 20'000));
      EXPECT_TRUE(s.in_message()) << "between chunks";
      say("BDAT 10000 LAST\r\n" + message.substr(20'000));
    }
    EXPECT_TRUE(submitted) << output;
    EXPECT_EQ(taken, message);

    // Over the size limit though no piece was: refused at the end.
    taken.clear();
    submitted = false;
    say("MAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n");
    for (int i = 0; i < 500; ++i) say(line);
    say(".\r\n");
    EXPECT_FALSE(submitted);
    EXPECT_NE(output.find("552 5.3.4"), std::string::npos) << output;
    EXPECT_FALSE(s.in_message());
  }
}

}  // namespace
}  // namespace herald::smtp

namespace herald::smtp {
namespace {

// RFC 1985: ETRN for the clients allowed (EHLO offers it only to them):
// the request is handed to the driver, its count answered 251/253, a
// failure 458; "#queue" names 458; inside a transaction 503; others 459.
TEST(SessionEtrn, AllowedClientsStartTheQueueOfADomain) {
  SmtpLimits limits = test_limits();
  FakePolicy policy;
  auto say = [&](Session& s, std::string_view bytes) {
    s.feed(bytes);
    return answer_checks(s, policy, s.step());
  };
  Session s(limits, "mx.example.test");
  s.set_etrn_allowed(true);
  EXPECT_NE(say(s, kEhlo).output.find("250-ETRN\r\n"), std::string::npos);
  Step st = say(s, "ETRN @Sub.Example.ORG\r\n");
  ASSERT_EQ(st.action, Action::flush_queue);
  EXPECT_EQ(s.etrn_request().domain, "sub.example.org");
  EXPECT_TRUE(s.etrn_request().subdomains);
  s.on_queue_flushed(3);
  EXPECT_EQ(s.step().output, "253 2.0.0 OK, 3 pending messages for node <@sub.example.org> started\r\n");
  st = say(s, "ETRN example.org\r\n");
  ASSERT_EQ(st.action, Action::flush_queue);
  EXPECT_FALSE(s.etrn_request().subdomains);
  s.on_queue_flushed(0);
  EXPECT_EQ(s.step().output, "251 2.0.0 OK, no messages waiting for node <example.org>\r\n");
  st = say(s, "ETRN example.org\r\n");
  s.on_queue_flushed(std::nullopt);
  EXPECT_EQ(s.step().output, "458 4.3.0 Unable to queue messages for node <example.org>\r\n");
  EXPECT_EQ(say(s, "ETRN #outq\r\n").output, "458 4.3.0 Unable to queue messages for node <#outq>\r\n");
  EXPECT_EQ(say(s, "ETRN bad_name\r\n").output, "501 5.5.2 Error: invalid domain name\r\n");
  say(s, "MAIL FROM:<a@example.test>\r\n");
  EXPECT_EQ(say(s, "ETRN example.org\r\n").output, "503 5.5.1 Error: MAIL transaction in progress\r\n");

  Session other(limits, "mx.example.test");
  EXPECT_EQ(say(other, kEhlo).output.find("ETRN"), std::string::npos);
  Step refused = say(other, "ETRN example.org\r\n");
  EXPECT_EQ(refused.action, Action::need_more);
  EXPECT_EQ(refused.output, "459 4.7.1 <example.org>: ETRN is not allowed for this client\r\n");
}

}  // namespace
}  // namespace herald::smtp

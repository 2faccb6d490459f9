// The outbound client against scripted servers: what it writes, when it
// waits, and the verdict each recipient gets.
#include "smtp/client.h"

#include <gtest/gtest.h>

namespace herald::smtp {
namespace {

const char* kGreeting = "220 mx.remote.test ESMTP\r\n";
const char* kEhloPipelining =
    "250-mx.remote.test\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";
const char* kEhloPlain = "250-mx.remote.test\r\n250 SIZE\r\n";

ClientOptions options(TlsPolicy tls = TlsPolicy::none) {
  ClientOptions o;
  o.helo_name = "herald.example.test";
  o.tls = tls;
  return o;
}

OutboundMessage message(std::vector<std::string> rcpts = {"a@remote.test", "b@remote.test"}) {
  OutboundMessage m;
  m.sender = "s@example.test";
  m.recipients = std::move(rcpts);
  m.size = 1234;
  return m;
}

// Conversation - drives a Client: say() feeds the server's octets and
// steps until the client needs more or acts; wrote is what it sent since.
struct Conversation {
  explicit Conversation(ClientOptions o) : client(std::move(o)) {}
  ClientAction say(std::string_view server) {
    client.feed(server);
    ClientStep s = client.step();
    wrote += s.output;
    return s.action;
  }
  ClientAction step() {
    ClientStep s = client.step();
    wrote += s.output;
    return s.action;
  }
  std::string take() { return std::exchange(wrote, {}); }
  // in_tls - greeted, STARTTLS done, the second EHLO sent.
  void in_tls() {
    say(kGreeting);
    say("250-mx\r\n250 STARTTLS\r\n");
    say("220 go\r\n");
    client.on_tls(true);
    step();
    take();
  }
  // ready - greeted and introduced, between messages.
  void ready(const char* ehlo) {
    ASSERT_EQ(say(kGreeting), ClientAction::need_more);
    ASSERT_EQ(take(), "EHLO herald.example.test\r\n");
    ASSERT_EQ(say(ehlo), ClientAction::ready);
  }
  Client client;
  std::string wrote;
};

std::vector<std::string> summary(const MessageResult& r) {
  std::vector<std::string> out;
  for (const auto& v : r.recipients) {
    const char* o = v.outcome == Outcome::delivered ? "delivered" : v.outcome == Outcome::bounced ? "bounced" : "deferred";
    out.push_back(std::string(o) + " " + v.status + " " + v.diagnostic());
  }
  return out;
}

// RFC 2920 3.1: MAIL, RCPTs and DATA go in one write; each recipient gets
// its own verdict; the connection takes a second message, then QUIT.
TEST(ClientTest, PipelinedMessageGetsAVerdictPerRecipient) {
  Conversation c(options());
  c.ready(kEhloPipelining);
  c.client.send(message());
  EXPECT_EQ(c.step(), ClientAction::need_more);
  EXPECT_EQ(c.take(),
            "MAIL FROM:<s@example.test> SIZE=1234\r\nRCPT TO:<a@remote.test>\r\nRCPT TO:<b@remote.test>\r\nDATA\r\n");
  EXPECT_EQ(c.say("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <b@remote.test>: Recipient address rejected\r\n"
                  "354 End data with <CR><LF>.<CR><LF>\r\n"),
            ClientAction::send_body);
  c.client.body_sent();
  EXPECT_EQ(c.say("250 2.0.0 Ok: queued as 4F2\r\n"), ClientAction::message_done);
  EXPECT_EQ(summary(c.client.take_result()),
            (std::vector<std::string>{
                "delivered 2.0.0 250 2.0.0 Ok: queued as 4F2 (in reply to end of DATA command)",
                "bounced 5.1.1 550 5.1.1 <b@remote.test>: Recipient address rejected (in reply to RCPT TO command)"}));
  EXPECT_EQ(c.step(), ClientAction::ready);
  c.client.send(message({"c@remote.test"}));
  c.step();
  EXPECT_EQ(c.take(), "MAIL FROM:<s@example.test> SIZE=1234\r\nRCPT TO:<c@remote.test>\r\nDATA\r\n");
  EXPECT_EQ(c.say("250 Ok\r\n250 Ok\r\n354 go\r\n"), ClientAction::send_body);
  c.client.body_sent();
  EXPECT_EQ(c.say("451 4.3.0 try later\r\n"), ClientAction::message_done);
  EXPECT_EQ(summary(c.client.take_result()),
            std::vector<std::string>{"deferred 4.3.0 451 4.3.0 try later (in reply to end of DATA command)"});
  // A refused end of data leaves the transaction to be reset.
  EXPECT_EQ(c.take(), "RSET\r\n");
  EXPECT_EQ(c.step(), ClientAction::need_more);
  EXPECT_EQ(c.say("250 Ok\r\n"), ClientAction::ready);
  c.client.quit();
  EXPECT_EQ(c.step(), ClientAction::need_more);
  EXPECT_EQ(c.take(), "QUIT\r\n");
  EXPECT_EQ(c.say("221 Bye\r\n"), ClientAction::closed);
  EXPECT_FALSE(c.client.failure());
}

// RFC 3461 4: RET, ENVID, NOTIFY and ORCPT go to a server that offers DSN,
// xtext-encoded, and to no other (it would refuse the unknown parameters).
TEST(ClientTest, DsnParametersOnlyWhereOffered) {
  OutboundMessage m = message();
  m.ret = DsnRet::hdrs;
  m.envid = "job 42";
  Notify success_failure;
  success_failure.success = success_failure.failure = true;
  m.rcpt_params = {RcptParams{success_failure, "A+x@remote.test", "rfc822"}, RcptParams{}};
  Conversation dsn(options());
  dsn.ready("250-mx.remote.test\r\n250-PIPELINING\r\n250 DSN\r\n");
  dsn.client.send(m);
  dsn.step();
  EXPECT_EQ(dsn.take(),
            "MAIL FROM:<s@example.test> RET=HDRS ENVID=job+2042\r\n"
            "RCPT TO:<a@remote.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;A+2Bx@remote.test\r\n"
            "RCPT TO:<b@remote.test>\r\nDATA\r\n");
  Conversation plain(options());
  plain.ready(kEhloPipelining);
  plain.client.send(m);
  plain.step();
  EXPECT_EQ(plain.take(),
            "MAIL FROM:<s@example.test> SIZE=1234\r\nRCPT TO:<a@remote.test>\r\nRCPT TO:<b@remote.test>\r\nDATA\r\n");
}

// Without PIPELINING each command waits for its reply, and a server that
// does not know EHLO gets HELO (and no ESMTP parameters).
TEST(ClientTest, OldServerGetsHeloAndOneCommandAtATime) {
  Conversation c(options());
  c.say(kGreeting);
  c.take();
  EXPECT_EQ(c.say("502 5.5.1 Error: command not implemented\r\n"), ClientAction::need_more);
  EXPECT_EQ(c.take(), "HELO herald.example.test\r\n");
  EXPECT_EQ(c.say("250 mx.remote.test\r\n"), ClientAction::ready);
  EXPECT_FALSE(c.client.esmtp());
  c.client.send(message());
  c.step();
  EXPECT_EQ(c.take(), "MAIL FROM:<s@example.test>\r\n");
  c.say("250 Ok\r\n");
  EXPECT_EQ(c.take(), "RCPT TO:<a@remote.test>\r\n");
  c.say("450 4.2.0 greylisted\r\n");
  EXPECT_EQ(c.take(), "RCPT TO:<b@remote.test>\r\n");
  c.say("250 Ok\r\n");
  EXPECT_EQ(c.take(), "DATA\r\n");
  EXPECT_EQ(c.say("354 go\r\n"), ClientAction::send_body);
  c.client.body_sent();
  EXPECT_EQ(c.say("250 Ok\r\n"), ClientAction::message_done);
  EXPECT_EQ(summary(c.client.take_result()),
            (std::vector<std::string>{"deferred 4.2.0 450 4.2.0 greylisted (in reply to RCPT TO command)",
                                      "delivered 2.0.0 250 Ok (in reply to end of DATA command)"}));
}

// MAIL refused: every recipient gets MAIL's reply; the pipelined RCPTs'
// and DATA's 503s are read and not taken for verdicts; RSET follows.
TEST(ClientTest, RefusedMailFailsEveryRecipient) {
  Conversation c(options());
  c.ready(kEhloPipelining);
  c.client.send(message());
  c.step();
  c.take();
  EXPECT_EQ(c.say("553 5.7.1 <s@example.test>: Sender address rejected\r\n503 5.5.1 need MAIL\r\n"
                  "503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n"),
            ClientAction::message_done);
  EXPECT_EQ(c.take(), "RSET\r\n");
  auto r = summary(c.client.take_result());
  EXPECT_EQ(c.say("250 Ok\r\n"), ClientAction::ready);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], "bounced 5.7.1 553 5.7.1 <s@example.test>: Sender address rejected (in reply to MAIL FROM command)");
  EXPECT_EQ(r[1], r[0]);
}

// Every RCPT refused, yet the server says 354 to the pipelined DATA: an
// empty message ends it, no body is sent, and its reply is no verdict.
TEST(ClientTest, DataAfterEveryRecipientRefusedSendsNoBody) {
  Conversation c(options());
  c.ready(kEhloPipelining);
  c.client.send(message({"a@remote.test"}));
  c.step();
  c.take();
  EXPECT_EQ(c.say("250 Ok\r\n550 5.1.1 no such user\r\n354 go ahead\r\n"), ClientAction::need_more);
  EXPECT_EQ(c.take(), ".\r\n");
  EXPECT_EQ(c.say("250 Ok: queued as X\r\n"), ClientAction::message_done);
  EXPECT_EQ(summary(c.client.take_result()),
            std::vector<std::string>{"bounced 5.1.1 550 5.1.1 no such user (in reply to RCPT TO command)"});
}

// What the server said it cannot take is not sent: over its SIZE, SMTPUTF8
// or 8-bit data it does not offer (RFC 1870, 6531 3.4, 6152 3).
TEST(ClientTest, MessagesTheServerCannotTakeFailBeforeMail) {
  struct Case {
    const char* name;
    OutboundMessage m;
    const char* status;
  };
  OutboundMessage big = message(), utf8 = message(), eight = message();
  big.size = 2'000'000;
  utf8.smtputf8 = true;
  eight.eight_bit = true;
  for (const Case& k : {Case{"size", big, "5.3.4"}, Case{"smtputf8", utf8, "5.6.7"}}) {
    SCOPED_TRACE(k.name);
    Conversation c(options());
    c.ready(kEhloPipelining);
    c.client.send(k.m);
    EXPECT_EQ(c.step(), ClientAction::message_done);
    EXPECT_EQ(c.take(), "");
    auto r = c.client.take_result();
    ASSERT_EQ(r.recipients.size(), 2u);
    EXPECT_EQ(r.recipients[0].outcome, Outcome::bounced);
    EXPECT_EQ(r.recipients[0].status, k.status);
    EXPECT_EQ(c.step(), ClientAction::ready);
  }
  Conversation c(options());
  c.ready(kEhloPlain);
  c.client.send(eight);
  EXPECT_EQ(c.step(), ClientAction::message_done);
  EXPECT_EQ(c.client.take_result().recipients[0].status, "5.6.3");
  // With 8BITMIME offered the same message goes, declared.
  Conversation d(options());
  d.ready(kEhloPipelining);
  d.client.send(eight);
  d.step();
  EXPECT_EQ(d.take().substr(0, 50), "MAIL FROM:<s@example.test> SIZE=1234 BODY=8BITMIME");
}

// STARTTLS when offered (policy may): the handshake, then EHLO again;
// octets the server sent in clear after its 220 are never read as replies.
TEST(ClientTest, StartTlsThenEhloAgainAndInjectedRepliesIgnored) {
  Conversation c(options(TlsPolicy::may));
  c.say(kGreeting);
  c.take();
  EXPECT_EQ(c.say("250-mx.remote.test\r\n250-STARTTLS\r\n250 PIPELINING\r\n"), ClientAction::need_more);
  EXPECT_EQ(c.take(), "STARTTLS\r\n");
  EXPECT_EQ(c.say("220 2.0.0 Ready to start TLS\r\n250-injected\r\n250 AUTH PLAIN\r\n"), ClientAction::starttls);
  c.client.on_tls(true);
  EXPECT_EQ(c.step(), ClientAction::need_more);
  EXPECT_EQ(c.take(), "EHLO herald.example.test\r\n");
  EXPECT_EQ(c.say("250-mx.remote.test\r\n250 PIPELINING\r\n"), ClientAction::ready);
  EXPECT_TRUE(c.client.tls_active());
  EXPECT_TRUE(c.client.extensions().pipelining);
}

// TLS required (encrypt) but not offered, or refused: the connection ends,
// deferred; with "may" a refused STARTTLS goes on in clear.
TEST(ClientTest, RequiredTlsNotOfferedEndsTheConnection) {
  Conversation c(options(TlsPolicy::encrypt));
  c.say(kGreeting);
  c.take();
  EXPECT_EQ(c.say(kEhloPlain), ClientAction::closed);
  EXPECT_EQ(c.take(), "QUIT\r\n");
  ASSERT_TRUE(c.client.failure());
  EXPECT_EQ(c.client.failure()->outcome, Outcome::deferred);
  EXPECT_EQ(c.client.failure()->status, "4.7.4");

  Conversation m(options(TlsPolicy::may));
  m.say(kGreeting);
  m.say("250-mx.remote.test\r\n250 STARTTLS\r\n");
  m.take();
  EXPECT_EQ(m.say("454 4.7.0 TLS not available\r\n"), ClientAction::ready);
  EXPECT_FALSE(m.client.tls_active());
}

// AUTH PLAIN with the initial response (RFC 4954 4, RFC 4616); LOGIN's two
// challenges; a refused password defers (the administrator's to fix).
TEST(ClientTest, AuthPlainLoginAndRefusal) {
  ClientOptions o = options(TlsPolicy::may);
  o.auth_user = "alice";
  o.auth_password = "secret";
  {
    Conversation c(o);
    c.in_tls();
    EXPECT_EQ(c.say("250-mx\r\n250 AUTH LOGIN PLAIN\r\n"), ClientAction::need_more);
    EXPECT_EQ(c.take(), "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    EXPECT_EQ(c.say("235 2.7.0 Authentication successful\r\n"), ClientAction::ready);
  }
  {
    Conversation c(o);
    c.in_tls();
    c.say("250-mx\r\n250 AUTH LOGIN\r\n");
    EXPECT_EQ(c.take(), "AUTH LOGIN\r\n");
    c.say("334 VXNlcm5hbWU6\r\n");
    EXPECT_EQ(c.take(), "YWxpY2U=\r\n");
    c.say("334 UGFzc3dvcmQ6\r\n");
    EXPECT_EQ(c.take(), "c2VjcmV0\r\n");
    EXPECT_EQ(c.say("535 5.7.8 Error: authentication failed\r\n"), ClientAction::closed);
    ASSERT_TRUE(c.client.failure());
    EXPECT_EQ(c.client.failure()->outcome, Outcome::deferred);
    EXPECT_EQ(c.client.failure()->diagnostic(), "535 5.7.8 Error: authentication failed (in reply to AUTH command)");
  }
  {
    // Credentials never go in clear unless configured so.
    Conversation c(o);
    c.say(kGreeting);
    EXPECT_EQ(c.say("250-mx\r\n250 AUTH PLAIN\r\n"), ClientAction::closed);
    EXPECT_EQ(c.take(), "EHLO herald.example.test\r\nQUIT\r\n");
    EXPECT_EQ(c.client.failure()->status, "4.7.0");
  }
}

// A broken or hostile server ends in a deferral, never a delivery: a
// greeting refusal, a malformed reply, a connection lost mid-DATA.
TEST(ClientTest, BrokenServersEndInDeferral) {
  {
    Conversation c(options());
    EXPECT_EQ(c.say("554 5.7.1 go away\r\n"), ClientAction::closed);
    EXPECT_EQ(c.take(), "QUIT\r\n");
    EXPECT_EQ(c.client.failure()->diagnostic(), "554 5.7.1 go away (in reply to greeting command)");
  }
  {
    Conversation c(options());
    c.ready(kEhloPipelining);
    c.client.send(message());
    c.step();
    EXPECT_EQ(c.say("250 Ok\r\nhello there\r\n"), ClientAction::closed);
    ASSERT_TRUE(c.client.has_result());
    for (const auto& v : c.client.take_result().recipients) EXPECT_EQ(v.outcome, Outcome::deferred);
  }
  {
    Conversation c(options());
    c.ready(kEhloPipelining);
    c.client.send(message());
    c.step();
    EXPECT_EQ(c.say("250 Ok\r\n250 Ok\r\n550 no\r\n354 go\r\n"), ClientAction::send_body);
    c.client.body_sent();
    c.client.lost("lost connection while sending end of data");
    EXPECT_EQ(c.step(), ClientAction::closed);
    auto r = summary(c.client.take_result());
    EXPECT_EQ(r[0], "deferred 4.4.2 lost connection while sending end of data");
    EXPECT_EQ(r[1].substr(0, 11), "bounced 5.0") << "the RCPT refusal stands";
  }
  {
    // A 250 to DATA took no body: not a delivery.
    Conversation c(options());
    c.ready(kEhloPipelining);
    c.client.send(message({"a@remote.test"}));
    c.step();
    c.take();
    EXPECT_EQ(c.say("250 Ok\r\n250 Ok\r\n250 sure\r\n"), ClientAction::message_done);
    EXPECT_EQ(c.take(), "RSET\r\n");
    auto r = c.client.take_result();
    EXPECT_EQ(r.recipients[0].outcome, Outcome::deferred);
  }
}

}  // namespace
}  // namespace herald::smtp

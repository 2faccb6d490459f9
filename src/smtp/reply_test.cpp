// smtp/reply_test.cpp - the client side: reply parsing, EHLO extensions,
// command formatting and dot-stuffing.
//
// Every parser case runs twice (Dovecot's rule): the server's octets fed
// whole, then one at a time; both must give the same replies and the same
// error.
#include "smtp/reply.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "smtp/session.h"
#include "smtp/test_limits.h"

namespace herald::smtp {
namespace {

using namespace std::string_literals;

enum class Chunking { whole, bytewise };

std::string chunking_name(const ::testing::TestParamInfo<Chunking>& info) {
  return info.param == Chunking::whole ? "Whole" : "Bytewise";
}

struct Parsed {
  std::vector<Reply> replies;
  std::optional<ProtocolError> error;
  std::size_t buffered = 0;  // octets left when the parser wanted more
};

// drain - every reply the parser has; stops at NeedMore or an error.
void drain(ReplyParser& p, Parsed& out) {
  for (;;) {
    NextReply n = p.next();
    if (auto* r = std::get_if<Reply>(&n)) {
      out.replies.push_back(std::move(*r));
    } else if (auto* e = std::get_if<ProtocolError>(&n)) {
      out.error = *e;
      return;
    } else {
      return;
    }
  }
}

Parsed parse(std::string_view input, Chunking chunking, ReplyLimits limits = {}) {
  ReplyParser p(limits);
  Parsed out;
  if (chunking == Chunking::whole) {
    p.feed(input);
    drain(p, out);
  } else {
    for (char c : input) {
      if (out.error) break;
      p.feed(std::string_view(&c, 1));
      drain(p, out);
    }
  }
  out.buffered = p.buffered();
  return out;
}

class ReplyParserTest : public ::testing::TestWithParam<Chunking> {
 protected:
  Parsed parse(std::string_view input) { return smtp::parse(input, GetParam(), limits_); }
  // one - input that must hold exactly one reply and nothing else.
  Reply one(std::string_view input) {
    Parsed p = parse(input);
    EXPECT_FALSE(p.error) << p.error->reason;
    EXPECT_EQ(p.replies.size(), 1u);
    EXPECT_EQ(p.buffered, 0u);
    return p.replies.empty() ? Reply{} : p.replies[0];
  }
  // error - input that must fail; the reason, for a look at what it says.
  std::string error(std::string_view input) {
    Parsed p = parse(input);
    EXPECT_TRUE(p.error) << ::testing::PrintToString(std::string(input));
    if (!p.error) return "";
    EXPECT_TRUE(p.error->fatal);
    return p.error->reason;
  }
  ReplyLimits limits_;
};

INSTANTIATE_TEST_SUITE_P(WholeAndBytewise, ReplyParserTest,
                         ::testing::Values(Chunking::whole, Chunking::bytewise), chunking_name);

using Lines = std::vector<std::string>;

TEST_P(ReplyParserTest, SingleLine) {
  Reply r = one("250 Ok\r\n");
  EXPECT_EQ(r.code, 250);
  EXPECT_FALSE(r.enhanced);
  EXPECT_EQ(r.lines, Lines{"Ok"});
  EXPECT_EQ(r.text(), "Ok");
}

TEST_P(ReplyParserTest, CodeWithoutText) {
  // RFC 5321 4.2: Reply-code [ SP textstring ] CRLF.
  EXPECT_EQ(one("220\r\n").lines, Lines{""});
  EXPECT_EQ(one("250 \r\n").lines, Lines{""});
  EXPECT_EQ(one("250-\r\n250 last\r\n").lines, (Lines{"", "last"}));
}

TEST_P(ReplyParserTest, MultiLine) {
  Reply r = one("250-mx.example.test Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n");
  EXPECT_EQ(r.code, 250);
  EXPECT_EQ(r.lines, (Lines{"mx.example.test Hello", "PIPELINING", "SIZE 1000"}));
  EXPECT_EQ(r.text(), "mx.example.test Hello PIPELINING SIZE 1000");
}

TEST_P(ReplyParserTest, PipelinedRepliesComeOutInOrder) {
  // RFC 2920 3.1: one read may hold the replies to a whole group.
  Parsed p = parse("250 2.1.0 Ok\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n354 go ahead\r\n");
  ASSERT_FALSE(p.error);
  ASSERT_EQ(p.replies.size(), 3u);
  EXPECT_EQ(p.replies[0].code, 250);
  EXPECT_EQ(p.replies[1].code, 550);
  EXPECT_EQ(p.replies[1].lines, (Lines{"no", "such user"}));
  EXPECT_EQ(p.replies[2].code, 354);
}

TEST_P(ReplyParserTest, IncompleteReplyNeedsMore) {
  Parsed p = parse("250-first\r\n250 sec");
  EXPECT_FALSE(p.error);
  EXPECT_TRUE(p.replies.empty());
  EXPECT_EQ(p.buffered, 7u);  // the unterminated last line
}

TEST_P(ReplyParserTest, BareLfEndsALine) {
  // Tolerated: see ReplyParser::next.
  Reply r = one("250-a\n250 b\n");
  EXPECT_EQ(r.lines, (Lines{"a", "b"}));
}

TEST_P(ReplyParserTest, EnhancedStatusCodes) {
  Reply r = one("550 5.1.1 <x@example.test>: User unknown\r\n");
  ASSERT_TRUE(r.enhanced);
  EXPECT_EQ(r.enhanced->str(), "5.1.1");
  EXPECT_EQ(r.lines, Lines{"<x@example.test>: User unknown"});

  // RFC 2034 4: on every line; each copy is taken off.
  r = one("421-4.7.0 first\r\n421 4.7.0 second\r\n");
  ASSERT_TRUE(r.enhanced);
  EXPECT_EQ(*r.enhanced, (EnhancedStatus{4, 7, 0}));
  EXPECT_EQ(r.lines, (Lines{"first", "second"}));

  // A later line with another code keeps it as text.
  r = one("550-5.7.1 a\r\n550 5.7.2 b\r\n");
  EXPECT_EQ(r.enhanced->str(), "5.7.1");
  EXPECT_EQ(r.lines, (Lines{"a", "5.7.2 b"}));

  // Three-digit fields (RFC 3463 2: 1*3digit) and a code alone on its line.
  r = one("250 2.10.100\r\n");
  EXPECT_EQ(*r.enhanced, (EnhancedStatus{2, 10, 100}));
  EXPECT_EQ(r.lines, Lines{""});
}

TEST_P(ReplyParserTest, NotAnEnhancedStatusCode) {
  for (std::string text : {"4.0.0 class differs", "3.0.0 no class 3", "2.1000.0 too long",
                           "2.0.0x glued", "2.0 short", "2..0 empty", "x.0.0 letter"}) {
    SCOPED_TRACE(text);
    std::string code = text[0] == '3' ? "354 " : "250 ";
    Reply r = one(code + text + "\r\n");
    EXPECT_FALSE(r.enhanced);
    EXPECT_EQ(r.lines, Lines{text});
  }
  // Only the first line decides.
  Reply r = one("250-plain\r\n250 2.0.0 later\r\n");
  EXPECT_FALSE(r.enhanced);
  EXPECT_EQ(r.lines, (Lines{"plain", "2.0.0 later"}));
}

TEST_P(ReplyParserTest, Classification) {
  // RFC 5321 4.2.1: the first digit.
  Reply ok = one("221 2.0.0 Bye\r\n");
  EXPECT_TRUE(ok.positive_completion());
  EXPECT_TRUE(ok.positive());
  EXPECT_FALSE(ok.transient() || ok.permanent() || ok.positive_intermediate());
  Reply go = one("354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_TRUE(go.positive_intermediate());
  EXPECT_TRUE(go.positive());
  EXPECT_FALSE(go.positive_completion());
  Reply later = one("451 4.3.0 try later\r\n");
  EXPECT_TRUE(later.transient());
  EXPECT_FALSE(later.positive() || later.permanent());
  Reply never = one("554 5.7.1 no\r\n");
  EXPECT_TRUE(never.permanent());
  EXPECT_FALSE(never.positive() || never.transient());
}

TEST_P(ReplyParserTest, MalformedLines) {
  EXPECT_NE(error("hello\r\n").find("3-digit"), std::string::npos);
  EXPECT_NE(error("25\r\n").find("3-digit"), std::string::npos);
  EXPECT_NE(error("2x0 x\r\n").find("3-digit"), std::string::npos);
  EXPECT_NE(error("\r\n").find("3-digit"), std::string::npos);
  EXPECT_NE(error("150 x\r\n").find("outside"), std::string::npos);
  EXPECT_NE(error("600 x\r\n").find("outside"), std::string::npos);
  EXPECT_NE(error("099 x\r\n").find("outside"), std::string::npos);
  EXPECT_NE(error("250x\r\n").find("hyphen"), std::string::npos);
  EXPECT_NE(error("250-a\r\n251 b\r\n").find("inside a 250 reply"), std::string::npos);
  EXPECT_NE(error("250 a\rb\r\n").find("CR or NUL"), std::string::npos);
  EXPECT_NE(error("250 a\0b\r\n"s).find("CR or NUL"), std::string::npos);
  // The text in the reason is escaped for the log.
  EXPECT_EQ(error("\x1b[2J\r\n").find('\x1b'), std::string::npos);
}

TEST_P(ReplyParserTest, ErrorIsStickyAndFatal) {
  ReplyParser p(limits_);
  Parsed out;
  std::string input = "250 ok\r\nbad\r\n250 ok\r\n";
  if (GetParam() == Chunking::whole) {
    p.feed(input);
    drain(p, out);
  } else {
    for (char c : input) {
      p.feed(std::string_view(&c, 1));
      drain(p, out);
    }
  }
  ASSERT_EQ(out.replies.size(), 1u);
  ASSERT_TRUE(out.error);
  EXPECT_TRUE(out.error->fatal);
  // Nothing after a malformed line is trusted, however good it looks.
  p.feed("250 fine\r\n");
  NextReply again = p.next();
  ASSERT_TRUE(std::holds_alternative<ProtocolError>(again));
  EXPECT_EQ(std::get<ProtocolError>(again).reason, out.error->reason);
  EXPECT_EQ(p.buffered(), 0u);
}

TEST_P(ReplyParserTest, LineBoundCountsTheCrlf) {
  limits_.max_line = 16;
  EXPECT_EQ(one("250 " + std::string(10, 'x') + "\r\n").lines, Lines{std::string(10, 'x')});
  EXPECT_NE(error("250 " + std::string(11, 'x') + "\r\n").find("longer than 16"), std::string::npos);
  // A line that never ends fails once it passes the bound, unbuffered.
  Parsed p = parse("250 " + std::string(10000, 'x'));
  ASSERT_TRUE(p.error);
  EXPECT_EQ(p.buffered, 0u);
}

TEST_P(ReplyParserTest, DefaultLineBoundExceedsRfcMinimum) {
  // RFC 5321 4.5.3.1.5 says 512; real servers send more (see ReplyLimits).
  std::string text(1500, 'y');
  EXPECT_EQ(one("550 5.7.1 " + text + "\r\n").lines, Lines{text});
  EXPECT_TRUE(parse("550 " + std::string(4093, 'z') + "\r\n").error);
}

TEST_P(ReplyParserTest, LinesPerReplyBound) {
  limits_.max_lines = 3;
  EXPECT_EQ(one("250-a\r\n250-b\r\n250 c\r\n").lines.size(), 3u);
  EXPECT_NE(error("250-a\r\n250-b\r\n250-c\r\n250 d\r\n").find("longer than 3 lines"), std::string::npos);
  // The bound is per reply, not per connection.
  Parsed p = parse("250-a\r\n250 b\r\n250-c\r\n250 d\r\n");
  EXPECT_FALSE(p.error);
  EXPECT_EQ(p.replies.size(), 2u);
}

// ---- EHLO ----

Extensions ehlo_of(std::string_view reply) {
  Parsed p = parse(reply, Chunking::whole);
  EXPECT_EQ(p.replies.size(), 1u);
  auto e = p.replies.empty() ? std::nullopt : parse_ehlo(p.replies[0]);
  EXPECT_TRUE(e);
  return e.value_or(Extensions{});
}

TEST(EhloTest, Extensions) {
  Extensions e = ehlo_of(
      "250-mx.example.test Hello client [192.0.2.1]\r\n"
      "250-PIPELINING\r\n"
      "250-SIZE 35882577\r\n"
      "250-8BITMIME\r\n"
      "250-SMTPUTF8\r\n"
      "250-STARTTLS\r\n"
      "250-AUTH PLAIN LOGIN XOAUTH2\r\n"
      "250-CHUNKING\r\n"
      "250-BINARYMIME\r\n"
      "250-DSN\r\n"
      "250-ETRN\r\n"
      "250 ENHANCEDSTATUSCODES\r\n");
  EXPECT_EQ(e.domain, "mx.example.test");
  EXPECT_TRUE(e.pipelining);
  EXPECT_EQ(e.size, 35882577u);
  EXPECT_TRUE(e.eightbitmime);
  EXPECT_TRUE(e.smtputf8);
  EXPECT_TRUE(e.starttls);
  EXPECT_EQ(e.auth, (Lines{"PLAIN", "LOGIN", "XOAUTH2"}));
  EXPECT_TRUE(e.chunking);
  EXPECT_TRUE(e.binarymime);
  EXPECT_TRUE(e.dsn);
  EXPECT_TRUE(e.enhancedstatuscodes);
  EXPECT_TRUE(e.has("etrn"));  // one we have no field for
  EXPECT_FALSE(e.has("VRFY"));
}

TEST(EhloTest, KeywordsAreCaseInsensitive) {
  Extensions e = ehlo_of("250-mx\r\n250-pipelining\r\n250-Size 1000\r\n250-auth plain Login\r\n250 starttls\r\n");
  EXPECT_TRUE(e.pipelining);
  EXPECT_EQ(e.size, 1000u);
  EXPECT_EQ(e.auth, (Lines{"PLAIN", "LOGIN"}));
  EXPECT_TRUE(e.starttls);
  EXPECT_TRUE(e.has("Pipelining"));
  EXPECT_FALSE(e.dsn);
}

TEST(EhloTest, OldAuthFormIsMerged) {
  Extensions e = ehlo_of("250-mx\r\n250-AUTH LOGIN PLAIN\r\n250 AUTH=LOGIN PLAIN CRAM-MD5\r\n");
  EXPECT_EQ(e.auth, (Lines{"LOGIN", "PLAIN", "CRAM-MD5"}));
}

TEST(EhloTest, SizeWithoutALimit) {
  // RFC 1870 4: no parameter or 0 means no fixed maximum.
  EXPECT_EQ(ehlo_of("250-mx\r\n250 SIZE\r\n").size, 0u);
  EXPECT_EQ(ehlo_of("250-mx\r\n250 SIZE 0\r\n").size, 0u);
  EXPECT_EQ(ehlo_of("250-mx\r\n250 SIZE lots\r\n").size, 0u);
  EXPECT_FALSE(ehlo_of("250-mx\r\n250 PIPELINING\r\n").size);
}

TEST(EhloTest, MalformedLinesAreSkipped) {
  Extensions e = ehlo_of("250-mx\r\n250-\r\n250--DASH\r\n250-BAD_KEY\r\n250-  \r\n250 DSN\r\n");
  EXPECT_TRUE(e.dsn);
  EXPECT_EQ(e.params.size(), 1u);
}

TEST(EhloTest, OnlyA250Counts) {
  Parsed p = parse("250 mx.example.test\r\n554 5.7.1 go away\r\n", Chunking::whole);
  ASSERT_EQ(p.replies.size(), 2u);
  auto plain = parse_ehlo(p.replies[0]);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->domain, "mx.example.test");
  EXPECT_TRUE(plain->params.empty());
  EXPECT_FALSE(parse_ehlo(p.replies[1]));
}

// Our own server's EHLO reply, read by our own client.
TEST(EhloTest, ReadsHeraldsOwnReply) {
  SmtpLimits limits = test_limits();
  Session s(limits, "mx.example.test");
  s.feed("EHLO client.test\r\n");
  Parsed p = parse(s.step().output, Chunking::whole);
  ASSERT_EQ(p.replies.size(), 1u);
  auto e = parse_ehlo(p.replies[0]);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->domain, "mx.example.test");
  EXPECT_TRUE(e->pipelining && e->eightbitmime && e->smtputf8 && e->chunking && e->enhancedstatuscodes);
  EXPECT_EQ(e->size, limits.max_message_size);
}

// ---- Commands ----

std::string ok(Result<std::string> r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : "";
}

bool refused(const Result<std::string>& r) { return !r.ok() && r.error().code == Errc::invalid; }

TEST(FormatTest, EhloHelo) {
  EXPECT_EQ(ok(format_ehlo("client.example.test")), "EHLO client.example.test\r\n");
  EXPECT_EQ(ok(format_helo("[192.0.2.1]")), "HELO [192.0.2.1]\r\n");
  for (std::string bad : {"a\r\nMAIL FROM:<x@y.z>"s, "a\nb"s, "a\rb"s, "a\0b"s, ""s, "a b"s}) {
    SCOPED_TRACE(::testing::PrintToString(bad));
    EXPECT_TRUE(refused(format_ehlo(bad)));
    EXPECT_TRUE(refused(format_helo(bad)));
  }
}

TEST(FormatTest, Mail) {
  EXPECT_EQ(ok(format_mail("alice@example.test")), "MAIL FROM:<alice@example.test>\r\n");
  EXPECT_EQ(ok(format_mail("")), "MAIL FROM:<>\r\n");  // RFC 5321 4.5.5: bounces
  MailParams p;
  p.size = 12345;
  p.body = BodyType::eight_bit_mime;
  p.smtputf8 = true;
  p.ret = DsnRet::hdrs;
  p.envid = "Q1+a=b c";
  EXPECT_EQ(ok(format_mail("j\xC3\xBCrgen@example.test", p)),
            "MAIL FROM:<j\xC3\xBCrgen@example.test> SIZE=12345 BODY=8BITMIME SMTPUTF8 RET=HDRS "
            "ENVID=Q1+2Ba+3Db+20c\r\n");
  MailParams q;
  q.body = BodyType::binary_mime;
  q.ret = DsnRet::full;
  EXPECT_EQ(ok(format_mail("\"a b\"@example.test", q)),
            "MAIL FROM:<\"a b\"@example.test> BODY=BINARYMIME RET=FULL\r\n");
  q.body = BodyType::seven_bit;
  q.ret = DsnRet::unspecified;
  EXPECT_EQ(ok(format_mail("a@example.test", q)), "MAIL FROM:<a@example.test> BODY=7BIT\r\n");
}

TEST(FormatTest, MailRefusesInjectionAndBadPaths) {
  for (std::string bad : {"a@b.test>\r\nRCPT TO:<c@d.test"s, "a@b.test\n"s, "a\0@b.test"s,
                          "a@b.test> SIZE=1"s, "a@b.test> SIZE=1 <x"s, "<a@b.test>"s, "alice"s,
                          "postmaster"s, ";sleep 1;"s, "j\xC3\xBCrgen@example.test"s}) {
    SCOPED_TRACE(::testing::PrintToString(bad));
    EXPECT_TRUE(refused(format_mail(bad)));
  }
  MailParams p;
  p.envid = "x\r\nRSET";
  EXPECT_TRUE(refused(format_mail("a@b.test", p)));
  p.envid = "x\0"s;
  EXPECT_TRUE(refused(format_mail("a@b.test", p)));
}

TEST(FormatTest, Rcpt) {
  EXPECT_EQ(ok(format_rcpt("bob@example.test")), "RCPT TO:<bob@example.test>\r\n");
  EXPECT_EQ(ok(format_rcpt("Postmaster")), "RCPT TO:<Postmaster>\r\n");  // RFC 5321 4.1.1.3
  RcptParams p;
  p.notify = Notify{.success = true, .failure = true, .delay = true};
  p.orcpt = "Bob+x@example.test";
  EXPECT_EQ(ok(format_rcpt("bob@example.test", p)),
            "RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;Bob+2Bx@example.test\r\n");
  p = RcptParams{};
  p.notify = Notify{.never = true};
  EXPECT_EQ(ok(format_rcpt("bob@example.test", p)), "RCPT TO:<bob@example.test> NOTIFY=NEVER\r\n");
}

TEST(FormatTest, RcptRefusals) {
  for (std::string bad : {""s, "bob@example.test>\r\nDATA"s, "bob@example.test\r"s, "b\0b@example.test"s,
                          "bob@example.test> NOTIFY=NEVER"s, "bob"s}) {
    SCOPED_TRACE(::testing::PrintToString(bad));
    EXPECT_TRUE(refused(format_rcpt(bad)));
  }
  RcptParams p;
  p.notify = Notify{};  // an empty list
  EXPECT_TRUE(refused(format_rcpt("bob@example.test", p)));
  p.notify = Notify{.never = true, .failure = true};  // RFC 3461 4.1: NEVER alone
  EXPECT_TRUE(refused(format_rcpt("bob@example.test", p)));
  p = RcptParams{};
  p.orcpt = "x\r\nQUIT";
  EXPECT_TRUE(refused(format_rcpt("bob@example.test", p)));
  p.orcpt = "bob@example.test";
  p.orcpt_type = "rfc822;x";
  EXPECT_TRUE(refused(format_rcpt("bob@example.test", p)));
}

TEST(FormatTest, FixedCommands) {
  EXPECT_EQ(format_data(), "DATA\r\n");
  EXPECT_EQ(format_bdat(0, true), "BDAT 0 LAST\r\n");
  EXPECT_EQ(format_bdat(18446744073709551615u, false), "BDAT 18446744073709551615\r\n");
  EXPECT_EQ(format_rset(), "RSET\r\n");
  EXPECT_EQ(format_noop(), "NOOP\r\n");
  EXPECT_EQ(format_quit(), "QUIT\r\n");
  EXPECT_EQ(format_starttls(), "STARTTLS\r\n");
}

TEST(FormatTest, Auth) {
  EXPECT_EQ(ok(format_auth("LOGIN")), "AUTH LOGIN\r\n");
  // PLAIN's NULs travel base64-encoded (RFC 4616 2); "=" is the empty response.
  EXPECT_EQ(ok(format_auth("PLAIN", "\0alice\0secret"s)), "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
  EXPECT_EQ(ok(format_auth("EXTERNAL", "")), "AUTH EXTERNAL =\r\n");
  EXPECT_EQ(ok(format_auth("SCRAM-SHA-256-PLUS")), "AUTH SCRAM-SHA-256-PLUS\r\n");
  for (std::string bad : {""s, "PLAIN\r\nMAIL FROM:<a@b.test>"s, "PL AIN"s, "PLAIN\0"s,
                          "A-MECHANISM-NAME-TOO-LONG"s}) {
    SCOPED_TRACE(::testing::PrintToString(bad));
    EXPECT_TRUE(refused(format_auth(bad)));
  }
  // RFC 4954 4: past 12288 octets, the response goes after the 334.
  EXPECT_TRUE(refused(format_auth("PLAIN", std::string(9300, 'x'))));
  EXPECT_TRUE(format_auth("PLAIN", std::string(9000, 'x')).ok());
  EXPECT_EQ(format_auth_response("\0a\0b"s), "AGEAYg==\r\n");
  EXPECT_EQ(format_auth_response(""), "\r\n");
  EXPECT_EQ(format_auth_cancel(), "*\r\n");
}

// ---- DATA ----

TEST(DotStuffTest, Lines) {
  EXPECT_EQ(dot_stuff(""), ".\r\n");
  EXPECT_EQ(dot_stuff("a"), "a\r\n.\r\n");  // the missing CRLF is added
  EXPECT_EQ(dot_stuff("a\r\n"), "a\r\n.\r\n");
  EXPECT_EQ(dot_stuff("\r\n"), "\r\n.\r\n");
  // RFC 5321 4.5.2.
  EXPECT_EQ(dot_stuff(".x\r\n..\r\n.\r\nnot.first\r\n."), "..x\r\n...\r\n..\r\nnot.first\r\n..\r\n.\r\n");
  // In pieces, cut anywhere (inside a CRLF, before a dot), the same.
  for (std::string_view body : {std::string_view(".x\r\n..\r\n.\r\nnot.first\r\n."), std::string_view("a\rb\nc\r\n.\r"),
                                std::string_view("\r\n\r\n.\n..")}) {
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
      for (std::size_t cut2 = cut; cut2 <= body.size(); ++cut2) {
        DotStuffer s;
        std::string out;
        s.feed(body.substr(0, cut), out);
        s.feed(body.substr(cut, cut2 - cut), out);
        s.feed(body.substr(cut2), out);
        s.finish(out);
        EXPECT_EQ(out, dot_stuff(body)) << "cut at " << cut << " and " << cut2;
      }
    }
  }
}

TEST(DotStuffTest, BareLineEndsBecomeCrlf) {
  EXPECT_EQ(dot_stuff("a\nb\rc\r\n\n"), "a\r\nb\r\nc\r\n\r\n.\r\n");
  // SMTP smuggling: "<LF>.<CR><LF>" and "<CR><LF>.<LF>" must not reach the
  // wire, where a lenient server would end the message there.
  std::string out = dot_stuff("Hello\n.\r\nMAIL FROM:<evil@x.test>\r\n.\nQUIT\r.\r");
  EXPECT_EQ(out, "Hello\r\n..\r\nMAIL FROM:<evil@x.test>\r\n..\r\nQUIT\r\n..\r\n.\r\n");
  EXPECT_EQ(out.find("\r\n.\r\n"), out.size() - 5);
}

TEST(DotStuffTest, HeraldsOwnServerReadsItBack) {
  // What dot_stuff sends, the server side unstuffs to the same lines.
  std::string body = "Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nplain\r\n";
  SmtpLimits limits = test_limits();
  Session s(limits, "mx.example.test");
  s.feed("EHLO c\r\n");
  s.step();
  s.feed("MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n");
  ASSERT_EQ(s.step().action, Action::check_recipient);
  s.on_recipient_checked({RcptStatus::ok, {}});
  s.step();
  s.feed(dot_stuff(body));
  Step st = s.step();
  ASSERT_EQ(st.action, Action::submit) << st.output;
  EXPECT_EQ(s.transaction().data, body);
}

TEST(XtextTest, Encoding) {
  // RFC 3461 4: "+", "=", controls, space and 8-bit octets as "+XX".
  EXPECT_EQ(xtext("plain!~"), "plain!~");
  EXPECT_EQ(xtext("a+b=c d\x01\xff"), "a+2Bb+3Dc+20d+01+FF");
}

TEST(XtextTest, DecodingIsTheReverseAndRefusesWhatIsNotXtext) {
  for (std::string raw : {"", "plain!~", "a+b=c d\x01\xff", "+++"}) EXPECT_EQ(xtext_decode(xtext(raw)), raw);
  EXPECT_EQ(xtext_decode("Bob+2Bx@example.org"), "Bob+x@example.org");
  for (std::string_view bad : {"a=b", "a b", "+2", "+", "+2b", "+GG", "a\x7f", "\xc3\xa9"})
    EXPECT_EQ(xtext_decode(bad), std::nullopt) << bad;
}

// RFC 3461 4.1-4.4: the DSN parameters a server receives.
TEST(DsnParamsTest, NotifyRetOrcpt) {
  auto n = parse_notify("success,Delay");
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->success && n->delay && !n->failure && !n->never);
  EXPECT_EQ(notify_text(n), "SUCCESS,DELAY");
  EXPECT_EQ(notify_text(parse_notify("NEVER")), "NEVER");
  EXPECT_EQ(notify_text(std::nullopt), "");
  for (std::string_view bad : {"", "NEVER,SUCCESS", "SUCCESS,SUCCESS", "SOMETIMES", "SUCCESS,", ",FAILURE"})
    EXPECT_EQ(parse_notify(bad), std::nullopt) << bad;
  EXPECT_TRUE(wants_failure(std::nullopt) && wants_delay(std::nullopt) && !wants_success(std::nullopt));
  EXPECT_FALSE(wants_failure(parse_notify("NEVER")) || wants_delay(parse_notify("NEVER")));
  EXPECT_TRUE(wants_success(parse_notify("SUCCESS")) && !wants_failure(parse_notify("SUCCESS")));
  EXPECT_EQ(parse_ret("hdrs"), DsnRet::hdrs);
  EXPECT_EQ(parse_ret("FULL"), DsnRet::full);
  EXPECT_EQ(parse_ret("BOTH"), std::nullopt);
  EXPECT_EQ(ret_text(DsnRet::hdrs), "HDRS");
  auto o = parse_orcpt("rfc822;bob+2Bx@example.org");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->text(), "rfc822;bob+x@example.org");
  for (std::string_view bad : {"rfc822", ";bob@x", "rfc 822;bob@x", "rfc822;", "rfc822;a=b"})
    EXPECT_EQ(parse_orcpt(bad), std::nullopt) << bad;
}

}  // namespace
}  // namespace herald::smtp

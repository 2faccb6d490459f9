#include <gtest/gtest.h>

#include "imap/command.h"
#include "imap/fetch.h"
#include "imap/sequence.h"
#include "imap/utf7.h"
#include "imap/writer.h"

namespace herald::imap {
namespace {

using Event = CommandReader::Event;

// describe - a value as text: atoms bare, strings quoted, literals as
// {..}, lists in parentheses.
std::string describe(const Value& v) {
  switch (v.kind) {
    case Value::Kind::atom: return v.text;
    case Value::Kind::quoted: return "\"" + v.text + "\"";
    case Value::Kind::literal: return (v.binary ? "~{" : "{") + v.text + "}";
    case Value::Kind::list: {
      std::string s = "(";
      for (std::size_t i = 0; i < v.items.size(); ++i) s += (i ? " " : "") + describe(v.items[i]);
      return s + ")";
    }
  }
  return "?";
}

// events - what the reader makes of input, fed whole or one octet at a
// time: "+" for a continuation, "tag NAME args..." for a command, "BAD
// tag text" (with "!" when fatal) for an error.
std::vector<std::string> events(std::string_view input, bool bytewise, CommandLimits limits = {}) {
  CommandReader r(limits);
  std::vector<std::string> out;
  auto drain = [&] {
    for (;;) {
      Event e = r.next();
      if (e == Event::need_more) return true;
      if (e == Event::continuation) {
        out.push_back("+");
      } else if (e == Event::command) {
        Command c = r.take_command();
        std::string s = c.tag + " " + c.name;
        for (const auto& v : c.args) s += " " + describe(v);
        out.push_back(s);
      } else {
        out.push_back("BAD " + r.error().tag + " " + r.error().text + (r.error().fatal ? " !" : ""));
        if (r.error().fatal) return false;
      }
    }
  };
  if (bytewise) {
    for (char c : input) {
      r.feed(std::string_view(&c, 1));
      if (!drain()) break;
    }
  } else {
    r.feed(input);
    drain();
  }
  return out;
}

// expect - the same events fed whole and fed one octet at a time.
void expect(std::string_view input, const std::vector<std::string>& want, CommandLimits limits = {}) {
  EXPECT_EQ(events(input, false, limits), want) << "fed whole: " << input;
  EXPECT_EQ(events(input, true, limits), want) << "fed one octet at a time: " << input;
}

using V = std::vector<std::string>;

TEST(ImapCommandTest, AtomsQuotedStringsAndPipelinedCommands) {
  expect("a1 NOOP\r\na2 login alice \"p\\\"a\\\\ss\"\r\n", V{"a1 NOOP", "a2 LOGIN alice \"p\"a\\ss\""});
  expect("\r\na3 CAPABILITY\n", V{"a3 CAPABILITY"});  // a blank line is ignored; LF alone ends a line
}

TEST(ImapCommandTest, LiteralsSynchronizingPlusAndBinary) {
  expect("a1 LOGIN {5}\r\nalice pass\r\n", V{"+", "a1 LOGIN {alice} pass"});
  expect("a2 APPEND Sent (\\Seen) {3+}\r\nabc\r\n", V{"a2 APPEND Sent (\\Seen) {abc}"});
  expect(std::string("a3 APPEND x ~{3}\r\na\0b\r\n", 23), V{"+", std::string("a3 APPEND x ~{a\0b}", 18)});
  expect("a4 LOGIN {0}\r\n {1+}\r\nx\r\n", V{"+", "a4 LOGIN {} {x}"});
  expect(std::string("a5 LOGIN {3}\r\na\0b\r\na6 NOOP\r\n", 28),
         V{"+", "BAD a5 NUL in a literal (only literal8 may hold it)", "a6 NOOP"});
}

TEST(ImapCommandTest, ListsAndSectionAtoms) {
  expect("a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100> (X (Y)))\r\n",
         V{"a1 FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100> (X (Y)))"});
  expect("a2 LIST \"\" *\r\na3 SELECT [Gmail]/Sent\r\n", V{"a2 LIST \"\" *", "a3 SELECT [Gmail]/Sent"});
  expect("a4 STORE 1 +FLAGS ()\r\n", V{"a4 STORE 1 +FLAGS ()"});
}

// Each bad command gets BAD with its tag where there is one, and the next
// command is read as if nothing happened.
TEST(ImapCommandTest, MistakesAreRefusedAndTheSessionGoesOn) {
  expect("+x NOOP\r\na1 NOOP\r\n", V{"BAD * Missing or invalid tag", "a1 NOOP"});
  expect("a1\r\na2 NOOP\r\n", V{"BAD * Missing or invalid tag", "a2 NOOP"});
  expect("a1 LOGIN \"open\r\na2 NOOP\r\n", V{"BAD a1 Unterminated quoted string", "a2 NOOP"});
  expect("a1 LOGIN \"a\\b\"\r\n", V{"BAD a1 Invalid escape in a quoted string"});
  expect("a1 FETCH 1 (FLAGS\r\na2 X a)\r\n", V{"BAD a1 Missing )", "BAD a2 Unexpected )"});
  expect("a1 LOGIN {-1}\r\na2 NOOP\r\n", V{"BAD a1 Invalid literal", "a2 NOOP"});
  expect(std::string("a1 LOGIN a\0b\r\na2 NOOP\r\n", 23), V{"BAD a1 NUL in a command line", "a2 NOOP"});
  expect("a1 LOGIN caf\xC3\xA9 x\r\n", V{"BAD a1 8-bit octets outside a string"});
  expect("a1 LOGIN \"a\"\"b\"\r\n", V{"BAD a1 Missing space between arguments"});
}

// Hostile sizes: each is refused with memory kept bounded.
TEST(ImapCommandTest, HostileSizesAreBounded) {
  CommandLimits l;
  l.max_line = 1000;
  l.max_literal = 10000;
  // A synchronizing literal too large: refused before the client sends it.
  expect("a1 APPEND x {4294967296}\r\na2 NOOP\r\n", V{"BAD a1 Literal too large", "a2 NOOP"}, l);
  // A non-synchronizing one: the client sends it anyway, so the connection ends.
  expect("a1 APPEND x {4294967296+}\r\nxxxx", V{"BAD a1 Literal too large !"}, l);
  // LITERAL-: over 4096 must synchronize; it is read past, refused.
  expect("a1 APPEND x {5000+}\r\n" + std::string(5000, 'x') + "\r\na2 NOOP\r\n",
         V{"BAD a1 Non-synchronizing literal over 4096 octets", "a2 NOOP"}, l);
  // 10,000 nested lists, a line too long (a million-range sequence set).
  expect("a1 X " + std::string(10000, '(') + "\r\na2 NOOP\r\n", V{"BAD a1 Lists nested too deep", "a2 NOOP"},
         CommandLimits{});
  std::string ranges = "a1 FETCH 1";
  for (int i = 2; i < 400; ++i) ranges += "," + std::to_string(i);
  expect(ranges + " FLAGS\r\na2 NOOP\r\n", V{"BAD * Command line too long", "a2 NOOP"}, l);
  // A refused line that ends in a non-synchronizing literal: the literal
  // is skipped too, never read as commands.
  expect(std::string(2000, 'x') + " {14+}\r\nabc\r\nz1 NOOP\r\n\r\na2 NOOP\r\n",
         V{"BAD * Command line too long", "a2 NOOP"}, l);
  expect("a1 LOGIN \"a\\b\" {14+}\r\nabc\r\nz1 NOOP\r\n\r\na2 NOOP\r\n",
         V{"BAD a1 Invalid escape in a quoted string", "a2 NOOP"}, l);
  l.max_values = 5;
  expect("a1 X a b c d e f\r\n", V{"BAD a1 Too many arguments"}, l);
}

// An AUTHENTICATE response and IDLE's DONE are lines, not commands; what
// follows them is read as commands again.
TEST(ImapCommandTest, RawLinesWhenAsked) {
  for (bool bytewise : {false, true}) {
    CommandReader r;
    std::vector<std::string> seen;
    std::string input = "a1 AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\na2 IDLE\r\nDONE\r\na3 NOOP\r\n";
    auto drain = [&] {
      for (Event e = r.next(); e != Event::need_more; e = r.next()) {
        if (e == Event::command) {
          Command c = r.take_command();
          seen.push_back(c.tag + " " + c.name);
          if (c.name == "AUTHENTICATE" || c.name == "IDLE") r.expect_line();
        } else if (e == Event::line) {
          seen.push_back("line " + r.take_line());
        } else {
          seen.push_back("other");
        }
      }
    };
    if (bytewise) {
      for (char c : input) {
        r.feed(std::string_view(&c, 1));
        drain();
      }
    } else {
      r.feed(input);
      drain();
    }
    EXPECT_EQ(seen, (V{"a1 AUTHENTICATE", "line AGFsaWNlAHNlY3JldA==", "a2 IDLE", "line DONE", "a3 NOOP"}));
  }
}

TEST(ImapSequenceTest, SetsAndStar) {
  auto s = SequenceSet::parse("1:4,7,9:*");
  ASSERT_TRUE(s);
  for (std::uint32_t n : {1u, 4u, 7u, 9u, 12u}) EXPECT_TRUE(s->contains(n, 12)) << n;
  for (std::uint32_t n : {5u, 8u, 13u}) EXPECT_FALSE(s->contains(n, 12)) << n;
  auto reversed = SequenceSet::parse("4:2");
  EXPECT_TRUE(reversed->contains(3, 10));
  EXPECT_TRUE(SequenceSet::parse("*:5")->contains(7, 7));
  EXPECT_TRUE(SequenceSet::parse("$")->saved());
  EXPECT_TRUE(SequenceSet::parse("4294967295"));
  for (const char* bad : {"", "0", "1:", ":2", ",", "1,,2", "4294967296", "01", "1:2:3", "a", "-1"})
    EXPECT_FALSE(SequenceSet::parse(bad)) << bad;
  std::string many = "1";
  for (int i = 0; i < 20; ++i) many += ",1";
  EXPECT_FALSE(SequenceSet::parse(many, 20));
  EXPECT_TRUE(SequenceSet::parse(many, 21));
}

TEST(ImapUtf7Test, ModifiedUtf7BothWays) {
  EXPECT_EQ(utf7_decode("Entw&APw-rfe"), "Entw\xC3\xBCrfe");
  EXPECT_EQ(utf7_decode("&ZeVnLA-"), "\xE6\x97\xA5\xE6\x9C\xAC");
  EXPECT_EQ(utf7_decode("Tom &- Jerry"), "Tom & Jerry");
  EXPECT_EQ(utf7_decode("INBOX"), "INBOX");
  EXPECT_EQ(utf7_encode("Entw\xC3\xBCrfe"), "Entw&APw-rfe");
  EXPECT_EQ(utf7_encode("Tom & Jerry"), "Tom &- Jerry");
  // RFC 3501 5.1.3: one form only - no ASCII in base64, no open shift.
  for (const char* bad : {"&AGE-", "&Jjo", "&", "a&ZeVnLA", "&ZeVnLA-&ZeVnLA-x&"}) EXPECT_FALSE(utf7_decode(bad)) << bad;
  EXPECT_FALSE(utf7_encode("\xC3("));
}

TEST(ImapWriterTest, TheFormEachStringAllows) {
  auto astring = [](std::string_view s, StringForm f = {}) {
    std::string out;
    append_astring(out, s, f);
    return out;
  };
  EXPECT_EQ(astring("INBOX"), "INBOX");
  EXPECT_EQ(astring("Sent Items"), "\"Sent Items\"");
  EXPECT_EQ(astring("NIL"), "\"NIL\"");
  EXPECT_EQ(astring("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(astring(""), "\"\"");
  EXPECT_EQ(astring("two\r\nlines"), "{10}\r\ntwo\r\nlines");
  EXPECT_EQ(astring("Entw\xC3\xBCrfe"), "{9}\r\nEntw\xC3\xBCrfe");
  EXPECT_EQ(astring("Entw\xC3\xBCrfe", {.utf8 = true}), "\"Entw\xC3\xBCrfe\"");
  std::string out;
  append_nstring(out, std::nullopt);
  append_literal(out, std::string("a\0b", 3), true);
  EXPECT_EQ(out, std::string("NIL~{3}\r\na\0b", 12));
}

// ENVELOPE and BODYSTRUCTURE from the structure computed at delivery, in
// the forms RFC 9051 7.5.2 gives.
TEST(ImapFetchTest, EnvelopeAndBodystructure) {
  std::string m =
      "Date: Mon, 7 Dec 2026 01:00:00 +0000\r\nFrom: \"Ann Lee\" <ann@x.test>\r\nTo: Team: b@y.test;, c@y.test\r\n"
      "Subject: hello\r\nMessage-ID: <1@x.test>\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\nthere\r\n"
      "--b\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Transfer-Encoding: base64\r\n"
      "Content-Disposition: attachment; filename=r.pdf\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
  mime::Part p = mime::structure_of(m);  // "hi\r\nthere": 9 octets, 2 lines; the CRLF before "--b" is the delimiter's
  std::string env;
  append_envelope(env, *p.envelope);
  EXPECT_EQ(env,
            "(\"Mon, 7 Dec 2026 01:00:00 +0000\" \"hello\" ((\"Ann Lee\" NIL \"ann\" \"x.test\")) "
            "((\"Ann Lee\" NIL \"ann\" \"x.test\")) ((\"Ann Lee\" NIL \"ann\" \"x.test\")) "
            "((NIL NIL \"Team\" NIL)(NIL NIL \"b\" \"y.test\")(NIL NIL NIL NIL)(NIL NIL \"c\" \"y.test\")) NIL NIL NIL "
            "\"<1@x.test>\")");
  std::string body, bodystructure;
  append_bodystructure(body, p, false);
  EXPECT_EQ(body,
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 9 2)"
            "(\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\") NIL NIL \"BASE64\" 12) \"MIXED\")");
  append_bodystructure(bodystructure, p, true);
  EXPECT_EQ(bodystructure,
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 9 2 NIL NIL NIL NIL)"
            "(\"APPLICATION\" \"PDF\" (\"NAME\" \"r.pdf\") NIL NIL \"BASE64\" 12 NIL "
            "(\"ATTACHMENT\" (\"FILENAME\" \"r.pdf\")) NIL NIL) \"MIXED\" (\"BOUNDARY\" \"b\") NIL NIL NIL)");
  // A message inside: its envelope and structure, and its lines.
  std::string outer = "Subject: fwd\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nbody\r\n";
  std::string fwd;
  append_bodystructure(fwd, mime::structure_of(outer), false);
  EXPECT_EQ(fwd,
            "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 21 (NIL \"in\" NIL NIL NIL NIL NIL NIL NIL NIL) "
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 6 1) 3)");
}

}  // namespace
}  // namespace herald::imap

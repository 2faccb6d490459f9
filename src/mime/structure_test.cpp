#include "mime/structure.h"

#include <gtest/gtest.h>

#include "mime/builder.h"

namespace herald::mime {
namespace {

// describe - a part as text: type, offsets, size, lines, its parts.
std::string describe(const Part& p) {
  std::string s = p.type + "/" + p.subtype + " h" + std::to_string(p.header_offset) + " b" +
                  std::to_string(p.body_offset) + " e" + std::to_string(p.end_offset) + " l" + std::to_string(p.lines);
  if (!p.disposition.empty()) s += " " + p.disposition;
  if (p.envelope) s += " <" + p.envelope->subject + ">";
  if (!p.parts.empty()) {
    s += " [";
    for (std::size_t i = 0; i < p.parts.size(); ++i) s += (i ? ", " : "") + describe(p.parts[i]);
    s += "]";
  }
  return s;
}

Part parse(std::string_view m, bool bytewise, StructureLimits limits = {}) {
  StructureParser first(limits);
  if (bytewise) {
    // Moved half way, as the message being received that holds it is.
    std::size_t half = m.size() / 2;
    for (char c : m.substr(0, half)) first.feed(std::string_view(&c, 1));
    StructureParser p = std::move(first);
    for (char c : m.substr(half)) p.feed(std::string_view(&c, 1));
    return p.finish();
  }
  first.feed(m);
  return first.finish();
}

// both - the structure fed whole, checked equal to the one fed an octet at a time.
Part both(std::string_view m, StructureLimits limits = {}) {
  Part whole = parse(m, false, limits);
  EXPECT_EQ(describe(whole), describe(parse(m, true, limits)));
  return whole;
}

std::string body_of(std::string_view m, const Part& p) { return std::string(m.substr(p.body_offset, p.size())); }

TEST(MimeStructureTest, APlainMessage) {
  std::string m = "From: A <a@x.test>\r\nSubject: hi\r\nTo: b@y.test,\r\n c@y.test\r\n\r\nline one\r\nline two\r\n";
  Part p = both(m);
  EXPECT_EQ(p.type + "/" + p.subtype, "text/plain");
  EXPECT_EQ(p.params, (Parameters{{"charset", "us-ascii"}}));
  EXPECT_EQ(body_of(m, p), "line one\r\nline two\r\n");
  EXPECT_EQ(p.lines, 2u);
  ASSERT_TRUE(p.envelope);
  EXPECT_EQ(p.envelope->subject, "hi");
  EXPECT_EQ(p.envelope->from, "A <a@x.test>");
  EXPECT_EQ(p.envelope->to, "b@y.test, c@y.test");
}

// What the builder makes: mixed( alternative(text, html), three files ),
// each body found at its offsets.
TEST(MimeStructureTest, TheBuildersMultipart) {
  Composition c;
  c.from = "a@example.test";
  c.to = {"b@example.test"};
  c.subject = "files";
  c.text = "see the files\n";
  c.html = "<p>see</p>";
  c.attachments = {{"r.pdf", "%PDF-1.4\n", ""}, {"a.csv", "a;b\n", ""}, {"n.bin", std::string(100, '\1'), ""}};
  c.date = "Mon, 7 Dec 2026 01:00:00 +0000";
  c.message_id = "<x@example.test>";
  c.boundary_seed = "seed";
  auto built = build(c);
  ASSERT_TRUE(built);
  const std::string& m = *built;
  Part p = both(m);
  ASSERT_EQ(p.type + "/" + p.subtype, "multipart/mixed");
  ASSERT_EQ(p.parts.size(), 4u);
  const Part& alt = p.parts[0];
  ASSERT_EQ(alt.subtype, "alternative");
  ASSERT_EQ(alt.parts.size(), 2u);
  EXPECT_EQ(body_of(m, alt.parts[0]), "see the files\r\n");
  EXPECT_EQ(alt.parts[1].subtype, "html");
  EXPECT_EQ(p.parts[1].disposition, "attachment");
  EXPECT_EQ(p.parts[1].encoding, "base64");
  EXPECT_EQ(body_of(m, p.parts[1]), "JVBERi0xLjQK\r\n");  // its last line's CRLF is its own
  EXPECT_EQ(p.parts[2].disposition_params, (Parameters{{"filename", "a.csv"}}));
  EXPECT_EQ(p.envelope->subject, "files");
  EXPECT_EQ(p.end_offset, m.size());
}

TEST(MimeStructureTest, MessagesInsideAndDigests) {
  std::string inner = "Subject: inner\r\nFrom: c@z.test\r\n\r\nhello\r\n";
  std::string m = "Subject: outer\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\npreamble\r\n--b\r\n"
                  "Content-Type: message/rfc822\r\n\r\n" + inner + "--b\r\nContent-Type: multipart/digest; boundary=d\r\n\r\n"
                  "--d\r\n\r\nSubject: d1\r\n\r\nx\r\n--d--\r\n--b--\r\nepilogue\r\n";
  Part p = both(m);
  ASSERT_EQ(p.parts.size(), 2u);
  const Part& rfc822 = p.parts[0];
  ASSERT_TRUE(rfc822.message());
  ASSERT_EQ(rfc822.parts.size(), 1u);
  EXPECT_EQ(body_of(m, rfc822), inner.substr(0, inner.size() - 2));
  EXPECT_EQ(rfc822.parts[0].envelope->subject, "inner");
  EXPECT_EQ(body_of(m, rfc822.parts[0]), "hello");
  EXPECT_EQ(rfc822.lines, 4u);
  const Part& digest = p.parts[1];
  ASSERT_EQ(digest.parts.size(), 1u);
  EXPECT_TRUE(digest.parts[0].message());  // RFC 2046 5.1.5: a digest's parts are messages
  ASSERT_EQ(digest.parts[0].parts.size(), 1u);
  EXPECT_EQ(digest.parts[0].parts[0].envelope->subject, "d1");
}

TEST(MimeStructureTest, BrokenMessagesStillHaveAStructure) {
  // No blank line: all header. No close delimiter. LF line ends.
  EXPECT_EQ(describe(both("Subject: only a header\r\n")), "text/plain h0 b24 e24 l0 <only a header>");
  std::string open = "Content-Type: multipart/mixed; boundary=q\n\n--q\n\nfirst\n--q\nContent-Type: text/html\n\n<p>";
  Part p = both(open);
  ASSERT_EQ(p.parts.size(), 2u);
  EXPECT_EQ(body_of(open, p.parts[0]), "first");
  EXPECT_EQ(body_of(open, p.parts[1]), "<p>");
  // An outer delimiter right after an inner one closes both; the part the
  // inner one began is empty, inside its parent.
  std::string cut = "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; "
                    "boundary=b\r\n\r\n--b\r\n--a--\r\n";
  Part c = both(cut);
  ASSERT_EQ(c.parts.size(), 1u);
  ASSERT_EQ(c.parts[0].parts.size(), 1u);
  EXPECT_LE(c.parts[0].parts[0].end_offset, c.parts[0].end_offset);
  EXPECT_EQ(c.parts[0].parts[0].size(), 0u);
  // A line longer than the parser looks at keeps its CRLF out of the part.
  std::string wide_line = "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\n" + std::string(5000, 'z') +
                          "\r\n--q--\r\n";
  EXPECT_EQ(body_of(wide_line, both(wide_line).parts[0]), std::string(5000, 'z'));
  // A line that merely starts like a delimiter is text.
  std::string near = "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\n--qq\r\n-- q\r\n--q--\r\n";
  EXPECT_EQ(both(near).parts.size(), 1u);
}

TEST(MimeStructureTest, KeptAndReadBackWhole) {
  std::string m = "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Disposition: "
                  "attachment; filename=a.txt\r\nContent-Language: en, de\r\n\r\nx\r\n--b--\r\n";
  Part p = structure_of(m);
  auto back = decode(encode(p));
  ASSERT_TRUE(back);
  EXPECT_EQ(describe(*back), describe(p));
  EXPECT_EQ(back->parts[0].disposition_params, p.parts[0].disposition_params);
  EXPECT_EQ(back->parts[0].language, (std::vector<std::string>{"en", "de"}));
  EXPECT_EQ(back->envelope->subject, "s");
  EXPECT_FALSE(decode("not cbor"));
  shift(p, p.body_offset, 10);
  EXPECT_EQ(p.header_offset, 0u);
  EXPECT_EQ(p.parts[0].body_offset, back->parts[0].body_offset + 10);
}

// decode_envelope: the top message's envelope alone, not an enclosed
// message's (whose "env" is deeper in the tree, and read first).
TEST(MimeStructureTest, TheEnvelopeAloneIsReadBack) {
  std::string m = "Subject: outer\r\nFrom: a@example.test\r\nMessage-ID: <o@x>\r\n"
                  "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"
                  "Subject: inner\r\nFrom: b@example.test\r\n\r\nhi\r\n--b--\r\n";
  Part p = structure_of(m);
  ASSERT_TRUE(p.parts.at(0).parts.at(0).envelope);
  auto e = decode_envelope(encode(p));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->subject, "outer");
  EXPECT_EQ(e->message_id, "<o@x>");
  EXPECT_EQ(e->from, p.envelope->from);
  Part bare;  // a part with no envelope of its own
  EXPECT_FALSE(decode_envelope(encode(bare)));
  EXPECT_FALSE(decode_envelope("not cbor"));
  EXPECT_FALSE(decode_envelope(""));
}

// A MIME bomb costs its bounds: depth 1,000 and 100,000 parts.
TEST(MimeStructureTest, BombsAreBounded) {
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
  deep += "\r\ninnermost\r\n";
  StructureParser parser;
  parser.feed(deep);
  Part p = parser.finish();
  EXPECT_TRUE(parser.truncated());
  std::size_t depth = 0;
  for (const Part* q = &p; !q->parts.empty(); q = &q->parts.front()) ++depth;
  EXPECT_LE(depth, StructureLimits{}.max_depth);

  std::string wide = "Content-Type: multipart/mixed; boundary=w\r\n\r\n";
  for (int i = 0; i < 100000; ++i) wide += "--w\r\n\r\nx\r\n";
  wide += "--w--\r\n";
  StructureParser w;
  w.feed(wide);
  Part pw = w.finish();
  EXPECT_TRUE(w.truncated());
  EXPECT_EQ(pw.parts.size(), StructureLimits{}.max_parts - 1);
  EXPECT_EQ(pw.end_offset, wide.size());
}

}  // namespace
}  // namespace herald::mime

#include "mime/text.h"

#include <gtest/gtest.h>

#include "mime/header.h"

namespace herald::mime {
namespace {

using namespace std::literals;

std::string text_of(std::string_view message, std::size_t max = kIndexableMax) {
  return indexable_text(message, structure_of(message), max);
}

std::string headers_of(const std::string& t) { return t.substr(0, t.find(kTextSeparator)); }
std::string body_of(const std::string& t) { return t.substr(t.find(kTextSeparator) + 1); }

TEST(Text, PlainMessage) {
  auto t = text_of("Subject: hello there\r\nFrom: Ann <ann@example.com>\r\nTo: bob@example.com\r\n"
                   "Cc: cy@example.com\r\nX-Other: not indexed\r\n\r\nThe body\r\nof it\r\n");
  EXPECT_EQ(headers_of(t), "hello there\nAnn <ann@example.com>\nbob@example.com\ncy@example.com\n");
  EXPECT_EQ(body_of(t), "The body \nof it \n\n");
  EXPECT_EQ(std::count(t.begin(), t.end(), kTextSeparator), 1);
}

TEST(Text, AlwaysASeparator) {
  EXPECT_EQ(text_of("\r\n"), std::string(1, kTextSeparator));
  EXPECT_EQ(text_of("Subject: x\r\n\r\nbody", 0), std::string(1, kTextSeparator));
}

TEST(Text, EncodedWordsInHeaders) {
  auto t = text_of("Subject: =?UTF-8?B?w6l0w6k=?= =?ISO-8859-1?Q?caf=E9?=\r\n"
                   "From: =?utf-8?q?J=C3=BCrgen?= <j@example.com>\r\n\r\nx\r\n");
  EXPECT_EQ(headers_of(t), "\xc3\xa9t\xc3\xa9" "caf\xc3\xa9\nJ\xc3\xbcrgen <j@example.com>\n");
}

TEST(Text, Base64AndQuotedPrintableDecoded) {
  std::string m =
      "Subject: parts\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "aGVsbG8gd29ybGQgZnJvbSBiYXNlNjQ=\r\n"  // hello world from base64
      "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      "caf=C3=A9 cr=\r\n=C3=A8me\r\n"
      "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "c2VjcmV0IGF0dGFjaG1lbnQ=\r\n"  // secret attachment
      "--b--\r\n";
  auto body = body_of(text_of(m));
  EXPECT_NE(body.find("hello world from base64"), std::string::npos) << body;
  EXPECT_EQ(body.find("aGVsbG8"), std::string::npos) << "never the encoded octets";
  EXPECT_NE(body.find("caf\xc3\xa9 cr\xc3\xa8me"), std::string::npos) << body;
  EXPECT_EQ(body.find("secret"), std::string::npos) << "not a text part";
  EXPECT_EQ(body.find("c2VjcmV0"), std::string::npos);
}

TEST(Text, HtmlStripped) {
  std::string m =
      "Content-Type: text/html; charset=us-ascii\r\n\r\n"
      "<html><head><style>p { color: red }</style><script>var hidden = 1;</script></head>"
      "<body><p>Fish&amp;Chips &lt;today&gt; &quot;q&quot;&nbsp;x &#233;t&#xE9;</p><!-- a comment -->"
      "<b>bold</b>word</body></html>\r\n";
  auto body = body_of(text_of(m));
  EXPECT_NE(body.find("Fish&Chips <today> \"q\" x \xc3\xa9t\xc3\xa9"), std::string::npos) << body;
  EXPECT_NE(body.find(" bold word"), std::string::npos) << body;
  for (const char* gone : {"color", "hidden", "comment", "<p>", "html", "&amp;"})
    EXPECT_EQ(body.find(gone), std::string::npos) << gone << " in " << body;
}

TEST(Text, HtmlEdges) {
  EXPECT_EQ(html_text("a &bogus; & b"), "a &bogus; & b");
  EXPECT_EQ(html_text("a <unclosed"), "a  ");
  EXPECT_EQ(html_text("x<script>a</scriptx>b</script>y"), "x y");
  EXPECT_EQ(html_text("&#0; &#xD800; &#1114112;"), "&#0; &#xD800; &#1114112;");
  EXPECT_EQ(html_text("<STYLE>x</STYLE>ok"), " ok");
}

TEST(Text, Charsets) {
  EXPECT_EQ(to_utf8("caf\xe9", "ISO-8859-1"), "caf\xc3\xa9");
  EXPECT_EQ(to_utf8("\x80 \x93q\x94", "windows-1252"), "\xe2\x82\xac \xe2\x80\x9cq\xe2\x80\x9d");
  EXPECT_EQ(to_utf8("caf\xc3\xa9", "utf-8"), "caf\xc3\xa9");
  EXPECT_EQ(to_utf8("\xf4\xc5\xd3\xd4", "koi8-r"), "\xf4\xc5\xd3\xd4");  // left as octets
  auto body = body_of(text_of("Content-Type: text/plain; charset=\"iso-8859-1\"\r\n"
                              "Content-Transfer-Encoding: quoted-printable\r\n\r\nna=EFve\r\n"));
  EXPECT_EQ(body, "na\xc3\xafve \n\n");
}

TEST(Text, AlternativeAndNestedMessage) {
  std::string m =
      "Subject: outer\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n"
      "--o\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
      "--a\r\nContent-Type: text/plain\r\n\r\nplainword\r\n"
      "--a\r\nContent-Type: text/html\r\n\r\n<p>htmlword</p>\r\n--a--\r\n"
      "--o\r\nContent-Type: message/rfc822\r\n\r\n"
      "Subject: inner subject\r\nFrom: x@example.com\r\n\r\ninnerword\r\n"
      "--o--\r\n";
  auto t = text_of(m);
  EXPECT_EQ(headers_of(t), "outer\n");
  auto body = body_of(t);
  for (const char* w : {"plainword", "inner subject", "x@example.com", "innerword"})
    EXPECT_NE(body.find(w), std::string::npos) << w << " in " << body;
  EXPECT_EQ(body.find("htmlword"), std::string::npos) << "the plain version is enough";
}

TEST(Text, AnAlternativeWithoutPlainTextIsReadWhole) {
  auto body = body_of(text_of("Content-Type: multipart/alternative; boundary=a\r\n\r\n"
                              "--a\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
                              "--r\r\nContent-Type: text/html\r\n\r\n<p>htmlword</p>\r\n"
                              "--r\r\nContent-Type: image/png\r\n\r\nPNG\r\n--r--\r\n"
                              "--a\r\nContent-Type: text/enriched\r\n\r\nenriched\r\n--a--\r\n"));
  EXPECT_NE(body.find("htmlword"), std::string::npos) << body;
  EXPECT_EQ(body.find("PNG"), std::string::npos);
}

TEST(Text, ControlsBecomeSpaces) {
  auto t = text_of("Subject: a\r\n\r\nx\x01y\0z\r\n"sv);
  EXPECT_EQ(body_of(t), "x y z \n\n");
  EXPECT_EQ(std::count(t.begin(), t.end(), kTextSeparator), 1);
}

TEST(Text, BoundedAtACharacter) {
  std::string big;
  for (int i = 0; i < 100000; ++i) big += "\xc3\xa9";  // é
  std::string m8 = "Subject: s\r\n\r\n" + big + "\r\n";
  auto t = text_of(m8, 1001);
  EXPECT_LE(t.size(), 1001u);
  EXPECT_GE(t.size(), 995u);
  auto body = body_of(t);
  EXPECT_EQ(body.size() % 2, 0u) << "no half character";
}

TEST(Text, ReadsOnlyWhatItNeeds) {
  std::string big(2 * 1024 * 1024, 'a');
  std::string m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n" + big +
                  "\r\n--b\r\nContent-Type: image/png\r\n\r\n" + big + "\r\n--b--\r\n";
  Part s = structure_of(m);
  std::uint64_t read_octets = 0;
  ReadRange read = [&](std::uint64_t offset, std::uint64_t length) -> std::optional<std::string> {
    read_octets += length;
    return std::string(std::string_view(m).substr(offset, length));
  };
  auto t = indexable_text(read, s, 1000);
  ASSERT_TRUE(t);
  EXPECT_LE(t->size(), 1000u);
  EXPECT_LT(read_octets, 10000u);
  ReadRange failing = [](std::uint64_t, std::uint64_t) -> std::optional<std::string> { return std::nullopt; };
  EXPECT_FALSE(indexable_text(failing, s, 1000));
}

TEST(Header, DecodeEncodedWords) {
  EXPECT_EQ(decode_encoded_words("=?UTF-8?B?w6l0w6k=?="), "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(decode_encoded_words("a =?us-ascii?q?b?= \r\n =?UTF-8*en?Q?c?= d"), "a bc d");
  EXPECT_EQ(decode_encoded_words("=?KOI8-R?B?9MXT1A==?= x"), "=?KOI8-R?B?9MXT1A==?= x");
}

}  // namespace
}  // namespace herald::mime

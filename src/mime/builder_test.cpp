#include "mime/builder.h"

#include <gtest/gtest.h>

namespace herald::mime {
namespace {

// RFC 2045 6.7: "=" and 8-bit octets as =XX, space before a line break
// encoded, soft breaks keep lines within 76.
TEST(MimeBuilderTest, QuotedPrintable) {
  EXPECT_EQ(quoted_printable("a=b caf\xC3\xA9\r\n"), "a=3Db caf=C3=A9\r\n");
  EXPECT_EQ(quoted_printable("end \r\nnext"), "end=20\r\nnext");
  std::string qp = quoted_printable(std::string(200, 'x') + "\r\n");
  for (std::size_t at = 0, next; at < qp.size(); at = next + 2) {
    next = qp.find("\r\n", at);
    ASSERT_NE(next, std::string::npos);
    EXPECT_LE(next - at, 76u);
  }
}

// RFC 2047: ASCII stays; otherwise UTF-8 B words of at most 75 octets,
// no character cut between two.
TEST(MimeBuilderTest, EncodedWords) {
  EXPECT_EQ(encoded_words("Hello"), "Hello");
  EXPECT_EQ(encoded_words("Gr\xC3\xBC\xC3\x9F" "e"), "=?UTF-8?B?R3LDvMOfZQ==?=");
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "\xC3\xA9";  // 80 octets of é
  std::string words = encoded_words(long_text);
  EXPECT_NE(words.find("?=\r\n =?UTF-8?B?"), std::string::npos) << words;
  for (std::size_t at = 0; at < words.size();) {
    std::size_t end = words.find("\r\n ", at);
    std::string word = words.substr(at, end == std::string::npos ? std::string::npos : end - at);
    EXPECT_LE(word.size(), 75u);
    at = end == std::string::npos ? words.size() : end + 3;
  }
}

TEST(MimeBuilderTest, FileNamesAndTypes) {
  EXPECT_EQ(filename_params("report.pdf"), "filename=\"report.pdf\"");
  EXPECT_EQ(filename_params("r\xC3\xA9sum\xC3\xA9 2.pdf"), "filename*=UTF-8''r%C3%A9sum%C3%A9%202.pdf");
  EXPECT_EQ(content_type_of("x.bin", "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj\n"), "application/pdf");
  EXPECT_EQ(content_type_of("data.csv", std::string("\x00\x01\x02\x03", 4)), "text/csv");
  EXPECT_EQ(content_type_of("blob", std::string("\x00\x01\x02\x03", 4)), "application/octet-stream");
}

TEST(MimeBuilderTest, AMessageWithAlternativesAndAttachments) {
  Composition c;
  c.from = "J\xC3\xBCrgen <j@example.test>";
  c.to = {"a@example.test", "\"Bob B\" <b@example.test>"};
  c.subject = "plain";
  c.text = "line one\nline two\n";
  c.html = "<p>hi</p>";
  c.attachments = {{"n.txt", "note", ""}};
  c.date = "Mon, 7 Dec 2026 00:00:00 +0000";
  c.message_id = "<m@example.test>";
  c.boundary_seed = "S";
  auto m = build(c);
  ASSERT_TRUE(m);
  for (const char* expected :
       {"From: =?UTF-8?B?SsO8cmdlbg==?= <j@example.test>\r\n", "To: a@example.test,\r\n \"Bob B\" <b@example.test>\r\n",
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"=_herald_S_0\"\r\n",
        "--=_herald_S_0\r\nContent-Type: multipart/alternative; boundary=\"=_herald_S_1\"\r\n",
        "Content-Transfer-Encoding: 7bit\r\n\r\nline one\r\nline two\r\n",
        "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename=\"n.txt\"\r\n\r\nbm90ZQ==\r\n\r\n--=_herald_S_0--\r\n"})
    EXPECT_NE(m->find(expected), std::string::npos) << expected << "\n---\n" << *m;
  c.headers = {{"X-Bad", "a\r\nBcc: x@y"}};
  EXPECT_FALSE(build(c)) << "no header injection";
}

}  // namespace
}  // namespace herald::mime

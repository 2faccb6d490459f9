#include "mime/attachments.h"

#include <gtest/gtest.h>

#include "mime/builder.h"

namespace herald::mime {
namespace {

AttachmentScan scan(std::string_view message, bool bytewise) {
  AttachmentScan s;
  if (bytewise) {
    for (char c : message) s.feed(std::string_view(&c, 1));
  } else {
    s.feed(message);
  }
  return s;
}

// What the builder makes - text, HTML and three files, one named in UTF-8
// (RFC 2231) - is counted and named, however the octets come.
TEST(AttachmentScanTest, CountsAndNamesTheBuildersAttachments) {
  Composition c;
  c.from = "a@example.test";
  c.to = {"b@example.test"};
  c.subject = "files";
  c.text = "see the files\n";
  c.html = "<p>see the files</p>";
  c.attachments = {{"report.pdf", "%PDF-1.4\n", ""},
                   {"Pr\xC3\xBC" "fbericht M\xC3\xA4rz.csv", "a;b\n", ""},
                   {"noise.bin", std::string(300, '\x01'), ""}};
  c.date = "Mon, 7 Dec 2026 01:00:00 +0000";
  c.message_id = "<x@example.test>";
  c.boundary_seed = "seed";
  auto m = build(c);
  ASSERT_TRUE(m);
  for (bool bytewise : {false, true}) {
    AttachmentScan s = scan(*m, bytewise);
    EXPECT_EQ(s.count(), 3u);
    EXPECT_EQ(s.names(), (std::vector<std::string>{"report.pdf", "Pr\xC3\xBC" "fbericht M\xC3\xA4rz.csv", "noise.bin"}));
  }
}

TEST(AttachmentScanTest, ALineInATextIsNotAPartHeader) {
  std::string m =
      "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
      "Content-Disposition: attachment; filename=\"fake.exe\"\r\n--b1x\r\n--b1--\r\n";
  EXPECT_EQ(scan(m, false).count(), 0u);
  EXPECT_EQ(scan("Subject: plain\r\n\r\nContent-Disposition: attachment\r\n", false).count(), 0u);
}

TEST(AttachmentScanTest, NestedPartsFoldedFieldsAndOldNames) {
  std::string m =
      "Content-Type: multipart/mixed;\r\n boundary=outer\r\n\r\n--outer\r\n"
      "Content-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
      "--inner--\r\n--outer\r\nContent-Type: image/png;\r\n\tname=\"old style.png\"\r\n\r\niVBOR\r\n"
      "--outer\r\nContent-Disposition: attachment\r\n\r\nno name\r\n--outer--\r\n";
  AttachmentScan s = scan(m, true);
  EXPECT_EQ(s.count(), 2u);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"old style.png", ""}));
}


}  // namespace
}  // namespace herald::mime

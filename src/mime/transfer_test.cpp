#include "mime/transfer.h"

#include <gtest/gtest.h>

#include "mime/builder.h"

namespace herald::mime {
namespace {

TEST(Transfer, IdentityEncodings) {
  EXPECT_EQ(decode_transfer("a\r\nb", "7bit"), "a\r\nb");
  EXPECT_EQ(decode_transfer("\xff", "8bit"), "\xff");
  EXPECT_EQ(decode_transfer("x", "binary"), "x");
  EXPECT_EQ(decode_transfer("x", "x-uuencode"), std::nullopt);
}

TEST(Transfer, Base64SkipsLineBreaksAndStopsAtPadding) {
  EXPECT_EQ(decode_transfer("aGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n", "base64"), "hello world");
  EXPECT_EQ(decode_transfer("aGk=ignored", "base64"), "hi");
  EXPECT_EQ(decode_transfer("aA", "base64"), "h");  // unpadded tail
  EXPECT_EQ(decode_transfer("", "base64"), "");
}

TEST(Transfer, QuotedPrintable) {
  EXPECT_EQ(decode_transfer("caf=C3=A9 =3D ok\r\n", "quoted-printable"), "caf\xc3\xa9 = ok\r\n");
  EXPECT_EQ(decode_transfer("long=\r\nline\r\n", "quoted-printable"), "longline\r\n");
  EXPECT_EQ(decode_transfer("trailing   \r\nx", "quoted-printable"), "trailing\r\nx");
  EXPECT_EQ(decode_transfer("bad =G1 and =", "quoted-printable"), "bad =G1 and ");
}

TEST(Transfer, RoundTripsTheBuilder) {
  std::string text = "Gr\xc3\xbc\xc3\x9f" "e, a line long enough to be folded by the encoder at seventy-six columns or so.\r\n";
  EXPECT_EQ(decode_transfer(quoted_printable(text), "quoted-printable"), text);
}

}  // namespace
}  // namespace herald::mime

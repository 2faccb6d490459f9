#include "mime/header.h"

#include <gtest/gtest.h>

namespace herald::mime {
namespace {

using V = std::vector<std::string>;

// RFC 5322 3.4: display names, quoted names with commas, comments, groups
// and obsolete routes leave only the addr-specs.
TEST(MimeHeaderTest, AddressesOfAnAddressList) {
  EXPECT_EQ(addresses("a@x.test"), V{"a@x.test"});
  EXPECT_EQ(addresses("Alice <a@x.test>, b@y.test (Bob)"), (V{"a@x.test", "b@y.test"}));
  EXPECT_EQ(addresses("\"Last, First\" <f@x.test>"), V{"f@x.test"});
  EXPECT_EQ(addresses("team: c@z.test, \"D\" <d@z.test>; e@z.test"), (V{"c@z.test", "d@z.test", "e@z.test"}));
  EXPECT_EQ(addresses("undisclosed-recipients:;"), V{});
  EXPECT_EQ(addresses("<@relay.test:a@x.test>"), V{"a@x.test"});
  EXPECT_EQ(addresses("x (a (nested) comment, with comma) @y.test"), V{"x@y.test"});
  EXPECT_EQ(addresses(""), V{});
}

TEST(MimeHeaderTest, FieldValuesAreUnfoldedAndEndAtTheHeader) {
  std::string m = "To: a@x.test,\r\n b@x.test\r\nCc: c@x.test\r\nto: d@x.test\r\n\r\nTo: body@x.test\r\n";
  EXPECT_EQ(field_values(m, "To"), (V{"a@x.test, b@x.test", "d@x.test"}));
  EXPECT_EQ(field_values("Bcc: e@x.test\nSubject: s\n\nbody\n", "bcc"), V{"e@x.test"});
}

// Bcc goes with its continuation lines; the body keeps a "Bcc:" line.
TEST(MimeHeaderTest, WithoutFieldsRemovesBccOnly) {
  std::string m = "From: a@x.test\r\nBcc: hidden@x.test,\r\n\tother@x.test\r\nTo: b@x.test\r\n\r\nBcc: kept\r\n";
  EXPECT_EQ(without_fields(m, "Bcc"), "From: a@x.test\r\nTo: b@x.test\r\n\r\nBcc: kept\r\n");
  EXPECT_EQ(without_fields("Subject: s\n\nbody\n", "Bcc"), "Subject: s\n\nbody\n");
}

}  // namespace
}  // namespace herald::mime

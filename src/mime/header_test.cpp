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

TEST(MimeHeaderTest, AddressEntriesForTheEnvelope) {
  auto e = address_entries("\"Last, First\" <f@x.test>, Team: Ann Lee <ann@y.test>, bob@y.test;, <@r.test:c@z.test>");
  ASSERT_EQ(e.size(), 6u);
  EXPECT_EQ((e[0].name + "|" + e[0].local + "|" + e[0].domain), "Last, First|f|x.test");
  EXPECT_EQ(e[1].kind, AddressEntry::Kind::group_start);
  EXPECT_EQ(e[1].name, "Team");
  EXPECT_EQ((e[2].name + "|" + e[2].local + "|" + e[2].domain), "Ann Lee|ann|y.test");
  EXPECT_EQ((e[3].name + "|" + e[3].local), "|bob");
  EXPECT_EQ(e[4].kind, AddressEntry::Kind::group_end);
  EXPECT_EQ((e[5].route + "|" + e[5].local + "|" + e[5].domain), "@r.test|c|z.test");
  EXPECT_EQ(address_entries("=?UTF-8?B?w6k=?= <e@x.test>")[0].name, "=?UTF-8?B?w6k=?=");
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

TEST(MimeHeaderTest, Parameters) {
  EXPECT_EQ(parameter("attachment; filename=\"a \\\"b\\\".pdf\"", "filename"), "a \"b\".pdf");
  EXPECT_EQ(parameter("attachment; FILENAME=plain.txt; size=3", "filename"), "plain.txt");
  EXPECT_EQ(parameter("attachment; filename*=UTF-8''%C3%A9t%C3%A9.txt", "filename"), "\xC3\xA9t\xC3\xA9.txt");
  EXPECT_EQ(parameter("text/plain; charset=utf-8", "filename"), "");
  EXPECT_EQ(parameter("multipart/mixed; boundary=\"=_x;y\"", "boundary"), "=_x;y");
  using P = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(parameters("text/plain; Charset=UTF-8; format=\"flowed\""), (P{{"charset", "UTF-8"}, {"format", "flowed"}}));
}

}  // namespace
}  // namespace herald::mime

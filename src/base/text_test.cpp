#include "base/text.h"

#include <gtest/gtest.h>

#include "base/duration.h"

namespace herald {

TEST(Text, CaseInsensitiveCompareIsAsciiOnly) {
  EXPECT_TRUE(iequals("MAIL", "mail"));
  EXPECT_FALSE(iequals("MAIL", "MAI"));
  EXPECT_TRUE(istarts_with("FROM:<a@b>", "from:"));
  EXPECT_FALSE(iequals("\xc3\x84", "\xc3\xa4"));  // no locale folding of UTF-8
}

TEST(Text, ParseSize) {
  EXPECT_EQ(parse_size("1000"), 1000u);
  EXPECT_EQ(parse_size("10M"), 10u << 20);
  EXPECT_EQ(parse_size("512k"), 512u << 10);
  EXPECT_EQ(parse_size("1G"), 1ull << 30);
  EXPECT_FALSE(parse_size("ten"));
  EXPECT_FALSE(parse_size("-1"));
  EXPECT_FALSE(parse_size("99999999999999999999G"));
  EXPECT_EQ(format_size(25u << 20), "25M");
  EXPECT_EQ(format_size(1000), "1000");
}

TEST(Text, ParseUintRejectsJunk) {
  EXPECT_EQ(parse_uint("42"), 42u);
  EXPECT_FALSE(parse_uint("42x"));
  EXPECT_FALSE(parse_uint(""));
  EXPECT_FALSE(parse_uint(" 42"));
  EXPECT_FALSE(parse_uint("184467440737095516160"));
}

TEST(Text, PrintableEscapesControls) {
  EXPECT_EQ(printable("a\r\nb"), "a\\x0d\\x0ab");
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable(std::string(300, 'x'), 10), std::string(10, 'x') + "...");
}

TEST(Duration, ParseAndFormat) {
  EXPECT_EQ(parse_duration("5m")->count(), 300000);
  EXPECT_EQ(parse_duration("500ms")->count(), 500);
  EXPECT_EQ(parse_duration("2h")->count(), 7200000);
  EXPECT_EQ(parse_duration("30")->count(), 30000);
  EXPECT_FALSE(parse_duration("5 minutes"));
  EXPECT_FALSE(parse_duration("m"));
  EXPECT_EQ(format_duration(std::chrono::minutes(5)), "5m");
  EXPECT_EQ(format_duration(std::chrono::milliseconds(1500)), "1500ms");
}

// A duration too long for a deadline is refused, not wrapped around:
// 2^40 days once multiplied into a u64 that overflowed.
TEST(Duration, OverflowIsAnError) {
  EXPECT_EQ(parse_duration("36500d")->count(), 36500LL * 86'400'000);
  EXPECT_FALSE(parse_duration("1000000d"));
  EXPECT_FALSE(parse_duration("1099511627776d"));
  EXPECT_FALSE(parse_duration("18446744073709551615ms"));
  EXPECT_FALSE(parse_duration("99999999999999999999999s"));
}

}  // namespace herald

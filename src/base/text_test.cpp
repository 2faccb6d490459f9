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

// RFC 3629 4: each well-formed length, the edges of every row of its table.
TEST(Utf8, WellFormedSequences) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii ~\t\x1b\x7f"));  // controls are well-formed
  EXPECT_TRUE(valid_utf8("\xc2\x80\xdf\xbf"));          // U+0080, U+07FF
  EXPECT_TRUE(valid_utf8("\xe0\xa0\x80\xed\x9f\xbf"));  // U+0800, U+D7FF
  EXPECT_TRUE(valid_utf8("\xee\x80\x80\xef\xbf\xbf"));  // U+E000, U+FFFF
  EXPECT_TRUE(valid_utf8("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"));  // U+10000, U+10FFFF
  EXPECT_TRUE(valid_utf8("gr\xc3\xa5@gr\xc3\xa5.example"));
  EXPECT_EQ(utf8_length("a"), 1u);
  EXPECT_EQ(utf8_length("\xc3\xa5x"), 2u);
  EXPECT_EQ(utf8_length("\xe2\x82\xac"), 3u);
  EXPECT_EQ(utf8_length("\xf0\x9f\x93\xa7"), 4u);
  EXPECT_EQ(utf8_length(""), 0u);
}

TEST(Utf8, IllFormedSequences) {
  for (const char* s : {
           "\x80",              // a continuation octet alone
           "\xbf",              //
           "\xc0\xaf",          // overlong "/" (two octets)
           "\xc1\xbf",          // overlong U+007F
           "\xe0\x80\xaf",      // overlong "/" (three octets)
           "\xe0\x9f\xbf",      // overlong U+07FF
           "\xf0\x80\x80\xaf",  // overlong "/" (four octets)
           "\xf0\x8f\xbf\xbf",  // overlong U+FFFF
           "\xed\xa0\x80",      // surrogate U+D800
           "\xed\xbf\xbf",      // surrogate U+DFFF
           "\xf4\x90\x80\x80",  // U+110000
           "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfe", "\xff",
           "\xc3",              // truncated
           "\xe2\x82",          //
           "\xf0\x9f\x93",      //
           "\xc3\x28",          // a second octet that is not a continuation
           "\xe2\x28\xa1", "\xe2\x82\x28", "\xf0\x9f\x28\xa7",
           "\xff\xfe\x9b" "31m@example.org",  // issue 11: the hostile sender
       }) {
    EXPECT_FALSE(valid_utf8(s)) << printable(s);
    EXPECT_EQ(utf8_length(s), 0u) << printable(s);
    EXPECT_FALSE(valid_utf8(std::string("ok ") + s + " ok")) << printable(s);
  }
}

TEST(Utf8, PrintableKeepsTextAndEscapesControlsAndBadBytes) {
  EXPECT_EQ(printable_utf8("gr\xc3\xa5@b\xc3\xbc" "cher.example \xe2\x82\xac \xf0\x9f\x93\xa7"),
            "gr\xc3\xa5@b\xc3\xbc" "cher.example \xe2\x82\xac \xf0\x9f\x93\xa7");
  EXPECT_EQ(printable_utf8("a\\x1b b"), "a\\x1b b");  // "\" kept: no double escape
  EXPECT_EQ(printable_utf8("\x1b[31mred\x07\x7f"), "\\x1b[31mred\\x07\\x7f");
  EXPECT_EQ(printable_utf8("a\r\nb\tc"), "a\\x0d\\x0ab\\x09c");
  EXPECT_EQ(printable_utf8(std::string("a\0b", 3)), "a\\x00b");
  // C1 controls, well-formed (U+009B is CSI) or not (a lone 9B octet).
  EXPECT_EQ(printable_utf8("\xc2\x9b" "31m \xc2\x80 \xc2\xa0"), "\\xc2\\x9b" "31m \\xc2\\x80 \xc2\xa0");
  EXPECT_EQ(printable_utf8("\xff\xfe\x9b" "31m@example.org"), "\\xff\\xfe\\x9b" "31m@example.org");
  EXPECT_EQ(printable_utf8("\xed\xa0\x80"), "\\xed\\xa0\\x80");   // surrogate
  EXPECT_EQ(printable_utf8("\xc0\xaf"), "\\xc0\\xaf");            // overlong
  EXPECT_EQ(printable_utf8("x\xc3"), "x\\xc3");                   // truncated at the end
  EXPECT_EQ(printable_utf8("\xe2\x82x"), "\\xe2\\x82x");          // truncated inside
  // What comes out is always well-formed UTF-8 without controls.
  std::string all;
  for (int c = 0; c < 256; ++c) all += char(c);
  std::string out = printable_utf8(all + all);
  EXPECT_TRUE(valid_utf8(out));
  for (unsigned char c : out) EXPECT_TRUE(c >= 0x20 && c != 0x7f) << int(c);
  EXPECT_TRUE(is_printable_ascii("Ok: queued as 4F3A9C2B1D7E"));
  EXPECT_FALSE(is_printable_ascii("\x1b"));
  EXPECT_FALSE(is_printable_ascii("\xc3\xa5"));
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

#include "base/line_reader.h"

#include <gtest/gtest.h>

#include <vector>

namespace herald {
namespace {

// lines - every line of input, fed whole or one byte at a time.
std::vector<Line> lines(std::string_view input, std::size_t max, bool bytewise) {
  LineReader r(max);
  std::vector<Line> out;
  auto drain = [&] {
    while (auto l = r.next_line()) out.push_back(*l);
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
  return out;
}

class LineReaderTest : public ::testing::TestWithParam<bool> {};

TEST_P(LineReaderTest, SplitsCrlfLines) {
  auto out = lines("EHLO a\r\nMAIL FROM:<>\r\npartial", 512, GetParam());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, "EHLO a");
  EXPECT_FALSE(out[0].bare_lf);
  EXPECT_EQ(out[1].text, "MAIL FROM:<>");
}

TEST_P(LineReaderTest, FlagsBareLf) {
  auto out = lines("a\nb\r\n", 512, GetParam());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].bare_lf);
  EXPECT_FALSE(out[1].bare_lf);
}

TEST_P(LineReaderTest, OverlongLineIsReportedOnceAndSkipped) {
  std::string input = std::string(2000, 'x') + "\r\nNOOP\r\n";
  auto out = lines(input, 512, GetParam());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].too_long);
  EXPECT_EQ(out[0].text.size(), 512u);
  EXPECT_EQ(out[1].text, "NOOP");
  EXPECT_FALSE(out[1].too_long);
}

TEST_P(LineReaderTest, LimitCountsTheCrlf) {
  // RFC 5321 4.5.3.1.4: 512 octets including CRLF.
  auto ok = lines(std::string(510, 'a') + "\r\n", 512, GetParam());
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_FALSE(ok[0].too_long);
  auto bad = lines(std::string(511, 'a') + "\r\n", 512, GetParam());
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_TRUE(bad[0].too_long);
}

INSTANTIATE_TEST_SUITE_P(WholeAndBytewise, LineReaderTest, ::testing::Bool());

TEST(LineReader, MemoryStaysBoundedWithoutNewlines) {
  LineReader r(100);
  for (int i = 0; i < 1000; ++i) {
    r.feed(std::string(1000, 'y'));
    while (r.next_line()) {}
    EXPECT_LE(r.buffered(), 1000u + 100u);
  }
}

TEST(LineReader, TakeReturnsRawOctets) {
  LineReader r(512);
  r.feed("abc\r\n.\nrest");
  EXPECT_EQ(r.take(7), "abc\r\n.\n");
  EXPECT_EQ(r.buffered(), 4u);
}

}  // namespace
}  // namespace herald

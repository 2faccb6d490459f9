// net/pace_test.cpp - the deadline arithmetic alone: budgets that the time
// waited spends and the octets moved earn back, and lines bounded from
// their first octet.
#include "net/pace.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace herald::net {
namespace {

using namespace std::chrono_literals;

ReadRules lines() { return {Phase::lines, 300s, 60s, 180s, 500}; }
ReadRules body() { return {Phase::data, 300s, 60s, 180s, 500}; }

TEST(RateBudget, WaitingSpendsAndOctetsEarnAtTheMinimumRate) {
  RateBudget b(10s, 1000);
  EXPECT_EQ(b.left(), 10s);
  b.spend(4s, 1000);  // 4 s spent, 1 s earned
  EXPECT_EQ(b.left(), 7s);
  b.spend(0s, 500);
  EXPECT_EQ(b.left(), 7500ms);
}

TEST(RateBudget, NeverAboveItsCap) {
  RateBudget b(10s, 1000);
  b.spend(1s, 1'000'000);
  EXPECT_EQ(b.left(), 10s);
}

TEST(RateBudget, ASlowPeerRunsItDownWhateverItsBlocks) {
  // One octet every 4 s against 500 octets/s: each read spends 4 s and
  // earns 2 ms. A timeout per read would never pass.
  RateBudget b(10s, 500);
  int reads = 0;
  while (b.left() >= 4s && reads < 100) {
    b.spend(4s, 1);
    ++reads;
  }
  EXPECT_EQ(reads, 2);  // the third read times out
  EXPECT_EQ(b.left(), 10s - 8s + 4ms);
}

TEST(RateBudget, NoMinimumRateIsATimeoutPerBlock) {
  RateBudget b(10s, 0);
  b.spend(9s, 1);
  EXPECT_EQ(b.left(), 10s);
  b.spend(11s, 0);
  EXPECT_EQ(b.left(), 0s);  // never negative
}

TEST(ReadPace, WaitingForALineIsTheIdleTimeout) {
  ReadPace p(lines());
  EXPECT_EQ(p.timeout(), 300s);
  p.on_read("NOOP\r\n", 200s, lines());
  EXPECT_EQ(p.timeout(), 300s);  // a complete line leaves nothing open
}

TEST(ReadPace, ALineIsBoundedFromItsFirstOctet) {
  ReadPace p(lines());
  p.on_read("N", 200s, lines());  // the idle wait before it does not count
  EXPECT_EQ(p.timeout(), 60s);
  p.on_read("O", 4s, lines());
  EXPECT_EQ(p.timeout(), 56s);  // not restarted by further octets
  p.on_read("O", 4s, lines());
  p.on_read("P", 50s, lines());
  EXPECT_EQ(p.timeout(), 2s);
  p.on_read("\r", 2s, lines());
  EXPECT_EQ(p.timeout(), 0s);
  p.on_read("\n", 0s, lines());
  EXPECT_EQ(p.timeout(), 300s);
}

TEST(ReadPace, TheSameWhateverTheSlicing) {
  // One octet per read or the whole line in one: the line never gets
  // more than its 60 s, counted from its first octet.
  const std::string line = "MAIL FROM:<a@example.test>\r\n";
  ReadPace p(lines());
  milliseconds used{0};
  for (std::size_t i = 0; i + 1 < line.size(); ++i) {
    p.on_read(std::string_view(line).substr(i, 1), i == 0 ? 100s : 2s, lines());
    if (i > 0) used += 2s;
    EXPECT_EQ(p.timeout(), std::max<milliseconds>(60s - used, 0s)) << i;
  }
}

TEST(ReadPace, APipelinedLineOpenAfterALFStartsItsOwnClock) {
  ReadPace p(lines());
  p.on_read("NO", 1s, lines());
  p.on_read("OP", 30s, lines());
  EXPECT_EQ(p.timeout(), 30s);
  // This read ends the first line and opens the next: the new line's
  // first octet came in it.
  p.on_read("\r\nRSET\r\nNO", 20s, lines());
  EXPECT_EQ(p.timeout(), 60s);
}

TEST(ReadPace, ABodyRunsOnTheMinimumDataRate) {
  ReadPace p(lines());
  p.on_read("DATA\r\n", 1s, body());  // the session is in DATA now
  EXPECT_EQ(p.timeout(), 180s);
  p.on_read(std::string(500, 'x'), 10s, body());  // 10 s spent, 1 s earned
  EXPECT_EQ(p.timeout(), 171s);
  p.on_read(std::string(100'000, 'x'), 1s, body());
  EXPECT_EQ(p.timeout(), 180s);  // capped
  // Trickling: each read spends more than its octet earns.
  for (int i = 0; i < 40; ++i) p.on_read("x", 4s, body());
  EXPECT_EQ(p.timeout(), 180s - 40 * 4s + 40 * 2ms);
}

TEST(ReadPace, AfterTheBodyCommandsAgain) {
  ReadPace p(lines());
  p.on_read("DATA\r\n", 1s, body());
  p.on_read("x\r\n.\r\n", 100s, lines());
  EXPECT_EQ(p.timeout(), 300s);
  p.on_read("DATA\r\n", 1s, body());
  p.on_read("x\r\n.\r\nQU", 100s, lines());  // the next command began in the same read
  EXPECT_EQ(p.timeout(), 60s);
}

TEST(ReadPace, ABodyWithoutMinimumRateHasATimeoutPerBlock) {
  ReadRules r = body();
  r.min_rate = 0;
  ReadPace p(lines());
  p.on_read("DATA\r\n", 1s, r);
  p.on_read("x", 170s, r);
  EXPECT_EQ(p.timeout(), 180s);
}

TEST(ReadPace, TheIdleTimeoutFollowsTheRules) {
  // SMTP waits for a SASL response with data_timeout (smtpd.cpp).
  ReadRules sasl = lines();
  sasl.idle = 180s;
  ReadPace p(lines());
  p.on_read("AUTH PLAIN\r\n", 1s, sasl);
  EXPECT_EQ(p.timeout(), 180s);
}

}  // namespace
}  // namespace herald::net

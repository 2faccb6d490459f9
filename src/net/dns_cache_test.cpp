#include "net/dns_cache.h"

#include <gtest/gtest.h>

namespace herald::net {
namespace {

using namespace std::chrono_literals;
using Clock = DnsCache<int>::Clock;

TEST(DnsCache, AnswersUntilTheTtlEnds) {
  DnsCache<int> cache(10);
  const Clock::time_point t0{};
  cache.put("example.org", 7, t0 + 60s, t0);
  EXPECT_EQ(cache.find("example.org", t0 + 59s), 7);
  EXPECT_EQ(cache.find("example.org", t0 + 60s), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);  // an expired entry found is dropped
  EXPECT_EQ(cache.find("other.org", t0), std::nullopt);
}

TEST(DnsCache, ANewerAnswerReplacesTheOlder) {
  DnsCache<int> cache(10);
  const Clock::time_point t0{};
  cache.put("a", 1, t0 + 10s, t0);
  cache.put("a", 2, t0 + 100s, t0);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find("a", t0 + 50s), 2);
}

TEST(DnsCache, AZeroTtlOrCapacityKeepsNothing) {
  const Clock::time_point t0{};
  DnsCache<int> cache(10);
  cache.put("a", 1, t0, t0);  // TTL 0: use once, never keep (RFC 1035 3.2.1)
  EXPECT_EQ(cache.size(), 0u);
  DnsCache<int> off(0);
  off.put("a", 1, t0 + 10s, t0);
  EXPECT_EQ(off.find("a", t0), std::nullopt);
}

TEST(DnsCache, WhenFullTheOldestStoredGoes) {
  DnsCache<int> cache(3);
  const Clock::time_point t0{};
  cache.put("a", 1, t0 + 100s, t0);
  cache.put("b", 2, t0 + 100s, t0);
  cache.put("c", 3, t0 + 100s, t0);
  cache.put("a", 4, t0 + 100s, t0);  // stored again: now the newest
  cache.put("d", 5, t0 + 100s, t0);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.find("b", t0), std::nullopt);
  EXPECT_EQ(cache.find("a", t0), 4);
  EXPECT_EQ(cache.find("c", t0), 3);
  EXPECT_EQ(cache.find("d", t0), 5);
}

}  // namespace
}  // namespace herald::net

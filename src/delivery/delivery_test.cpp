#include <gtest/gtest.h>

#include "delivery/retry.h"
#include "delivery/route.h"

namespace herald::delivery {
namespace {

TEST(RouteTest, TargetsAreBracketedIpLiteralsWithAnOptionalPort) {
  EXPECT_EQ(parse_target("[192.0.2.1]")->str(), "[192.0.2.1]:25");
  EXPECT_EQ(parse_target("[2001:db8::1]:587")->str(), "[2001:db8::1]:587");
  for (const char* bad : {"192.0.2.1", "[mx.example.org]:25", "[192.0.2.1]:0", "[192.0.2.1]:65536",
                          "[192.0.2.1]x", "[192.0.2.1", ""})
    EXPECT_FALSE(parse_target(bad)) << bad;
}

// The transport table first (a domain, or "*." for what is below it), then
// the smarthost, else MX (nullptr).
TEST(RouteTest, RoutesThenSmarthostThenMx) {
  NextHop a{"a", {*parse_target("[127.0.0.2]")}}, b{"b", {*parse_target("[127.0.0.3]")}};
  NextHop relay{"relay", {*parse_target("[127.0.0.9]:2525")}};
  Router with({{"example.org", a}, {"*.example.org", b}}, relay);
  EXPECT_EQ(with.route("Example.ORG")->name, "a");
  EXPECT_EQ(with.route("mail.example.org")->name, "b");
  EXPECT_EQ(with.route("notexample.org")->name, "relay");
  EXPECT_EQ(with.route("far.test")->name, "relay");
  Router without({{"example.org", a}}, std::nullopt);
  EXPECT_EQ(without.route("far.test"), nullptr);
  EXPECT_EQ(domain_of("User@Far.Test"), "far.test");
  EXPECT_EQ(domain_of("postmaster"), "");
}

// CSSMTP's rule: only the first four targets are tried.
TEST(RouteTest, AtMostFourTargets) {
  NextHop many{"many", {}};
  for (int i = 1; i <= 6; ++i) many.targets.push_back(*parse_target("[127.0.0." + std::to_string(i) + "]"));
  Router r({}, many);
  EXPECT_EQ(r.route("x.test")->targets.size(), 4u);
}

// Every 5 minutes for the first 30, then hourly, the last attempt at the
// end of the lifetime, then nothing (a bounce).
TEST(RetryTest, TwoLevelsUntilTheLifetimeEnds) {
  RetryPolicy p{std::chrono::seconds(300), std::chrono::seconds(1800), std::chrono::seconds(3600),
                std::chrono::seconds(4 * 3600)};
  const std::int64_t t0 = 1'000'000;
  EXPECT_EQ(next_attempt(p, t0, t0), t0 + 300);
  EXPECT_EQ(next_attempt(p, t0, t0 + 1799), t0 + 1799 + 300);
  EXPECT_EQ(next_attempt(p, t0, t0 + 1800), t0 + 1800 + 3600);
  EXPECT_EQ(next_attempt(p, t0, t0 + 3 * 3600 + 60), t0 + 4 * 3600) << "not past the lifetime";
  EXPECT_EQ(next_attempt(p, t0, t0 + 4 * 3600), std::nullopt);
}

}  // namespace
}  // namespace herald::delivery

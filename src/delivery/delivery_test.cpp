#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "delivery/dsn.h"
#include "delivery/retry.h"
#include "delivery/route.h"
#include "delivery/targets.h"

namespace herald::delivery {
namespace {

TEST(RouteTest, TargetsAreBracketedIpLiteralsWithAnOptionalPort) {
  EXPECT_EQ(parse_target("[192.0.2.1]")->str(), "[192.0.2.1]:25");
  EXPECT_EQ(parse_target("[2001:db8::1]:587")->str(), "[2001:db8::1]:587");
  EXPECT_EQ(parse_target("[Relay.Example.org]:587")->name, "relay.example.org");
  EXPECT_EQ(parse_target("[relay.example.org]")->host, "") << "looked up when a connection starts";
  for (const char* bad : {"192.0.2.1", "[bad_name]:25", "[192.0.2.1]:0", "[192.0.2.1]:65536",
                          "[192.0.2.1]x", "[192.0.2.1", "[a\r\nb]", ""})
    EXPECT_FALSE(parse_target(bad)) << bad;
}

// Postfix's relayhost: brackets mean the host itself, bare means its MX.
TEST(RouteTest, NextHopsAsPostfixRelayhostReadsThem) {
  auto bracketed = parse_next_hop("[relay.example.org]:2525");
  ASSERT_TRUE(bracketed);
  EXPECT_FALSE(bracketed->mx);
  EXPECT_EQ(bracketed->targets.at(0).port, 2525);
  auto bare = parse_next_hop("Relay.Example.org:2525");
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->mx);
  EXPECT_EQ(bare->name, "relay.example.org");
  EXPECT_EQ(bare->mx_port, 2525);
  EXPECT_EQ(parse_next_hop("relay.example.org")->mx_port, 25);
  EXPECT_FALSE(parse_next_hop("relay example"));
  EXPECT_FALSE(parse_next_hop("relay.example.org:x"));
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

// The fallback relay takes what could not go: any temporary failure, a
// destination not found; never what the destination itself refused.
TEST(RouteTest, FallbackRelay) {
  NextHop spare{"spare", {*parse_target("[127.0.0.8]")}};
  Router r({}, std::nullopt, spare);
  ASSERT_NE(r.fallback(), nullptr);
  EXPECT_EQ(r.fallback()->name, "spare");
  EXPECT_EQ(Router({}, std::nullopt).fallback(), nullptr);
  using smtp::Outcome;
  using smtp::Verdict;
  EXPECT_TRUE(takes_fallback(Verdict::local(Outcome::deferred, "4.4.1", "connect to [127.0.0.2]:25: refused")));
  EXPECT_TRUE(takes_fallback(Verdict{Outcome::deferred, 451, "4.7.1", "greylisted", "RCPT TO"}));
  EXPECT_TRUE(takes_fallback(Verdict::local(Outcome::bounced, "5.1.2", "Host or domain name not found")));
  EXPECT_TRUE(takes_fallback(Verdict::local(Outcome::bounced, "5.4.4", "Host or domain name not found")));
  EXPECT_FALSE(takes_fallback(Verdict{Outcome::bounced, 550, "5.1.1", "no such user", "RCPT TO"}));
  EXPECT_FALSE(takes_fallback(Verdict::local(Outcome::bounced, "5.1.10", "nullMX")));
  EXPECT_FALSE(takes_fallback(Verdict::local(Outcome::bounced, "5.4.6", "loops back to myself")));
  EXPECT_FALSE(takes_fallback(Verdict::local(Outcome::delivered, "2.0.0", "")));
}

// RFC 5321 5.1: by preference, equal preferences shuffled (both orders
// seen), our own name and what is not better than it dropped; then the
// addresses in that order, up to the limit.
TEST(RouteTest, MxOrderAndTargets) {
  std::vector<MxHost> hosts = {{20, "b.far.test", {"127.0.0.3"}},
                               {10, "a1.far.test", {"127.0.0.1"}},
                               {10, "a2.far.test", {"127.0.0.2", "::1"}},
                               {30, "c.far.test", {}}};
  std::set<std::string> firsts;
  for (std::uint64_t seed = 0; seed < 32; ++seed) {
    auto h = hosts;
    mx_order(h, "mx.example.test", seed);
    ASSERT_EQ(h.size(), 4u);
    EXPECT_EQ(h[0].preference, 10);
    EXPECT_EQ(h[2].host, "b.far.test");
    firsts.insert(h[0].host);
  }
  EXPECT_EQ(firsts, (std::set<std::string>{"a1.far.test", "a2.far.test"}));
  auto mine = hosts;
  mine.push_back({20, "MX.example.test.", {"127.0.0.9"}});
  mx_order(mine, "mx.example.test", 1);
  ASSERT_EQ(mine.size(), 2u) << "our name and all at 20 or above go";
  auto targets = mx_targets(mine, 2525, 2);
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0].port, 2525);
  EXPECT_TRUE(targets[0].relay() == "a1.far.test[127.0.0.1]:2525" || targets[0].relay() == "a2.far.test[127.0.0.2]:2525")
      << targets[0].relay();
  auto none = hosts;
  none.push_back({5, "mx.example.test", {}});
  mx_order(none, "mx.example.test", 1);
  EXPECT_TRUE(none.empty()) << "the best MX is ourselves: a loop";
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

// RFC 3464: a multipart/report to the sender, with the delivery-status
// fields per recipient and the message returned whole, or its header alone
// when it is over the limit; server text made printable ASCII.
TEST(DsnTest, AReportPerRecipientAndTheMessageReturned) {
  DsnInput in;
  in.reporting_mta = "mx.example.test";
  in.queue_id = "61FD5CF518D8";
  in.sender = "alice@example.test";
  in.arrival_s = 1'800'000'000;
  in.now_s = 1'800'000'100;
  in.recipients = {{"bob@far.test", "Bob@Far.Test", "5.1.1", "mx.far.test", "550 5.1.1 no\x01 such user", true},
                   {"carol@far.test", "carol@far.test", "4.4.1", "", "connect to [192.0.2.1]:25: refused", false}};
  const std::string message = "Subject: hi\r\nFrom: alice@example.test\r\n\r\nbody line\r\n";
  in.message = message;
  std::string dsn = make_dsn(in);
  for (const char* expected :
       {"From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\n", "To: <alice@example.test>\r\n",
        "Auto-Submitted: auto-replied\r\n", "Content-Type: multipart/report; report-type=delivery-status;",
        "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n",
        "\r\nFinal-Recipient: rfc822; bob@far.test\r\nOriginal-Recipient: rfc822; Bob@Far.Test\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.far.test\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no\\x01 such user\r\n",
        "\r\nFinal-Recipient: rfc822; carol@far.test\r\nAction: failed\r\nStatus: 4.4.1\r\n"
        "Diagnostic-Code: X-Herald; connect to [192.0.2.1]:25: refused\r\n",
        "Content-Type: message/rfc822\r\n\r\nSubject: hi\r\nFrom: alice@example.test\r\n\r\nbody line\r\n"})
    EXPECT_NE(dsn.find(expected), std::string::npos) << expected << "\n---\n" << dsn;
  EXPECT_TRUE(dsn.ends_with("--\r\n"));

  in.return_limit = 10;
  dsn = make_dsn(in);
  EXPECT_NE(dsn.find("Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\nFrom: alice@example.test\r\n\r\n\r\n--"),
            std::string::npos)
      << dsn;
  EXPECT_EQ(dsn.find("body line"), std::string::npos);
}

// The delay warning (RFC 3464 2.3.3 "delayed", 2.3.9 Will-Retry-Until):
// the message's header only, and words that say it is not given up.
TEST(DsnTest, ADelayWarningSaysWhenTriesEnd) {
  DsnInput in;
  in.kind = DsnKind::delayed;
  in.reporting_mta = "mx.example.test";
  in.queue_id = "Q";
  in.sender = "alice@example.test";
  in.arrival_s = 1'800'000'000;
  in.now_s = 1'800'014'400;
  in.retry_until_s = 1'800'432'000;
  in.recipients = {{"bob@far.test", "", "4.7.1", "mx.far.test", "451 4.7.1 try later", true}};
  const std::string message = "Subject: hi\r\n\r\nbody line\r\n";
  in.message = message;
  std::string dsn = make_dsn(in);
  for (const char* expected : {"Subject: Delayed Mail (still being retried)\r\n", "Action: delayed\r\nStatus: 4.7.1\r\n",
                               "Will-Retry-Until: ", "you do not need to send it again",
                               "Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\n\r\n"})
    EXPECT_NE(dsn.find(expected), std::string::npos) << expected << "\n---\n" << dsn;
  EXPECT_EQ(dsn.find("body line"), std::string::npos);
}

// RFC 3461: ENVID comes back as Original-Envelope-Id, ORCPT as
// Original-Recipient as given; RET=HDRS returns the header only; a success
// report (NOTIFY=SUCCESS) says delivered or relayed, with the header.
TEST(DsnTest, TheSendersDsnParameters) {
  DsnInput in;
  in.reporting_mta = "mx.example.test";
  in.queue_id = "Q";
  in.sender = "alice@example.test";
  in.envid = "job 42";
  in.headers_only = true;
  in.recipients = {{"bob@far.test", "bob@far.test", "5.1.1", "mx.far.test", "550 5.1.1 no", true, "utf-8;Bob@Far.Test"}};
  const std::string message = "Subject: hi\r\n\r\nbody line\r\n";
  in.message = message;
  std::string dsn = make_dsn(in);
  for (const char* expected : {"Original-Envelope-Id: job 42\r\nReporting-MTA: dns; mx.example.test\r\n",
                               "Final-Recipient: rfc822; bob@far.test\r\nOriginal-Recipient: utf-8; Bob@Far.Test\r\n"
                               "Action: failed\r\n",
                               "Content-Type: text/rfc822-headers\r\n\r\nSubject: hi\r\n\r\n"})
    EXPECT_NE(dsn.find(expected), std::string::npos) << expected << "\n---\n" << dsn;
  EXPECT_EQ(dsn.find("body line"), std::string::npos);
  for (auto [kind, subject, act] : {std::tuple{DsnKind::delivered, "Successful Mail Delivery Report", "delivered"},
                                    std::tuple{DsnKind::relayed, "Successful Mail Relay Report", "relayed"}}) {
    in.kind = kind;
    in.headers_only = false;
    in.recipients[0].status = "2.0.0";
    dsn = make_dsn(in);
    EXPECT_NE(dsn.find(std::string("Subject: ") + subject), std::string::npos) << dsn;
    EXPECT_NE(dsn.find(std::string("Action: ") + act + "\r\nStatus: 2.0.0\r\n"), std::string::npos) << dsn;
    EXPECT_EQ(dsn.find("body line"), std::string::npos) << "a success report returns the header only";
  }
}

// The targets view: per server what it offered and what it took; the
// least recently used is forgotten past the capacity.
TEST(TargetBoardTest, CountsPerTargetAndForgetsTheOldest) {
  TargetBoard board(2, 100);
  board.connect_failed("a[192.0.2.1]:25", "connect to [192.0.2.1]:25: Connection refused", 101);
  board.connected("b[192.0.2.2]:25", true, 10'000'000, true, 102);
  board.message("b[192.0.2.2]:25", true, "250 2.0.0 Ok", 102);
  board.message("b[192.0.2.2]:25", false, "451 4.3.0 later", 103);
  auto list = board.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].state, TargetState::connect_failed);
  EXPECT_EQ(list[0].connect_failures, 1u);
  EXPECT_EQ(list[1].state, TargetState::ready);
  EXPECT_TRUE(list[1].esmtp && list[1].tls);
  EXPECT_EQ(list[1].size_limit, 10'000'000u);
  EXPECT_EQ(list[1].mail_attempts, 2u);
  EXPECT_EQ(list[1].mail_sent, 1u);
  EXPECT_EQ(list[1].last_reply, "451 4.3.0 later");
  board.session_failed("c[192.0.2.3]:25", "554 go away", 104);  // a is the least recently used
  list = board.list();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].target, "b[192.0.2.2]:25");
  EXPECT_EQ(list[1].state, TargetState::refused);
  EXPECT_EQ(board.totals().since_s, 100);
}

}  // namespace
}  // namespace herald::delivery

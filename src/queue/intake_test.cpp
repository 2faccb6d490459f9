#include "queue/intake.h"

#include <gtest/gtest.h>

#include <future>

#include "store/scratch_store.h"

namespace herald::queue {
namespace {


TEST(HeaderValue, FindsUnfoldedHeaderInHeaderSectionOnly) {
  std::string msg = "Subject: a\r\nMessage-ID:\r\n <x@y>\r\n\r\nMessage-ID: <body@z>\r\n";
  EXPECT_EQ(header_value(msg, "message-id"), "<x@y>");
  EXPECT_EQ(header_value("Subject: a\r\n\r\nMessage-ID: <b>\r\n", "Message-ID"), "");
}

class IntakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_->add_user("alice@example.test", {"h", ""}, 0));
    ASSERT_TRUE(store_->add_user("bob@example.test", {"h", ""}, 0));
  }
  store::ScratchStore store_{"intake-test"};
};

TEST_F(IntakeTest, ResolverExpandsAliasesAndDetectsLoops) {
  Resolver r(*store_);
  ASSERT_TRUE(store_->add_alias("team@example.test", {"alice@example.test", "bob@example.test", "x@remote.test"}));
  auto res = r.resolve("Team@Example.test");
  ASSERT_EQ(res.status, Resolution::ok);
  ASSERT_EQ(res.targets.size(), 3u);
  EXPECT_TRUE(res.targets[0].local);
  EXPECT_FALSE(res.targets[2].local);

  ASSERT_TRUE(store_->add_alias("a@example.test", {"b@example.test"}));
  ASSERT_TRUE(store_->add_alias("b@example.test", {"a@example.test"}));
  EXPECT_EQ(r.resolve("a@example.test").status, Resolution::alias_loop);
  EXPECT_EQ(r.resolve("nobody@example.test").status, Resolution::unknown_user);
  EXPECT_EQ(r.resolve("someone@remote.test").status, Resolution::not_local);
}

// Past its bounds an expansion is refused whole: never cut short, which would
// drop recipients without a word.
TEST_F(IntakeTest, ResolverRefusesExpansionsPastTheirBounds) {
  ASSERT_TRUE(store_->add_alias("three@example.test", {"a@remote.test", "b@remote.test", "c@remote.test"}));
  ASSERT_TRUE(store_->add_alias("outer@example.test", {"middle@example.test"}));
  ASSERT_TRUE(store_->add_alias("middle@example.test", {"three@example.test"}));
  EXPECT_EQ(Resolver(*store_, {16, 3}).resolve("outer@example.test").status, Resolution::ok);
  EXPECT_EQ(Resolver(*store_, {16, 2}).resolve("three@example.test").status, Resolution::alias_too_large);
  EXPECT_EQ(Resolver(*store_, {16, 2}).resolve("outer@example.test").status, Resolution::alias_too_large);
  // outer -> middle -> three is two levels below the recipient.
  EXPECT_EQ(Resolver(*store_, {2, 10}).resolve("outer@example.test").status, Resolution::ok);
  EXPECT_EQ(Resolver(*store_, {1, 10}).resolve("outer@example.test").status, Resolution::alias_loop);
}

TEST_F(IntakeTest, SubmitAddsReceivedAndDelivers) {
  Intake intake("mx.example.test", *store_);
  Envelope env;
  env.sender = "s@remote.test";
  env.client_ip = "127.0.0.1";
  env.client_name = "localhost";
  env.helo = "client.test";
  env.protocol = "ESMTP";
  env.recipients.push_back({"alice@example.test", {{"alice@example.test", true}}});
  std::promise<Result<Accepted>> p;
  intake.submit(env, "Message-ID: <m1@x>\r\n\r\nbody\r\n",[&](Result<Accepted> r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->queue_id.size(), 12u);
  auto u = *store_->find_user("alice@example.test");
  auto md = *store_->maildrop(u->id);
  ASSERT_EQ(md.messages.size(), 1u);
  auto text = *store_->read_message(md.mailbox_id, md.messages[0].uid);
  EXPECT_NE(text.find("Received: from client.test (localhost [127.0.0.1])\r\n\tby mx.example.test (Herald) "
                      "with ESMTP id " + r->queue_id),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("for <alice@example.test>;"), std::string::npos);
  const std::string body = "Message-ID: <m1@x>\r\n\r\nbody\r\n";
  ASSERT_GE(text.size(), body.size());
  EXPECT_EQ(text.substr(text.size() - body.size()), body);
  store::JournalQuery q;
  q.message_id = "<m1@x>";
  auto es = *store_->journal_query(q);
  ASSERT_EQ(es.size(), 2u);
  EXPECT_EQ(es[0].event, "received");
  EXPECT_EQ(es[1].event, "delivered");
}

}  // namespace
}  // namespace herald::queue

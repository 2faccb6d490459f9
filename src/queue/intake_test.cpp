#include "queue/intake.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "queue/local_retry.h"
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
    ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
    ASSERT_TRUE(store_->directory().add_user("bob@example.test", {"h", ""}, 0));
  }
  // envelope - from a client on loopback, to alice.
  Envelope envelope(bool submission = false) {
    Envelope env;
    env.sender = "s@remote.test";
    env.client_ip = "127.0.0.1";
    env.client_name = "localhost";
    env.helo = "client.test";
    env.protocol = "ESMTP";
    env.submission = submission;
    env.recipients.push_back({"alice@example.test", {{"alice@example.test", true}}});
    return env;
  }
  store::ScratchStore store_{"intake-test"};
};

TEST_F(IntakeTest, ExpanderExpandsAliasesAndDetectsLoops) {
  AliasExpander r(store_->directory());
  ASSERT_TRUE(store_->directory().add_alias("team@example.test", {"alice@example.test", "bob@example.test", "x@remote.test"}));
  auto res = r.expand("Team@Example.test");
  ASSERT_EQ(res.status, ExpansionStatus::ok);
  ASSERT_EQ(res.targets.size(), 3u);
  EXPECT_TRUE(res.targets[0].local);
  EXPECT_FALSE(res.targets[2].local);

  ASSERT_TRUE(store_->directory().add_alias("a@example.test", {"b@example.test"}));
  ASSERT_TRUE(store_->directory().add_alias("b@example.test", {"a@example.test"}));
  EXPECT_EQ(r.expand("a@example.test").status, ExpansionStatus::alias_loop);
  EXPECT_EQ(r.expand("nobody@example.test").status, ExpansionStatus::unknown_user);
  EXPECT_EQ(r.expand("someone@remote.test").status, ExpansionStatus::not_local);
}

// From memory only: nothing until a read has put every address on the way
// in the directory cache, then the same answer as a read; never for a user
// with a quota (its used space must be read afresh).
TEST_F(IntakeTest, ExpanderAnswersFromMemoryOnlyWhatTheCacheHolds) {
  ASSERT_TRUE(store_->directory().add_alias("pair@example.test", {"alice@example.test", "bob@example.test"}));
  ASSERT_TRUE(store_->directory().add_user("quota@example.test", {"h", ""}, 1000));
  AliasExpander r(store_->directory());
  EXPECT_FALSE(r.expand_cached("pair@example.test")) << "nothing read yet";
  auto read = r.expand("pair@example.test");
  auto memory = r.expand_cached("Pair@Example.test");
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->status, read.status);
  ASSERT_EQ(memory->targets.size(), 2u);
  EXPECT_EQ(memory->targets[1].address, "bob@example.test");
  EXPECT_EQ(r.expand_cached("someone@remote.test"), std::nullopt);
  r.expand("someone@remote.test");
  EXPECT_EQ(r.expand_cached("someone@remote.test")->status, ExpansionStatus::not_local);
  r.expand("quota@example.test");
  EXPECT_FALSE(r.expand_cached("quota@example.test")) << "a user with a quota is always read";
}

// Past its bounds an expansion is refused whole: never cut short, which would
// drop recipients without a word.
TEST_F(IntakeTest, ExpanderRefusesExpansionsPastTheirBounds) {
  ASSERT_TRUE(store_->directory().add_alias("three@example.test", {"a@remote.test", "b@remote.test", "c@remote.test"}));
  ASSERT_TRUE(store_->directory().add_alias("outer@example.test", {"middle@example.test"}));
  ASSERT_TRUE(store_->directory().add_alias("middle@example.test", {"three@example.test"}));
  EXPECT_EQ(AliasExpander(store_->directory(), {16, 3}).expand("outer@example.test").status, ExpansionStatus::ok);
  EXPECT_EQ(AliasExpander(store_->directory(), {16, 2}).expand("three@example.test").status, ExpansionStatus::alias_too_large);
  EXPECT_EQ(AliasExpander(store_->directory(), {16, 2}).expand("outer@example.test").status, ExpansionStatus::alias_too_large);
  // outer -> middle -> three is two levels below the recipient.
  EXPECT_EQ(AliasExpander(store_->directory(), {2, 10}).expand("outer@example.test").status, ExpansionStatus::ok);
  EXPECT_EQ(AliasExpander(store_->directory(), {1, 10}).expand("outer@example.test").status, ExpansionStatus::alias_loop);
}

TEST_F(IntakeTest, SubmitAddsReceivedAndDelivers) {
  Intake intake("mx.example.test", store_->queue());
  Envelope env = envelope();
  std::promise<Result<Accepted>> p;
  intake.submit(env, "Message-ID: <m1@x>\r\n\r\nbody\r\n",[&](Result<Accepted> r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->queue_id.size(), 12u);
  auto u = *store_->directory().find_user("alice@example.test");
  auto md = *store_->mailboxes().maildrop(u->id);
  ASSERT_EQ(md.messages.size(), 1u);
  auto text = *store_->mailboxes().read_message(md.mailbox_id, md.messages[0].uid);
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
  auto es = *store_->journal().query(q);
  ASSERT_EQ(es.size(), 2u);
  EXPECT_EQ(es[0].event, store::JournalEvent::received);
  EXPECT_EQ(es[1].event, store::JournalEvent::delivered);
}

// A message as a client sends it: headers, then numbered lines up to size
// octets, so a lost or repeated piece shows.
std::string big_message(const std::string& id, std::size_t size) {
  std::string out = "Message-ID: <" + id + ">\r\nSubject: big\r\n\r\n";
  for (int i = 0; out.size() < size; ++i) out += "line " + std::to_string(i) + " of " + id + "\r\n";
  return out;
}

class IncomingTest : public IntakeTest {
 protected:
  // feed - text in pieces of odd sizes, as reads come.
  static void feed(Incoming& in, std::string_view text, std::size_t piece = 8191) {
    for (std::size_t at = 0; at < text.size(); at += piece) in.append(text.substr(at, piece));
  }
  Result<Accepted> submit(Intake& intake, Incoming in) {
    std::promise<Result<Accepted>> p;
    intake.submit(std::move(in), [&](Result<Accepted> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  // delivered - alice's messages as stored, each without the lines intake
  // and local delivery put on top (up to the first header the client sent).
  std::vector<std::string> delivered(std::string_view first_header = "Message-ID:") {
    std::vector<std::string> out;
    auto u = *store_->directory().find_user("alice@example.test");
    auto md = *store_->mailboxes().maildrop(u->id);
    for (const auto& m : md.messages) {
      std::string text = *store_->mailboxes().read_message(md.mailbox_id, m.uid);
      std::size_t at = text.find(std::string("\r\n") + std::string(first_header));
      out.push_back(at == std::string::npos ? text : text.substr(at + 2));
    }
    return out;
  }
};

// Past memory_max a body goes to the spool as it comes, and is delivered
// octet for octet; the memory it held goes back to the budget.
TEST_F(IncomingTest, ABodyPastItsMemoryBoundIsSpooledAndDeliveredWhole) {
  Intake intake("mx.example.test", store_->queue(), LocalDelivery(), {.memory_max = 64 * 1024, .memory_budget = 1 << 20});
  const std::string text = big_message("big@x", 1 << 20);
  Incoming in = intake.begin(envelope());
  feed(in, text.substr(0, 60 * 1024));
  EXPECT_FALSE(in.spooled());
  EXPECT_GT(intake.budget().held(), 60u * 1024);
  feed(in, text.substr(60 * 1024));
  EXPECT_TRUE(in.spooled());
  EXPECT_EQ(in.held(), 0u);
  EXPECT_EQ(intake.budget().held(), 0u);
  EXPECT_EQ(in.size(), text.size());
  ASSERT_TRUE(submit(intake, std::move(in)));
  EXPECT_EQ(delivered(), std::vector<std::string>{text});
  store::JournalQuery q;
  q.message_id = "<big@x>";
  EXPECT_EQ(store_->journal().query(q)->size(), 2u) << "the message-id, read before the body went to the spool";
}

// The budget is shared: while one body holds most of it, another goes to
// the spool though it is under its own bound; a body dropped unsubmitted
// gives its share back.
TEST_F(IncomingTest, TheBudgetBoundsTheMemoryOfAllBodiesTogether) {
  Intake intake("mx.example.test", store_->queue(), LocalDelivery(),
                {.memory_max = 1 << 20, .memory_budget = 200 * 1024});
  const std::string one = big_message("one@x", 150 * 1024), two = big_message("two@x", 150 * 1024);
  Incoming first = intake.begin(envelope());
  feed(first, one);
  EXPECT_FALSE(first.spooled());
  Incoming second = intake.begin(envelope());
  feed(second, two);
  EXPECT_TRUE(second.spooled()) << "over the budget with the first";
  EXPECT_LE(intake.budget().held(), 200u * 1024);
  {
    Incoming dropped = intake.begin(envelope());
    feed(dropped, big_message("gone@x", 10 * 1024));
  }
  ASSERT_TRUE(submit(intake, std::move(second)));
  ASSERT_TRUE(submit(intake, std::move(first)));
  EXPECT_EQ(intake.budget().held(), 0u);
  EXPECT_EQ(delivered(), (std::vector<std::string>{two, one}));
}

// Submission's added Date and Message-ID (RFC 6409 8) go on top of a body
// that went to the spool, once; the header section's end is found though
// it straddles two reads.
TEST_F(IncomingTest, SubmissionHeadersAreAddedToASpooledBody) {
  Intake intake("mx.example.test", store_->queue(), LocalDelivery(), {.memory_max = 0, .memory_budget = 1 << 20});
  std::string text = "Subject: no date\r\n\r\n" + std::string(100 * 1024, 'x') + "\r\n";
  Incoming in = intake.begin(envelope(/*submission=*/true));
  in.append(text.substr(0, 19));  // "Subject: no date\r\n\r" ends inside the blank line
  EXPECT_FALSE(in.spooled()) << "the header section is not known yet";
  feed(in, text.substr(19));
  EXPECT_TRUE(in.spooled());
  std::string id = in.queue_id();
  ASSERT_TRUE(submit(intake, std::move(in)));
  auto got = delivered("Date:");
  ASSERT_EQ(got.size(), 1u);
  const std::string added_id = "Message-ID: <" + id + "@mx.example.test>\r\n";
  EXPECT_EQ(got[0].find(added_id), got[0].find("\r\n") + 2) << got[0].substr(0, 200);
  EXPECT_EQ(got[0].substr(got[0].find(added_id) + added_id.size()), text);
}

// A relayed message brings its own trace fields: the added Date and
// Message-ID go below them, so the trace block stays whole (RFC 5322 3.6.7).
TEST_F(IncomingTest, SubmissionHeadersGoBelowTheMessagesTraceFields) {
  Intake intake("mx.example.test", store_->queue(), LocalDelivery());
  const std::string trace = "Received: from a.test by b.test;\r\n\tSun, 6 Dec 2026 23:00:00 +0000\r\n"
                            "Received: from c.test by a.test; Sun, 6 Dec 2026 22:59:00 +0000\r\n";
  const std::string rest = "Subject: relayed\r\n\r\nbody\r\n";
  Incoming in = intake.begin(envelope(/*submission=*/true));
  feed(in, trace + rest);
  ASSERT_TRUE(submit(intake, std::move(in)));
  auto got = delivered("relayed");
  ASSERT_EQ(got.size(), 1u);
  const std::size_t at = got[0].find(trace);
  ASSERT_NE(at, std::string::npos) << got[0];
  EXPECT_TRUE(got[0].substr(at + trace.size()).starts_with("Date: ")) << got[0];
  EXPECT_TRUE(got[0].ends_with(rest)) << got[0];
}

// A body that cannot be spooled (here: blobs/tmp is gone) is never
// acknowledged: submit fails, and nothing is delivered or queued.
TEST_F(IncomingTest, ABodyThatCannotBeSpooledIsNotAcknowledged) {
  Intake intake("mx.example.test", store_->queue(), LocalDelivery(), {.memory_max = 1024, .memory_budget = 1 << 20});
  std::filesystem::remove_all(store_.dir() / "blobs" / "tmp");
  Incoming in = intake.begin(envelope());
  feed(in, big_message("lost@x", 100 * 1024));
  EXPECT_FALSE(submit(intake, std::move(in)));
  EXPECT_EQ(delivered(), std::vector<std::string>{});
  EXPECT_TRUE(store_->queue().list({})->empty());
  EXPECT_EQ(intake.budget().held(), 0u);
}

// Local delivery's policy: a copy that fits is delivered, one that would
// overflow the quota waits (4.2.2, a temporary failure) and is tried again
// after the retry interval, and a user gone since RCPT bounces.
// The MIME structure is computed as the message arrives and kept with it:
// its offsets (after the copy's trace prefix) point at each part's body in
// the message as read back, though submission inserted a Date and a
// Message-ID into the header after the parse, and a large body arrives in
// pieces and is spooled.
TEST_F(IntakeTest, TheStructureIsKeptWithItsOffsetsInTheStoredMessage) {
  Intake intake("mx.example.test", store_->queue(), LocalDelivery(), BodyLimits{64, 1 << 20});
  const std::string big(5000, 'z');
  const std::string message = "Subject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nfirst\r\n"
                              "--b\r\nContent-Type: application/octet-stream\r\n\r\n" + big + "\r\n--b--\r\n";
  Incoming in = intake.begin(envelope(/*submission=*/true));
  for (std::size_t at = 0; at < message.size(); at += 700) in.append(std::string_view(message).substr(at, 700));
  std::promise<Result<Accepted>> p;
  intake.submit(std::move(in), [&](Result<Accepted> r) { p.set_value(std::move(r)); });
  ASSERT_TRUE(p.get_future().get());
  auto u = *store_->directory().find_user("alice@example.test");
  auto md = *store_->mailboxes().maildrop(u->id);
  auto text = *store_->mailboxes().read_message(md.mailbox_id, md.messages[0].uid);
  auto kept = store_->mailboxes().message_structure(md.mailbox_id, md.messages[0].uid);
  ASSERT_TRUE(kept && *kept);
  auto structure = mime::decode((*kept)->encoded);
  ASSERT_TRUE(structure);
  const std::uint64_t prefix = (*kept)->prefix_size;
  auto body = [&](const mime::Part& part) { return text.substr(prefix + part.body_offset, part.size()); };
  ASSERT_EQ(structure->parts.size(), 2u);
  EXPECT_EQ(body(structure->parts[0]), "first");
  EXPECT_EQ(body(structure->parts[1]), big);
  EXPECT_EQ(prefix + structure->end_offset, text.size());
  EXPECT_EQ(structure->envelope->subject, "parts");
  EXPECT_FALSE(structure->envelope->date.empty()) << "the Date submission added";
  ASSERT_TRUE(structure->envelope->message_id.starts_with("<")) << "the Message-ID submission added";
  EXPECT_NE(text.find("Message-ID: " + structure->envelope->message_id + "\r\n"), std::string::npos);
}

TEST(LocalDeliveryTest, DecidesByQuotaAndUser) {
  LocalDelivery rules(std::chrono::seconds(120));
  using store::RecipientState;
  auto fits = rules.decide(store::MailboxUsage{1000, 100}, 900);
  EXPECT_EQ(fits.state, RecipientState::delivered);
  EXPECT_EQ(fits.reply.substr(0, 9), "250 2.0.0");
  auto full = rules.decide(store::MailboxUsage{1000, 100}, 901);
  EXPECT_EQ(full.state, RecipientState::deferred);
  EXPECT_EQ(full.reply.substr(0, 9), "452 4.2.2");
  EXPECT_EQ(full.retry_after, std::chrono::seconds(120));
  EXPECT_EQ(rules.decide(store::MailboxUsage{0, 1u << 30}, 1u << 30).state, RecipientState::delivered);
  auto gone = rules.decide(std::nullopt, 10);
  EXPECT_EQ(gone.state, RecipientState::bounced);
  EXPECT_EQ(gone.reply.substr(0, 9), "550 5.1.1");
}

TEST_F(IntakeTest, AQuotaFullRecipientIsDeferredAndQueued) {
  ASSERT_TRUE(store_->directory().add_user("small@example.test", {"h", ""}, 100));
  Intake intake("mx.example.test", store_->queue());
  Envelope env;
  env.sender = "s@remote.test";
  env.recipients.push_back({"small@example.test", {{"small@example.test", true}}});
  std::promise<Result<Accepted>> p;
  intake.submit(env, std::string(200, 'x') + "\r\n", [&](Result<Accepted> r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  ASSERT_TRUE(r);
  auto rows = *store_->queue().show(r->queue_id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, store::RecipientState::deferred);
  EXPECT_EQ(rows[0].last_reply.substr(0, 9), "452 4.2.2");
  EXPECT_GE(rows[0].next_attempt - rows[0].created, 300);
}

// A copy deferred for a full mailbox is tried again once its time has come,
// and delivered when space was freed: never left deferred for good.
TEST_F(IntakeTest, ADeferredLocalCopyIsRetriedAndDeliveredOnceThereIsRoom) {
  ASSERT_TRUE(store_->directory().add_user("small@example.test", {"h", ""}, 600));
  ASSERT_TRUE(store_->directory().add_alias("list@example.test", {"small@example.test", "bob@example.test"}));
  Intake intake("mx.example.test", store_->queue(), LocalDelivery(std::chrono::seconds(60)));
  auto send = [&](const std::string& to) {
    Envelope env;
    env.sender = "s@remote.test";
    AliasExpander expander(store_->directory());
    env.recipients.push_back({to, expander.expand(to).targets});
    std::promise<Result<Accepted>> p;
    intake.submit(env, std::string(250, 'x') + "\r\n", [&](Result<Accepted> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  ASSERT_TRUE(send("small@example.test"));
  auto deferred = send("list@example.test");  // through the alias: no RCPT quota check for small
  ASSERT_TRUE(deferred);
  auto rows = *store_->queue().show(deferred->queue_id);
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_EQ(rows[0].state, store::RecipientState::deferred);

  LocalRetry retry(store_->queue(), intake.local_delivery());
  const std::int64_t created = rows[0].created;
  EXPECT_EQ(retry.run(created)->deferred, 0u) << "not due before its retry time";
  auto again = *retry.run(created + 60);
  EXPECT_EQ(again.deferred, 1u) << "due, but the mailbox is still full";
  EXPECT_EQ(store_->queue().show(deferred->queue_id)->at(0).attempts, 1);
  // Past the queue lifetime, a copy still deferred is handed back expired
  // (the agent bounces it).
  LocalRetry expiring(store_->queue(), intake.local_delivery(), /*lifetime_s=*/100);
  auto old = *expiring.run(created + 120);
  ASSERT_EQ(old.expired.size(), 1u);
  EXPECT_EQ(old.expired[0].due.recipient, "small@example.test");
  EXPECT_NE(old.expired[0].reply.find("4.2.2"), std::string::npos) << old.expired[0].reply;

  const auto user = (*store_->directory().find_user("small@example.test"))->id;
  auto md = *store_->mailboxes().maildrop(user);
  std::promise<Status> freed;
  store_->mailboxes().expunge(user, md.mailbox_id, {md.messages[0].uid}, [&](Status s) { freed.set_value(s); });
  ASSERT_TRUE(freed.get_future().get());
  auto last = *retry.run(created + 200);
  EXPECT_EQ(last.delivered, 1u);
  EXPECT_TRUE(store_->queue().show(deferred->queue_id)->empty());
  EXPECT_EQ(store_->mailboxes().maildrop(user)->messages.size(), 1u);
  store::JournalQuery q;
  q.queue_id = deferred->queue_id;
  auto events = *store_->journal().query(q);
  EXPECT_EQ(events.back().event, store::JournalEvent::delivered);
  EXPECT_EQ(events.back().recipient, "small@example.test");
}

}  // namespace
}  // namespace herald::queue

// The mailbox model IMAP needs (store/mailboxes.h), through the embedded
// backend: hierarchy, special use, subscriptions, UIDVALIDITY, flags and
// MODSEQ, expunged UIDs, byte ranges.
#include "store/mailboxes.h"

#include <gtest/gtest.h>

#include <future>

#include "store/scratch_store.h"
#include "store/test_rules.h"

namespace herald::store {
namespace {

class MailboxesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
    user_ = (*store_->directory().find_user("alice@example.test"))->id;
  }
  Mailboxes& mb() { return store_->mailboxes(); }

  void deliver(const std::string& body) {
    IncomingMessage m;
    m.queue_id = "Q" + std::to_string(++n_);
    m.body = body;
    m.rules = &kTestRules;
    m.deliveries.push_back(local("alice@example.test"));
    std::promise<Result<CommitResult>> p;
    store_->queue().commit_message(std::move(m), [&p](Result<CommitResult> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    ASSERT_TRUE(r && r->outcomes.at(0).state == RecipientState::delivered);
  }
  MailboxRecord mailbox(const std::string& name) {
    auto r = mb().find_mailbox(user_, name);
    EXPECT_TRUE(r && *r) << name;
    return r && *r ? **r : MailboxRecord{};
  }
  std::vector<std::string> names() {
    std::vector<std::string> out;
    auto list = mb().list_mailboxes(user_);
    EXPECT_TRUE(list);
    if (list)
      for (const auto& m : *list) out.push_back(m.name + (m.selectable ? "" : " (noselect)"));
    return out;
  }
  Result<std::vector<MessageRecord>> store_flags(std::vector<std::int64_t> uids, FlagChange change, std::uint32_t flags,
                                                 std::vector<std::string> keywords = {}) {
    std::promise<Result<std::vector<MessageRecord>>> p;
    mb().store_flags(mailbox(kInbox).id, std::move(uids), change, flags, std::move(keywords),
                     [&p](Result<std::vector<MessageRecord>> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  ScratchStore store_{"mailboxes-test"};
  std::int64_t user_ = 0;
  int n_ = 0;
};

using Names = std::vector<std::string>;

TEST_F(MailboxesTest, EveryUserHasAnInboxWhateverItsCase) {
  EXPECT_EQ(names(), Names{"INBOX"});
  EXPECT_EQ(mailbox("inbox").id, mailbox("INBOX").id);
  EXPECT_EQ(canonical_mailbox_name("Inbox/Sub"), "INBOX/Sub");
  EXPECT_EQ(canonical_mailbox_name("Inboxes"), "Inboxes");
  EXPECT_EQ(mb().delete_mailbox(user_, "inbox").error().code, Errc::denied);
}

TEST_F(MailboxesTest, CreateMakesTheLevelsAboveAndRefusesDuplicatesAndBadNames) {
  ASSERT_TRUE(mb().create_mailbox(user_, "Archive/2026/Q4", ""));
  ASSERT_TRUE(mb().create_mailbox(user_, "Sent", "\\Sent"));
  EXPECT_EQ(names(), (Names{"Archive", "Archive/2026", "Archive/2026/Q4", "INBOX", "Sent"}));
  EXPECT_EQ(mailbox("Sent").special_use, "\\Sent");
  EXPECT_EQ(mb().create_mailbox(user_, "Sent", "").error().code, Errc::exists);
  for (const char* bad : {"", "/x", "x/", "a//b", "tab\there"})
    EXPECT_EQ(mb().create_mailbox(user_, bad, "").error().code, Errc::invalid) << bad;
}

TEST_F(MailboxesTest, DeleteKeepsAParentWithChildrenAsNoselect) {
  ASSERT_TRUE(mb().create_mailbox(user_, "Lists/herald", ""));
  ASSERT_TRUE(mb().delete_mailbox(user_, "Lists"));
  EXPECT_EQ(names(), (Names{"INBOX", "Lists (noselect)", "Lists/herald"}));
  // RFC 9051 6.3.5: a \Noselect name with children cannot be deleted.
  EXPECT_EQ(mb().delete_mailbox(user_, "Lists").error().code, Errc::denied);
  ASSERT_TRUE(mb().delete_mailbox(user_, "Lists/herald"));
  ASSERT_TRUE(mb().delete_mailbox(user_, "Lists"));  // no children any more
  EXPECT_EQ(names(), Names{"INBOX"});
  EXPECT_EQ(mb().delete_mailbox(user_, "Lists").error().code, Errc::not_found);
}

TEST_F(MailboxesTest, RenameTakesTheChildrenAlong) {
  ASSERT_TRUE(mb().create_mailbox(user_, "Work/2025", ""));
  ASSERT_TRUE(mb().create_mailbox(user_, "Workshop", ""));  // shares the prefix, not the level
  const auto validity = mailbox("Work").uidvalidity;
  ASSERT_TRUE(mb().rename_mailbox(user_, "Work", "Old/Work"));
  EXPECT_EQ(names(), (Names{"INBOX", "Old/Work", "Old/Work/2025", "Workshop"}));
  EXPECT_EQ(mailbox("Old/Work").uidvalidity, validity);
  EXPECT_EQ(mb().rename_mailbox(user_, "Workshop", "Old/Work").error().code, Errc::exists);
  EXPECT_EQ(mb().rename_mailbox(user_, "Nope", "Other").error().code, Errc::not_found);
  EXPECT_EQ(mb().rename_mailbox(user_, "Workshop", "Workshop/Inner").error().code, Errc::invalid);
  EXPECT_EQ(mb().rename_mailbox(user_, "Workshop", "INBOX").error().code, Errc::denied);
}

TEST_F(MailboxesTest, RenamingInboxMovesItsMessagesAndLeavesItEmpty) {
  deliver("one\r\n");
  deliver("two\r\n");
  const auto inbox = mailbox(kInbox);
  ASSERT_TRUE(mb().rename_mailbox(user_, "INBOX", "Saved"));
  const auto saved = mailbox("Saved");
  EXPECT_EQ(saved.messages, 2u);
  EXPECT_NE(saved.uidvalidity, inbox.uidvalidity);
  EXPECT_EQ(mailbox(kInbox).messages, 0u);
  EXPECT_EQ(*mb().read_message(saved.id, 2), "Return-Path: <sender@remote.test>\r\nDelivered-To: "
                                             "alice@example.test\r\ntwo\r\n");
  deliver("three\r\n");  // INBOX's UIDs go on: none is given twice
  EXPECT_EQ(mb().messages(mailbox(kInbox).id, 0)->at(0).uid, inbox.uidnext);
}

TEST_F(MailboxesTest, UidvalidityNeverComesBackForAName) {
  ASSERT_TRUE(mb().create_mailbox(user_, "Tmp", ""));
  const auto first = mailbox("Tmp").uidvalidity;
  ASSERT_TRUE(mb().delete_mailbox(user_, "Tmp"));
  ASSERT_TRUE(mb().create_mailbox(user_, "Tmp", ""));  // within the same second
  EXPECT_GT(mailbox("Tmp").uidvalidity, first);
  EXPECT_GT(first, mailbox(kInbox).uidvalidity);
}

TEST_F(MailboxesTest, SubscriptionsAreNamesThatNeedNotExist) {
  ASSERT_TRUE(mb().set_subscribed(user_, "Elsewhere", true));
  ASSERT_TRUE(mb().set_subscribed(user_, "inbox", true));
  EXPECT_EQ(*mb().subscriptions(user_), (Names{"Elsewhere", "INBOX"}));
  ASSERT_TRUE(mb().set_subscribed(user_, "Elsewhere", false));
  EXPECT_EQ(*mb().subscriptions(user_), Names{"INBOX"});
}

TEST_F(MailboxesTest, FlagChangesTakeTheNextModseqAndOnlyRealChangesCount) {
  deliver("one\r\n");
  deliver("two\r\n");
  const auto before = mailbox(kInbox).highestmodseq;
  auto seen = store_flags({1}, FlagChange::add, kSeen, {"$Label1"});
  ASSERT_TRUE(seen);
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ(seen->at(0).flags, kSeen);
  EXPECT_EQ(seen->at(0).keywords, Names{"$Label1"});
  EXPECT_GT(seen->at(0).modseq, before);
  EXPECT_EQ(mailbox(kInbox).highestmodseq, seen->at(0).modseq);
  // RFC 7162 3.1.3: a STORE that changes nothing gives no new MODSEQ.
  EXPECT_TRUE(store_flags({1}, FlagChange::add, kSeen)->empty());
  EXPECT_EQ(mailbox(kInbox).highestmodseq, seen->at(0).modseq);
  // CHANGEDSINCE: only message 1 changed after `before`.
  auto changed = *mb().messages(mailbox(kInbox).id, before);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].uid, 1);
  auto flagged = *store_flags({1, 2}, FlagChange::replace, kFlagged);
  ASSERT_EQ(flagged.size(), 2u);
  EXPECT_TRUE(flagged[0].keywords.empty());
  EXPECT_LT(flagged[0].modseq, flagged[1].modseq);
  EXPECT_EQ(store_flags({2}, FlagChange::remove, kFlagged)->at(0).flags, 0u);
  auto all = *mb().messages(mailbox(kInbox).id, 0);
  EXPECT_EQ(all.at(0).flags, kFlagged);
  EXPECT_GT(all.at(0).internaldate, 0);
}

TEST_F(MailboxesTest, ExpungedUidsAreRememberedWithTheirModseq) {
  deliver("one\r\n");
  deliver("two\r\n");
  const auto inbox = mailbox(kInbox);
  std::promise<Status> p;
  mb().expunge(user_, inbox.id, {1}, [&p](Status s) { p.set_value(s); });
  ASSERT_TRUE(p.get_future().get());
  const auto after = mailbox(kInbox);
  EXPECT_GT(after.highestmodseq, inbox.highestmodseq);
  auto gone = *mb().expunged_since(inbox.id, inbox.highestmodseq);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].uid, 1);
  EXPECT_EQ(gone[0].modseq, after.highestmodseq);
  EXPECT_TRUE(mb().expunged_since(inbox.id, after.highestmodseq)->empty());
}

TEST_F(MailboxesTest, AByteRangeIsThatPartOfTheMessage) {
  deliver("Subject: range\r\n\r\n0123456789\r\n");
  const auto id = mailbox(kInbox).id;
  const std::string whole = *mb().read_message(id, 1);
  EXPECT_EQ(*mb().read_message(id, 1, {5, 10}), whole.substr(5, 10));
  EXPECT_EQ(*mb().read_message(id, 1, {whole.size() - 4, 100}), whole.substr(whole.size() - 4));
  EXPECT_EQ(*mb().read_message(id, 1, {whole.size() + 1, 10}), "");
}

TEST_F(MailboxesTest, DeletingAMailboxFreesItsMessagesAndQuota) {
  deliver(std::string(300, 'x') + "\r\n");
  ASSERT_TRUE(mb().rename_mailbox(user_, "INBOX", "Big"));
  EXPECT_GT((*store_->directory().find_user("alice@example.test"))->used_bytes, 300u);
  ASSERT_TRUE(mb().delete_mailbox(user_, "Big"));
  EXPECT_EQ((*store_->directory().find_user("alice@example.test"))->used_bytes, 0u);
}

// RFC 1939 8: one session at a time has a maildrop; the lock goes with its
// holder, however the session ends (a driver that throws destroys it too).
TEST_F(MailboxesTest, AMaildropLockIsHeldUntilItsHolderGoes) {
  auto first = mb().lock_maildrop(user_);
  ASSERT_TRUE(first && *first);
  auto second = mb().lock_maildrop(user_);
  ASSERT_TRUE(second);
  EXPECT_FALSE(*second) << "held by the first session";
  first->reset();
  auto third = mb().lock_maildrop(user_);
  ASSERT_TRUE(third);
  EXPECT_TRUE(*third) << "released when the first session's lock went";
}

}  // namespace
}  // namespace herald::store

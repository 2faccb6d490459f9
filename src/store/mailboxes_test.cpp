// The mailbox model IMAP needs (store/mailboxes.h), through the embedded
// backend: hierarchy, special use, subscriptions, UIDVALIDITY, flags and
// MODSEQ, expunged UIDs, byte ranges.
#include "store/mailboxes.h"

#include <gtest/gtest.h>

#include <limits>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

#include "store/blob_store.h"
#include "store/scratch_store.h"
#include "store/test_rules.h"

namespace herald::store {
namespace {

using Change = std::pair<std::int64_t, std::int64_t>;  // mailbox id, HIGHESTMODSEQ
using Changes = std::vector<std::vector<Change>>;      // one entry per listener call

class MailboxesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mb().set_change_listener([this](const std::vector<MailboxChange>& changed) {
      std::vector<Change> call;
      for (const auto& c : changed) call.emplace_back(c.mailbox_id, c.highestmodseq);
      std::lock_guard lk(changes_mu_);
      changes_.push_back(std::move(call));
    });
    ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
    user_ = (*store_->directory().find_user("alice@example.test"))->id;
  }
  Mailboxes& mb() { return store_->mailboxes(); }
  // take_changes - what the listener heard since the last call.
  Changes take_changes() {
    std::lock_guard lk(changes_mu_);
    return std::exchange(changes_, {});
  }
  std::int64_t add_user(const std::string& address, std::uint64_t quota) {
    EXPECT_TRUE(store_->directory().add_user(address, {"h", ""}, quota));
    return (*store_->directory().find_user(address))->id;
  }
  std::uint64_t used_bytes(const std::string& address = "alice@example.test") {
    return (*store_->directory().find_user(address))->used_bytes;
  }

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
  MailboxRecord mailbox(const std::string& name, std::int64_t user = 0) {
    auto r = mb().find_mailbox(user ? user : user_, name);
    EXPECT_TRUE(r && *r) << name;
    return r && *r ? **r : MailboxRecord{};
  }
  // names - the user's mailboxes but the special-use ones every user has
  // (NewUsersGetTheSpecialUseMailboxes looks at those).
  std::vector<std::string> names() {
    std::vector<std::string> out;
    auto list = mb().list_mailboxes(user_);
    EXPECT_TRUE(list);
    if (list)
      for (const auto& m : *list) {
        bool special = false;
        for (const auto& s : kSpecialUseMailboxes) special = special || m.name == s.name;
        if (!special) out.push_back(m.name + (m.selectable ? "" : " (noselect)"));
      }
    return out;
  }
  Result<std::vector<MessageRecord>> store_flags(std::vector<std::int64_t> uids, FlagChange change, std::uint32_t flags,
                                                 std::vector<std::string> keywords = {}) {
    std::promise<Result<std::vector<MessageRecord>>> p;
    mb().store_flags(mailbox(kInbox).id, std::move(uids), {change, flags, std::move(keywords), std::nullopt},
                     [&p](Result<Mailboxes::FlagsStored> r) {
                       if (r) p.set_value(std::move(r->changed));
                       else p.set_value(r.error());
                     });
    return p.get_future().get();
  }
  Status expunge(std::int64_t mailbox_id, std::vector<std::int64_t> uids) {
    std::promise<Status> p;
    mb().expunge(user_, mailbox_id, std::move(uids), [&p](Status s) { p.set_value(std::move(s)); });
    return p.get_future().get();
  }
  Result<Appended> append(const std::string& mailbox, AppendMessage m, std::int64_t user = 0) {
    std::promise<Result<Appended>> p;
    mb().append_message(user ? user : user_, mailbox, std::move(m),
                        [&p](Result<Appended> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  Result<Copied> copy(std::int64_t from, std::vector<std::int64_t> uids, const std::string& to, bool move,
                      std::int64_t user = 0) {
    std::promise<Result<Copied>> p;
    mb().copy_messages(user ? user : user_, from, std::move(uids), to, move,
                       [&p](Result<Copied> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  Result<std::vector<std::int64_t>> expunge_deleted(std::optional<std::vector<std::int64_t>> uids) {
    std::promise<Result<std::vector<std::int64_t>>> p;
    mb().expunge_deleted(user_, mailbox(kInbox).id, std::move(uids),
                         [&p](Result<std::vector<std::int64_t>> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  std::vector<std::int64_t> uids(std::int64_t mailbox_id) {
    std::vector<std::int64_t> out;
    auto listed = mb().messages(mailbox_id, 0);
    EXPECT_TRUE(listed);
    if (listed)
      for (const auto& m : *listed) out.push_back(m.uid);
    return out;
  }

  ScratchStore store_{"mailboxes-test"};
  std::int64_t user_ = 0;
  int n_ = 0;
  std::mutex changes_mu_;
  Changes changes_;
};

using Uids = std::vector<std::int64_t>;

using Names = std::vector<std::string>;

TEST_F(MailboxesTest, EveryUserHasAnInboxWhateverItsCase) {
  EXPECT_EQ(names(), Names{"INBOX"});
  EXPECT_EQ(mailbox("inbox").id, mailbox("INBOX").id);
  EXPECT_EQ(canonical_mailbox_name("Inbox/Sub"), "INBOX/Sub");
  EXPECT_EQ(canonical_mailbox_name("Inboxes"), "Inboxes");
  EXPECT_EQ(mb().delete_mailbox(user_, "inbox").error().code, Errc::denied);
}

TEST_F(MailboxesTest, NewUsersGetTheSpecialUseMailboxes) {
  // RFC 6154 2: one mailbox of each use, all subscribed, as INBOX is.
  auto list = *mb().list_mailboxes(user_);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& m : list) got.emplace_back(m.name, m.special_use);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{{"Archive", "\\Archive"},
                                                                   {"Drafts", "\\Drafts"},
                                                                   {"INBOX", ""},
                                                                   {"Junk", "\\Junk"},
                                                                   {"Sent", "\\Sent"},
                                                                   {"Trash", "\\Trash"}}));
  for (const auto& m : list) EXPECT_TRUE(m.selectable && m.uidvalidity > 0 && m.messages == 0) << m.name;
  EXPECT_EQ(*mb().subscriptions(user_), (Names{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"}));
}

TEST_F(MailboxesTest, CreateMakesTheLevelsAboveAndRefusesDuplicatesAndBadNames) {
  ASSERT_TRUE(mb().create_mailbox(user_, "Projects/2026/Q4", ""));
  ASSERT_TRUE(mb().create_mailbox(user_, "Important", "\\Flagged"));
  EXPECT_EQ(names(), (Names{"INBOX", "Important", "Projects", "Projects/2026", "Projects/2026/Q4"}));
  EXPECT_EQ(mailbox("Important").special_use, "\\Flagged");
  EXPECT_EQ(mb().create_mailbox(user_, "Important", "").error().code, Errc::exists);
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
  // For INBOX they were expunged, with one MODSEQ (RFC 7162 3.2.10).
  auto gone = *mb().expunged_since(inbox.id, inbox.highestmodseq);
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_EQ(gone[1].uid, 2);
  EXPECT_EQ(gone[0].modseq, mailbox(kInbox).highestmodseq);
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
  ASSERT_TRUE(mb().set_subscribed(user_, "inbox", false));
  ASSERT_TRUE(mb().set_subscribed(user_, "Junk", false));
  ASSERT_TRUE(mb().set_subscribed(user_, "Elsewhere", true));
  ASSERT_TRUE(mb().set_subscribed(user_, "inbox", true));
  EXPECT_EQ(*mb().subscriptions(user_), (Names{"Archive", "Drafts", "Elsewhere", "INBOX", "Sent", "Trash"}));
  ASSERT_TRUE(mb().set_subscribed(user_, "Elsewhere", false));
  EXPECT_EQ(*mb().subscriptions(user_), (Names{"Archive", "Drafts", "INBOX", "Sent", "Trash"}));
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

// RFC 7162 3.1.3: a conditional STORE changes only the messages not
// changed since the MODSEQ given, and names the others.
TEST_F(MailboxesTest, UnchangedSinceRefusesMessagesChangedSince) {
  deliver("one\r\n");
  deliver("two\r\n");
  const auto inbox = mailbox(kInbox).id;
  auto first = *store_flags({1}, FlagChange::add, kFlagged);
  const std::int64_t looked = first.at(0).modseq;
  ASSERT_TRUE(store_flags({1}, FlagChange::add, kAnswered));  // another client, after `looked`
  std::promise<Result<Mailboxes::FlagsStored>> p;
  mb().store_flags(inbox, {1, 2}, {FlagChange::add, kSeen, {}, looked},
                   [&p](Result<Mailboxes::FlagsStored> r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->changed.size(), 1u);
  EXPECT_EQ(r->changed[0].uid, 2);
  EXPECT_EQ(r->modified, std::vector<std::int64_t>{1});
  EXPECT_EQ(mb().messages(inbox, 0)->at(0).flags, kFlagged | kAnswered);
}

// changes_since: one snapshot of what changed, with the HIGHESTMODSEQ that
// covers it, expunges included.
TEST_F(MailboxesTest, ChangesSinceGivesChangesExpungesAndTheHighestModseq) {
  deliver("one\r\n");
  deliver("two\r\n");
  deliver("three\r\n");
  const auto inbox = mailbox(kInbox);
  ASSERT_TRUE(store_flags({1}, FlagChange::add, kSeen));
  ASSERT_TRUE(expunge(inbox.id, {2}));
  auto c = *mb().changes_since(inbox.id, inbox.highestmodseq);
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0].uid, 1);
  ASSERT_EQ(c.expunged.size(), 1u);
  EXPECT_EQ(c.expunged[0].uid, 2);
  EXPECT_EQ(c.highestmodseq, mailbox(kInbox).highestmodseq);
  EXPECT_GT(c.highestmodseq, c.messages[0].modseq);
  EXPECT_TRUE(mb().changes_since(inbox.id, c.highestmodseq)->messages.empty());
  EXPECT_EQ(mb().changes_since(987654, 0).error().code, Errc::not_found);
}

// listing: every message and the HIGHESTMODSEQ of the same snapshot, which
// covers the last expunge though no message left carries its MODSEQ.
TEST_F(MailboxesTest, ListingGivesEveryMessageAndTheHighestModseq) {
  deliver("one\r\n");
  deliver("two\r\n");
  const auto inbox = mailbox(kInbox);
  ASSERT_TRUE(expunge(inbox.id, {2}));
  auto l = *mb().listing(inbox.id);
  ASSERT_EQ(l.messages.size(), 1u);
  EXPECT_EQ(l.messages[0].uid, 1);
  EXPECT_TRUE(l.expunged.empty());
  EXPECT_EQ(l.highestmodseq, mailbox(kInbox).highestmodseq);
  EXPECT_GT(l.highestmodseq, l.messages[0].modseq);
  EXPECT_EQ(mb().listing(987654).error().code, Errc::not_found);
}

TEST_F(MailboxesTest, ExpungedUidsAreRememberedWithTheirModseq) {
  deliver("one\r\n");
  deliver("two\r\n");
  const auto inbox = mailbox(kInbox);
  ASSERT_TRUE(expunge(inbox.id, {1}));
  const auto after = mailbox(kInbox);
  EXPECT_GT(after.highestmodseq, inbox.highestmodseq);
  auto gone = *mb().expunged_since(inbox.id, inbox.highestmodseq);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].uid, 1);
  EXPECT_EQ(gone[0].modseq, after.highestmodseq);
  EXPECT_TRUE(mb().expunged_since(inbox.id, after.highestmodseq)->empty());
  // RFC 7162 3.1: nothing removed, no new MODSEQ.
  ASSERT_TRUE(expunge(inbox.id, {1, 7}));
  EXPECT_EQ(mailbox(kInbox).highestmodseq, after.highestmodseq);
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

TEST_F(MailboxesTest, AppendTakesTheNextUidAndModseq) {
  AppendMessage m;
  m.body = "Subject: draft\r\n\r\nhello\r\n";
  m.structure = "encoded structure";
  m.flags = kDraft | kSeen;
  m.keywords = {"$Label1", "work"};
  m.internaldate = 1700000000;
  const auto drafts = mailbox("Drafts");
  auto a = append("Drafts", m);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->mailbox_id, drafts.id);
  EXPECT_EQ(a->uidvalidity, drafts.uidvalidity);
  EXPECT_EQ(a->uid, drafts.uidnext);
  const auto after = mailbox("Drafts");
  EXPECT_EQ(after.uidnext, a->uid + 1);
  EXPECT_EQ(after.highestmodseq, drafts.highestmodseq + 1);
  auto listed = *mb().messages(drafts.id, 0);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].flags, kDraft | kSeen);
  EXPECT_EQ(listed[0].keywords, (Names{"$Label1", "work"}));
  EXPECT_EQ(listed[0].internaldate, 1700000000);
  EXPECT_EQ(listed[0].modseq, after.highestmodseq);
  EXPECT_EQ(listed[0].size, m.body.size());
  EXPECT_EQ(*mb().read_message(drafts.id, a->uid), m.body);  // no trace prefix: it was not delivered
  auto structure = *mb().message_structure(drafts.id, a->uid);
  ASSERT_TRUE(structure);
  EXPECT_EQ(structure->encoded, "encoded structure");
  EXPECT_EQ(structure->prefix_size, 0u);
  EXPECT_EQ(used_bytes(), m.body.size());

  // Any case of INBOX; no internal date given is now; no structure is none.
  m.internaldate = 0;
  m.structure.clear();
  auto b = append("inbox", m);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->mailbox_id, mailbox(kInbox).id);
  EXPECT_GT(mb().messages(b->mailbox_id, 0)->at(0).internaldate, 1700000000);
  EXPECT_FALSE(*mb().message_structure(b->mailbox_id, b->uid));
  EXPECT_EQ(append("Drafts", m)->uid, a->uid + 1);

  // RFC 9051 6.3.12: no such mailbox, or one that holds no messages.
  EXPECT_EQ(append("Nope", m).error().code, Errc::not_found);
  ASSERT_TRUE(mb().create_mailbox(user_, "Lists/herald", ""));
  ASSERT_TRUE(mb().delete_mailbox(user_, "Lists"));
  EXPECT_EQ(append("Lists", m).error().code, Errc::not_found);
}

TEST_F(MailboxesTest, ALargeAppendIsKeptInABlobFile) {
  AppendMessage m;
  m.body = std::string(200 * 1024, 'b') + "\r\n";  // over the default inline_body_max
  auto a = append("Archive", m);
  ASSERT_TRUE(a);
  EXPECT_EQ(*mb().read_message(a->mailbox_id, a->uid), m.body);
  EXPECT_TRUE(std::filesystem::exists(store_.dir() / "blobs" / sha256_hex(m.body).substr(0, 2) / sha256_hex(m.body)));
}

TEST_F(MailboxesTest, AnAppendOverQuotaWritesNothing) {
  const std::int64_t small = add_user("small@example.test", 300);
  AppendMessage m;
  m.body = std::string(200, 'x');
  ASSERT_TRUE(append(kInbox, m, small));
  const auto inbox = mailbox(kInbox, small);
  take_changes();
  EXPECT_EQ(append(kInbox, m, small).error().code, Errc::quota);
  EXPECT_EQ(used_bytes("small@example.test"), 200u);
  const auto after = mailbox(kInbox, small);
  EXPECT_EQ(after.messages, 1u);
  EXPECT_EQ(after.uidnext, inbox.uidnext);
  EXPECT_EQ(after.highestmodseq, inbox.highestmodseq);
  // A refused body kept in a file does not stay behind.
  m.body = std::string(200 * 1024, 'y');
  EXPECT_EQ(append(kInbox, m, small).error().code, Errc::quota);
  EXPECT_FALSE(std::filesystem::exists(store_.dir() / "blobs" / sha256_hex(m.body).substr(0, 2) / sha256_hex(m.body)));
  EXPECT_TRUE(take_changes().empty()) << "nothing changed";
}

// Directory::set_quota (herald quota set): the next APPEND is held to the
// new quota, what is kept stays, 0 lifts it; no such user is not_found.
TEST_F(MailboxesTest, SetQuotaHoldsTheNextAppendAndZeroLiftsIt) {
  AppendMessage m;
  m.body = std::string(200, 'x');
  ASSERT_TRUE(append(kInbox, m));
  ASSERT_TRUE(append(kInbox, m));
  ASSERT_TRUE(store_->directory().lookup_address("alice@example.test"));  // cached: no quota yet
  ASSERT_TRUE(store_->directory().set_quota("Alice@Example.test", 300));
  auto alice = *store_->directory().find_user("alice@example.test");
  EXPECT_EQ(alice->quota_bytes, 300u);
  EXPECT_EQ(alice->used_bytes, 400u) << "what is kept stays, even past the new quota";
  EXPECT_EQ(append(kInbox, m).error().code, Errc::quota);
  auto entry = store_->directory().lookup_address("alice@example.test");
  ASSERT_TRUE(entry && entry->user);
  EXPECT_EQ(entry->user->quota_bytes, 300u) << "the recipient check sees the new quota";
  ASSERT_TRUE(store_->directory().set_quota("alice@example.test", 0));
  EXPECT_TRUE(append(kInbox, m));
  EXPECT_EQ(used_bytes(), 600u);
  EXPECT_EQ(store_->directory().set_quota("nobody@example.test", 1).error().code, Errc::not_found);
}

TEST_F(MailboxesTest, CopyGivesNewUidsAndKeepsFlagsAndTheBody) {
  deliver("one\r\n");
  deliver("two\r\n");
  deliver("three\r\n");
  ASSERT_TRUE(store_flags({1}, FlagChange::add, kFlagged, {"$Label2"}));
  ASSERT_TRUE(store_flags({3}, FlagChange::add, kSeen));
  const auto inbox = mailbox(kInbox);
  const auto archive = mailbox("Archive");
  const auto used = used_bytes();
  // RFC 9051 6.4.7: in UID order; a UID that does not exist is left out.
  auto c = copy(inbox.id, {3, 7, 1}, "Archive", false);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->mailbox_id, archive.id);
  EXPECT_EQ(c->uidvalidity, archive.uidvalidity);
  EXPECT_EQ(c->from, (Uids{1, 3}));
  EXPECT_EQ(c->to, (Uids{archive.uidnext, archive.uidnext + 1}));
  auto source = *mb().messages(inbox.id, 0);
  auto copies = *mb().messages(archive.id, 0);
  ASSERT_EQ(copies.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& from = source.at(c->from[i] - 1);
    EXPECT_EQ(copies[i].flags, from.flags);
    EXPECT_EQ(copies[i].keywords, from.keywords);
    EXPECT_EQ(copies[i].size, from.size);
    EXPECT_EQ(copies[i].internaldate, from.internaldate);
    EXPECT_EQ(*mb().read_message(archive.id, copies[i].uid), *mb().read_message(inbox.id, from.uid));
  }
  EXPECT_EQ(copies[1].modseq, mailbox("Archive").highestmodseq);
  EXPECT_EQ(mailbox(kInbox).messages, 3u);
  EXPECT_EQ(used_bytes(), used + source[0].size + source[2].size);
  // The copies share the body: it stays while one of them does.
  ASSERT_TRUE(expunge(inbox.id, {1}));
  EXPECT_EQ(*mb().read_message(archive.id, c->to[0]), "Return-Path: <sender@remote.test>\r\nDelivered-To: "
                                                      "alice@example.test\r\none\r\n");
  // Into the same mailbox: a new UID there.
  auto same = copy(inbox.id, {2}, "INBOX", false);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->to, Uids{4});
  EXPECT_EQ(uids(inbox.id), (Uids{2, 3, 4}));
  EXPECT_EQ(copy(inbox.id, {2}, "Nope", false).error().code, Errc::not_found);
  EXPECT_TRUE(copy(inbox.id, {99}, "Archive", false)->from.empty());
}

TEST_F(MailboxesTest, MoveExpungesTheSourceWithOneModseq) {
  deliver("one\r\n");
  deliver("two\r\n");
  ASSERT_TRUE(store_flags({2}, FlagChange::add, kAnswered));
  const auto inbox = mailbox(kInbox);
  const auto used = used_bytes();
  take_changes();
  auto m = copy(inbox.id, {1, 2}, "Trash", true);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->from, (Uids{1, 2}));
  EXPECT_EQ(m->to, (Uids{1, 2}));
  EXPECT_TRUE(uids(inbox.id).empty());
  const auto trash = mailbox("Trash");
  EXPECT_EQ(mb().messages(trash.id, 0)->at(1).flags, kAnswered);
  // RFC 6851 3.3: as EXPUNGE removes them, remembered for QRESYNC.
  const auto after = mailbox(kInbox);
  EXPECT_EQ(after.highestmodseq, inbox.highestmodseq + 1);
  auto gone = *mb().expunged_since(inbox.id, inbox.highestmodseq);
  ASSERT_EQ(gone.size(), 2u);
  EXPECT_EQ(gone[0].modseq, after.highestmodseq);
  EXPECT_EQ(gone[1].modseq, after.highestmodseq);
  EXPECT_EQ(used_bytes(), used);
  // One call for the transaction, one entry per mailbox.
  EXPECT_EQ(take_changes(), (Changes{{{inbox.id, after.highestmodseq}, {trash.id, trash.highestmodseq}}}));
  // Within one mailbox: new UIDs, the old ones expunged.
  auto again = copy(trash.id, {1}, "Trash", true);
  ASSERT_TRUE(again);
  EXPECT_EQ(uids(trash.id), (Uids{2, 3}));
}

// message_structures: several messages' structures in the order asked,
// an absent UID not found, a message kept without one found with none.
TEST_F(MailboxesTest, StructuresAreReadManyAtATime) {
  for (const char* structure : {"first", "", "third"}) {
    AppendMessage m;
    m.body = "x\r\n";
    m.structure = structure;
    ASSERT_TRUE(append(kInbox, std::move(m)));
  }
  auto found = mb().message_structures(mailbox(kInbox).id, {3, 99, 1, 2});
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 4u);
  ASSERT_TRUE((*found)[0].found && (*found)[0].structure);
  EXPECT_EQ((*found)[0].structure->encoded, "third");
  EXPECT_FALSE((*found)[1].found);
  ASSERT_TRUE((*found)[2].structure);
  EXPECT_EQ((*found)[2].structure->encoded, "first");
  EXPECT_TRUE((*found)[3].found);
  EXPECT_FALSE((*found)[3].structure);
  // max_octets: it stops once past it, one message at least.
  EXPECT_EQ(mb().message_structures(mailbox(kInbox).id, {3, 1, 2}, 6)->size(), 2u);  // "third" 5, "first" 5
  EXPECT_EQ(mb().message_structures(mailbox(kInbox).id, {3, 1, 2}, 1)->size(), 1u);
  EXPECT_EQ(mb().message_structures(mailbox(kInbox).id, {3, 1, 2}, 11)->size(), 3u);
  // An expunged message is not found.
  ASSERT_TRUE(expunge(mailbox(kInbox).id, {1}));
  EXPECT_FALSE(mb().message_structures(mailbox(kInbox).id, {1})->at(0).found);
}

// The message count a mailbox look-up gives (kept by the store, not
// counted at each look-up) follows delivery, APPEND, COPY, MOVE, expunge
// and RENAME of INBOX, each checked against the rows listed.
TEST_F(MailboxesTest, TheMessageCountFollowsEveryChange) {
  auto count = [&](const std::string& name) {
    const auto box = mailbox(name);
    EXPECT_EQ(box.messages, uids(box.id).size()) << name;
    return box.messages;
  };
  ASSERT_TRUE(mb().create_mailbox(user_, "Keep", ""));
  deliver("one\r\n");
  deliver("two\r\n");
  AppendMessage m;
  m.body = "three\r\n";
  ASSERT_TRUE(append(kInbox, std::move(m)));
  EXPECT_EQ(count(kInbox), 3u);
  const auto inbox = mailbox(kInbox).id;
  ASSERT_TRUE(copy(inbox, {1, 2}, "Keep", false));
  EXPECT_EQ(count("Keep"), 2u);
  ASSERT_TRUE(copy(inbox, {3}, "Keep", true));
  EXPECT_EQ(count(kInbox), 2u);
  EXPECT_EQ(count("Keep"), 3u);
  ASSERT_TRUE(expunge(inbox, {1}));
  EXPECT_EQ(count(kInbox), 1u);
  ASSERT_TRUE(mb().rename_mailbox(user_, "INBOX", "Saved"));
  EXPECT_EQ(count(kInbox), 0u);
  EXPECT_EQ(count("Saved"), 1u);
}

// RFC 8514: SAVEDATE is when the message came into its mailbox - at
// delivery its internal date, at APPEND now whatever internal date the
// client gave, at COPY and MOVE the time of the copy.
TEST_F(MailboxesTest, TheSaveDateIsWhenTheMessageCameIntoItsMailbox) {
  const auto now = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const auto before = now();
  deliver("one\r\n");
  AppendMessage m;
  m.body = "Subject: old\r\n\r\nfrom 2023\r\n";
  m.internaldate = 1700000000;
  ASSERT_TRUE(append(kInbox, m));
  const auto inbox = mailbox(kInbox);
  auto listed = *mb().messages(inbox.id, 0);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].savedate, listed[0].internaldate);
  EXPECT_GE(listed[0].savedate, before);
  EXPECT_EQ(listed[1].internaldate, 1700000000);
  EXPECT_GE(listed[1].savedate, before);
  EXPECT_LE(listed[1].savedate, now());
  ASSERT_TRUE(copy(inbox.id, {2}, "Archive", false));
  ASSERT_TRUE(copy(inbox.id, {1}, "Trash", true));
  for (const char* name : {"Archive", "Trash"}) {
    auto moved = *mb().messages(mailbox(name).id, 0);
    ASSERT_EQ(moved.size(), 1u) << name;
    EXPECT_GE(moved[0].savedate, before) << name;
    EXPECT_LE(moved[0].savedate, now()) << name;
  }
  EXPECT_EQ(mb().messages(mailbox("Archive").id, 0)->at(0).internaldate, 1700000000);
}

// RFC 5464: annotations of a mailbox and of the server; an entry read with
// those below it; /private ones the user's own, /shared ones the mailbox's.
TEST_F(MailboxesTest, MetadataIsSetReadAndRemoved) {
  using Entries = std::vector<MetadataEntry>;
  ASSERT_TRUE(mb().set_metadata(user_, "INBOX",
                                {{"/private/comment", "mine"},
                                 {"/shared/comment", "ours"},
                                 {"/private/vendor/x/a", "1"},
                                 {"/private/vendor/x/a/b", "2"},
                                 {"/private/vendor/xy", "not below x"}},
                                100));
  EXPECT_EQ(*mb().metadata(user_, "inbox", {"/private/comment", "/shared/comment"}),
            (Entries{{"/private/comment", "mine"}, {"/shared/comment", "ours"}}));
  EXPECT_EQ(*mb().metadata(user_, "INBOX", {"/private/vendor/x"}),
            (Entries{{"/private/vendor/x/a", "1"}, {"/private/vendor/x/a/b", "2"}}));
  EXPECT_EQ(mb().metadata(user_, "INBOX", {"/private"})->size(), 4u);
  // The server's entries are apart from the mailboxes'.
  EXPECT_EQ(*mb().metadata(user_, "", {"/private/comment"}), Entries{});
  ASSERT_TRUE(mb().set_metadata(user_, "", {{"/private/comment", "server note"}}, 100));
  EXPECT_EQ(*mb().metadata(user_, "", {"/private"}), (Entries{{"/private/comment", "server note"}}));
  // Another user sees neither alice's mailboxes nor her private server entries.
  const std::int64_t bob = add_user("bob@example.test", 0);
  EXPECT_EQ(*mb().metadata(bob, "", {"/private"}), Entries{});
  ASSERT_TRUE(mb().set_metadata(bob, "INBOX", {{"/private/comment", "bob's"}}, 100));
  EXPECT_EQ(*mb().metadata(user_, "INBOX", {"/private/comment"}), (Entries{{"/private/comment", "mine"}}));
  // No value removes the entry, and only that one.
  ASSERT_TRUE(mb().set_metadata(user_, "INBOX", {{"/private/vendor/x/a", std::nullopt}}, 100));
  EXPECT_EQ(*mb().metadata(user_, "INBOX", {"/private/vendor/x"}), (Entries{{"/private/vendor/x/a/b", "2"}}));
  EXPECT_EQ(mb().metadata(user_, "Nope", {"/private"}).error().code, Errc::not_found);
  EXPECT_EQ(mb().set_metadata(user_, "Nope", {{"/private/comment", "x"}}, 100).error().code, Errc::not_found);
}

// RFC 5464 with RFC 4314: another reader of a mailbox shares its /shared
// entries and keeps /private ones of their own.
TEST_F(MailboxesTest, AnotherReaderHasTheirOwnPrivateEntries) {
  using Entries = std::vector<MetadataEntry>;
  const std::int64_t bob = add_user("bob@example.test", 0);
  ASSERT_TRUE(mb().set_metadata(user_, "INBOX", {{"/private/comment", "alice's"}, {"/shared/comment", "ours"}}, 100));
  ASSERT_TRUE(mb().set_metadata(user_, "INBOX", {{"/private/comment", "bob's"}}, 100, bob));
  EXPECT_EQ(*mb().metadata(user_, "INBOX", {"/private", "/shared"}, bob),
            (Entries{{"/private/comment", "bob's"}, {"/shared/comment", "ours"}}));
  EXPECT_EQ(*mb().metadata(user_, "INBOX", {"/private"}), (Entries{{"/private/comment", "alice's"}}));
  EXPECT_TRUE(mb().metadata(bob, "INBOX", {"/private"})->empty());  // bob's own INBOX has none
}

// RFC 5464 4.3: past the limit nothing of the command is set; replacing and
// removing are always allowed.
TEST_F(MailboxesTest, MetadataPastTheLimitSetsNothing) {
  ASSERT_TRUE(mb().set_metadata(user_, "INBOX", {{"/private/a", "1"}, {"/shared/b", "2"}}, 3));
  auto st = mb().set_metadata(user_, "Sent", {{"/private/c", "3"}, {"/private/d", "4"}}, 3);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, Errc::quota);
  EXPECT_TRUE(mb().metadata(user_, "Sent", {"/private"})->empty());
  EXPECT_TRUE(mb().set_metadata(user_, "INBOX", {{"/private/a", "one"}, {"/shared/b", std::nullopt}}, 2));
  EXPECT_TRUE(mb().set_metadata(user_, "Sent", {{"/private/c", "3"}}, 2));
}

// RFC 5464 4.1: a renamed mailbox keeps its annotations, INBOX's are
// copied when it is renamed, a deleted mailbox's go with it.
TEST_F(MailboxesTest, MetadataFollowsRenameAndGoesWithDelete) {
  using Entries = std::vector<MetadataEntry>;
  ASSERT_TRUE(mb().create_mailbox(user_, "Lists/herald", ""));
  ASSERT_TRUE(mb().set_metadata(user_, "Lists", {{"/shared/comment", "parent"}}, 100));
  ASSERT_TRUE(mb().set_metadata(user_, "Lists/herald", {{"/shared/comment", "child"}}, 100));
  ASSERT_TRUE(mb().set_metadata(user_, "INBOX", {{"/private/comment", "inbox"}}, 100));
  ASSERT_TRUE(mb().rename_mailbox(user_, "Lists/herald", "Herald"));
  EXPECT_EQ(*mb().metadata(user_, "Herald", {"/shared/comment"}), (Entries{{"/shared/comment", "child"}}));
  ASSERT_TRUE(mb().rename_mailbox(user_, "INBOX", "Old"));
  EXPECT_EQ(*mb().metadata(user_, "Old", {"/private"}), (Entries{{"/private/comment", "inbox"}}));
  EXPECT_EQ(*mb().metadata(user_, "INBOX", {"/private"}), (Entries{{"/private/comment", "inbox"}}));
  ASSERT_TRUE(mb().create_mailbox(user_, "Lists/other", ""));
  ASSERT_TRUE(mb().delete_mailbox(user_, "Lists"));  // stays as a \Noselect parent
  EXPECT_EQ(*mb().metadata(user_, "Lists", {"/shared"}), Entries{});
  ASSERT_TRUE(mb().delete_mailbox(user_, "Herald"));
  ASSERT_TRUE(mb().create_mailbox(user_, "Herald", ""));
  EXPECT_EQ(*mb().metadata(user_, "Herald", {"/shared"}), Entries{});
}

// RFC 4314: an access list per mailbox; another user finds the mailboxes
// shared with them, or with anyone, and the rights that apply.
TEST_F(MailboxesTest, AccessListsShareMailboxes) {
  using Acl = std::vector<AclEntry>;
  const std::int64_t bob = add_user("bob@example.test", 0);
  add_user("carol@example.test", 0);
  ASSERT_TRUE(mb().create_mailbox(user_, "Projects", ""));
  const auto projects = mailbox("Projects");
  const auto archive = mailbox("Archive");
  ASSERT_TRUE(mb().set_acl(projects.id, "bob@example.test", "lr"));
  ASSERT_TRUE(mb().set_acl(projects.id, "anyone", "s"));
  ASSERT_TRUE(mb().set_acl(archive.id, "carol@example.test", "lrswi"));
  EXPECT_EQ(*mb().acl(projects.id), (Acl{{"anyone", "s"}, {"bob@example.test", "lr"}}));
  // A change made from the rights there are (SETACL's "+"), in one step.
  ASSERT_TRUE(mb().change_acl(projects.id, "bob@example.test", [](const std::string& old) { return old + "w"; }));
  ASSERT_TRUE(mb().change_acl(projects.id, "carol@example.test", [](const std::string& old) { return old + "i"; }));
  EXPECT_EQ(*mb().acl(projects.id),
            (Acl{{"anyone", "s"}, {"bob@example.test", "lrw"}, {"carol@example.test", "i"}}));
  ASSERT_TRUE(mb().set_acl(projects.id, "bob@example.test", "lr"));
  ASSERT_TRUE(mb().set_acl(projects.id, "carol@example.test", ""));
  auto shared = *mb().shared_with(bob, "bob@example.test");
  ASSERT_EQ(shared.size(), 1u);
  EXPECT_EQ(shared[0].owner, "alice@example.test");
  EXPECT_EQ(shared[0].owner_id, user_);
  EXPECT_EQ(shared[0].mailbox.id, projects.id);
  EXPECT_EQ(shared[0].mailbox.name, "Projects");
  std::string rights = shared[0].rights;
  std::sort(rights.begin(), rights.end());
  EXPECT_EQ(rights, "lrs");
  // The owner's own mailboxes are never "shared with" them.
  ASSERT_TRUE(mb().set_acl(projects.id, "alice@example.test", "l"));
  EXPECT_TRUE(mb().shared_with(user_, "alice@example.test")->empty());
  // No rights: the entry goes.
  ASSERT_TRUE(mb().set_acl(projects.id, "bob@example.test", ""));
  ASSERT_TRUE(mb().set_acl(projects.id, "anyone", ""));
  EXPECT_TRUE(mb().shared_with(bob, "bob@example.test")->empty());
  EXPECT_EQ(mb().set_acl(987654, "bob@example.test", "l").error().code, Errc::not_found);
  // The list goes with its mailbox, and a deleted user's grants with them.
  ASSERT_TRUE(mb().delete_mailbox(user_, "Projects"));
  ASSERT_TRUE(mb().create_mailbox(user_, "Projects", ""));
  EXPECT_TRUE(mb().acl(mailbox("Projects").id)->empty());
  ASSERT_TRUE(store_->directory().del_user("carol@example.test"));
  EXPECT_TRUE(mb().acl(archive.id)->empty());
}

// RFC 4314: a copy from one user's mailbox to another's is the target
// owner's to pay for; a move frees the source owner's space.
TEST_F(MailboxesTest, ACopyToAnotherUsersMailboxIsTheirs) {
  const std::int64_t bob = add_user("bob@example.test", 0);
  deliver("one\r\n");
  deliver("two\r\n");
  const auto inbox = mailbox(kInbox);
  const std::uint64_t before = used_bytes();
  auto copy_to_bob = [&](std::vector<std::int64_t> uids, bool move) {
    std::promise<Result<Copied>> p;
    mb().copy_messages(user_, inbox.id, std::move(uids), bob, "INBOX", move,
                       [&p](Result<Copied> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  };
  auto copied = copy_to_bob({1}, false);
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(copied->to, (Uids{1}));
  EXPECT_EQ(used_bytes(), before);
  const std::uint64_t bobs = used_bytes("bob@example.test");
  EXPECT_GT(bobs, 0u);
  ASSERT_TRUE(copy_to_bob({2}, true));
  EXPECT_LT(used_bytes(), before);
  EXPECT_GT(used_bytes("bob@example.test"), bobs);
  EXPECT_EQ(mailbox(kInbox).messages, 1u);
  // The source must be from_owner's: bob's id with alice's mailbox finds nothing.
  std::promise<Result<Copied>> p;
  mb().copy_messages(bob, inbox.id, {1}, bob, "INBOX", false, [&p](Result<Copied> r) { p.set_value(std::move(r)); });
  EXPECT_TRUE(p.get_future().get()->from.empty());
}

TEST_F(MailboxesTest, ACopyCountsAgainstTheQuotaAMoveDoesNot) {
  const std::int64_t small = add_user("small@example.test", 250);
  AppendMessage m;
  m.body = std::string(100, 'x');
  auto a = append(kInbox, m, small);
  ASSERT_TRUE(a);
  ASSERT_TRUE(copy(a->mailbox_id, {a->uid}, "Archive", false, small));
  EXPECT_EQ(used_bytes("small@example.test"), 200u);
  const auto archive = mailbox("Archive", small);
  EXPECT_EQ(copy(a->mailbox_id, {a->uid}, "Archive", false, small).error().code, Errc::quota);
  EXPECT_EQ(mailbox("Archive", small).uidnext, archive.uidnext);
  auto moved = copy(a->mailbox_id, {a->uid}, "Trash", true, small);
  ASSERT_TRUE(moved) << moved.error().message;
  EXPECT_EQ(used_bytes("small@example.test"), 200u);
  // Another user's mailbox is no source.
  EXPECT_TRUE(copy(archive.id, {1}, "INBOX", false)->from.empty());
}

TEST_F(MailboxesTest, ExpungeDeletedRemovesOnlyWhatIsFlaggedDeleted) {
  for (int i = 0; i < 4; ++i) deliver("m\r\n");
  ASSERT_TRUE(store_flags({1, 2, 4}, FlagChange::add, kDeleted));
  const auto inbox = mailbox(kInbox);
  // RFC 9051 6.4.9: UID EXPUNGE only of those UIDs.
  EXPECT_EQ(*expunge_deleted(Uids{3, 2}), Uids{2});
  EXPECT_EQ(uids(inbox.id), (Uids{1, 3, 4}));
  EXPECT_EQ(*expunge_deleted(std::nullopt), (Uids{1, 4}));
  EXPECT_EQ(uids(inbox.id), Uids{3});
  auto gone = *mb().expunged_since(inbox.id, inbox.highestmodseq);
  ASSERT_EQ(gone.size(), 3u);
  EXPECT_LT(gone[1].modseq, gone[0].modseq);  // uid 2 went first
  const auto after = mailbox(kInbox);
  EXPECT_TRUE(expunge_deleted(std::nullopt)->empty());
  EXPECT_EQ(mailbox(kInbox).highestmodseq, after.highestmodseq);
  EXPECT_EQ(used_bytes(), mb().messages(inbox.id, 0)->at(0).size);
}

TEST_F(MailboxesTest, CountsGiveUnseenDeletedAndSize) {
  deliver("one\r\n");
  deliver("two\r\n");
  deliver("three\r\n");
  ASSERT_TRUE(store_flags({1}, FlagChange::add, kSeen));
  ASSERT_TRUE(store_flags({2}, FlagChange::add, kDeleted | kSeen));
  const auto id = mailbox(kInbox).id;
  std::uint64_t size = 0;
  const auto listed = *mb().messages(id, 0);
  for (const auto& m : listed) size += m.size;
  auto counts = mb().mailbox_counts(id);
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->messages, 3u);
  EXPECT_EQ(counts->unseen, 1u);
  EXPECT_EQ(counts->deleted, 1u);
  EXPECT_EQ(counts->size, size);
  auto empty = *mb().mailbox_counts(mailbox("Junk").id);
  EXPECT_EQ(empty.messages + empty.unseen + empty.deleted + empty.size, 0u);
  EXPECT_EQ(mb().mailbox_counts(-1).error().code, Errc::not_found);
}

TEST_F(MailboxesTest, TheListenerHearsOfEachCommittedChange) {
  const auto inbox = mailbox(kInbox).id, drafts = mailbox("Drafts").id;
  EXPECT_TRUE(take_changes().empty()) << "creating a user changes no message";
  deliver("one\r\n");
  deliver("two\r\n");
  EXPECT_EQ(take_changes(), (Changes{{{inbox, 2}}, {{inbox, 3}}}));
  AppendMessage m;
  m.body = "draft\r\n";
  ASSERT_TRUE(append("Drafts", m));
  EXPECT_EQ(take_changes(), (Changes{{{drafts, mailbox("Drafts").highestmodseq}}}));
  ASSERT_TRUE(store_flags({1, 2}, FlagChange::add, kSeen));
  EXPECT_EQ(take_changes(), (Changes{{{inbox, 5}}}));  // one call, the highest MODSEQ
  ASSERT_TRUE(store_flags({1, 2}, FlagChange::add, kSeen));
  EXPECT_TRUE(take_changes().empty()) << "no flag changed";
  ASSERT_TRUE(expunge(inbox, {1}));
  EXPECT_EQ(take_changes(), (Changes{{{inbox, 6}}}));
  // Writes that changed nothing, or failed.
  EXPECT_FALSE(append("Nope", m));
  EXPECT_EQ(copy(inbox, {2}, "Nope", false).error().code, Errc::not_found);
  EXPECT_EQ(store_->directory().add_user("alice@example.test", {"h", ""}, 0).error().code, Errc::exists);
  EXPECT_TRUE(take_changes().empty());
  // Renaming INBOX empties it; deleting a mailbox takes its messages.
  ASSERT_TRUE(mb().rename_mailbox(user_, "INBOX", "Old"));
  EXPECT_EQ(take_changes(), (Changes{{{inbox, 7}}}));
  ASSERT_TRUE(mb().delete_mailbox(user_, "Drafts"));
  EXPECT_EQ(take_changes(), (Changes{{{drafts, 3}}})) << "past its last MODSEQ: a session with it selected asks";
}

// This process's commits are the listener's; foreign_changes counts only
// other processes' (the e2e test_imap runs a `herald flags` beside the
// server). highest_modseqs reads what a server watches.
TEST_F(MailboxesTest, OwnCommitsAreNotForeignAndModseqsReadBack) {
  const auto before = mb().foreign_changes();
  deliver("one\r\n");
  ASSERT_TRUE(store_flags({1}, FlagChange::add, kSeen));
  EXPECT_EQ(mb().foreign_changes(), before);
  const auto inbox = mailbox(kInbox);
  auto modseqs = *mb().highest_modseqs({inbox.id, 987654});
  ASSERT_EQ(modseqs.size(), 2u);
  EXPECT_EQ(modseqs[0].highestmodseq, inbox.highestmodseq);
  EXPECT_EQ(modseqs[1].highestmodseq, std::numeric_limits<std::int64_t>::max()) << "gone: past any MODSEQ";
}

// A batch in which one request fails is rolled back and run again without
// it: the listener hears of the batch once, after the commit that counts.
TEST_F(MailboxesTest, TheListenerHearsNothingOfARolledBackTry) {
  deliver("one\r\n");
  const auto inbox = mailbox(kInbox).id;
  take_changes();
  // Hold the writer in a callback, so that what follows waits for one batch.
  std::promise<void> release;
  std::promise<void> held;
  mb().store_flags(inbox, {}, {}, [&](Result<Mailboxes::FlagsStored>) {
    held.set_value();
    release.get_future().wait();
  });
  held.get_future().wait();
  std::promise<Result<std::vector<MessageRecord>>> flagged;
  mb().store_flags(inbox, {1}, {FlagChange::add, kSeen, {}, std::nullopt}, [&](Result<Mailboxes::FlagsStored> r) {
    if (r) flagged.set_value(std::move(r->changed));
    else flagged.set_value(r.error());
  });
  std::thread duplicate([&] {  // fails in the batch: the user exists
    EXPECT_EQ(store_->directory().add_user("alice@example.test", {"h", ""}, 0).error().code, Errc::exists);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it queue its request
  release.set_value();
  auto r = flagged.get_future().get();
  duplicate.join();
  ASSERT_TRUE(r && r->size() == 1);
  EXPECT_EQ(take_changes(), (Changes{{{inbox, r->at(0).modseq}}}));
  EXPECT_EQ(r->at(0).modseq, mailbox(kInbox).highestmodseq);
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

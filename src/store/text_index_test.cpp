// The full-text index (schema 12, Mailboxes::search_text) through the
// embedded backend: written with a delivery or an APPEND, shared by
// copies, gone with the message; BODY and TEXT, phrases, prefixes,
// non-ASCII; messages without a row listed as unindexed. The texts here
// are written as mime::indexable_text lays them out (header values, NUL,
// body text); what it extracts from MIME is tested in mime/ and queue/.
#include <sqlite3.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "store/mailboxes.h"
#include "store/scratch_store.h"
#include "store/test_rules.h"

namespace herald::store {
namespace {

using Uids = std::vector<std::int64_t>;
using namespace std::literals;

std::string text(std::string_view headers, std::string_view body) {
  return std::string(headers) + '\0' + std::string(body);
}

class TextIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
    user_ = (*store_->directory().find_user("alice@example.test"))->id;
    inbox_ = (*mb().find_mailbox(user_, kInbox))->id;
  }
  Mailboxes& mb() { return store_->mailboxes(); }

  // deliver - a message with this index text to alice (and to a remote
  // recipient when remote).
  void deliver(const std::string& index_text, bool remote_too = false) {
    IncomingMessage m;
    m.queue_id = "Q" + std::to_string(++n_);
    m.body = "Subject: s\r\n\r\nbody " + std::to_string(n_) + "\r\n";
    m.text = index_text;
    m.rules = &kTestRules;
    m.deliveries.push_back(local("alice@example.test"));
    if (remote_too) m.deliveries.push_back({"bob@remote.test", "bob@remote.test", false, "", ""});
    std::promise<Result<CommitResult>> p;
    store_->queue().commit_message(std::move(m), [&p](Result<CommitResult> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    ASSERT_TRUE(r && r->outcomes.at(0).state == RecipientState::delivered);
  }
  Result<Appended> append(const std::string& mailbox, const std::string& index_text) {
    AppendMessage m;
    m.body = "Subject: appended\r\n\r\nx\r\n";
    m.text = index_text;
    std::promise<Result<Appended>> p;
    mb().append_message(user_, mailbox, std::move(m), [&p](Result<Appended> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  Status expunge(std::int64_t mailbox_id, Uids uids) {
    std::promise<Status> p;
    mb().expunge(user_, mailbox_id, std::move(uids), [&p](Status s) { p.set_value(std::move(s)); });
    return p.get_future().get();
  }
  Uids find(const std::string& query, bool body_only = false, std::int64_t mailbox = 0) {
    auto r = mb().search_text(mailbox ? mailbox : inbox_, query, body_only);
    EXPECT_TRUE(r) << query << ": " << (r ? "" : r.error().message);
    return r ? r->matches : Uids{};
  }
  Uids unindexed(std::int64_t mailbox = 0) {
    auto r = mb().search_text(mailbox ? mailbox : inbox_, "anything", false);
    EXPECT_TRUE(r);
    return r ? r->unindexed : Uids{};
  }
  // count - one number from the database, read beside the store.
  std::int64_t count(const char* sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2((store_.dir() / "herald.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_exec(db, "CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, message_text, 'row')", nullptr, nullptr,
                 nullptr);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    std::int64_t n = -1;
    if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }

  ScratchStore store_{"text-index-test"};
  std::int64_t user_ = 0, inbox_ = 0;
  int n_ = 0;
};

TEST_F(TextIndexTest, ADeliveryIsFoundByItsWords) {
  deliver(text("Quarterly report\nann@example.com\n", "The invoice is attached.\nRegards\n"));
  deliver(text("Lunch\nbob@example.com\n", "Pizza on Friday?\n"));
  EXPECT_EQ(find("invoice"), (Uids{1}));
  EXPECT_EQ(find("INVOICE"), (Uids{1})) << "case folded";
  EXPECT_EQ(find("pizza"), (Uids{2}));
  EXPECT_EQ(find("nothing like it"), Uids{});
  EXPECT_EQ(unindexed(), Uids{});
}

TEST_F(TextIndexTest, BodyLeavesTheHeaderValuesOutTextHasThem) {
  deliver(text("Quarterly report\nann@example.com\n", "numbers inside\n"));
  deliver(text("other\n", "the quarterly numbers\n"));
  EXPECT_EQ(find("quarterly", false), (Uids{1, 2}));
  EXPECT_EQ(find("quarterly", true), (Uids{2}));
  EXPECT_EQ(find("ann@example.com", false), (Uids{1}));
  EXPECT_EQ(find("ann@example.com", true), Uids{});
}

TEST_F(TextIndexTest, APhraseIsWordsInOrderTheLastAPrefix) {
  deliver(text("", "the quick brown fox jumps\n"));
  deliver(text("", "brown quick\n"));
  EXPECT_EQ(find("quick brown"), (Uids{1}));
  EXPECT_EQ(find("quick brown fox jumps"), (Uids{1}));
  EXPECT_EQ(find("brown quick"), (Uids{2}));
  EXPECT_EQ(find("quick bro"), (Uids{1})) << "the last word a prefix";
  EXPECT_EQ(find("qui"), (Uids{1, 2}));
  EXPECT_EQ(find("uick"), Uids{}) << "a word's inside is not found";
  EXPECT_EQ(find("\"quick\" brown"), (Uids{1})) << "quotes are no syntax";
  EXPECT_EQ(find("brown OR NOT fox*"), Uids{}) << "no FTS5 operators either";
  EXPECT_EQ(find("fox; jumps!"), (Uids{1})) << "punctuation is not compared";
}

TEST_F(TextIndexTest, NonAsciiWordsFoldCaseAndDiacritics) {
  deliver(text("Caf\xc3\xa9 cr\xc3\xa8me\n", "\xc3\x9c" "berweisung f\xc3\xbcr M\xc3\xbcnchen, \xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0\n"));
  EXPECT_EQ(find("caf\xc3\xa9"), (Uids{1}));
  EXPECT_EQ(find("CAFE"), (Uids{1}));
  EXPECT_EQ(find("\xc3\xbc" "berweisung"), (Uids{1}));
  EXPECT_EQ(find("muenchen"), Uids{});
  EXPECT_EQ(find("munchen", true), (Uids{1}));
  EXPECT_EQ(find("\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0", true), (Uids{1})) << "Cyrillic, lower case";
}

TEST_F(TextIndexTest, AQueryWithoutWordsIsRefused) {
  deliver(text("", "x\n"));
  EXPECT_EQ(mb().search_text(inbox_, "", false).error().code, Errc::invalid);
  EXPECT_EQ(mb().search_text(inbox_, "!?\"", true).error().code, Errc::invalid);
}

TEST_F(TextIndexTest, AnAppendIsIndexedAndACopySharesTheRow) {
  ASSERT_TRUE(mb().create_mailbox(user_, "Work", ""));
  const auto work = (*mb().find_mailbox(user_, "Work"))->id;
  ASSERT_TRUE(append("Work", text("draft\n", "budget figures\n")));
  EXPECT_EQ(find("budget", true, work), (Uids{1}));
  EXPECT_EQ(find("budget", true), Uids{}) << "another mailbox's message";
  std::promise<Result<Copied>> p;
  mb().copy_messages(user_, work, {1}, kInbox, false, [&p](Result<Copied> r) { p.set_value(std::move(r)); });
  ASSERT_TRUE(p.get_future().get());
  EXPECT_EQ(find("budget", true), (Uids{1}));
  EXPECT_EQ(count("SELECT count(*) FROM message_text_source"), 1) << "one row for both copies";
  ASSERT_TRUE(expunge(work, {1}));
  EXPECT_EQ(find("budget", true), (Uids{1})) << "the copy keeps it";
  EXPECT_EQ(count("SELECT count(*) FROM message_text_source"), 1);
}

TEST_F(TextIndexTest, ACollectedMessageLeavesNothingInTheIndex) {
  deliver(text("gone subject\n", "ephemeral words\n"));
  deliver(text("kept\n", "durable\n"));
  EXPECT_GT(count("SELECT count(*) FROM temp.terms WHERE term = 'ephemeral'"), 0);
  ASSERT_TRUE(expunge(inbox_, {1}));
  EXPECT_EQ(find("ephemeral"), Uids{});
  EXPECT_EQ(find("durable"), (Uids{2}));
  EXPECT_EQ(count("SELECT count(*) FROM message_text_source"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM temp.terms WHERE term IN ('ephemeral', 'gone', 'subject')"), 0)
      << "the words are out of the index, not only unreachable";
  // Deleting the mailbox collects the rest.
  ASSERT_TRUE(mb().rename_mailbox(user_, kInbox, "Old"));
  ASSERT_TRUE(mb().delete_mailbox(user_, "Old"));
  EXPECT_EQ(count("SELECT count(*) FROM message_text_source"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM temp.terms"), 0);
}

TEST_F(TextIndexTest, AMessageStillQueuedKeepsItsRowUntilCollected) {
  deliver(text("", "shared between local and remote\n"), /*remote_too=*/true);
  ASSERT_TRUE(expunge(inbox_, {1}));
  EXPECT_EQ(count("SELECT count(*) FROM message_text_source"), 1) << "the queue row still needs the message";
}

TEST_F(TextIndexTest, MessagesWithoutARowAreUnindexed) {
  deliver("");  // as before schema 12
  deliver(text("", "indexed words\n"));
  ASSERT_TRUE(append(kInbox, ""));  // an APPEND whose text nobody computed
  auto r = mb().search_text(inbox_, "indexed", false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->matches, (Uids{2}));
  EXPECT_EQ(r->unindexed, (Uids{1, 3}));
}

TEST_F(TextIndexTest, ATextWithoutASeparatorIsAllBody) {
  deliver("just body words\n");
  EXPECT_EQ(find("body words", true), (Uids{1}));
}

TEST_F(TextIndexTest, ControlOctetsInTheTextAreHarmless) {
  deliver(text("a\n", "x\x01y z\n"s + std::string(1, '\0') + "after nul\n"));
  EXPECT_EQ(find("after nul", true), (Uids{1}));
  ASSERT_TRUE(expunge(inbox_, {1}));
  EXPECT_EQ(count("SELECT count(*) FROM temp.terms"), 0);
}

// An upgrade: messages stored before schema 12 have no index row; the
// migration lists them as unindexed (it reads no bodies), new mail is
// indexed, and collecting an old message takes it off the list. Schema 13
// on the way: the message count and the structures' own table.
TEST(TextIndexUpgrade, MessagesFromBeforeAreUnindexed) {
  const auto dir = std::filesystem::temp_directory_path() / ("herald-text-upgrade-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  StoreOptions o;
  o.data_dir = dir;
  o.config_domains = {"example.test"};
  auto deliver = [](Store& st, const std::string& index_text) {
    IncomingMessage m;
    m.queue_id = "Q";
    m.body = "Subject: s\r\n\r\nx\r\n";
    m.text = index_text;
    m.structure = "its structure";
    m.rules = &kTestRules;
    m.deliveries.push_back(local("alice@example.test"));
    std::promise<Result<CommitResult>> p;
    st.queue().commit_message(std::move(m), [&p](Result<CommitResult> r) { p.set_value(std::move(r)); });
    ASSERT_TRUE(p.get_future().get());
  };
  {
    auto st = open(o);
    ASSERT_TRUE(st);
    ASSERT_TRUE((*st)->directory().add_user("alice@example.test", {"h", ""}, 0));
    deliver(**st, text("", "old words\n"));
    deliver(**st, text("", "old words\n"));
  }
  {  // back to schema 11, as a database from before
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir / "herald.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DROP TABLE message_text; DROP TABLE message_text_source; DROP TABLE unindexed_messages; "
                               "DROP INDEX mailbox_messages_modseq; DROP INDEX expunged_modseq; DROP TRIGGER IF EXISTS mailbox_messages_added; "
                               "DROP TRIGGER mailbox_messages_removed; DROP TRIGGER mailbox_messages_moved; "
                               "ALTER TABLE mailboxes DROP COLUMN messages; "
                               "UPDATE messages SET structure = (SELECT structure FROM message_structures "
                               "WHERE message = messages.id); DROP TABLE message_structures; "
                               "ALTER TABLE mailbox_messages DROP COLUMN savedate; "
                               "DROP TRIGGER mailbox_metadata_gone; DROP TRIGGER user_metadata_gone; DROP TABLE metadata; "
                               "DROP TRIGGER user_acl_gone; DROP TABLE acl; "
                               "DELETE FROM schema_version WHERE version >= 12",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto st = open(o);
  ASSERT_TRUE(st);
  auto user = *(*st)->directory().find_user("alice@example.test");
  const auto inbox = (*(*st)->mailboxes().find_mailbox(user->id, kInbox))->id;
  EXPECT_EQ((*(*st)->mailboxes().find_mailbox(user->id, kInbox))->messages, 2u);  // counted by schema 13
  auto structure = (*st)->mailboxes().message_structure(inbox, 2);  // moved to its table by schema 13
  ASSERT_TRUE(structure);
  ASSERT_TRUE(*structure);
  EXPECT_EQ((*structure)->encoded, "its structure");
  auto r = (*st)->mailboxes().search_text(inbox, "words", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->matches, Uids{});
  EXPECT_EQ(r->unindexed, (Uids{1, 2}));
  deliver(**st, text("", "new words\n"));
  std::promise<Status> p;
  (*st)->mailboxes().expunge(user->id, inbox, {1}, [&p](Status s) { p.set_value(std::move(s)); });
  ASSERT_TRUE(p.get_future().get());
  r = (*st)->mailboxes().search_text(inbox, "words", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->matches, (Uids{3}));
  EXPECT_EQ(r->unindexed, (Uids{2}));
  st->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace herald::store

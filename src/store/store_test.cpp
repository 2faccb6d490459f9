#include "store/store.h"

#include "store/journal_sql.h"
#include "store/list_sql.h"
#include "store/schema.h"
#include "store/test_rules.h"
#include "store/write_calls.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <future>
#include <thread>

namespace herald::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("herald-store-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    reopen();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void reopen() {
    store_.reset();
    StoreOptions o;
    o.data_dir = dir_;
    o.inline_body_max = 1024;
    o.config_domains = {"example.test"};
    o.commit_wait = commit_wait_;
    auto s = open(o);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  // cli_store - a second store on this data directory, as the `herald` CLI
  // opens one beside the running server; null if it cannot be opened.
  std::unique_ptr<Store> cli_store() {
    StoreOptions o;
    o.data_dir = dir_;
    o.config_domains = {"example.test"};
    auto s = open(o);
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return s ? std::move(*s) : nullptr;
  }
  Result<CommitResult> commit(IncomingMessage m) {
    std::promise<Result<CommitResult>> p;
    auto f = p.get_future();
    store_->queue().commit_message(std::move(m), [&p](Result<CommitResult> r) { p.set_value(std::move(r)); });
    return f.get();
  }
  IncomingMessage message(std::string body, std::vector<std::string> local_rcpts) {
    IncomingMessage m;
    m.queue_id = "Q" + std::to_string(++n_);
    m.sender = "sender@remote.test";
    m.client = "localhost[127.0.0.1]";
    m.body = std::move(body);
    m.rules = &kTestRules;
    for (auto& r : local_rcpts) m.deliveries.push_back(local(r));
    return m;
  }
  std::int64_t user_id(const std::string& a) { return (*store_->directory().find_user(a))->id; }

  // commit_async - commit m; the future is ready once done has run.
  std::future<Result<CommitResult>> commit_async(IncomingMessage m,
                                                 std::function<void()> after = nullptr) {
    auto p = std::make_shared<std::promise<Result<CommitResult>>>();
    auto f = p->get_future();
    store_->queue().commit_message(std::move(m), [p, after](Result<CommitResult> r) {
      if (after) after();  // on the writer thread, before it takes its next batch
      p->set_value(std::move(r));
    });
    return f;
  }
  static bool delivered(const Result<CommitResult>& r) {
    return r && r->outcomes.size() == 1 && r->outcomes[0].state == RecipientState::delivered;
  }

  fs::path dir_;
  std::unique_ptr<Store> store_;
  std::chrono::milliseconds commit_wait_{2};
  int n_ = 0;
};


TEST_F(StoreTest, ConfigDomainsAreLocalAndCannotBeDeleted) {
  EXPECT_TRUE(*store_->directory().is_local_domain("EXAMPLE.test"));
  EXPECT_FALSE(*store_->directory().is_local_domain("other.test"));
  ASSERT_TRUE(store_->directory().add_domain("Other.Test"));
  EXPECT_TRUE(*store_->directory().is_local_domain("other.test"));
  EXPECT_FALSE(store_->directory().add_domain("other.test"));  // exists
  EXPECT_FALSE(store_->directory().del_domain("example.test"));
  EXPECT_TRUE(store_->directory().del_domain("other.test"));
  EXPECT_EQ(store_->directory().del_domain("other.test").error().code, Errc::not_found);
}

TEST_F(StoreTest, DeliveredMessageReadsBackExactlyWithPerRecipientPrefix) {
  ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
  ASSERT_TRUE(store_->directory().add_user("bob@example.test", {"h", ""}, 0));
  std::string body = "Subject: hi\r\n\r\nhello\r\n";
  auto r = commit(message(body, {"alice@example.test", "bob@example.test"}));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->outcomes.size(), 2u);
  EXPECT_EQ(r->outcomes[0].state, RecipientState::delivered);

  auto md = store_->mailboxes().maildrop(user_id("alice@example.test"));
  ASSERT_TRUE(md);
  ASSERT_EQ(md->messages.size(), 1u);
  auto text = store_->mailboxes().read_message(md->mailbox_id, md->messages[0].uid);
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "Return-Path: <sender@remote.test>\r\nDelivered-To: alice@example.test\r\n" + body);
  EXPECT_EQ(md->messages[0].size, text->size());

  // Single instance: one messages row for both mailboxes.
  sqlite3* db;
  ASSERT_EQ(sqlite3_open((dir_ / "herald.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(StoreTest, UidsAndUidlSurviveReopen) {
  ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(commit(message("x\r\n", {"alice@example.test"})));
  auto before = *store_->mailboxes().maildrop(user_id("alice@example.test"));
  reopen();
  auto after = *store_->mailboxes().maildrop(user_id("alice@example.test"));
  ASSERT_EQ(before.messages.size(), 3u);
  ASSERT_EQ(after.messages.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(before.messages[i].uidl, after.messages[i].uidl);
  EXPECT_LT(after.messages[0].uid, after.messages[1].uid);
}

TEST_F(StoreTest, QuotaDefersInsteadOfOverfilling) {
  ASSERT_TRUE(store_->directory().add_user("small@example.test", {"h", ""}, 100));
  auto r = commit(message(std::string(200, 'x'), {"small@example.test"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcomes[0].state, RecipientState::deferred);
  EXPECT_EQ(r->outcomes[0].reply.substr(0, 9), "452 4.2.2");
  EXPECT_TRUE(store_->mailboxes().maildrop(user_id("small@example.test"))->messages.empty());
  auto q = store_->queue().list({});
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].state, RecipientState::deferred);
}

TEST_F(StoreTest, RemoteRecipientsStayPendingInTheQueue) {
  IncomingMessage m = message("x\r\n", {});
  m.deliveries.push_back({"carol@remote.test", "carol@remote.test", false, "", ""});
  auto r = commit(std::move(m));
  ASSERT_TRUE(r);
  auto q = store_->queue().show("Q1");
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ((*q)[0].state, RecipientState::pending);
  EXPECT_EQ((*q)[0].recipient, "carol@remote.test");
}

TEST_F(StoreTest, LargeBodiesGoToOneBlobFileRemovedWithTheLastReference) {
  ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
  ASSERT_TRUE(store_->directory().add_user("bob@example.test", {"h", ""}, 0));
  std::string body(5000, 'b');
  ASSERT_TRUE(commit(message(body, {"alice@example.test", "bob@example.test"})));
  auto count_blobs = [&] {
    int n = 0;
    for (auto& e : fs::recursive_directory_iterator(dir_ / "blobs"))
      if (e.is_regular_file()) ++n;
    return n;
  };
  EXPECT_EQ(count_blobs(), 1);
  for (const char* who : {"alice@example.test", "bob@example.test"}) {
    auto md = *store_->mailboxes().maildrop(user_id(who));
    auto text = store_->mailboxes().read_message(md.mailbox_id, md.messages[0].uid);
    ASSERT_TRUE(text);
    EXPECT_EQ(text->substr(text->size() - body.size()), body);
    std::promise<Status> p;
    store_->mailboxes().expunge(user_id(who), md.mailbox_id, {md.messages[0].uid}, [&p](Status s) { p.set_value(s); });
    ASSERT_TRUE(p.get_future().get());
  }
  EXPECT_EQ(count_blobs(), 0);
  EXPECT_EQ((*store_->directory().find_user("alice@example.test"))->used_bytes, 0u);
}

TEST_F(StoreTest, ConcurrentCommitsAllLand) {
  ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        IncomingMessage m;
        m.queue_id = "T" + std::to_string(t) + "-" + std::to_string(i);
        m.body = "x\r\n";
        m.rules = &kTestRules;
        m.deliveries.push_back(local("alice@example.test", ""));
        if (commit(std::move(m))) ++ok;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 400);
  auto md = store_->mailboxes().maildrop(user_id("alice@example.test"));
  EXPECT_EQ(md->messages.size(), 400u);
}

// A request that fails inside a group commit (here: a duplicate user) fails
// alone; the messages committed in the same batch still land, exactly once.
TEST_F(StoreTest, AFailingRequestDoesNotTakeItsBatchDown) {
  ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
  constexpr int kMessages = 300, kDuplicates = 20;
  std::atomic<int> committed{0}, answered{0};
  std::promise<void> all;
  for (int i = 0; i < kMessages; ++i) {
    IncomingMessage m = message("x\r\n", {"alice@example.test"});
    store_->queue().commit_message(std::move(m), [&](Result<CommitResult> r) {
      if (r && r->outcomes.size() == 1 && r->outcomes[0].state == RecipientState::delivered) ++committed;
      if (++answered == kMessages) all.set_value();
    });
  }
  int refused = 0;
  for (int i = 0; i < kDuplicates; ++i)
    if (!store_->directory().add_user("alice@example.test", {"h2", ""}, 0)) ++refused;
  all.get_future().wait();
  EXPECT_EQ(committed.load(), kMessages);
  EXPECT_EQ(refused, kDuplicates);
  EXPECT_EQ(store_->mailboxes().maildrop(user_id("alice@example.test"))->messages.size(), static_cast<std::size_t>(kMessages));
  EXPECT_EQ((*store_->directory().find_user("alice@example.test"))->password_hash, "h");
}

// Group commit under load: a request queued while a commit ran marks the
// writer busy; its next commit then waits for the message being received and
// both share one transaction and one sync. The first commit's callback runs
// on the writer thread before it looks at its queue again, which makes the
// order certain.
TEST_F(StoreTest, UnderLoadACommitWaitsForTheMessageBeingReceived) {
  commit_wait_ = std::chrono::milliseconds(60'000);  // ends when the message does
  reopen();
  ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
  long writes = 0;
  std::future<Result<CommitResult>> queued;
  std::promise<void> first_done;
  auto first = commit_async(message("1\r\n", {"alice@example.test"}), [&] {
    writes = write_calls();
    queued = commit_async(message("2\r\n", {"alice@example.test"}));  // the backlog
    store_->queue().note_arrivals(+1);                                          // a body on its way
    first_done.set_value();
  });
  first_done.get_future().wait();
  auto last = commit_async(message("3\r\n", {"alice@example.test"}));  // the body is in
  store_->queue().note_arrivals(-1);
  EXPECT_TRUE(delivered(first.get()));
  EXPECT_TRUE(delivered(queued.get()));
  EXPECT_TRUE(delivered(last.get()));
  EXPECT_EQ(write_calls() - writes, 1) << "the queued message waited for the arriving one: one commit, one write";
  EXPECT_EQ(store_->mailboxes().maildrop(user_id("alice@example.test"))->messages.size(), 3u);
}

// The wait is bounded: a message announced but never handed over (the client
// went away) holds the next commit back for commit_wait only.
TEST_F(StoreTest, AnArrivalThatNeverComesDelaysACommitOnlyForCommitWait) {
  commit_wait_ = std::chrono::milliseconds(50);
  reopen();
  ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
  std::future<Result<CommitResult>> queued;
  auto first = commit_async(message("1\r\n", {"alice@example.test"}), [&] {
    queued = commit_async(message("2\r\n", {"alice@example.test"}));
    store_->queue().note_arrivals(+1);  // never ends
  });
  EXPECT_TRUE(delivered(first.get()));
  EXPECT_TRUE(delivered(queued.get()));
}

// Without a backlog there is no waiting: a lone message commits at once even
// while others are being received (a minute's commit_wait would show). No
// other write may come just before it: a request queued right after a commit
// (here: by the thread that commit's callback woke) is load to the writer.
TEST_F(StoreTest, WithoutABacklogNothingWaitsForArrivals) {
  commit_wait_ = std::chrono::milliseconds(60'000);
  reopen();
  store_->queue().note_arrivals(+1);
  auto m = message("1\r\n", {});
  m.deliveries.push_back({"someone@remote.test", "someone@remote.test", false, "", ""});
  auto lone = commit_async(std::move(m));
  ASSERT_EQ(lone.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  auto r = lone.get();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->outcomes.at(0).state, RecipientState::pending);
  store_->queue().note_arrivals(-1);
}

TEST_F(StoreTest, LookupAddressTellsAliasFromUser) {
  ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
  ASSERT_TRUE(store_->directory().add_alias("alice@example.test", {"alice@example.test", "bob@remote.test"}));
  ASSERT_TRUE(store_->directory().add_alias("team@example.test", {"alice@example.test"}));
  auto both = *store_->directory().lookup_address("Alice@Example.test");
  EXPECT_EQ(both.alias_targets, (std::vector<std::string>{"alice@example.test", "bob@remote.test"}));
  ASSERT_TRUE(both.user);
  EXPECT_EQ(both.user->address, "alice@example.test");
  auto alias = *store_->directory().lookup_address("team@example.test");
  EXPECT_EQ(alias.alias_targets, (std::vector<std::string>{"alice@example.test"}));
  EXPECT_FALSE(alias.user);
  auto none = *store_->directory().lookup_address("nobody@example.test");
  EXPECT_TRUE(none.local_domain);
  EXPECT_TRUE(none.alias_targets.empty());
  EXPECT_FALSE(none.user);
  EXPECT_FALSE(store_->directory().lookup_address("alice@remote.test")->local_domain);
  ASSERT_TRUE(store_->directory().add_domain("Added.test"));
  EXPECT_TRUE(store_->directory().lookup_address("x@added.TEST")->local_domain);
}

// The server caches lookups; the CLI is another process with its own store
// on the same data directory. What it changes must show at the next RCPT.
TEST_F(StoreTest, LookupsSeeDirectoryChangesMadeByAnotherStoreAtOnce) {
  auto cli = cli_store();
  ASSERT_TRUE(cli);
  auto& other = *cli;

  EXPECT_FALSE(store_->directory().lookup_address("new@example.test")->user);  // cached: unknown
  ASSERT_TRUE(other.directory().add_user("new@example.test", {"h", ""}, 0));
  ASSERT_TRUE(store_->directory().lookup_address("new@example.test")->user) << "a user added by another process";

  EXPECT_TRUE(store_->directory().lookup_address("list@example.test")->alias_targets.empty());
  ASSERT_TRUE(other.directory().add_alias("list@example.test", {"new@example.test"}));
  EXPECT_EQ(store_->directory().lookup_address("list@example.test")->alias_targets,
            (std::vector<std::string>{"new@example.test"}));
  ASSERT_TRUE(other.directory().del_alias("list@example.test"));
  EXPECT_TRUE(store_->directory().lookup_address("list@example.test")->alias_targets.empty()) << "a deleted alias";

  EXPECT_FALSE(store_->directory().lookup_address("x@later.test")->local_domain);
  ASSERT_TRUE(other.directory().add_domain("later.test"));
  EXPECT_TRUE(store_->directory().lookup_address("x@later.test")->local_domain) << "a domain added by another process";

  ASSERT_TRUE(other.directory().set_send_as_any("new@example.test", true));
  EXPECT_TRUE(store_->directory().lookup_address("new@example.test")->user->send_as_any);
  ASSERT_TRUE(other.directory().del_user("new@example.test"));
  EXPECT_FALSE(store_->directory().lookup_address("new@example.test")->user) << "a deleted user";
}

// The RCPT quota check compares used_bytes: never from the cache.
TEST_F(StoreTest, LookupsOfAUserWithAQuotaShowTheSpaceUsedNow) {
  ASSERT_TRUE(store_->directory().add_user("q@example.test", {"h", ""}, 1000));
  EXPECT_EQ(store_->directory().lookup_address("q@example.test")->user->used_bytes, 0u);
  ASSERT_TRUE(delivered(commit(message(std::string(300, 'x'), {"q@example.test"}))));
  EXPECT_GT(store_->directory().lookup_address("q@example.test")->user->used_bytes, 300u);
}

TEST_F(StoreTest, AliasesAndJournal) {
  ASSERT_TRUE(store_->directory().add_alias("team@example.test", {"alice@example.test", "Bob@Remote.test"}));
  auto t = store_->directory().alias_targets("TEAM@example.test");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, (std::vector<std::string>{"alice@example.test", "bob@remote.test"}));
  ASSERT_TRUE(store_->directory().del_alias("team@example.test"));
  EXPECT_TRUE(store_->directory().alias_targets("team@example.test")->empty());

  store_->journal().append({0, JournalEvent::login, "", "", "", "alice@example.test", "localhost[127.0.0.1]", 0, "+OK", "pop3"});
  ASSERT_TRUE(store_->flush());
  JournalQuery q;
  q.address = "alice@example.test";
  auto es = store_->journal().query(q);
  ASSERT_TRUE(es);
  ASSERT_EQ(es->size(), 1u);
  EXPECT_EQ((*es)[0].event, JournalEvent::login);
}

// Nobody waits for a journal append; one that fails is counted (and logged),
// never dropped without a trace, and fails alone in its batch.
TEST_F(StoreTest, AFailedJournalAppendIsCountedNotSilent) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "herald.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TRIGGER refuse_failed_logins BEFORE INSERT ON journal WHEN NEW.event = 'login_failed' "
                         "BEGIN SELECT RAISE(ABORT, 'journal refused'); END;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ(store_->journal().failed_appends(), 0u);
  store_->journal().append({0, JournalEvent::login_failed, "", "", "", "a@example.test", "", 0, "failed", ""});
  store_->journal().append({0, JournalEvent::login, "", "", "", "b@example.test", "", 0, "ok", ""});
  ASSERT_TRUE(store_->flush());
  EXPECT_EQ(store_->journal().failed_appends(), 1u);
  auto es = *store_->journal().query({});
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(es[0].recipient, "b@example.test");
}

// Outbound claims: due remote recipients are leased to one agent, grouped
// by message; a leased row is not claimed again until its lease runs out;
// outcomes take delivered and bounced rows away (and the message with the
// last), set deferred ones' next attempt, and journal each.
TEST_F(StoreTest, RemoteRecipientsAreClaimedWithALeaseAndTheirOutcomesRecorded) {
  auto remote = [](const std::string& r) { return Delivery{r, r, false, "", ""}; };
  IncomingMessage m = message(std::string(3000, 'x') + "\r\n", {});  // a blob body
  m.deliveries = {remote("a@far.test"), remote("b@far.test"), remote("c@far.test")};
  const std::string body = m.body, qid = m.queue_id;
  ASSERT_TRUE(commit(std::move(m)));
  auto claim = [&](std::int64_t now, std::string owner) {
    std::promise<Result<std::vector<ClaimedMessage>>> p;
    store_->queue().claim_remote({now, 100, std::move(owner), now + 600},
                                 [&p](Result<std::vector<ClaimedMessage>> r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    EXPECT_TRUE(r) << r.error().message;
    return r ? std::move(*r) : std::vector<ClaimedMessage>{};
  };
  auto record = [&](std::vector<AttemptOutcome> o) {
    std::promise<Status> p;
    store_->queue().record_attempts(std::move(o), [&p](Status st) { p.set_value(st); });
    return p.get_future().get();
  };
  const std::int64_t now = std::time(nullptr);
  EXPECT_TRUE(claim(now - 3600, "early").empty()) << "not due an hour ago";
  auto got = claim(now, "me");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].queue_id, qid);
  ASSERT_EQ(got[0].recipients.size(), 3u);
  EXPECT_EQ(got[0].recipients[1].recipient, "b@far.test");
  EXPECT_EQ(*store_->queue().read_body(got[0].message, {}), body);
  EXPECT_EQ(*store_->queue().read_body(got[0].message, {1000, 500}), body.substr(1000, 500)) << "a piece of the blob";
  EXPECT_EQ(*store_->queue().read_body(got[0].message, {2900, 500}), body.substr(2900)) << "clipped at its end";
  EXPECT_TRUE(claim(now, "other").empty()) << "leased";
  EXPECT_EQ(claim(now + 601, "other").size(), 1u) << "the lease ran out";

  const auto& r = got[0].recipients;
  ASSERT_TRUE(record({{r[0].row, RecipientState::delivered, "250 2.0.0 Ok", "mx.far.test[127.0.0.2]:25", 0},
                      {r[1].row, RecipientState::deferred, "451 4.3.0 later", "mx.far.test[127.0.0.2]:25", now + 300},
                      {r[2].row, RecipientState::bounced, "550 5.1.1 unknown", "mx.far.test[127.0.0.2]:25", 0}}));
  auto rows = *store_->queue().show(qid);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].recipient, "b@far.test");
  EXPECT_EQ(rows[0].state, RecipientState::deferred);
  EXPECT_EQ(rows[0].attempts, 1);
  EXPECT_EQ(rows[0].last_reply, "451 4.3.0 later");
  EXPECT_TRUE(claim(now + 299, "me").empty()) << "deferred until its next attempt";
  auto again = claim(now + 300, "me");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].recipients.at(0).attempts, 1);
  ASSERT_TRUE(record({{again[0].recipients[0].row, RecipientState::delivered, "250 ok", "x[127.0.0.2]:25", 0}}));
  EXPECT_TRUE(store_->queue().show(qid)->empty());
  EXPECT_FALSE(store_->queue().read_body(got[0].message, {})) << "collected with its last recipient";
  JournalQuery q;
  q.queue_id = qid;
  std::vector<std::string> events;
  auto rows_of = store_->journal().query(q);
  ASSERT_TRUE(rows_of);
  for (const auto& e : rows_of.value()) events.push_back(std::string(to_string(e.event)) + " " + e.recipient);
  EXPECT_EQ(events, (std::vector<std::string>{"received ", "queued a@far.test", "queued b@far.test",
                                              "queued c@far.test", "delivered a@far.test", "deferred b@far.test",
                                              "bounced c@far.test", "delivered b@far.test"}));
}

// A lease held when the server stopped is ended at its next start (the
// embedded store has one server per data directory).
TEST_F(StoreTest, TheServerStartEndsLeasesOfTheRunBefore) {
  IncomingMessage m = message("x\r\n", {});
  m.deliveries = {Delivery{"a@far.test", "a@far.test", false, "", ""}};
  ASSERT_TRUE(commit(std::move(m)));
  const std::int64_t now = std::time(nullptr);
  auto claim = [&] {
    std::promise<Result<std::vector<ClaimedMessage>>> p;
    store_->queue().claim_remote({now, 10, "run1", now + 3600},
                                 [&p](Result<std::vector<ClaimedMessage>> r) { p.set_value(std::move(r)); });
    return p.get_future().get()->size();
  };
  EXPECT_EQ(claim(), 1u);
  EXPECT_EQ(claim(), 0u);
  store_.reset();
  StoreOptions o;
  o.data_dir = dir_;
  o.config_domains = {"example.test"};
  o.sweep_blobs = true;
  auto reopened = open(o);
  ASSERT_TRUE(reopened);
  store_ = std::move(reopened.value());
  EXPECT_EQ(claim(), 1u);
}

// The journal's story of a message: the filters of `herald journal` find every
// row of the messages they name, and only those.
TEST_F(StoreTest, JournalQueriesFindEveryRowOfTheMessagesTheyName) {
  ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
  ASSERT_TRUE(store_->directory().add_user("bob@example.test", {"h", ""}, 0));
  auto m1 = message("Subject: one\r\n\r\nx\r\n", {"alice@example.test", "bob@example.test"});
  m1.message_id = "<one@remote.test>";
  auto m2 = message("Subject: two\r\n\r\nx\r\n", {"alice@example.test"});
  m2.message_id = "<two@remote.test>";
  m2.sender = "other@remote.test";
  const std::string q1 = m1.queue_id, q2 = m2.queue_id;
  ASSERT_TRUE(commit(std::move(m1)));
  ASSERT_TRUE(commit(std::move(m2)));
  store_->journal().append({0, JournalEvent::login, "", "", "", "carol@example.test", "localhost[127.0.0.1]", 0, "ok", "pop3 PLAIN"});
  ASSERT_TRUE(store_->flush());

  auto rows = [&](JournalQuery q) {
    std::vector<std::string> out;
    auto es = store_->journal().query(q);
    for (const auto& e : *es) out.push_back(std::string(to_string(e.event)) + " " + e.queue_id + " " + e.recipient);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(rows({.message_id = "<one@remote.test>"}),
            (V{"received " + q1 + " ", "delivered " + q1 + " alice@example.test", "delivered " + q1 + " bob@example.test"}));
  EXPECT_EQ(rows({.queue_id = q2}), (V{"received " + q2 + " ", "delivered " + q2 + " alice@example.test"}));
  // An address: what it sent (every row of those messages) and what was
  // delivered to it or logged in as it.
  EXPECT_EQ(rows({.address = "Other@Remote.test"}), (V{"received " + q2 + " ", "delivered " + q2 + " alice@example.test"}));
  EXPECT_EQ(rows({.address = "alice@example.test"}),
            (V{"delivered " + q1 + " alice@example.test", "delivered " + q2 + " alice@example.test"}));
  EXPECT_EQ(rows({.address = "carol@example.test"}), (V{"login  carol@example.test"}));
  EXPECT_EQ(rows({.message_id = "<one@remote.test>", .address = "bob@example.test"}),
            (V{"delivered " + q1 + " bob@example.test"}));
  EXPECT_TRUE(rows({.message_id = "<none@remote.test>"}).empty());
  EXPECT_EQ(rows({.limit = 2}), (V{"delivered " + q2 + " alice@example.test", "login  carol@example.test"}));
}

TEST_F(StoreTest, JournalSinceGoesByEventTime) {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch()).count();
  store_->journal().append({now - 7'200'000, JournalEvent::login, "", "", "", "old@example.test", "", 0, "ok", ""});
  store_->journal().append({now, JournalEvent::login, "", "", "", "new@example.test", "", 0, "ok", ""});
  // Written last but two hours old: its key is the newest, its time is not.
  store_->journal().append({now - 7'200'000, JournalEvent::login, "", "", "", "late@example.test", "", 0, "ok", ""});
  ASSERT_TRUE(store_->flush());
  auto es = *store_->journal().query({.since_ms = now - 3'600'000});
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(es[0].recipient, "new@example.test");
  EXPECT_EQ(store_->journal().query({})->size(), 3u);
}

// journal.keep: the oldest rows go in batches; newer ones, and a row
// written late with an old time but a new key, wait for their turn.
TEST_F(StoreTest, JournalPruneRemovesTheOldestInBatches) {
  const std::int64_t day = 86'400'000, now = 1'700'000'000'000;
  for (int i = 0; i < 5; ++i)
    store_->journal().append({now - 40 * day + i, JournalEvent::login, "", "", "", "old@example.test", "", 0, "ok", ""});
  store_->journal().append({now - day, JournalEvent::login, "", "", "", "new@example.test", "", 0, "ok", ""});
  ASSERT_TRUE(store_->flush());
  auto first = store_->journal().prune(now - 30 * day, 3);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, 3u);
  EXPECT_EQ(*store_->journal().prune(now - 30 * day, 3), 2u);
  EXPECT_EQ(*store_->journal().prune(now - 30 * day, 3), 0u);
  auto left = *store_->journal().query({});
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].recipient, "new@example.test");
}

// journal.skip: the kinds an operator turned off are never written.
TEST_F(StoreTest, SkippedJournalEventsAreNotWritten) {
  store_.reset();
  StoreOptions o;
  o.data_dir = dir_;
  o.config_domains = {"example.test"};
  o.journal_skip = {JournalEvent::rejected, JournalEvent::connection_refused};
  auto s = open(o);
  ASSERT_TRUE(s);
  store_ = std::move(*s);
  store_->journal().append({0, JournalEvent::rejected, "", "", "a@b.test", "c@d.test", "x[1.2.3.4]", 0, "554", "RCPT"});
  store_->journal().append({0, JournalEvent::login, "", "", "", "u@example.test", "", 0, "ok", ""});
  ASSERT_TRUE(store_->flush());
  auto es = *store_->journal().query({});
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(es[0].event, JournalEvent::login);
}

// The server and the CLI both write the journal; each writer learns the next
// key when its transaction begins. Rows of one millisecond, written by turns
// from two stores, all land, in the order written.
TEST_F(StoreTest, JournalKeysStayUniqueWhenTwoStoresWriteByTurns) {
  auto cli = cli_store();
  ASSERT_TRUE(cli);
  const std::int64_t t = 1'700'000'000'000;
  for (int i = 0; i < 20; ++i) {
    Store& s = i % 2 ? *cli : *store_;
    s.journal().append({t, JournalEvent::login, "", "", "", "u" + std::to_string(i) + "@example.test", "", 0, "ok", ""});
    ASSERT_TRUE(s.flush());
  }
  auto es = *store_->journal().query({});
  ASSERT_EQ(es.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(es[i].recipient, "u" + std::to_string(i) + "@example.test");
}

// Every filter of `herald journal` reads an index or a key range, never the
// whole journal (a full scan of a journal of years would take minutes).
TEST_F(StoreTest, JournalQueriesReadIndexesNotTheWholeJournal) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "herald.db").c_str(), &db), SQLITE_OK);
  for (unsigned f = 1; f < 16; ++f) {
    JournalQuery q;
    if (f & 1) q.since_ms = 1;
    if (f & 2) q.queue_id = "Q";
    if (f & 4) q.message_id = "<m@x>";
    if (f & 8) q.address = "a@example.test";
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, (std::string("EXPLAIN QUERY PLAN ") + journal_select_sql(q)).c_str(), -1, &st,
                                 nullptr),
              SQLITE_OK);
    std::string plan;
    while (sqlite3_step(st) == SQLITE_ROW) plan += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 3))) + "; ";
    sqlite3_finalize(st);
    EXPECT_EQ(plan.find("SCAN journal"), std::string::npos) << "filters " << f << ": " << plan;
  }
  sqlite3_close(db);
}

// Schema v3 rebuilds the journal: rows of v2 keep their order and are found.
TEST_F(StoreTest, JournalRowsSurviveTheMigrationToTimeOrderedKeys) {
  store_.reset();
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "herald.db").c_str(), &db), SQLITE_OK);
  std::string v2 = std::string("CREATE TABLE schema_version (version INTEGER NOT NULL);") + kMigrations[0] +
                   kMigrations[1] +
                   "INSERT INTO schema_version VALUES (2);"
                   "INSERT INTO journal(time_ms, event, queue_id, message_id, sender) VALUES"
                   " (1000, 'received', 'QA', '<a@x>', 's@x'), (1000, 'delivered', 'QA', '<a@x>', 's@x'),"
                   " (900, 'login', '', '', ''), (2000, 'received', 'QB', '<b@x>', 's@x');";
  ASSERT_EQ(sqlite3_exec(db, v2.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  reopen();
  std::vector<std::string> all;
  auto es = store_->journal().query({});
  for (const auto& e : *es) all.push_back(std::string(to_string(e.event)) + " " + e.queue_id);
  EXPECT_EQ(all, (std::vector<std::string>{"login ", "received QA", "delivered QA", "received QB"}));
  EXPECT_EQ(store_->journal().query({.message_id = "<a@x>"})->size(), 2u);
  EXPECT_EQ(store_->journal().query({.address = "s@x"})->size(), 3u);
}

TEST_F(StoreTest, DeletingAUserFreesTheirMessages) {
  ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"h", ""}, 0));
  ASSERT_TRUE(commit(message(std::string(5000, 'z'), {"alice@example.test"})));
  ASSERT_TRUE(store_->directory().del_user("alice@example.test"));
  EXPECT_FALSE(*store_->directory().find_user("alice@example.test"));
  int n = 0;
  for (auto& e : fs::recursive_directory_iterator(dir_ / "blobs"))
    if (e.is_regular_file()) ++n;
  EXPECT_EQ(n, 0);
}

TEST_F(StoreTest, CredentialsAndSendAsSurviveReopen) {
  ASSERT_TRUE(store_->directory().add_user("alice@example.test", {"hash1", "SCRAM-SHA-256$4096:c2FsdA==$a:b"}, 0));
  ASSERT_TRUE(store_->directory().set_send_as_any("alice@example.test", true));
  reopen();
  auto u = **store_->directory().find_user("alice@example.test");
  EXPECT_EQ(u.password_hash, "hash1");
  EXPECT_EQ(u.scram_sha256, "SCRAM-SHA-256$4096:c2FsdA==$a:b");
  EXPECT_TRUE(u.send_as_any);
  ASSERT_TRUE(store_->directory().set_password("alice@example.test", {"hash2", ""}));
  EXPECT_EQ((*store_->directory().find_user("alice@example.test"))->scram_sha256, "");
  EXPECT_EQ(store_->directory().set_send_as_any("nobody@example.test", true).error().code, Errc::not_found);
}

// plan_of - what SQLite will do for sql on the test's database.
std::string plan_of(const fs::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  std::string plan;
  if (sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &st, nullptr) != SQLITE_OK)
    plan = std::string("cannot prepare: ") + sqlite3_errmsg(db);
  while (st && sqlite3_step(st) == SQLITE_ROW) plan += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 3))) + "; ";
  sqlite3_finalize(st);
  sqlite3_close(db);
  return plan;
}

// Every page of `herald domain|user|alias|queue list` is a range of one index
// read in its order: no SCAN of the table, and no TEMP B-TREE (a sort of every
// matching row before the first one comes: 103 s and 4.6 GB for ten million
// users). The journal's forward reads keep to its indexes as its newest do.
TEST_F(StoreTest, ListPagesReadAnIndexRangeInOrderNotTheWholeTable) {
  const fs::path db = dir_ / "herald.db";
  for (const char* prefix : {"", "ali", "\xff"})
    for (const char* after : {"", "bob@example.test"})
      for (const char* domain : {"", "example.test"}) {
        ListQuery q{after, prefix, domain, 10};
        KeyRange r = key_range(q.after, q.prefix);
        for (std::string sql : {std::string(user_page_sql(r, q)), std::string(alias_page_sql(r, q)),
                                std::string(domain_page_sql(r))}) {
          std::string plan = plan_of(db, sql);
          EXPECT_NE(plan.find("SEARCH"), std::string::npos) << sql << ": " << plan;
          EXPECT_EQ(plan.find("SCAN"), std::string::npos) << sql << ": " << plan;
          EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << sql << ": " << plan;
        }
      }
  for (unsigned f = 0; f < 16; ++f) {
    QueueQuery q;
    if (f & 1) q.sender = "s@remote.test";
    if (f & 2) q.recipient = "r@remote.test";
    if (f & 4) q.state = RecipientState::dead;
    if (f & 8) q.queued_before = 1'800'000'000;
    std::string plan = plan_of(db, queue_page_sql(q));
    EXPECT_NE(plan.find("SEARCH q USING INTEGER PRIMARY KEY"), std::string::npos) << "filters " << f << ": " << plan;
    EXPECT_EQ(plan.find("SCAN"), std::string::npos) << "filters " << f << ": " << plan;
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << "filters " << f << ": " << plan;
  }
  for (auto read : {JournalRead::forward, JournalRead::newest_start})
    for (unsigned f = 0; f < 16; ++f) {
      JournalQuery q;
      if (f & 1) q.since_ms = 1;
      if (f & 2) q.queue_id = "Q";
      if (f & 4) q.message_id = "<m@x>";
      if (f & 8) q.address = "a@example.test";
      std::string plan = plan_of(db, journal_select_sql(q, read));
      if (f != 0) {
        EXPECT_EQ(plan.find("SCAN journal"), std::string::npos) << "filters " << f << ": " << plan;
      } else if (read == JournalRead::forward) {  // no filter: the key range itself
        EXPECT_NE(plan.find("SEARCH journal USING INTEGER PRIMARY KEY"), std::string::npos) << plan;
      }
    }
}

TEST(ListSql, KeyRangeStartsAtTheLaterOfAfterAndPrefix) {
  EXPECT_EQ(prefix_end("ab"), "ac");
  EXPECT_EQ(prefix_end("a\xff"), "b");
  EXPECT_EQ(prefix_end("\xff\xff"), std::nullopt);
  KeyRange r = key_range("", "bo");
  EXPECT_EQ(r.from, "bo");
  EXPECT_EQ(r.to, "bp");
  r = key_range("bob@x", "bo");
  EXPECT_EQ(r.from, std::string("bob@x\0", 6)) << "after is exclusive: the least key above it";
  r = key_range("alice@x", "bo");
  EXPECT_EQ(r.from, "bo") << "a cursor before the prefix starts at the prefix";
  EXPECT_EQ(key_range("", "").from, "");
  EXPECT_FALSE(key_range("", "").to);
}

// collect - every page of a list, each continued after the last key of the
// one before, as `--after` continues it.
template <typename Rec, typename Read, typename Key>
std::vector<std::string> collect(ListQuery q, Read read, Key key, int* pages = nullptr) {
  std::vector<std::string> out;
  for (int n = 0; n < 1000; ++n) {
    auto page = read(q);
    EXPECT_TRUE(page) << page.error().message;
    if (!page || page->empty()) break;
    EXPECT_LE(page->size(), q.limit);
    for (const Rec& r : *page) out.push_back(key(r));
    q.after = key(page->back());
    if (pages) ++*pages;
  }
  return out;
}

TEST_F(StoreTest, UserPagesContinueAfterTheLastKeyWithNoRowRepeatedOrSkipped) {
  ASSERT_TRUE(store_->directory().add_domain("other.test"));
  std::vector<std::string> all, bobs, other;
  for (int i = 0; i < 23; ++i) {
    std::string a = fmt::format("{}{:02}@{}", i % 3 ? "alice" : "bob", i, i % 2 ? "example.test" : "other.test");
    ASSERT_TRUE(store_->directory().add_user(a, {"h", ""}, 0));
    all.push_back(a);
    if (a.starts_with("bob")) bobs.push_back(a);
    if (a.ends_with("@other.test")) other.push_back(a);
  }
  // One alias of a longer local part: "bob" is a prefix of "bobby", and
  // a user of another domain ends with "other.test" but not "@other.test".
  ASSERT_TRUE(store_->directory().add_domain("xother.test"));
  ASSERT_TRUE(store_->directory().add_user("bobby@xother.test", {"h", ""}, 0));
  all.push_back("bobby@xother.test");
  bobs.push_back("bobby@xother.test");
  std::sort(all.begin(), all.end());
  std::sort(bobs.begin(), bobs.end());
  std::sort(other.begin(), other.end());
  auto read = [&](const ListQuery& q) { return store_->directory().list_users(q); };
  auto key = [](const UserRecord& u) { return u.address; };
  int pages = 0;
  EXPECT_EQ(collect<UserRecord>({.limit = 5}, read, key, &pages), all);
  EXPECT_EQ(pages, 5);
  EXPECT_EQ(collect<UserRecord>({.prefix = "BOB", .limit = 2}, read, key), bobs) << "a prefix, in any case";
  EXPECT_EQ(collect<UserRecord>({.domain = "Other.Test", .limit = 4}, read, key), other);
  EXPECT_EQ(collect<UserRecord>({.after = "alice", .prefix = "bob", .limit = 3}, read, key), bobs);
  auto tail = collect<UserRecord>({.after = bobs[1], .prefix = "bob", .limit = 100}, read, key);
  EXPECT_EQ(tail, std::vector<std::string>(bobs.begin() + 2, bobs.end()));
  EXPECT_TRUE(store_->directory().list_users({.prefix = "zz"})->empty());
}

TEST_F(StoreTest, AliasPagesCountAliasesAndKeepTheirTargetsTogether) {
  std::vector<std::string> all;
  for (int i = 0; i < 9; ++i) {
    std::string a = fmt::format("list{}@example.test", i);
    std::vector<std::string> targets;
    for (int t = 0; t <= i; ++t) targets.push_back(fmt::format("t{}@remote.test", t));
    ASSERT_TRUE(store_->directory().add_alias(a, targets));
    all.push_back(a);
  }
  ASSERT_TRUE(store_->directory().add_domain("other.test"));
  ASSERT_TRUE(store_->directory().add_alias("team@other.test", {"a@remote.test", "b@remote.test"}));
  all.push_back("team@other.test");
  auto read = [&](const ListQuery& q) { return store_->directory().list_aliases(q); };
  auto key = [](const AliasRecord& a) { return a.address; };
  EXPECT_EQ(collect<AliasRecord>({.limit = 2}, read, key), all);
  auto page = *store_->directory().list_aliases({.after = "list3@example.test", .limit = 2});
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].address, "list4@example.test");
  EXPECT_EQ(page[0].targets.size(), 5u) << "all targets of an alias, whatever the limit";
  EXPECT_EQ(page[1].targets.size(), 6u);
  EXPECT_EQ(collect<AliasRecord>({.domain = "other.test", .limit = 1}, read, key),
            std::vector<std::string>{"team@other.test"});
  EXPECT_EQ(collect<AliasRecord>({.prefix = "list8", .limit = 1}, read, key),
            std::vector<std::string>{"list8@example.test"});
}

TEST_F(StoreTest, DomainPagesMergeConfigAndStoreDomainsInNameOrder) {
  for (const char* d : {"b.test", "zz.test", "a.test", "Example.test"}) (void)store_->directory().add_domain(d);
  auto read = [&](const ListQuery& q) { return store_->directory().list_domains(q); };
  auto key = [](const DomainRecord& d) { return d.name + (d.from_config ? "(config)" : ""); };
  using V = std::vector<std::string>;
  EXPECT_EQ(collect<DomainRecord>({.limit = 1}, read, [](const DomainRecord& d) { return d.name; }),
            (V{"a.test", "b.test", "example.test", "zz.test"}));
  EXPECT_EQ(key((*read({.limit = 10}))[2]), "example.test(config)") << "a config domain also in the store, once";
  EXPECT_EQ(collect<DomainRecord>({.after = "b.test", .limit = 10}, read, key), (V{"example.test(config)", "zz.test"}));
  EXPECT_EQ(collect<DomainRecord>({.prefix = "e", .limit = 10}, read, key), (V{"example.test(config)"}));
}

TEST_F(StoreTest, QueuePagesFollowArrivalAndFilterBySenderAndRecipient) {
  for (int i = 0; i < 5; ++i) {
    IncomingMessage m = message("x\r\n", {});
    if (i == 3) m.sender = "";
    for (int r = 0; r < 3; ++r) {
      std::string to = fmt::format("r{}@remote.test", r);
      m.deliveries.push_back({to, to, false, "", ""});
    }
    ASSERT_TRUE(commit(std::move(m)));
  }
  std::vector<std::string> seen;
  QueueQuery q{.limit = 4};
  for (int n = 0; n < 10; ++n) {
    auto page = *store_->queue().list(q);
    if (page.empty()) break;
    for (const auto& r : page) seen.push_back(r.queue_id + " " + r.recipient);
    q.after = page.back().row;
  }
  ASSERT_EQ(seen.size(), 15u);
  EXPECT_EQ(seen.front(), "Q1 r0@remote.test");
  EXPECT_EQ(seen[4], "Q2 r1@remote.test");
  EXPECT_EQ(seen.back(), "Q5 r2@remote.test");
  auto to_r1 = *store_->queue().list({.recipient = "R1@Remote.test"});
  ASSERT_EQ(to_r1.size(), 5u);
  for (const auto& r : to_r1) EXPECT_EQ(r.recipient, "r1@remote.test");
  auto bounces = *store_->queue().list({.sender = ""});
  ASSERT_EQ(bounces.size(), 3u) << "the null sender";
  EXPECT_EQ(bounces[0].queue_id, "Q4");
  EXPECT_EQ(store_->queue().list({.sender = "SENDER@remote.test", .recipient = "r2@remote.test"})->size(), 4u);
}

TEST_F(StoreTest, JournalReadsForwardFromAKeyAndFindsWhereTheNewestStart) {
  const std::int64_t t = 1'700'000'000'000;
  for (int i = 0; i < 10; ++i)
    store_->journal().append({t + i, JournalEvent::login, "", "", "", fmt::format("u{}@example.test", i % 2), "", 0, "ok", ""});
  ASSERT_TRUE(store_->flush());
  auto all = *store_->journal().query({});
  ASSERT_EQ(all.size(), 10u);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].key, all[i].key);
  // Forward, a page at a time: every row once, in order.
  std::vector<std::int64_t> keys;
  JournalQuery q{.limit = 3, .after = 0};
  for (int n = 0; n < 10; ++n) {
    auto page = *store_->journal().query(q);
    if (page.empty()) break;
    for (const auto& e : page) keys.push_back(e.key);
    q.after = page.back().key;
  }
  ASSERT_EQ(keys.size(), 10u);
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(keys[i], all[i].key);
  // The newest 4 read forward from newest_start are the newest 4.
  auto start = *store_->journal().newest_start({.limit = 4});
  EXPECT_EQ(start, all[5].key);
  auto newest = *store_->journal().query({.limit = 4, .after = start});
  ASSERT_EQ(newest.size(), 4u);
  EXPECT_EQ(newest.front().key, all[6].key);
  EXPECT_EQ(*store_->journal().newest_start({.limit = 10}), 0) << "no older row";
  auto start1 = *store_->journal().newest_start({.address = "u1@example.test", .limit = 2});
  auto u1 = *store_->journal().query({.address = "u1@example.test", .limit = 100, .after = start1});
  ASSERT_EQ(u1.size(), 2u);
  EXPECT_EQ(u1[0].time_ms, t + 7);
  EXPECT_EQ(u1[1].time_ms, t + 9);
}

}  // namespace
}  // namespace herald::store

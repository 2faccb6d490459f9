// admin/admin_test.cpp - the operator commands on a scratch store: what they
// refuse and why (usage errors apart from failures), and lists that stream
// a page at a time.
#include "admin/commands.h"

#include <gtest/gtest.h>

#include <map>

#include "admin/paging.h"
#include "store/scratch_store.h"

namespace herald::admin {
namespace {

// A list of keys 1..n, read as the store reads pages: the calls are counted.
struct FakeList {
  std::int64_t n;
  std::vector<std::size_t> asked;  // n of each read
  Result<std::vector<std::int64_t>> read(std::int64_t after, std::size_t want) {
    asked.push_back(want);
    std::vector<std::int64_t> out;
    for (std::int64_t k = after + 1; k <= n && out.size() < want; ++k) out.push_back(k);
    return out;
  }
};

Result<ListEnd> run(FakeList& list, std::size_t limit, std::int64_t after, std::vector<std::int64_t>& got,
                    std::size_t stop_at = 0) {
  return stream<std::int64_t>(
      limit, after, [&](std::int64_t a, std::size_t w) { return list.read(a, w); },
      [](std::int64_t k) { return k; },
      Sink<std::int64_t>([&](const std::int64_t& k) {
        got.push_back(k);
        return got.size() != stop_at;
      }));
}

// The lists of every command stream through stream(): every row once, in
// order, in reads of at most kPageRows + 1 rows, whatever the list's length.
TEST(Stream, GivesEveryRowOnceInBoundedPages) {
  FakeList list{2 * static_cast<std::int64_t>(kPageRows) + 7, {}};
  std::vector<std::int64_t> got;
  auto end = run(list, 0, 0, got);
  ASSERT_TRUE(end);
  ASSERT_EQ(got.size(), 2 * kPageRows + 7);
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], static_cast<std::int64_t>(i + 1));
  EXPECT_EQ(end->rows, got.size());
  EXPECT_EQ(end->last, std::to_string(got.back()));
  EXPECT_FALSE(end->more);
  EXPECT_EQ(list.asked.size(), 3u);
  for (auto w : list.asked) EXPECT_LE(w, kPageRows + 1);
}

TEST(Stream, StopsAtTheLimitAndSaysWhereToContinue) {
  FakeList list{20, {}};
  std::vector<std::int64_t> got;
  auto end = run(list, 7, 0, got);
  ASSERT_TRUE(end);
  EXPECT_EQ(got.size(), 7u);
  EXPECT_TRUE(end->more);
  EXPECT_EQ(end->last, "7");
  EXPECT_EQ(list.asked, std::vector<std::size_t>{8}) << "one read, one row more than given";
  got.clear();
  end = run(list, 13, 7, got);  // the next page: after the last key
  EXPECT_EQ(got.front(), 8);
  EXPECT_EQ(got.back(), 20);
  EXPECT_FALSE(end->more) << "exactly the rest";
  got.clear();
  FakeList exact{kPageRows, {}};
  end = run(exact, kPageRows, 0, got);
  EXPECT_FALSE(end->more);
  EXPECT_EQ(got.size(), kPageRows);
}

TEST(Stream, AStoppedSinkEndsTheList) {
  FakeList list{2000, {}};
  std::vector<std::int64_t> got;
  auto end = run(list, 0, 0, got, 3);
  ASSERT_TRUE(end);
  EXPECT_EQ(got.size(), 3u);
  EXPECT_EQ(list.asked.size(), 1u);
  EXPECT_TRUE(end->more);
}

class CommandsTest : public ::testing::Test {
 protected:
  store::ScratchStore store_{"admin-test"};
  store::Store& st() { return *store_; }
  NewPassword pw(std::string text) { return {NewPassword::Kind::plaintext, std::move(text)}; }
  template <typename Row>
  static Sink<Row> into(std::vector<Row>& rows) {
    return [&rows](const Row& r) {
      rows.push_back(r);
      return true;
    };
  }
};

TEST_F(CommandsTest, UserAddRefusesBadRequestsAsInvalidAndTheRestAsFailures) {
  auto code = [](const Status& s) { return s ? std::string("ok") : std::to_string(static_cast<int>(s.error().code)); };
  const std::string invalid = std::to_string(static_cast<int>(Errc::invalid));
  EXPECT_EQ(code(user_add(st(), {"no-at-sign", pw("x"), ""})), invalid);
  EXPECT_EQ(code(user_add(st(), {"a b@example.test", pw("x"), ""})), invalid);
  EXPECT_EQ(code(user_add(st(), {"a@example.test", pw("x"), "lots"})), invalid);
  EXPECT_EQ(code(user_add(st(), {"a@example.test", {NewPassword::Kind::hash, "plaintext"}, ""})), invalid);
  auto remote = user_add(st(), {"a@remote.test", pw("x"), ""});
  ASSERT_FALSE(remote);
  EXPECT_EQ(remote.error().code, Errc::not_found);
  EXPECT_NE(remote.error().message.find("not a local domain"), std::string::npos);
  ASSERT_TRUE(user_add(st(), {"a@example.test", pw("secret"), "1M"}));
  auto again = user_add(st(), {"a@example.test", pw("secret"), ""});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::exists);
  EXPECT_EQ(again.error().message, "a@example.test: user exists");
  std::vector<UserInfo> users;
  ASSERT_TRUE(user_list(st(), {}, into(users)));
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].quota_bytes, 1024u * 1024u);
  EXPECT_TRUE(users[0].scram) << "a new password gets SCRAM keys";
  ASSERT_TRUE(user_passwd(st(), "a@example.test", {NewPassword::Kind::hash, "$6$salt$abcdefghijklmnopqrstuv"}));
  users.clear();
  ASSERT_TRUE(user_list(st(), {}, into(users)));
  EXPECT_FALSE(users[0].scram) << "an imported hash has none";
  EXPECT_EQ(user_passwd(st(), "nobody@example.test", pw("x")).error().code, Errc::not_found);
}

TEST_F(CommandsTest, ListsPageByKeyWithFilters) {
  ASSERT_TRUE(domain_add(st(), "other.test"));
  EXPECT_EQ(domain_add(st(), "not a domain").error().code, Errc::invalid);
  for (const char* a : {"carol@example.test", "alice@example.test", "bob@other.test", "al@other.test"})
    ASSERT_TRUE(st().directory().add_user(a, {"h", ""}, 0));
  std::vector<UserInfo> users;
  auto end = user_list(st(), {.limit = 2}, into(users));
  ASSERT_TRUE(end);
  EXPECT_TRUE(end->more);
  EXPECT_EQ(end->last, "alice@example.test");
  end = user_list(st(), {.limit = 2, .after = end->last}, into(users));
  EXPECT_EQ(users.size(), 4u);
  EXPECT_EQ(users[2].address, "bob@other.test");
  EXPECT_FALSE(end->more) << "the limit took exactly the rest";
  users.clear();
  ASSERT_TRUE(user_list(st(), {.prefix = "al", .domain = "other.test"}, into(users)));
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].address, "al@other.test");
  EXPECT_EQ(user_list(st(), {.domain = "bad domain"}, into(users)).error().code, Errc::invalid);

  ASSERT_TRUE(alias_add(st(), "team@example.test", {"alice@example.test", "x@remote.test"}));
  EXPECT_EQ(alias_add(st(), "team@example.test", {"not-an-address"}).error().code, Errc::invalid);
  EXPECT_EQ(alias_add(st(), "team@remote.test", {"a@example.test"}).error().code, Errc::not_found);
  std::vector<store::AliasRecord> aliases;
  ASSERT_TRUE(alias_list(st(), {.domain = "example.test"}, into(aliases)));
  ASSERT_EQ(aliases.size(), 1u);
  EXPECT_EQ(aliases[0].targets.size(), 2u);

  std::vector<store::DomainRecord> domains;
  ASSERT_TRUE(domain_list(st(), {.after = "example.test"}, into(domains)));
  ASSERT_EQ(domains.size(), 1u);
  EXPECT_EQ(domains[0].name, "other.test");
}

TEST_F(CommandsTest, QueueAndJournalKeysAreNumbers) {
  std::vector<store::QueueRow> rows;
  EXPECT_EQ(queue_list(st(), {.after = "x1"}, into(rows)).error().code, Errc::invalid);
  ASSERT_TRUE(queue_list(st(), {}, into(rows)));
  EXPECT_TRUE(rows.empty());
  EXPECT_EQ(queue_show(st(), "000000000000").error().code, Errc::not_found);
  std::vector<store::JournalEntry> entries;
  EXPECT_EQ(journal(st(), {.since = "soon"}, into(entries)).error().code, Errc::invalid);
  EXPECT_EQ(journal(st(), {.after = "-1"}, into(entries)).error().code, Errc::invalid);
}

// `herald journal --limit N` shows the newest N, oldest first; `--after K`
// continues after the key K, and `--limit 0` is everything.
TEST_F(CommandsTest, JournalGivesTheNewestOrThoseAfterAKey) {
  const std::int64_t t = 1'700'000'000'000;
  for (int i = 0; i < 12; ++i)
    st().journal().append({t + i, store::JournalEvent::login, "", "", "", "u" + std::to_string(i) + "@example.test", "", 0, "ok", ""});
  ASSERT_TRUE(st().flush());
  std::vector<store::JournalEntry> e;
  auto end = journal(st(), {.limit = 3}, into(e));
  ASSERT_TRUE(end);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].recipient, "u9@example.test");
  EXPECT_EQ(e[2].recipient, "u11@example.test");
  EXPECT_FALSE(end->more);
  e.clear();
  end = journal(st(), {.limit = 0}, into(e));
  ASSERT_EQ(e.size(), 12u);
  EXPECT_EQ(e[0].recipient, "u0@example.test");
  std::string fourth = std::to_string(e[3].key);
  e.clear();
  end = journal(st(), {.limit = 5, .after = fourth}, into(e));
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0].recipient, "u4@example.test");
  EXPECT_TRUE(end->more);
  EXPECT_EQ(end->last, std::to_string(e[4].key));
  e.clear();
  ASSERT_TRUE(journal(st(), {.address = "u5@example.test"}, into(e)));
  ASSERT_EQ(e.size(), 1u);
}

}  // namespace
}  // namespace herald::admin

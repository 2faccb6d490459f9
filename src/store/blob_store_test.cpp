// Blob files under faults (store/fault_env.h): no acknowledged message is
// lost to a crash, no failed write is acknowledged or leaves a torn body
// to be served later, no short read is served as a whole message, and the
// sweep at start takes what nothing references and nothing else.
#include "store/blob_store.h"

#include "store/fault_env.h"
#include "store/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <tuple>

namespace herald::store {
namespace {

namespace fs = std::filesystem;

// The rules the tests deliver by: a known user gets the message.
class TestRules final : public LocalDeliveryRules {
 public:
  LocalVerdict decide(const std::optional<MailboxUsage>& usage, std::uint64_t) const override {
    if (!usage) return {RecipientState::bounced, "550 5.1.1 User unknown", {}};
    return {RecipientState::delivered, "250 2.0.0 delivered", {}};
  }
};
const TestRules kRules;

constexpr const char* kAlice = "alice@example.test";
constexpr const char* kSender = "sender@remote.test";

std::string prefix_of(const std::string& recipient) {
  return std::string("Return-Path: <") + kSender + ">\r\nDelivered-To: " + recipient + "\r\n";
}

// body - seed's own large body (many times inline_body_max), every line
// numbered, so a lost or repeated part shows.
std::string body(int seed) {
  std::string out = "Subject: body " + std::to_string(seed) + "\r\n\r\n";
  for (int i = 0; out.size() < 40'000; ++i) out += "line " + std::to_string(i) + " of body " + std::to_string(seed) + "\r\n";
  return out;
}

// test_name - of the running test, as one file name ("Case/Param" has a '/').
std::string test_name() {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace(name.begin(), name.end(), '/', '-');
  return name;
}

// FaultEnv's model first: the tests below count on crash() taking what was
// not synced, or they could pass with a store that syncs nothing.
TEST(FaultEnvTest, ACrashKeepsWhatWasSyncedAndNothingElse) {
  FaultEnv env("fault-env-test");
  const fs::path dir = env.root() / "d";
  ASSERT_TRUE(env.create_dirs(dir));
  ASSERT_TRUE(env.sync_dir(env.root()));

  auto synced = env.new_writable_file(dir / "synced");
  ASSERT_TRUE(synced);
  ASSERT_TRUE((*synced)->append("kept"));
  ASSERT_TRUE((*synced)->sync());
  ASSERT_TRUE((*synced)->append(" lost"));
  ASSERT_TRUE((*synced)->close());
  auto moved = env.new_writable_file(dir / "tmp-name");
  ASSERT_TRUE(moved);
  ASSERT_TRUE((*moved)->append("moved"));
  ASSERT_TRUE((*moved)->sync());
  ASSERT_TRUE((*moved)->close());
  ASSERT_TRUE(env.rename(dir / "tmp-name", dir / "moved"));
  ASSERT_TRUE(env.sync_dir(dir));
  EXPECT_EQ(env.unsynced_part(dir / "moved"), "");
  EXPECT_NE(env.unsynced_part(dir / "synced"), "");  // " lost" is not synced

  auto unsynced_name = env.new_writable_file(dir / "unsynced-name");
  ASSERT_TRUE(unsynced_name);
  ASSERT_TRUE((*unsynced_name)->append("synced, but its name is not"));
  ASSERT_TRUE((*unsynced_name)->sync());
  ASSERT_TRUE((*unsynced_name)->close());
  ASSERT_TRUE(env.create_dirs(dir / "sub"));
  auto in_sub = env.new_writable_file(dir / "sub" / "f");
  ASSERT_TRUE(in_sub);
  ASSERT_TRUE((*in_sub)->sync());
  ASSERT_TRUE((*in_sub)->close());
  ASSERT_TRUE(env.sync_dir(dir / "sub"));  // "f" is in sub, but sub's name in dir is not synced
  EXPECT_NE(env.unsynced_part(dir / "sub" / "f"), "");

  env.crash();
  EXPECT_EQ(*env.read_file(dir / "synced"), "kept");
  EXPECT_EQ(*env.read_file(dir / "moved"), "moved");
  EXPECT_FALSE(env.exists(dir / "tmp-name"));
  EXPECT_FALSE(env.exists(dir / "unsynced-name"));
  EXPECT_FALSE(env.exists(dir / "sub"));
}

class BlobStoreTest : public ::testing::Test {
 protected:
  BlobStoreTest() : env_("blob-store-test-" + test_name()), data_dir_(env_.root() / "data") {}

  void SetUp() override {
    // Made beside the Env, so durable in its model, like SQLite's files.
    fs::create_directories(data_dir_);
    reopen();
    ASSERT_TRUE(store_->directory().add_user(kAlice, {"h", ""}, 0));
  }
  void TearDown() override { store_.reset(); }

  void reopen(bool sweep_blobs = false, std::chrono::seconds min_age = std::chrono::seconds(3600)) {
    store_.reset();
    StoreOptions o;
    o.data_dir = data_dir_;
    o.inline_body_max = 1024;
    o.config_domains = {"example.test"};
    o.sweep_blobs = sweep_blobs;
    o.blob_sweep_min_age = min_age;
    o.env = &env_;
    auto s = open(o);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  // crash_and_reopen - the power fails with the store closed (SQLite has
  // synced its own files), then the server starts again, sweeping.
  void crash_and_reopen() {
    store_.reset();
    env_.crash();
    reopen(true, std::chrono::seconds(0));
  }

  IncomingMessage message(std::string text) {
    IncomingMessage m;
    m.queue_id = "Q" + std::to_string(++n_);
    m.sender = kSender;
    m.client = "localhost[127.0.0.1]";
    m.body = std::move(text);
    m.rules = &kRules;
    m.deliveries.push_back({kAlice, kAlice, true, kInbox, prefix_of(kAlice)});
    return m;
  }
  // spooled - the message as a receiver hands a large body over: written
  // to the store's spool as it arrives, in pieces of odd sizes.
  IncomingMessage spooled(std::string text) {
    IncomingMessage m = message("");
    auto spool = store_->queue().spool_body();
    EXPECT_TRUE(spool) << spool.error().message;
    if (!spool) return m;
    for (std::size_t at = 0; at < text.size(); at += 7777)
      (void)(*spool)->append(std::string_view(text).substr(at, 7777));
    m.spool = std::move(*spool);
    return m;
  }
  std::future<Result<CommitResult>> commit_async(IncomingMessage m) {
    auto p = std::make_shared<std::promise<Result<CommitResult>>>();
    auto f = p->get_future();
    store_->queue().commit_message(std::move(m), [p](Result<CommitResult> r) { p->set_value(std::move(r)); });
    return f;
  }
  // acknowledged - committed, and delivered: what the client is told 250 for.
  static bool acknowledged(const Result<CommitResult>& r) {
    return r && r->outcomes.size() == 1 && r->outcomes[0].state == RecipientState::delivered;
  }
  bool commit(std::string text) { return acknowledged(commit_async(message(std::move(text))).get()); }

  std::int64_t alice() { return (*store_->directory().find_user(kAlice))->id; }
  // messages - alice's messages as read_message serves them: "body N" for
  // the whole of body(N) under alice's prefix, else what was served (so a
  // failure reads as a line, not as 40 KB).
  std::vector<std::string> messages() {
    std::vector<std::string> out;
    auto md = store_->mailboxes().maildrop(alice());
    if (!md) return {"maildrop: " + md.error().message};
    for (const auto& e : md->messages) {
      auto text = store_->mailboxes().read_message(md->mailbox_id, e.uid);
      if (!text) {
        out.push_back("error: " + text.error().message);
        continue;
      }
      std::string what = std::to_string(text->size()) + " octets, no whole body";
      for (int seed = 1; seed <= 2; ++seed)
        if (*text == prefix_of(kAlice) + body(seed)) what = "body " + std::to_string(seed);
      out.push_back(what);
    }
    return out;
  }
  Status expunge_first() {
    auto md = store_->mailboxes().maildrop(alice());
    if (!md) return md.error();
    std::promise<Status> p;
    store_->mailboxes().expunge(alice(), md->mailbox_id, {md->messages.at(0).uid}, [&p](Status s) { p.set_value(s); });
    return p.get_future().get();
  }

  // The files under blobs/: bodies (outside tmp), and what tmp holds.
  std::vector<std::string> files(bool in_tmp) {
    std::vector<std::string> out;
    for (auto& e : fs::recursive_directory_iterator(data_dir_ / "blobs"))
      if (e.is_regular_file() && (e.path().parent_path().filename() == "tmp") == in_tmp)
        out.push_back(e.path().filename().string());
    return out;
  }
  std::vector<std::string> body_files() { return files(false); }
  std::vector<std::string> tmp_files() { return files(true); }

  FaultEnv env_;
  const fs::path data_dir_;
  BlobStore blobs_{env_, data_dir_ / "blobs"};  // the store's blob files, for direct use
  std::unique_ptr<Store> store_;
  int n_ = 0;
};

// Catches a commit acknowledged before its blob file is durable: a body
// not synced, or its name (or a directory's above it) not synced.
TEST_F(BlobStoreTest, AnAcknowledgedMessageSurvivesACrash) {
  ASSERT_TRUE(commit(body(1)));
  ASSERT_TRUE(commit(body(2)));
  crash_and_reopen();
  EXPECT_EQ(messages(), (std::vector<std::string>{"body 1", "body 2"}));
  EXPECT_EQ(body_files().size(), 2u);  // the sweep took neither
}

// As above for bodies written as they arrived (BodySpool): named by their
// content, synced, and nothing left in tmp.
TEST_F(BlobStoreTest, ASpooledMessageIsServedWholeAndSurvivesACrash) {
  ASSERT_TRUE(acknowledged(commit_async(spooled(body(1))).get()));
  ASSERT_TRUE(acknowledged(commit_async(spooled(body(2))).get()));
  EXPECT_EQ(tmp_files(), std::vector<std::string>{});
  crash_and_reopen();
  EXPECT_EQ(messages(), (std::vector<std::string>{"body 1", "body 2"}));
  EXPECT_EQ(body_files(), (std::vector<std::string>{sha256_hex(body(1)), sha256_hex(body(2))}));
}

// A body whose message is never committed (the client left, the message was
// refused) leaves no file behind, in tmp or elsewhere.
TEST_F(BlobStoreTest, ASpoolDroppedUncommittedLeavesNoFile) {
  {
    IncomingMessage m = spooled(body(1));
    EXPECT_EQ(tmp_files().size(), 1u);
  }
  EXPECT_EQ(tmp_files(), std::vector<std::string>{});
  EXPECT_EQ(body_files(), std::vector<std::string>{});
}

// The same through the bookkeeping, right after put(): nothing of the body
// is left for a crash to take. Catches a sync or sync_dir left out of put()
// (or made conditional) even where the crash test above would not look.
TEST_F(BlobStoreTest, PutLeavesNothingForACrashToTake) {
  auto sha = blobs_.put(body(1));
  ASSERT_TRUE(sha) << sha.error().message;
  EXPECT_EQ(env_.unsynced_part(blobs_.path_of(*sha)), "");

  // A put that failed after its rename (the directory's sync) leaves the
  // file under its final name; the next put of that body finds it there
  // and must still make its name durable before it reports success.
  env_.fail_sync_dirs(1);
  EXPECT_FALSE(blobs_.put(body(2)));
  sha = blobs_.put(body(2));
  ASSERT_TRUE(sha) << sha.error().message;
  EXPECT_EQ(env_.unsynced_part(blobs_.path_of(*sha)), "");
}

enum class Fault { append, sync, rename, sync_dir };

// Each fault, with the body handed over whole (put) or spooled as it came.
class BlobFaultTest : public BlobStoreTest, public ::testing::WithParamInterface<std::tuple<Fault, bool>> {
 protected:
  Fault fault() const { return std::get<0>(GetParam()); }
  IncomingMessage faulty_message(std::string text) {
    if (!std::get<1>(GetParam())) return message(std::move(text));
    return spooled(std::move(text));
  }
  void inject(Fault f) {
    switch (f) {
      case Fault::append: env_.fail_appends(1); break;  // the disk is full
      case Fault::sync: env_.fail_syncs(1); break;
      case Fault::rename: env_.fail_renames(1); break;
      case Fault::sync_dir: env_.fail_sync_dirs(1); break;
    }
  }
};

// A blob write that fails is not acknowledged and delivers nothing; it
// leaves no file under a body's name (tmp/ aside) unless that file is
// whole; the same message sent again is delivered whole and survives a
// crash. Catches: a failure swallowed (commit acknowledged without its
// body), a torn file renamed into place and later shared by the retry, a
// retry that trusts a file whose name was never made durable.
TEST_P(BlobFaultTest, AFailedBlobWriteIsNotAcknowledgedAndLeavesNoTornBody) {
  inject(fault());
  auto r = commit_async(faulty_message(body(1))).get();
  EXPECT_FALSE(r);
  EXPECT_EQ(messages(), std::vector<std::string>{});
  EXPECT_TRUE(store_->queue().list({})->empty());
  // After a failed sync_dir the body is whole under its name (renamed after
  // its sync): the sweep's to collect, or the retry's to share.
  if (fault() != Fault::sync_dir) {
    EXPECT_EQ(body_files(), std::vector<std::string>{});
  }

  ASSERT_TRUE(commit(body(1)));
  crash_and_reopen();
  EXPECT_EQ(messages(), std::vector<std::string>{"body 1"});
  EXPECT_EQ(body_files().size(), 1u);
  EXPECT_EQ(tmp_files(), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(Faults, BlobFaultTest,
                         ::testing::Combine(::testing::Values(Fault::append, Fault::sync, Fault::rename,
                                                              Fault::sync_dir),
                                            ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<Fault, bool>>& i) {
                           std::string name;
                           switch (std::get<0>(i.param)) {
                             case Fault::append: name = "DiskFull"; break;
                             case Fault::sync: name = "Sync"; break;
                             case Fault::rename: name = "Rename"; break;
                             case Fault::sync_dir: name = "SyncDir"; break;
                           }
                           return name + (std::get<1>(i.param) ? "Spooled" : "Whole");
                         });

// Catches a body served shorter than stored: the length check in
// BlobStore::append_to left out, or the partial text left in out.
TEST_F(BlobStoreTest, AShortReadIsAnErrorNotAShorterMessage) {
  ASSERT_TRUE(commit(body(1)));
  const std::string sha = sha256_hex(body(1));
  env_.shorten_reads(blobs_.path_of(sha), 1);

  auto md = store_->mailboxes().maildrop(alice());
  ASSERT_TRUE(md);
  ASSERT_EQ(md->messages.size(), 1u);
  auto text = store_->mailboxes().read_message(md->mailbox_id, md->messages[0].uid);
  ASSERT_FALSE(text) << "served " << text->size() << " octets of " << md->messages[0].size;
  EXPECT_EQ(text.error().code, Errc::io);

  std::string out = "kept";
  EXPECT_FALSE(blobs_.append_to(sha, body(1).size(), out));
  EXPECT_EQ(out, "kept");

  env_.shorten_reads(blobs_.path_of(sha), 0);
  EXPECT_EQ(messages(), std::vector<std::string>{"body 1"});
}

// The sweep at start takes body files nothing references and what tmp/
// holds, once old enough, and only when asked. Catches: a referenced body
// swept (the message then lost), an unreferenced one kept forever, a
// sweep without sweep_blobs, or one that ignores the minimum age (and
// would take the body of a commit under way in another process).
TEST_F(BlobStoreTest, SweepAtStartRemovesOnlyOldUnreferencedFiles) {
  ASSERT_TRUE(commit(body(1)));
  store_.reset();
  // What a crash between a blob write and its commit leaves: a body no row
  // references, and a half-written file in tmp/.
  auto orphan = blobs_.put(body(2));
  ASSERT_TRUE(orphan);
  {
    auto f = env_.new_writable_file(data_dir_ / "blobs" / "tmp" / "torn");
    ASSERT_TRUE(f);
    ASSERT_TRUE((*f)->append("half a bo"));
  }
  const auto all = std::vector<std::string>{sha256_hex(body(1)), *orphan};
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };

  reopen(false, std::chrono::seconds(0));
  EXPECT_EQ(sorted(body_files()), sorted(all));
  EXPECT_EQ(tmp_files(), std::vector<std::string>{"torn"});

  reopen(true);  // the default minimum age: all of them are too young
  EXPECT_EQ(sorted(body_files()), sorted(all));
  EXPECT_EQ(tmp_files(), std::vector<std::string>{"torn"});

  reopen(true, std::chrono::seconds(0));
  EXPECT_EQ(body_files(), std::vector<std::string>{sha256_hex(body(1))});
  EXPECT_EQ(tmp_files(), std::vector<std::string>{});
  EXPECT_EQ(messages(), std::vector<std::string>{"body 1"});
}

// Two messages with one body (two rows, where the store_test one has one
// row in two mailboxes) share one file, which goes with the last of them.
// Catches a reference count that misses the second message: the first
// expunge would then take the file the second still needs.
TEST_F(BlobStoreTest, TwoMessagesWithOneBodyShareAFileUntilBothAreExpunged) {
  auto a = blobs_.put(body(1)), b = blobs_.put(body(1));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(body_files(), std::vector<std::string>{*a});

  ASSERT_TRUE(commit(body(1)));
  ASSERT_TRUE(commit(body(1)));
  EXPECT_EQ(body_files(), std::vector<std::string>{*a});
  ASSERT_TRUE(expunge_first());
  EXPECT_EQ(body_files(), std::vector<std::string>{*a});
  EXPECT_EQ(messages(), std::vector<std::string>{"body 1"});
  ASSERT_TRUE(expunge_first());
  EXPECT_EQ(body_files(), std::vector<std::string>{});
}

// One batch of the writer: an expunge that drops a body's last reference,
// then a commit of that same body (its put() found the file and shares
// it). Catches the expunge's file removal after the commit taking the file
// the new message now references: an acknowledged message without a body.
TEST_F(BlobStoreTest, ABodyCommittedInTheBatchThatDropsItsLastReferenceKeepsItsFile) {
  ASSERT_TRUE(commit(body(1)));
  auto md = store_->mailboxes().maildrop(alice());
  ASSERT_TRUE(md);

  // Hold the writer in the prepare of another message's blob, so that the
  // expunge and the commit queue up behind it and form the next batch.
  std::promise<void> entered, release;
  auto released = release.get_future().share();
  std::atomic<bool> first{true};
  env_.on_create([&](const fs::path&) {
    if (!first.exchange(false)) return;
    entered.set_value();
    released.wait();
  });
  auto holder = commit_async(message(body(2)));
  entered.get_future().wait();
  std::promise<Status> expunged;
  store_->mailboxes().expunge(alice(), md->mailbox_id, {md->messages.at(0).uid},
                              [&expunged](Status s) { expunged.set_value(s); });
  auto again = commit_async(message(body(1)));
  release.set_value();
  EXPECT_TRUE(acknowledged(holder.get()));
  EXPECT_TRUE(expunged.get_future().get());
  EXPECT_TRUE(acknowledged(again.get()));
  env_.on_create(nullptr);

  EXPECT_EQ(messages(), (std::vector<std::string>{"body 2", "body 1"}));
}

}  // namespace
}  // namespace herald::store

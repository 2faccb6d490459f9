#include "store/wal_vfs.h"

#include "store/write_calls.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace herald::store {
namespace {

namespace fs = std::filesystem;

class WalVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("herald-wal-vfs-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "t.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // open - a connection the way the store opens its own: WAL, synced commits.
  sqlite3* open(const char* vfs) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
    exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
             "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
    return db;
  }
  static void exec(sqlite3* db, const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in " << sql;
    sqlite3_free(err);
  }
  static std::string text(sqlite3* db, const char* sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, nullptr), SQLITE_OK);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
  }
  // insert - rows of size octets each in one transaction.
  static void insert(sqlite3* db, int rows, int size, const char* end = "COMMIT") {
    exec(db, "BEGIN IMMEDIATE");
    for (int i = 0; i < rows; ++i) exec(db, "INSERT INTO t(body) VALUES (randomblob(" + std::to_string(size) + "))");
    exec(db, end);
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(WalVfsTest, ACommitReachesTheWalInAFewWritesNotTwoPerPage) {
  ASSERT_NE(wal_vfs_name(), nullptr);
  sqlite3* db = open(wal_vfs_name());
  insert(db, 1, 10);  // the WAL exists and has its header
  long before = write_calls();
  insert(db, 40, 3000);  // 40 table pages and more: ~170 KiB of frames
  long with_vfs = write_calls() - before;
  sqlite3_close(db);

  db = open("unix");  // SQLite's own VFS, for comparison
  before = write_calls();
  insert(db, 40, 3000);
  long without = write_calls() - before;
  sqlite3_close(db);

  EXPECT_GE(without, 80) << "SQLite writes a frame header and a page per frame";
  EXPECT_LE(with_vfs, 4) << "the frames go out in pieces of up to 120 KiB";
}

TEST_F(WalVfsTest, CommitsOfEverySizeAreWhatSqlitesOwnVfsReadsBack) {
  sqlite3* db = open(wal_vfs_name());
  insert(db, 1, 100);
  insert(db, 50, 4000);      // over one 120 KiB piece
  insert(db, 1500, 4000);    // over the 4 MiB bound: flushed before the commit, synced at it
  insert(db, 3, 70000);      // overflow pages
  // Read through a second connection on SQLite's own VFS while the first is open
  // (no checkpoint has moved the frames into the database yet) ...
  sqlite3* other = open("unix");
  EXPECT_EQ(text(other, "SELECT count(*) || '/' || sum(length(body)) FROM t"), "1554/6410100");
  EXPECT_EQ(text(other, "PRAGMA integrity_check"), "ok");
  sqlite3_close(other);
  sqlite3_close(db);
  // ... and after a reopen.
  db = open("unix");
  EXPECT_EQ(text(db, "SELECT count(*) || '/' || sum(length(body)) FROM t"), "1554/6410100");
  sqlite3_close(db);
}

TEST_F(WalVfsTest, ARolledBackTransactionLeavesNothingBehind) {
  sqlite3* db = open(wal_vfs_name());
  exec(db, "PRAGMA cache_size = 10");  // the big transaction spills frames into the WAL before its end
  insert(db, 1, 100);
  insert(db, 300, 4000, "ROLLBACK");
  insert(db, 2, 100);  // written over the rolled-back frames
  sqlite3* other = open("unix");
  EXPECT_EQ(text(other, "SELECT count(*) || '/' || sum(length(body)) FROM t"), "3/300");
  EXPECT_EQ(text(other, "PRAGMA integrity_check"), "ok");
  sqlite3_close(other);
  sqlite3_close(db);
}

// Bytes held for a transaction that rolled back are dropped, never written
// later over what another writer may have put there. The test hands the
// connection's WAL file a frame as SQLite's spill would.
TEST_F(WalVfsTest, DiscardDropsTheBytesOfATransactionThatRolledBack) {
  sqlite3* db = open(wal_vfs_name());
  insert(db, 1, 100);
  sqlite3_file* wal = nullptr;
  ASSERT_EQ(sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal), SQLITE_OK);
  ASSERT_NE(wal, nullptr);
  sqlite3_int64 size = 0, after = 0;
  ASSERT_EQ(wal->pMethods->xFileSize(wal, &size), SQLITE_OK);
  std::string frame(4096 + 24, 'x');
  ASSERT_EQ(wal->pMethods->xWrite(wal, frame.data(), static_cast<int>(frame.size()), size), SQLITE_OK);
  discard_unsynced_wal(db);
  ASSERT_EQ(wal->pMethods->xFileSize(wal, &after), SQLITE_OK);  // would write what is still held
  EXPECT_EQ(after, size);
  insert(db, 2, 100);
  EXPECT_EQ(text(db, "SELECT count(*) || '/' || sum(length(body)) FROM t"), "3/300");
  EXPECT_EQ(text(db, "PRAGMA integrity_check"), "ok");
  sqlite3_close(db);
}

}  // namespace
}  // namespace herald::store

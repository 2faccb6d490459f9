// store/sqlite_db.h - a thin RAII layer over the SQLite C API.
//
// Inside the sqlite backend, errors travel as SqliteError exceptions so that
// transaction bodies read straight; the backend catches them at its public
// methods and returns Status values (no exception leaves the store module).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include "store/wal_vfs.h"

namespace herald::store {

struct SqliteError : std::runtime_error {
  SqliteError(int code, const std::string& what) : std::runtime_error(what), code(code) {}
  int code;
};

class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_reset(s_); sqlite3_clear_bindings(s_); }

  Stmt& bind(int i, std::int64_t v) { check(sqlite3_bind_int64(s_, i, v)); return *this; }
  Stmt& bind(int i, std::uint64_t v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  // Text and blobs are bound without a copy (SQLITE_STATIC: ~17 strings per
  // message on the commit path): what is bound must outlive the last step().
  // A temporary may be bound only in the expression that also runs the
  // statement (`.bind(1, f()).run()`); otherwise bind a named variable.
  Stmt& bind(int i, std::string_view v) {
    check(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8));
    return *this;
  }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind_blob(int i, std::string_view v) {
    check(sqlite3_bind_blob64(s_, i, v.data(), v.size(), SQLITE_STATIC));
    return *this;
  }
  Stmt& bind_null(int i) { check(sqlite3_bind_null(s_, i)); return *this; }

  // step - true while there is a row.
  bool step() {
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SqliteError(rc, sqlite3_errmsg(sqlite3_db_handle(s_)));
  }
  void run() { while (step()) {} }

  std::int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_blob(s_, col));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw SqliteError(rc, sqlite3_errmsg(sqlite3_db_handle(s_)));
  }
  sqlite3_stmt* s_;
};

class Db {
 public:
  Db() = default;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db() {
    for (auto& [sql, s] : cache_) sqlite3_finalize(s);
    if (db_) sqlite3_close(db_);
  }

  void open(const std::string& path) {
    configure_library();
    int rc = sqlite3_open_v2(path.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, wal_vfs_name());
    if (rc != SQLITE_OK) throw SqliteError(rc, "cannot open " + path + ": " + sqlite3_errstr(rc));
    sqlite3_busy_timeout(db_, 10000);
  }

  void exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      throw SqliteError(rc, msg);
    }
  }

  // prepare - a cached statement for a SQL string literal.
  Stmt prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
      sqlite3_stmt* s = nullptr;
      int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
      if (rc != SQLITE_OK) throw SqliteError(rc, std::string(sqlite3_errmsg(db_)) + " in: " + sql);
      it = cache_.emplace(sql, s).first;
    }
    return Stmt(it->second);
  }

  // run - a cached statement without parameters, stepped to its end. The
  // writer's BEGIN/COMMIT go through here: sqlite3_exec would parse them
  // again for every batch.
  void run(const char* sql) { prepare(sql).run(); }

  sqlite3* handle() { return db_; }
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  int changes() const { return sqlite3_changes(db_); }

 private:
  // configure_library - once, before SQLite initialises: no memory
  // statistics. Herald never reads them, and keeping them takes a mutex
  // shared by every connection on each allocation (bench/RESULTS.md).
  static void configure_library() {
    static std::once_flag once;
    std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  }

  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// ReadTransaction - BEGIN ... COMMIT around several reads on one connection,
// so that they see one snapshot; ends even when a read throws, so the
// connection goes back to its pool outside any transaction.
class ReadTransaction {
 public:
  explicit ReadTransaction(Db& db) : db_(db) { db_.run("BEGIN"); }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  ~ReadTransaction() {
    try {
      db_.run("COMMIT");
    } catch (...) {  // nothing was written; a failed end of a read changes nothing
    }
  }

 private:
  Db& db_;
};

}  // namespace herald::store

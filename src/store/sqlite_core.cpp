// store/sqlite_core.cpp - what the embedded backend's concerns share: the
// database and its schema, the read pool, the writer's transactions, the
// journal key, the garbage collection of messages and blob files.
#include <algorithm>
#include <future>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/log.h"
#include "base/text.h"
#include "store/journal_sql.h"
#include "store/schema.h"
#include "store/sqlite_store.h"

namespace herald::store {

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error to_error(const std::exception& e) {
  if (auto* s = dynamic_cast<const SqliteError*>(&e)) {
    int primary = s->code & 0xff;
    if (primary == SQLITE_CONSTRAINT) return make_error(Errc::exists, s->what());
    return make_error(Errc::io, s->what());
  }
  return make_error(Errc::internal, e.what());
}

namespace {

void configure(Db& db) {
  db.exec("PRAGMA journal_mode = WAL");
  // FULL: the WAL is synced at every commit, so a committed transaction
  // survives power loss (NORMAL would only survive a process crash).
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA foreign_keys = ON");
  // Rollback journals of statements, temporary tables and sorts stay in
  // memory: none of them ever serves crash recovery.
  db.exec("PRAGMA temp_store = MEMORY");
}

}  // namespace

SqliteCore::SqliteCore(StoreOptions options, Env& env)
    : opts_(std::move(options)), blobs_(env, opts_.data_dir / "blobs") {
  for (auto& d : opts_.config_domains) d = to_lower(d);
}

Status SqliteCore::open() {
  if (auto st = blobs_.open(); !st) return st;
  try {
    db_path_ = (opts_.data_dir / "herald.db").string();
    wdb_.open(db_path_);
    configure(wdb_);
    migrate();
  } catch (const std::exception& e) {
    return to_error(e);
  }
  if (opts_.sweep_blobs) {
    if (auto st = sweep_blobs(); !st) return st;
    // Alone on this data directory: a lease still held is a dead run's.
    try {
      wdb_.exec("UPDATE queue SET lease_owner = '', lease_until = 0 WHERE lease_until > 0");
    } catch (const std::exception& e) {
      return to_error(e);
    }
  }
  // Every process on this data directory counts its commits that changed
  // mailboxes here, so that the server hears of a `herald` command's.
  auto generation = SharedGeneration::open(opts_.data_dir / "mailbox.generation");
  if (!generation) return generation.error();
  mailbox_generation_ = std::move(*generation);
  writer_ = std::make_unique<GroupCommit>(*this, opts_.commit_wait);
  writer_->start();
  return {};
}

void SqliteCore::stop() { writer_.reset(); }

// sweep_blobs - files a crash left behind: a body written but never
// committed (a crash between rename and commit, a failed transaction), or
// one whose removal after its last reference did not happen.
Status SqliteCore::sweep_blobs() {
  auto removed = read([&](Db& db) {
    return blobs_.sweep(
        [&db](const std::string& sha) {
          return db.prepare("SELECT 1 FROM blob_files WHERE sha256 = ?").bind(1, sha).step();
        },
        opts_.blob_sweep_min_age.count());
  });
  if (!removed) return removed.error();
  if (*removed > 0) log::get("master")->info("removed {} unreferenced blob files", *removed);
  return {};
}

bool SqliteCore::is_config_domain(const std::string& d) const {
  return std::find(opts_.config_domains.begin(), opts_.config_domains.end(), d) != opts_.config_domains.end();
}

void SqliteCore::migrate() {
  wdb_.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  std::int64_t version = 0;
  {
    auto st = wdb_.prepare("SELECT max(version) FROM schema_version");
    if (st.step()) version = st.i64(0);
  }
  constexpr std::int64_t kLatest = std::size(kMigrations);
  if (version > kLatest)
    throw SqliteError(SQLITE_ERROR,
                      fmt::format("database schema version {} is newer than this herald ({})", version, kLatest));
  for (std::int64_t v = version; v < kLatest; ++v) {
    wdb_.exec("BEGIN IMMEDIATE");
    try {
      wdb_.exec(kMigrations[v]);
      wdb_.prepare("INSERT INTO schema_version(version) VALUES(?)").bind(1, v + 1).run();
      wdb_.exec("COMMIT");
    } catch (...) {
      wdb_.exec("ROLLBACK");
      throw;
    }
  }
}

void SqliteCore::submit(std::function<void()> prepare, std::function<void(Db&)> apply,
                        std::function<void(Status)> done) {
  WriteJob job;
  job.prepare = std::move(prepare);
  job.apply = [this, apply = std::move(apply)] { apply(wdb_); };
  job.done = std::move(done);
  writer_->submit(std::move(job));
}

Status SqliteCore::write_sync(std::function<void(Db&)> apply, std::function<void()> after_commit) {
  std::promise<Status> p;
  auto f = p.get_future();
  submit(nullptr, std::move(apply), [&p, &after_commit](Status st) {
    if (st && after_commit) after_commit();
    p.set_value(std::move(st));
  });
  return f.get();
}

void SqliteCore::begin() {
  changes_.clear();
  wdb_.run("BEGIN IMMEDIATE");
  auto next = wdb_.prepare(kJournalNextKey);
  next.step();
  journal_next_key_ = next.i64(0);
}

void SqliteCore::commit() {
  wdb_.run("COMMIT");
  // Durable now: those waiting on these mailboxes (IDLE) may look.
  std::vector<MailboxChange> changed;
  changed.reserve(changes_.size());
  for (const auto& [mailbox, modseq] : changes_) changed.push_back({mailbox, modseq});
  changes_.clear();
  if (!changed.empty()) {
    own_changes_.fetch_add(1);
    mailbox_generation_->bump();
  }
  std::lock_guard lk(listener_mu_);
  if (changed.empty() || !change_listener_) return;
  try {
    change_listener_(changed);
  } catch (const std::exception& e) {  // committed all the same: the batch must not fail
    log::get("master")->error("mailbox change listener: {}", e.what());
  }
}

void SqliteCore::rollback() noexcept {
  changes_.clear();  // nothing of it happened
  try {
    wdb_.run("ROLLBACK");
  } catch (...) {  // SQLite may have rolled back already (SQLITE_FULL, SQLITE_IOERR), or never begun
  }
  discard_unsynced_wal(wdb_.handle());  // frames the transaction spilled stay unwritten
}

void SqliteCore::note_change(std::int64_t mailbox_id, std::int64_t modseq) {
  auto& highest = changes_[mailbox_id];
  highest = std::max(highest, modseq);
}

std::function<void()> SqliteCore::prepare_body(std::shared_ptr<const std::string> body,
                                               std::shared_ptr<std::string> sha) {
  if (body->size() <= opts_.inline_body_max) return nullptr;
  return [this, body = std::move(body), sha = std::move(sha)] {
    auto put = blobs_.put(*body);
    if (!put) throw SqliteError(SQLITE_IOERR, put.error().message);
    *sha = std::move(*put);
  };
}

std::int64_t SqliteCore::insert_message(Db& db, const NewMessage& m, const std::string& sha) {
  if (!sha.empty()) {
    db.prepare("INSERT INTO blob_files(sha256, size, refcount) VALUES(?, ?, 1) "
               "ON CONFLICT(sha256) DO UPDATE SET refcount = refcount + 1")
        .bind(1, sha).bind(2, m.size).run();
  }
  auto st = db.prepare(
      "INSERT INTO messages(queue_id, sender, message_id, client, size, received, body, blob_sha, eight_bit, ret, "
      "envid) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  st.bind(1, m.queue_id).bind(2, m.sender).bind(3, m.message_id).bind(4, m.client).bind(5, m.size).bind(6, m.received);
  if (sha.empty()) st.bind_blob(7, m.body).bind_null(8);
  else st.bind_null(7).bind(8, sha);
  st.bind(9, m.eight_bit ? 1 : 0).bind(10, m.ret).bind(11, m.envid);
  st.run();
  const std::int64_t id = db.last_insert_rowid();
  if (!m.structure.empty())
    db.prepare("INSERT INTO message_structures(message, structure) VALUES(?, ?)").bind(1, id).bind_blob(2, m.structure).run();
  return id;
}

void SqliteCore::insert_journal(Db& db, const JournalEntry& e) {
  db.prepare(kJournalInsert)
      .bind(1, e.time_ms).bind(2, to_string(e.event)).bind(3, e.queue_id).bind(4, e.message_id).bind(5, e.sender)
      .bind(6, e.recipient).bind(7, e.client).bind(8, e.size).bind(9, e.reply).bind(10, e.detail)
      .bind(11, journal_next_key_)
      .bind(12, e.door).bind(13, e.identity).bind(14, e.subject).bind(15, e.recipients)
      .bind(16, static_cast<std::int64_t>(e.attachments)).bind(17, fmt::format("{}", fmt::join(e.attachment_names, "\n")))
      .run();
  journal_next_key_ = db.last_insert_rowid() + 1;
}

void SqliteCore::collect_message(Db& db, std::int64_t message, std::vector<std::string>& unlink) {
  auto st = db.prepare(
      "DELETE FROM messages WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM mailbox_messages WHERE message = ?1) "
      "AND NOT EXISTS (SELECT 1 FROM queue WHERE message = ?1) RETURNING blob_sha");
  st.bind(1, message);
  if (!st.step()) return;
  bool has_blob = !st.is_null(0);
  std::string sha = st.text(0);
  while (st.step()) {}
  db.prepare("DELETE FROM message_structures WHERE message = ?").bind(1, message).run();
  unindex_text(db, message);
  if (!has_blob) return;
  auto rc = db.prepare("UPDATE blob_files SET refcount = refcount - 1 WHERE sha256 = ? RETURNING refcount");
  rc.bind(1, sha);
  if (rc.step() && rc.i64(0) <= 0) {
    while (rc.step()) {}
    db.prepare("DELETE FROM blob_files WHERE sha256 = ?").bind(1, sha).run();
    unlink.push_back(sha);
  }
}

void SqliteCore::remove_blobs(std::vector<std::string> shas) {
  std::erase_if(shas, [this](const std::string& sha) {
    try {
      return wdb_.prepare("SELECT 1 FROM blob_files WHERE sha256 = ?").bind(1, sha).step();
    } catch (const std::exception&) {
      return true;  // keep it: if nothing references it, the sweep at start takes it
    }
  });
  blobs_.remove(shas);
}

}  // namespace herald::store

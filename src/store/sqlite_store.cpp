// store/sqlite_store.cpp - the embedded backend: SQLite (WAL) + blob files.
//
// Writes go through one writer thread that batches whatever requests are
// waiting into one transaction (group commit): with synchronous=FULL each
// COMMIT syncs the WAL once for the whole batch. Each request runs inside a
// SAVEPOINT so a failing one is rolled back alone. Reads use a small pool of
// connections of their own; WAL lets them run beside the writer.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <future>
#include <limits>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "base/text.h"
#include "store/directory_cache.h"
#include "store/journal_sql.h"
#include "store/schema.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace herald::store {
namespace {

namespace fs = std::filesystem;

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

Error to_error(const std::exception& e) {
  if (auto* s = dynamic_cast<const SqliteError*>(&e)) {
    int primary = s->code & 0xff;
    if (primary == SQLITE_CONSTRAINT) return make_error(Errc::exists, s->what());
    return make_error(Errc::io, s->what());
  }
  return make_error(Errc::internal, e.what());
}

// guard - run fn, turning the backend's exceptions into an Error value.
template <typename Fn>
auto guard(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return to_error(e);
  }
}

// sync_file / sync_dir - the durability primitives for blob files.
bool write_file_synced(const fs::path& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  bool ok = ::fsync(fd) == 0;
  return ::close(fd) == 0 && ok;
}

bool sync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// A write request for the writer thread.
struct WriteJob {
  std::function<void()> prepare;       // outside the transaction (blob files); may throw
  std::function<void(Db&)> apply;      // inside the batch's transaction; may throw; may run twice
  std::function<void(Status)> done;    // after COMMIT, on the writer thread
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(StoreOptions opts) : opts_(std::move(opts)), directory_cache_(opts_.directory_cache) {
    for (auto& d : opts_.config_domains) d = to_lower(d);
  }

  ~SqliteStore() override {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable()) writer_.join();
  }

  Status open() {
    return guard([&]() -> Status {
      std::error_code ec;
      fs::create_directories(opts_.data_dir / "blobs" / "tmp", ec);
      if (ec) return make_error(Errc::io, fmt::format("cannot create {}: {}", opts_.data_dir.string(), ec.message()));
      db_path_ = (opts_.data_dir / "herald.db").string();
      auto generation = SharedGeneration::open(opts_.data_dir / "directory.generation");
      if (!generation) return generation.error();
      directory_generation_ = std::move(*generation);
      wdb_.open(db_path_);
      configure(wdb_);
      migrate();
      writer_ = std::thread([this] { writer_loop(); });
      return {};
    });
  }

  // ---- domains ---------------------------------------------------------

  Status add_domain(const std::string& name) override {
    std::string d = to_lower(name);
    return write_directory([d](Db& db) {
      auto st = db.prepare("INSERT INTO domains(name, created) VALUES(?, ?)");
      st.bind(1, d).bind(2, now_s()).run();
    });
  }

  Status del_domain(const std::string& name) override {
    std::string d = to_lower(name);
    if (is_config_domain(d))
      return make_error(Errc::denied, fmt::format("{} is listed in the config file's domains.local", d));
    bool found = false;
    auto st = write_directory([&found, d](Db& db) {
      db.prepare("DELETE FROM domains WHERE name = ?").bind(1, d).run();
      found = db.changes() > 0;
    });
    if (st && !found) return make_error(Errc::not_found, fmt::format("no such domain: {}", d));
    return st;
  }

  Result<std::vector<DomainRecord>> list_domains() override {
    return read([&](Db& db) -> Result<std::vector<DomainRecord>> {
      std::vector<DomainRecord> out;
      for (const auto& d : opts_.config_domains) out.push_back({d, true});
      auto st = db.prepare("SELECT name FROM domains ORDER BY name");
      while (st.step()) {
        std::string n = st.text(0);
        if (!is_config_domain(n)) out.push_back({n, false});
      }
      return out;
    });
  }

  Result<bool> is_local_domain(const std::string& name) override {
    std::string d = to_lower(name);
    if (is_config_domain(d)) return true;
    return read([&](Db& db) -> Result<bool> {
      auto st = db.prepare("SELECT 1 FROM domains WHERE name = ?");
      st.bind(1, d);
      return st.step();
    });
  }

  // ---- users -----------------------------------------------------------

  Status add_user(const std::string& address, const Credentials& cred, std::uint64_t quota) override {
    std::string a = to_lower(address);
    return write_directory([a, cred, quota](Db& db) {
      db.prepare("INSERT INTO users(address, password_hash, scram_sha256, quota_bytes, created) VALUES(?, ?, ?, ?, ?)")
          .bind(1, a).bind(2, cred.password_hash).bind(3, cred.scram_sha256).bind(4, quota).bind(5, now_s()).run();
      std::int64_t uid = db.last_insert_rowid();
      // RFC 3501 2.3.1.1: UIDVALIDITY must never repeat for a name; the
      // creation time in seconds plus the user id keeps it unique.
      db.prepare("INSERT INTO mailboxes(user_id, name, uidvalidity) VALUES(?, 'INBOX', ?)")
          .bind(1, uid).bind(2, (now_s() & 0x3fffffff) + (uid & 0xffff)).run();
    });
  }

  Status del_user(const std::string& address) override {
    std::string a = to_lower(address);
    bool found = false;
    std::vector<std::string> unlink;
    auto st = write_directory([&](Db& db) {
      unlink.clear();  // a second run after a rollback starts afresh
      auto u = db.prepare("SELECT id FROM users WHERE address = ?");
      u.bind(1, a);
      if (!u.step()) return;
      found = true;
      std::int64_t uid = u.i64(0);
      std::vector<std::int64_t> msgs;
      auto m = db.prepare(
          "SELECT DISTINCT mm.message FROM mailbox_messages mm JOIN mailboxes mb ON mb.id = mm.mailbox_id "
          "WHERE mb.user_id = ?");
      m.bind(1, uid);
      while (m.step()) msgs.push_back(m.i64(0));
      db.prepare("DELETE FROM mailbox_messages WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE user_id = ?)")
          .bind(1, uid).run();
      db.prepare("DELETE FROM mailboxes WHERE user_id = ?").bind(1, uid).run();
      db.prepare("DELETE FROM users WHERE id = ?").bind(1, uid).run();
      for (auto id : msgs) collect_message(db, id, unlink);
    });
    if (st) remove_blob_files(unlink);
    if (st && !found) return make_error(Errc::not_found, fmt::format("no such user: {}", a));
    return st;
  }

  Status set_password(const std::string& address, const Credentials& cred) override {
    std::string a = to_lower(address);
    bool found = false;
    auto st = write_directory([&](Db& db) {
      db.prepare("UPDATE users SET password_hash = ?, scram_sha256 = ? WHERE address = ?")
          .bind(1, cred.password_hash).bind(2, cred.scram_sha256).bind(3, a).run();
      found = db.changes() > 0;
    });
    if (st && !found) return make_error(Errc::not_found, fmt::format("no such user: {}", a));
    return st;
  }

  Status set_send_as_any(const std::string& address, bool allowed) override {
    std::string a = to_lower(address);
    bool found = false;
    auto st = write_directory([&](Db& db) {
      db.prepare("UPDATE users SET send_as_any = ? WHERE address = ?").bind(1, allowed ? 1 : 0).bind(2, a).run();
      found = db.changes() > 0;
    });
    if (st && !found) return make_error(Errc::not_found, fmt::format("no such user: {}", a));
    return st;
  }

  Result<std::optional<UserRecord>> find_user(const std::string& address) override {
    std::string a = to_lower(address);
    return read([&](Db& db) -> Result<std::optional<UserRecord>> {
      auto st = db.prepare(kUserByAddress);
      st.bind(1, a);
      if (!st.step()) return std::optional<UserRecord>();
      return std::optional<UserRecord>(user_from(st));
    });
  }

  Result<std::vector<UserRecord>> list_users() override {
    return read([&](Db& db) -> Result<std::vector<UserRecord>> {
      std::vector<UserRecord> out;
      auto st = db.prepare(
          "SELECT id, address, password_hash, quota_bytes, used_bytes, scram_sha256, send_as_any FROM users ORDER BY address");
      while (st.step()) out.push_back(user_from(st));
      return out;
    });
  }

  // ---- aliases ---------------------------------------------------------

  Result<AddressEntry> lookup_address(const std::string& address) override {
    std::string a = to_lower(address);
    // The generation is read before the database: a change committed after
    // this point bumps it past what the entry is cached under.
    std::uint64_t generation = directory_generation_->current();
    if (auto hit = directory_cache_.find(a, generation)) return std::move(*hit);
    auto entry = read_address(a);
    // A user with a quota is read afresh each time: the RCPT check compares
    // its used_bytes, which every delivery and expunge moves.
    if (entry && !(entry->user && entry->user->quota_bytes > 0)) directory_cache_.put(a, *entry, generation);
    return entry;
  }

  Result<AddressEntry> read_address(const std::string& a) {
    return read([&](Db& db) -> Result<AddressEntry> {
      AddressEntry out;
      // One read transaction for both lookups: each transaction takes the
      // WAL read lock (two fcntl calls) and, after any commit, starts from
      // an empty page cache.
      ReadTransaction txn(db);
      auto at = a.rfind('@');
      std::string domain = at == std::string::npos ? std::string() : a.substr(at + 1);
      out.local_domain = is_config_domain(domain) || db.prepare("SELECT 1 FROM domains WHERE name = ?").bind(1, domain).step();
      if (!out.local_domain) return out;
      {
        auto st = db.prepare("SELECT target FROM aliases WHERE address = ? ORDER BY target");
        st.bind(1, a);
        while (st.step()) out.alias_targets.push_back(st.text(0));
      }
      auto st = db.prepare(kUserByAddress);
      st.bind(1, a);
      if (st.step()) out.user = user_from(st);
      return out;
    });
  }

  Status add_alias(const std::string& address, const std::vector<std::string>& targets) override {
    std::string a = to_lower(address);
    std::vector<std::string> t;
    for (const auto& x : targets) t.push_back(to_lower(x));
    return write_directory([a, t](Db& db) {
      for (const auto& target : t)
        db.prepare("INSERT OR IGNORE INTO aliases(address, target) VALUES(?, ?)").bind(1, a).bind(2, target).run();
    });
  }

  Status del_alias(const std::string& address) override {
    std::string a = to_lower(address);
    bool found = false;
    auto st = write_directory([&](Db& db) {
      db.prepare("DELETE FROM aliases WHERE address = ?").bind(1, a).run();
      found = db.changes() > 0;
    });
    if (st && !found) return make_error(Errc::not_found, fmt::format("no such alias: {}", a));
    return st;
  }

  Result<std::vector<std::string>> alias_targets(const std::string& address) override {
    std::string a = to_lower(address);
    return read([&](Db& db) -> Result<std::vector<std::string>> {
      std::vector<std::string> out;
      auto st = db.prepare("SELECT target FROM aliases WHERE address = ? ORDER BY target");
      st.bind(1, a);
      while (st.step()) out.push_back(st.text(0));
      return out;
    });
  }

  Result<std::vector<AliasRecord>> list_aliases() override {
    return read([&](Db& db) -> Result<std::vector<AliasRecord>> {
      std::vector<AliasRecord> out;
      auto st = db.prepare("SELECT address, target FROM aliases ORDER BY address, target");
      while (st.step()) {
        std::string a = st.text(0);
        if (out.empty() || out.back().address != a) out.push_back({a, {}});
        out.back().targets.push_back(st.text(1));
      }
      return out;
    });
  }

  // ---- intake ----------------------------------------------------------

  void commit_message(IncomingMessage msg, std::function<void(Result<CommitResult>)> done) override {
    auto m = std::make_shared<IncomingMessage>(std::move(msg));
    auto result = std::make_shared<CommitResult>();
    auto sha = std::make_shared<std::string>();
    WriteJob job;
    if (m->body.size() > opts_.inline_body_max) {
      // Large bodies: a content-addressed file, durable before the
      // transaction that references it commits (DESIGN.md "Storage").
      job.prepare = [this, m, sha] { *sha = write_blob_file(m->body); };
    }
    job.apply = [this, m, result, sha](Db& db) { apply_commit(db, *m, *sha, *result); };
    job.done = [done = std::move(done), result](Status st) {
      if (st) done(std::move(*result));
      else done(st.error());
    };
    submit(std::move(job));
  }

  // ---- maildrop --------------------------------------------------------

  Result<Maildrop> maildrop(std::int64_t user_id) override {
    return read([&](Db& db) -> Result<Maildrop> {
      Maildrop out;
      auto mb = db.prepare("SELECT id, uidvalidity FROM mailboxes WHERE user_id = ? AND name = 'INBOX'");
      mb.bind(1, user_id);
      if (!mb.step()) return make_error(Errc::not_found, "no INBOX");
      out.mailbox_id = mb.i64(0);
      std::int64_t uidvalidity = mb.i64(1);
      auto st = db.prepare("SELECT uid, size FROM mailbox_messages WHERE mailbox_id = ? ORDER BY uid");
      st.bind(1, out.mailbox_id);
      while (st.step()) {
        MaildropEntry e;
        e.uid = st.i64(0);
        e.size = static_cast<std::uint64_t>(st.i64(1));
        e.uidl = fmt::format("{}.{}", uidvalidity, e.uid);
        out.messages.push_back(std::move(e));
      }
      return out;
    });
  }

  Result<std::string> read_message(std::int64_t mailbox_id, std::int64_t uid) override {
    return read([&](Db& db) -> Result<std::string> {
      auto st = db.prepare(
          "SELECT mm.prefix, m.body, m.blob_sha FROM mailbox_messages mm JOIN messages m ON m.id = mm.message "
          "WHERE mm.mailbox_id = ? AND mm.uid = ?");
      st.bind(1, mailbox_id).bind(2, uid);
      if (!st.step()) return make_error(Errc::not_found, "no such message");
      std::string out = st.text(0);
      if (!st.is_null(2)) {
        std::ifstream in(blob_path(st.text(2)), std::ios::binary);
        if (!in) return make_error(Errc::io, "blob file missing: " + st.text(2));
        out.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      } else {
        out += st.text(1);
      }
      return out;
    });
  }

  void expunge(std::int64_t user_id, std::int64_t mailbox_id, std::vector<std::int64_t> uids,
               std::function<void(Status)> done) override {
    auto unlink = std::make_shared<std::vector<std::string>>();
    WriteJob job;
    job.apply = [this, user_id, mailbox_id, uids = std::move(uids), unlink](Db& db) {
      unlink->clear();  // a second run after a rollback starts afresh
      std::int64_t freed = 0, modseq = 0;
      auto mb = db.prepare("UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq");
      mb.bind(1, mailbox_id);
      if (mb.step()) modseq = mb.i64(0);
      (void)modseq;
      for (auto uid : uids) {
        auto st = db.prepare("DELETE FROM mailbox_messages WHERE mailbox_id = ? AND uid = ? RETURNING message, size");
        st.bind(1, mailbox_id).bind(2, uid);
        if (!st.step()) continue;
        std::int64_t message = st.i64(0);
        freed += st.i64(1);
        while (st.step()) {}
        collect_message(db, message, *unlink);
      }
      db.prepare("UPDATE users SET used_bytes = max(0, used_bytes - ?) WHERE id = ?").bind(1, freed).bind(2, user_id).run();
    };
    job.done = [this, done = std::move(done), unlink](Status st) {
      if (st) remove_blob_files(*unlink);
      done(st);
    };
    submit(std::move(job));
  }

  // ---- queue -----------------------------------------------------------

  Result<std::vector<QueueRow>> queue_list() override {
    return read([&](Db& db) -> Result<std::vector<QueueRow>> {
      std::vector<QueueRow> out;
      auto st = db.prepare(kQueueAll);
      while (st.step()) out.push_back(queue_from(st));
      return out;
    });
  }

  Result<std::vector<QueueRow>> queue_show(const std::string& queue_id) override {
    return read([&](Db& db) -> Result<std::vector<QueueRow>> {
      std::vector<QueueRow> out;
      auto st = db.prepare(kQueueOne);
      st.bind(1, queue_id);
      while (st.step()) out.push_back(queue_from(st));
      return out;
    });
  }

  // ---- journal ---------------------------------------------------------

  void journal(JournalEntry e) override {
    if (e.time_ms == 0) e.time_ms = now_ms();
    WriteJob job;
    job.apply = [this, e = std::move(e)](Db& db) { insert_journal(db, e); };
    job.done = [](Status) {};
    submit(std::move(job));
  }

  Result<std::vector<JournalEntry>> journal_query(const JournalQuery& q) override {
    return read([&](Db& db) -> Result<std::vector<JournalEntry>> {
      std::vector<JournalEntry> out;
      std::string address = to_lower(q.address);  // bound without a copy: outlives the steps
      auto st = db.prepare(journal_select_sql(q));
      if (q.since_ms > 0) st.bind(1, journal_key(q.since_ms)).bind(6, q.since_ms);
      if (!q.queue_id.empty()) st.bind(2, q.queue_id);
      if (!q.message_id.empty()) st.bind(3, q.message_id);
      if (!address.empty()) st.bind(4, address);
      st.bind(5, static_cast<std::int64_t>(q.limit));
      while (st.step()) {
        JournalEntry e;
        e.time_ms = st.i64(0);
        e.event = st.text(1);
        e.queue_id = st.text(2);
        e.message_id = st.text(3);
        e.sender = st.text(4);
        e.recipient = st.text(5);
        e.client = st.text(6);
        e.size = static_cast<std::uint64_t>(st.i64(7));
        e.reply = st.text(8);
        e.detail = st.text(9);
        out.push_back(std::move(e));
      }
      std::reverse(out.begin(), out.end());
      return out;
    });
  }

  Status flush() override {
    return write_sync([](Db&) {});
  }

 private:
#define HERALD_QUEUE_SELECT                                                                           \
  "SELECT q.queue_id, m.sender, q.recipient, q.original_recipient, q.status, q.attempts, q.created, " \
  "q.next_attempt, m.size, q.last_reply FROM queue q JOIN messages m ON m.id = q.message"
  static constexpr const char* kQueueAll = HERALD_QUEUE_SELECT " ORDER BY q.created, q.id";
  static constexpr const char* kQueueOne = HERALD_QUEUE_SELECT " WHERE q.queue_id = ? ORDER BY q.id";
#undef HERALD_QUEUE_SELECT

  static QueueRow queue_from(const Stmt& st) {
    QueueRow r;
    r.queue_id = st.text(0);
    r.sender = st.text(1);
    r.recipient = st.text(2);
    r.original_recipient = st.text(3);
    r.status = st.text(4);
    r.attempts = st.i64(5);
    r.created = st.i64(6);
    r.next_attempt = st.i64(7);
    r.size = static_cast<std::uint64_t>(st.i64(8));
    r.last_reply = st.text(9);
    return r;
  }

  // The columns user_from reads, for one address.
  static constexpr const char* kUserByAddress =
      "SELECT id, address, password_hash, quota_bytes, used_bytes, scram_sha256, send_as_any FROM users WHERE address = ?";

  static UserRecord user_from(const Stmt& st) {
    UserRecord u;
    u.id = st.i64(0);
    u.address = st.text(1);
    u.password_hash = st.text(2);
    u.quota_bytes = static_cast<std::uint64_t>(st.i64(3));
    u.used_bytes = static_cast<std::uint64_t>(st.i64(4));
    u.scram_sha256 = st.text(5);
    u.send_as_any = st.i64(6) != 0;
    return u;
  }

  // insert_journal - inside the writer's transaction, which knows the next
  // key (journal_next_key_, read at BEGIN: one lookup per batch instead of a
  // max(id) subquery per row).
  void insert_journal(Db& db, const JournalEntry& e) {
    db.prepare(kJournalInsert)
        .bind(1, e.time_ms).bind(2, e.event).bind(3, e.queue_id).bind(4, e.message_id).bind(5, e.sender)
        .bind(6, e.recipient).bind(7, e.client).bind(8, e.size).bind(9, e.reply).bind(10, e.detail)
        .bind(11, journal_next_key_)
        .run();
    journal_next_key_ = db.last_insert_rowid() + 1;
  }

  bool is_config_domain(const std::string& d) const {
    return std::find(opts_.config_domains.begin(), opts_.config_domains.end(), d) != opts_.config_domains.end();
  }

  static void configure(Db& db) {
    db.exec("PRAGMA journal_mode = WAL");
    // FULL: the WAL is synced at every commit, so a committed transaction
    // survives power loss (NORMAL would only survive a process crash).
    db.exec("PRAGMA synchronous = FULL");
    db.exec("PRAGMA foreign_keys = ON");
    // Rollback journals of statements, temporary tables and sorts stay in
    // memory: none of them ever serves crash recovery.
    db.exec("PRAGMA temp_store = MEMORY");
  }

  void migrate() {
    wdb_.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    std::int64_t version = 0;
    {
      auto st = wdb_.prepare("SELECT max(version) FROM schema_version");
      if (st.step()) version = st.i64(0);
    }
    constexpr std::int64_t kLatest = std::size(kMigrations);
    if (version > kLatest)
      throw SqliteError(SQLITE_ERROR, fmt::format("database schema version {} is newer than this herald ({})", version, kLatest));
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

  // ---- blobs -----------------------------------------------------------

  fs::path blob_path(const std::string& sha) const {
    return opts_.data_dir / "blobs" / sha.substr(0, 2) / sha;
  }

  std::string write_blob_file(const std::string& body) {
    std::string sha = sha256_hex(body);
    fs::path final_path = blob_path(sha);
    std::error_code ec;
    if (fs::exists(final_path, ec)) return sha;  // content-addressed: already there
    fs::create_directories(final_path.parent_path(), ec);
    fs::path tmp = opts_.data_dir / "blobs" / "tmp" / fmt::format("{}.{}", sha, std::hash<std::thread::id>()(std::this_thread::get_id()));
    // write -> fsync -> rename -> fsync dir: a crash leaves a complete file
    // or none, never a torn one under the final name.
    if (!write_file_synced(tmp, body)) throw SqliteError(SQLITE_IOERR, "cannot write blob file " + tmp.string());
    fs::rename(tmp, final_path, ec);
    if (ec || !sync_dir(final_path.parent_path()))
      throw SqliteError(SQLITE_IOERR, "cannot store blob file " + final_path.string());
    return sha;
  }

  void remove_blob_files(const std::vector<std::string>& shas) {
    for (const auto& sha : shas) {
      std::error_code ec;
      fs::remove(blob_path(sha), ec);
    }
  }

  // collect_message - delete a message no mailbox and no queue row needs.
  static void collect_message(Db& db, std::int64_t message, std::vector<std::string>& unlink) {
    auto st = db.prepare(
        "DELETE FROM messages WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM mailbox_messages WHERE message = ?1) "
        "AND NOT EXISTS (SELECT 1 FROM queue WHERE message = ?1) RETURNING blob_sha");
    st.bind(1, message);
    if (!st.step()) return;
    bool has_blob = !st.is_null(0);
    std::string sha = st.text(0);
    while (st.step()) {}
    if (!has_blob) return;
    auto rc = db.prepare("UPDATE blob_files SET refcount = refcount - 1 WHERE sha256 = ? RETURNING refcount");
    rc.bind(1, sha);
    if (rc.step() && rc.i64(0) <= 0) {
      while (rc.step()) {}
      db.prepare("DELETE FROM blob_files WHERE sha256 = ?").bind(1, sha).run();
      unlink.push_back(sha);
    }
  }

  void apply_commit(Db& db, const IncomingMessage& m, const std::string& sha, CommitResult& result) {
    std::int64_t now = now_s();
    std::int64_t now_milli = now_ms();
    if (!sha.empty()) {
      db.prepare("INSERT INTO blob_files(sha256, size, refcount) VALUES(?, ?, 1) "
                 "ON CONFLICT(sha256) DO UPDATE SET refcount = refcount + 1")
          .bind(1, sha).bind(2, static_cast<std::uint64_t>(m.body.size())).run();
    }
    {
      auto st = db.prepare(
          "INSERT INTO messages(queue_id, sender, message_id, client, size, received, body, blob_sha) "
          "VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
      st.bind(1, m.queue_id).bind(2, m.sender).bind(3, m.message_id).bind(4, m.client)
          .bind(5, static_cast<std::uint64_t>(m.body.size())).bind(6, now);
      if (sha.empty()) st.bind_blob(7, m.body).bind_null(8);
      else st.bind_null(7).bind(8, sha);
      st.run();
    }
    std::int64_t message = db.last_insert_rowid();
    JournalEntry received{now_milli, "received", m.queue_id, m.message_id, m.sender, "", m.client,
                          m.body.size(), "", fmt::format("nrcpt={}", m.deliveries.size())};
    insert_journal(db, received);

    result.outcomes.clear();
    bool referenced = false;
    for (const auto& d : m.deliveries) {
      DeliveryOutcome out;
      if (d.local) out = deliver_local(db, m, message, d, now);
      else out.status = DeliveryStatus::pending;
      if (out.status == DeliveryStatus::pending || out.status == DeliveryStatus::deferred) {
        db.prepare("INSERT INTO queue(message, queue_id, recipient, original_recipient, status, created, "
                   "next_attempt, last_reply) VALUES(?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(1, message).bind(2, m.queue_id).bind(3, d.recipient).bind(4, d.original)
            .bind(5, out.status == DeliveryStatus::pending ? "pending" : "deferred").bind(6, now)
            .bind(7, out.status == DeliveryStatus::pending ? now : now + 300).bind(8, out.reply).run();
        referenced = true;
      }
      if (out.status == DeliveryStatus::delivered) referenced = true;
      static constexpr const char* kEvents[] = {"delivered", "deferred", "queued", "failed"};
      JournalEntry e{now_milli, kEvents[static_cast<int>(out.status)], m.queue_id, m.message_id, m.sender,
                     d.recipient, m.client, m.body.size(), out.reply, d.original != d.recipient ? "orig_to=" + d.original : ""};
      insert_journal(db, e);
      result.outcomes.push_back(std::move(out));
    }
    if (!referenced) {
      std::vector<std::string> unused;
      collect_message(db, message, unused);  // every recipient failed: keep nothing
    }
  }

  DeliveryOutcome deliver_local(Db& db, const IncomingMessage& m, std::int64_t message, const Delivery& d,
                                std::int64_t now) {
    DeliveryOutcome out;
    auto u = db.prepare(
        "SELECT u.id, u.quota_bytes, u.used_bytes, mb.id, mb.uidnext, mb.highestmodseq FROM users u "
        "JOIN mailboxes mb ON mb.user_id = u.id AND mb.name = 'INBOX' WHERE u.address = ?");
    u.bind(1, d.recipient);
    if (!u.step()) {
      out.status = DeliveryStatus::failed;
      out.reply = "550 5.1.1 User unknown";
      return out;
    }
    std::int64_t user = u.i64(0), quota = u.i64(1), used = u.i64(2), mailbox = u.i64(3), uid = u.i64(4),
                 modseq = u.i64(5) + 1;
    // RFC 5321 4.4: Return-Path is added by the final delivery; Delivered-To
    // (Postfix, Dovecot) records which mailbox this copy was for.
    std::string prefix = fmt::format("Return-Path: <{}>\r\nDelivered-To: {}\r\n", m.sender, d.recipient);
    std::int64_t size = static_cast<std::int64_t>(prefix.size() + m.body.size());
    if (quota > 0 && used + size > quota) {
      out.status = DeliveryStatus::deferred;
      out.reply = "452 4.2.2 Mailbox full";
      return out;
    }
    db.prepare("UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = ? WHERE id = ?")
        .bind(1, modseq).bind(2, mailbox).run();
    db.prepare("INSERT INTO mailbox_messages(mailbox_id, uid, message, prefix, size, modseq, internaldate) "
               "VALUES(?, ?, ?, ?, ?, ?, ?)")
        .bind(1, mailbox).bind(2, uid).bind(3, message).bind(4, prefix).bind(5, size).bind(6, modseq)
        .bind(7, now).run();
    db.prepare("UPDATE users SET used_bytes = used_bytes + ? WHERE id = ?").bind(1, size).bind(2, user).run();
    out.status = DeliveryStatus::delivered;
    out.reply = "250 2.0.0 delivered to mailbox";
    return out;
  }

  // ---- the writer: group commit -----------------------------------------

  static constexpr std::size_t kMaxBatch = 512;  // requests per transaction, so one stays short

  // Producers wake the writer only when it waits for what they bring (a
  // futex wake and two context switches each): the first request when it is
  // idle, a full batch, or the last of the arrivals a commit is held for.
  // Everything else is picked up when the writer next takes its batch.
  void submit(WriteJob job) {
    bool wake;
    {
      std::lock_guard lk(mu_);
      queue_.push_back(std::move(job));
      wake = queue_.size() >= wake_at_queued_;
    }
    if (wake) cv_.notify_one();
  }

  // write_directory - a change to domains, users or aliases: every process's
  // DirectoryCache learns of it from the generation bumped after the commit.
  // (A process killed between the two leaves caches stale until the next
  // change; rerunning the command is one.)
  Status write_directory(std::function<void(Db&)> apply) {
    Status st = write_sync(std::move(apply));
    directory_generation_->bump();
    return st;
  }

  Status write_sync(std::function<void(Db&)> apply) {
    std::promise<Status> p;
    auto f = p.get_future();
    WriteJob job;
    job.apply = std::move(apply);
    job.done = [&p](Status st) { p.set_value(std::move(st)); };
    submit(std::move(job));
    return f.get();
  }

  void note_arrivals(int delta) override {
    bool wake = false;
    {
      std::lock_guard lk(mu_);
      arriving_ += delta;
      if (delta < 0) {
        arrivals_ended_ += static_cast<std::uint64_t>(-delta);
        wake = arrivals_ended_ >= wake_at_ended_;
      }
    }
    if (wake) cv_.notify_one();
  }

  void writer_loop() {
    std::vector<WriteJob> batch;
    bool committed_before = false;
    for (;;) {
      {
        std::unique_lock lk(mu_);
        // Requests that came while the last batch committed: the server is
        // busy, and a commit held back a little syncs for many messages.
        bool busy = committed_before && !queue_.empty();
        wake_at_queued_ = 1;
        cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty() && stopping_) return;
        if (busy && arriving_ > 0 && opts_.commit_wait.count() > 0 && queue_.size() < kMaxBatch) {
          // Wait for the messages being received now, not for later ones:
          // the wait stays as short as their transfer. An arrival ends when
          // its request is queued, or when it is abandoned.
          auto awaited = std::min(static_cast<std::size_t>(arriving_), kMaxBatch - queue_.size());
          wake_at_ended_ = arrivals_ended_ + awaited;
          wake_at_queued_ = kMaxBatch;
          cv_.wait_for(lk, opts_.commit_wait, [&] {
            return stopping_ || arrivals_ended_ >= wake_at_ended_ || queue_.size() >= kMaxBatch;
          });
          wake_at_ended_ = kNever;
        }
        wake_at_queued_ = kNever;  // busy: what comes now waits for the next batch
        while (!queue_.empty() && batch.size() < kMaxBatch) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      run_batch(batch);
      batch.clear();
      committed_before = true;
    }
  }

  // run_batch - the whole batch in one transaction, one fsync. Jobs run back
  // to back without a SAVEPOINT each (a savepoint copies every page it
  // touches into the statement journal: ~12 us of the writer's CPU per
  // message, measured). When a job throws, the transaction is rolled back,
  // that job alone is failed, and the batch runs again without it; so an
  // apply() may run more than once and must produce its outputs afresh.
  void run_batch(std::vector<WriteJob>& batch) {
    std::vector<Status> results(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!batch[i].prepare) continue;
      try {
        batch[i].prepare();
      } catch (const std::exception& e) {
        results[i] = to_error(e);
      }
    }
    auto rollback = [this] {
      try {
        wdb_.run("ROLLBACK");
      } catch (...) {  // SQLite may have rolled back already (SQLITE_FULL, SQLITE_IOERR)
      }
      discard_unsynced_wal(wdb_.handle());  // frames the transaction spilled stay unwritten
    };
    for (bool committed = false; !committed;) {
      try {
        wdb_.run("BEGIN IMMEDIATE");
        auto next = wdb_.prepare(kJournalNextKey);
        next.step();
        journal_next_key_ = next.i64(0);
      } catch (const std::exception& e) {
        rollback();  // in case BEGIN went through
        Error err = to_error(e);
        for (auto& r : results)
          if (r) r = err;
        break;
      }
      bool job_failed = false;
      for (std::size_t i = 0; i < batch.size() && !job_failed; ++i) {
        if (!results[i]) continue;
        try {
          batch[i].apply(wdb_);
        } catch (const std::exception& e) {
          results[i] = to_error(e);
          job_failed = true;
        }
      }
      if (job_failed) {
        rollback();
        continue;  // the failed job is skipped from now on: at most batch.size() rounds
      }
      try {
        wdb_.run("COMMIT");
        committed = true;
      } catch (const std::exception& e) {
        rollback();
        Error err = to_error(e);
        for (auto& r : results)
          if (r) r = err;
        break;
      }
    }
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (batch[i].done) batch[i].done(results[i]);
  }

  // ---- reads -----------------------------------------------------------

  template <typename Fn>
  auto read(Fn&& fn) -> decltype(fn(std::declval<Db&>())) {
    std::unique_ptr<Db> db;
    {
      std::lock_guard lk(pool_mu_);
      if (!pool_.empty()) {
        db = std::move(pool_.back());
        pool_.pop_back();
      }
    }
    try {
      if (!db) {
        db = std::make_unique<Db>();
        db->open(db_path_);
        db->exec("PRAGMA foreign_keys = ON");
      }
      auto r = fn(*db);
      std::lock_guard lk(pool_mu_);
      pool_.push_back(std::move(db));
      return r;
    } catch (const std::exception& e) {
      return to_error(e);
    }
  }

  StoreOptions opts_;
  std::string db_path_;
  std::unique_ptr<SharedGeneration> directory_generation_;
  DirectoryCache directory_cache_;
  Db wdb_;  // the writer's connection; only the writer thread (or open) uses it
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WriteJob> queue_;
  std::int64_t arriving_ = 0;  // messages being received (note_arrivals)
  std::int64_t journal_next_key_ = 0;  // writer thread, inside its transaction (insert_journal)
  // When producers notify the writer (see submit): at this many queued
  // requests, or at this many ended arrivals (a counter that only grows).
  static constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t wake_at_queued_ = 1;
  std::uint64_t arrivals_ended_ = 0;
  std::uint64_t wake_at_ended_ = kNever;
  bool stopping_ = false;
  std::thread writer_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Db>> pool_;
};

}  // namespace

Result<std::unique_ptr<Store>> open(const StoreOptions& options) {
  auto s = std::make_unique<SqliteStore>(options);
  if (auto st = s->open(); !st) return st.error();
  return std::unique_ptr<Store>(std::move(s));
}

}  // namespace herald::store

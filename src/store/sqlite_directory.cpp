// store/sqlite_directory.cpp - domains, users and aliases in SQLite, with
// the recipient lookups cached across processes (directory_cache.h).
#include <algorithm>

#include <fmt/format.h>

#include "base/text.h"
#include "store/list_sql.h"
#include "store/mailboxes.h"
#include "store/sqlite_store.h"

namespace herald::store {
namespace {

// The columns user_from reads, for one address.
constexpr const char* kUserByAddress =
    "SELECT id, address, password_hash, quota_bytes, used_bytes, scram_sha256, send_as_any FROM users WHERE address = ?";

UserRecord user_from(const Stmt& st) {
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

std::vector<std::string> targets_of(Db& db, const std::string& address) {
  std::vector<std::string> out;
  auto st = db.prepare("SELECT target FROM aliases WHERE address = ? ORDER BY target");
  st.bind(1, address);
  while (st.step()) out.push_back(st.text(0));
  return out;
}

// PageBounds - a ListQuery's key range, lower-cased as keys are stored; the
// strings are bound without a copy, so they live as long as the statement runs.
struct PageBounds {
  explicit PageBounds(const ListQuery& q)
      : range(key_range(to_lower(q.after), to_lower(q.prefix))), domain(to_lower(q.domain)) {}
  void bind(Stmt& st) const {
    st.bind(1, range.from);
    if (range.to) st.bind(2, *range.to);
    if (!domain.empty()) st.bind(3, domain);
  }
  KeyRange range;
  std::string domain;
};

Error no_such(const char* what, const std::string& name) {
  return make_error(Errc::not_found, fmt::format("no such {}: {}", what, name));
}

}  // namespace

SqliteDirectory::SqliteDirectory(SqliteCore& core) : core_(core), cache_(core.options().directory_cache) {}

Status SqliteDirectory::open() {
  auto generation = SharedGeneration::open(core_.options().data_dir / "directory.generation");
  if (!generation) return generation.error();
  generation_ = std::move(*generation);
  return {};
}

// write_directory - every process's DirectoryCache learns of the change from
// the generation bumped after the commit. (A process killed between the two
// leaves caches stale until the next change; rerunning the command is one.)
Status SqliteDirectory::write_directory(std::function<void(Db&)> apply, std::function<void()> after_commit) {
  Status st = core_.write_sync(std::move(apply), std::move(after_commit));
  generation_->bump();
  return st;
}

Status SqliteDirectory::update_user(const std::string& address, std::function<void(Db&, const std::string&)> apply) {
  std::string a = to_lower(address);
  bool found = false;
  auto st = write_directory([&](Db& db) {
    apply(db, a);
    found = db.changes() > 0;
  });
  if (st && !found) return no_such("user", a);
  return st;
}

// ---- domains ---------------------------------------------------------

Status SqliteDirectory::add_domain(const std::string& name) {
  std::string d = to_lower(name);
  return write_directory([d](Db& db) {
    db.prepare("INSERT INTO domains(name, created) VALUES(?, ?)").bind(1, d).bind(2, now_s()).run();
  });
}

Status SqliteDirectory::del_domain(const std::string& name) {
  std::string d = to_lower(name);
  if (core_.is_config_domain(d))
    return make_error(Errc::denied, fmt::format("{} is listed in the config file's domains.local", d));
  bool found = false;
  auto st = write_directory([&found, d](Db& db) {
    db.prepare("DELETE FROM domains WHERE name = ?").bind(1, d).run();
    found = db.changes() > 0;
  });
  if (st && !found) return no_such("domain", d);
  return st;
}

// list_domains - the config's domains (few, in memory) merged with a page
// of the store's, both in name order; a name in both is a config domain.
Result<std::vector<DomainRecord>> SqliteDirectory::list_domains(const ListQuery& q) {
  PageBounds b(q);
  std::vector<std::string> config;
  for (const auto& d : core_.options().config_domains)
    if (d >= b.range.from && (!b.range.to || d < *b.range.to)) config.push_back(d);
  std::sort(config.begin(), config.end());
  config.erase(std::unique(config.begin(), config.end()), config.end());
  return core_.read([&](Db& db) -> Result<std::vector<DomainRecord>> {
    std::vector<DomainRecord> out;
    auto st = db.prepare(domain_page_sql(b.range));
    b.bind(st);
    st.bind(4, static_cast<std::int64_t>(q.limit));
    auto c = config.begin();
    bool more = st.step();
    while (out.size() < q.limit && (more || c != config.end())) {
      if (more && (c == config.end() || st.text(0) < *c)) {
        out.push_back({st.text(0), false});
        more = st.step();
      } else {
        if (more && st.text(0) == *c) more = st.step();
        out.push_back({*c++, true});
      }
    }
    return out;
  });
}

Result<bool> SqliteDirectory::is_local_domain(const std::string& name) {
  std::string d = to_lower(name);
  if (core_.is_config_domain(d)) return true;
  return core_.read([&](Db& db) -> Result<bool> {
    return db.prepare("SELECT 1 FROM domains WHERE name = ?").bind(1, d).step();
  });
}

// ---- users -----------------------------------------------------------

Status SqliteDirectory::add_user(const std::string& address, const Credentials& cred, std::uint64_t quota) {
  std::string a = to_lower(address);
  return write_directory([a, cred, quota](Db& db) {
    db.prepare("INSERT INTO users(address, password_hash, scram_sha256, quota_bytes, created) VALUES(?, ?, ?, ?, ?)")
        .bind(1, a).bind(2, cred.password_hash).bind(3, cred.scram_sha256).bind(4, quota).bind(5, now_s()).run();
    std::int64_t uid = db.last_insert_rowid();
    db.prepare("INSERT INTO mailboxes(user_id, name, uidvalidity) VALUES(?, ?, ?)")
        .bind(1, uid).bind(2, kInbox).bind(3, next_uidvalidity(db, uid)).run();
    db.prepare("INSERT INTO subscriptions(user_id, name) VALUES(?, ?)").bind(1, uid).bind(2, kInbox).run();
    for (const auto& m : kSpecialUseMailboxes) {
      db.prepare("INSERT INTO mailboxes(user_id, name, uidvalidity, special_use) VALUES(?, ?, ?, ?)")
          .bind(1, uid).bind(2, m.name).bind(3, next_uidvalidity(db, uid)).bind(4, m.special_use).run();
      db.prepare("INSERT INTO subscriptions(user_id, name) VALUES(?, ?)").bind(1, uid).bind(2, m.name).run();
    }
  });
}

Status SqliteDirectory::del_user(const std::string& address) {
  std::string a = to_lower(address);
  bool found = false;
  std::vector<std::string> unlink;
  auto apply = [&](Db& db) {
    unlink.clear();  // a second run after a rollback starts afresh
    auto u = db.prepare("SELECT id FROM users WHERE address = ?");
    u.bind(1, a);
    found = u.step();
    if (!found) return;
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
    for (auto id : msgs) SqliteCore::collect_message(db, id, unlink);
  };
  // The files go on the writer thread, before its next batch could share them.
  auto st = write_directory(apply, [&] { core_.remove_blobs(std::move(unlink)); });
  if (st && !found) return no_such("user", a);
  return st;
}

Status SqliteDirectory::set_password(const std::string& address, const Credentials& cred) {
  return update_user(address, [&cred](Db& db, const std::string& a) {
    db.prepare("UPDATE users SET password_hash = ?, scram_sha256 = ? WHERE address = ?")
        .bind(1, cred.password_hash).bind(2, cred.scram_sha256).bind(3, a).run();
  });
}

Status SqliteDirectory::set_send_as_any(const std::string& address, bool allowed) {
  return update_user(address, [allowed](Db& db, const std::string& a) {
    db.prepare("UPDATE users SET send_as_any = ? WHERE address = ?").bind(1, allowed ? 1 : 0).bind(2, a).run();
  });
}

Status SqliteDirectory::set_quota(const std::string& address, std::uint64_t quota_bytes) {
  return update_user(address, [quota_bytes](Db& db, const std::string& a) {
    db.prepare("UPDATE users SET quota_bytes = ? WHERE address = ?").bind(1, quota_bytes).bind(2, a).run();
  });
}

Result<std::optional<UserRecord>> SqliteDirectory::find_user(const std::string& address) {
  std::string a = to_lower(address);
  return core_.read([&](Db& db) -> Result<std::optional<UserRecord>> {
    auto st = db.prepare(kUserByAddress);
    st.bind(1, a);
    if (!st.step()) return std::optional<UserRecord>();
    return std::optional<UserRecord>(user_from(st));
  });
}

Result<std::vector<UserRecord>> SqliteDirectory::list_users(const ListQuery& q) {
  PageBounds b(q);
  return core_.read([&](Db& db) -> Result<std::vector<UserRecord>> {
    std::vector<UserRecord> out;
    auto st = db.prepare(user_page_sql(b.range, q));
    b.bind(st);
    st.bind(4, static_cast<std::int64_t>(q.limit));
    while (st.step()) out.push_back(user_from(st));
    return out;
  });
}

Result<std::optional<std::string>> SqliteDirectory::first_user() {
  return core_.read([&](Db& db) -> Result<std::optional<std::string>> {
    auto st = db.prepare("SELECT address FROM users ORDER BY id LIMIT 1");
    if (!st.step()) return std::optional<std::string>();
    return std::optional<std::string>(st.text(0));
  });
}

// ---- aliases ---------------------------------------------------------

Status SqliteDirectory::add_alias(const std::string& address, const std::vector<std::string>& targets) {
  std::string a = to_lower(address);
  std::vector<std::string> t;
  for (const auto& x : targets) t.push_back(to_lower(x));
  return write_directory([a, t](Db& db) {
    for (const auto& target : t)
      db.prepare("INSERT OR IGNORE INTO aliases(address, target) VALUES(?, ?)").bind(1, a).bind(2, target).run();
  });
}

Status SqliteDirectory::del_alias(const std::string& address) {
  std::string a = to_lower(address);
  bool found = false;
  auto st = write_directory([&](Db& db) {
    db.prepare("DELETE FROM aliases WHERE address = ?").bind(1, a).run();
    found = db.changes() > 0;
  });
  if (st && !found) return no_such("alias", a);
  return st;
}

Result<std::vector<std::string>> SqliteDirectory::alias_targets(const std::string& address) {
  std::string a = to_lower(address);
  return core_.read([&](Db& db) -> Result<std::vector<std::string>> { return targets_of(db, a); });
}

// list_aliases - rows of the primary key, one per target, grouped by alias;
// the page ends at the first row of the alias past the limit.
Result<std::vector<AliasRecord>> SqliteDirectory::list_aliases(const ListQuery& q) {
  PageBounds b(q);
  return core_.read([&](Db& db) -> Result<std::vector<AliasRecord>> {
    std::vector<AliasRecord> out;
    if (q.limit == 0) return out;
    auto st = db.prepare(alias_page_sql(b.range, q));
    b.bind(st);
    while (st.step()) {
      std::string a = st.text(0);
      if (out.empty() || out.back().address != a) {
        if (out.size() == q.limit) break;
        out.push_back({std::move(a), {}});
      }
      out.back().targets.push_back(st.text(1));
    }
    return out;
  });
}

// ---- the recipient lookup ---------------------------------------------

Result<AddressEntry> SqliteDirectory::lookup_address(const std::string& address) {
  std::string a = to_lower(address);
  // The generation is read before the database: a change committed after
  // this point bumps it past what the entry is cached under.
  std::uint64_t generation = generation_->current();
  if (auto hit = cache_.find(a, generation)) return std::move(*hit);
  auto entry = read_address(a);
  // A user with a quota is read afresh each time: the RCPT check compares
  // its used_bytes, which every delivery and expunge moves.
  if (entry && !(entry->user && entry->user->quota_bytes > 0)) cache_.put(a, *entry, generation);
  return entry;
}

std::optional<AddressEntry> SqliteDirectory::cached_address(const std::string& address) {
  return cache_.find(to_lower(address), generation_->current());
}

Result<AddressEntry> SqliteDirectory::read_address(const std::string& a) {
  return core_.read([&](Db& db) -> Result<AddressEntry> {
    AddressEntry out;
    // One read transaction for both lookups: each transaction takes the
    // WAL read lock (two fcntl calls) and, after any commit, starts from
    // an empty page cache.
    ReadTransaction txn(db);
    auto at = a.rfind('@');
    std::string domain = at == std::string::npos ? std::string() : a.substr(at + 1);
    out.local_domain =
        core_.is_config_domain(domain) || db.prepare("SELECT 1 FROM domains WHERE name = ?").bind(1, domain).step();
    if (!out.local_domain) return out;
    out.alias_targets = targets_of(db, a);
    auto st = db.prepare("SELECT id, quota_bytes, used_bytes, send_as_any FROM users WHERE address = ?");
    st.bind(1, a);
    if (st.step())
      out.user = AddressUser{st.i64(0), a, static_cast<std::uint64_t>(st.i64(1)), static_cast<std::uint64_t>(st.i64(2)),
                             st.i64(3) != 0};
    return out;
  });
}

}  // namespace herald::store

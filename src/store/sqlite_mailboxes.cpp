// store/sqlite_mailboxes.cpp - users' mailboxes in SQLite: the hierarchy,
// special use, subscriptions, and the POP3 maildrop and its lock.
#include <limits>

#include <fmt/format.h>

#include "base/text.h"
#include "store/sqlite_store.h"

namespace herald::store {
namespace {

#define HERALD_MAILBOX_SELECT                                                                        \
  "SELECT mb.id, mb.name, mb.special_use, mb.selectable, mb.uidvalidity, mb.uidnext, mb.highestmodseq, " \
  "mb.messages FROM mailboxes mb "
constexpr const char* kMailboxesOfUser = HERALD_MAILBOX_SELECT "WHERE mb.user_id = ? ORDER BY mb.name";
constexpr const char* kMailboxByName = HERALD_MAILBOX_SELECT "WHERE mb.user_id = ? AND mb.name = ?";
// Another user's mailboxes shared with ?2 (or anyone): the owner's address
// and the rights of every entry that applies, joined.
constexpr const char* kSharedWith =
    "SELECT mb.id, mb.name, mb.special_use, mb.selectable, mb.uidvalidity, mb.uidnext, mb.highestmodseq, "
    "mb.messages, u.id, u.address, group_concat(a.rights, '') FROM acl a "
    "JOIN mailboxes mb ON mb.id = a.mailbox_id JOIN users u ON u.id = mb.user_id "
    "WHERE a.identifier IN (?2, 'anyone') AND mb.user_id != ?1 GROUP BY mb.id ORDER BY u.address, mb.name";
#undef HERALD_MAILBOX_SELECT

MailboxRecord mailbox_from(const Stmt& st) {
  MailboxRecord r;
  r.id = st.i64(0);
  r.name = st.text(1);
  r.special_use = st.text(2);
  r.selectable = st.i64(3) != 0;
  r.uidvalidity = st.i64(4);
  r.uidnext = st.i64(5);
  r.highestmodseq = st.i64(6);
  r.messages = static_cast<std::uint64_t>(st.i64(7));
  return r;
}

// valid_name - a name the store keeps: not empty, no empty level, no
// control characters (RFC 9051 5.1: names are UTF-8; the protocol layer
// decodes modified UTF-7 before it gets here).
Status check_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 1024 && name.front() != kHierarchyDelimiter &&
            name.back() != kHierarchyDelimiter && name.find("//") == std::string::npos;
  for (unsigned char c : name) ok = ok && c >= 0x20 && c != 0x7f;
  if (!ok) return make_error(Errc::invalid, fmt::format("not a mailbox name: {}", printable(name, 200)));
  return {};
}

// The id of a mailbox, or 0.
std::int64_t mailbox_id(Db& db, std::int64_t user_id, const std::string& name) {
  auto st = db.prepare("SELECT id FROM mailboxes WHERE user_id = ? AND name = ?");
  st.bind(1, user_id).bind(2, name);
  return st.step() ? st.i64(0) : 0;
}

// children_range - the LIKE-free range of names below name: from
// "name/" up to (not including) "name0" ('0' follows '/' in ASCII).
std::pair<std::string, std::string> children_range(const std::string& name) {
  return {name + kHierarchyDelimiter, name + static_cast<char>(kHierarchyDelimiter + 1)};
}

bool has_children(Db& db, std::int64_t user_id, const std::string& name) {
  auto [low, high] = children_range(name);
  auto st = db.prepare("SELECT 1 FROM mailboxes WHERE user_id = ? AND name >= ? AND name < ? LIMIT 1");
  st.bind(1, user_id).bind(2, low).bind(3, high);
  return st.step();
}

Error no_such_mailbox(const std::string& name) {
  return make_error(Errc::not_found, fmt::format("no such mailbox: {}", printable(name, 200)));
}

}  // namespace

std::string canonical_mailbox_name(const std::string& name) {
  std::string_view first = std::string_view(name).substr(0, name.find(kHierarchyDelimiter));
  if (!iequals(first, kInbox)) return name;
  return kInbox + name.substr(first.size());
}

std::int64_t next_uidvalidity(Db& db, std::int64_t user_id) {
  auto st = db.prepare(
      "UPDATE users SET last_uidvalidity = max(last_uidvalidity + 1, ?) WHERE id = ? RETURNING last_uidvalidity");
  st.bind(1, now_s()).bind(2, user_id);
  if (!st.step()) throw SqliteError(SQLITE_CONSTRAINT, fmt::format("no user {}", user_id));
  std::int64_t v = st.i64(0);
  while (st.step()) {}
  return v;
}

Result<std::vector<MailboxRecord>> SqliteMailboxes::list_mailboxes(std::int64_t user_id) {
  return core_.read([&](Db& db) -> Result<std::vector<MailboxRecord>> {
    std::vector<MailboxRecord> out;
    auto st = db.prepare(kMailboxesOfUser);
    st.bind(1, user_id);
    while (st.step()) out.push_back(mailbox_from(st));
    return out;
  });
}

Result<std::optional<MailboxRecord>> SqliteMailboxes::find_mailbox(std::int64_t user_id, const std::string& name) {
  std::string n = canonical_mailbox_name(name);
  return core_.read([&](Db& db) -> Result<std::optional<MailboxRecord>> {
    auto st = db.prepare(kMailboxByName);
    st.bind(1, user_id).bind(2, n);
    if (!st.step()) return std::optional<MailboxRecord>();
    return std::optional<MailboxRecord>(mailbox_from(st));
  });
}

Status SqliteMailboxes::create_mailbox(std::int64_t user_id, const std::string& name, const std::string& special_use) {
  std::string n = canonical_mailbox_name(name);
  if (auto st = check_name(n); !st) return st;
  bool exists = false;
  auto st = core_.write_sync([&](Db& db) {
    exists = false;
    if (std::int64_t id = mailbox_id(db, user_id, n)) {
      // A \Noselect parent left by a delete becomes a mailbox again.
      auto up = db.prepare("UPDATE mailboxes SET selectable = 1, special_use = ? WHERE id = ? AND selectable = 0");
      up.bind(1, special_use).bind(2, id).run();
      exists = db.changes() == 0;
      return;
    }
    // RFC 9051 6.3.4: the levels above it are created too.
    for (std::size_t at = n.find(kHierarchyDelimiter); at != std::string::npos;
         at = n.find(kHierarchyDelimiter, at + 1)) {
      std::string parent = n.substr(0, at);
      if (mailbox_id(db, user_id, parent)) continue;
      db.prepare("INSERT INTO mailboxes(user_id, name, uidvalidity) VALUES(?, ?, ?)")
          .bind(1, user_id).bind(2, parent).bind(3, next_uidvalidity(db, user_id)).run();
    }
    db.prepare("INSERT INTO mailboxes(user_id, name, uidvalidity, special_use) VALUES(?, ?, ?, ?)")
        .bind(1, user_id).bind(2, n).bind(3, next_uidvalidity(db, user_id)).bind(4, special_use).run();
  });
  if (st && exists) return make_error(Errc::exists, fmt::format("mailbox exists: {}", printable(n, 200)));
  return st;
}

Status SqliteMailboxes::delete_mailbox(std::int64_t user_id, const std::string& name) {
  std::string n = canonical_mailbox_name(name);
  if (n == kInbox) return make_error(Errc::denied, "INBOX cannot be deleted");
  Status outcome;
  std::vector<std::string> unlink;
  auto apply = [&](Db& db) {
    outcome = {};
    unlink.clear();  // a second run after a rollback starts afresh
    auto mb = db.prepare("SELECT id, selectable, highestmodseq FROM mailboxes WHERE user_id = ? AND name = ?");
    mb.bind(1, user_id).bind(2, n);
    if (!mb.step()) {
      outcome = no_such_mailbox(n);
      return;
    }
    const std::int64_t id = mb.i64(0);
    const bool selectable = mb.i64(1) != 0;
    const std::int64_t modseq = mb.i64(2);
    const bool parent = has_children(db, user_id, n);
    if (parent && !selectable) {
      // RFC 9051 6.3.5: a \Noselect name with children cannot be deleted.
      outcome = make_error(Errc::denied, fmt::format("{} has children and holds no messages", printable(n, 200)));
      return;
    }
    remove_messages(db, user_id, id, unlink);
    // A session that has it selected learns it went: past any MODSEQ it
    // knows, so it asks the store (and finds no mailbox).
    core_.note_change(id, modseq + 1);
    // RFC 5464 4.1, RFC 4314 3: its annotations and access list go with
    // it, even when its name stays as a \Noselect parent (deleting the row
    // takes them by trigger and foreign key).
    if (parent) {
      db.prepare("UPDATE mailboxes SET selectable = 0, special_use = '' WHERE id = ?").bind(1, id).run();
      db.prepare("DELETE FROM metadata WHERE mailbox_id = ?").bind(1, id).run();
      db.prepare("DELETE FROM acl WHERE mailbox_id = ?").bind(1, id).run();  // RFC 4314 3
    }
    else
      db.prepare("DELETE FROM mailboxes WHERE id = ?").bind(1, id).run();
  };
  // The files go on the writer thread, before its next batch could share them.
  auto st = core_.write_sync(apply, [&] { core_.remove_blobs(std::move(unlink)); });
  if (!st) return st;
  return outcome;
}

Status SqliteMailboxes::rename_mailbox(std::int64_t user_id, const std::string& from, const std::string& to) {
  std::string f = canonical_mailbox_name(from), t = canonical_mailbox_name(to);
  if (auto st = check_name(t); !st) return st;
  if (t == kInbox || t.rfind(std::string(kInbox) + kHierarchyDelimiter, 0) == 0)
    return make_error(Errc::denied, "nothing can be renamed into INBOX");
  if (t.rfind(f + kHierarchyDelimiter, 0) == 0)
    return make_error(Errc::invalid, fmt::format("{} cannot move below itself", printable(f, 200)));
  Status outcome;
  auto st = core_.write_sync([&](Db& db) {
    outcome = {};
    const std::int64_t id = mailbox_id(db, user_id, f);
    if (!id) {
      outcome = no_such_mailbox(f);
      return;
    }
    if (mailbox_id(db, user_id, t) || has_children(db, user_id, t)) {
      outcome = make_error(Errc::exists, fmt::format("mailbox exists: {}", printable(t, 200)));
      return;
    }
    if (f == kInbox) {
      // RFC 9051 6.3.6: INBOX's messages move to a new mailbox of that name,
      // INBOX stays, empty; its children are not renamed.
      db.prepare("INSERT INTO mailboxes(user_id, name, uidvalidity) VALUES(?, ?, ?)")
          .bind(1, user_id).bind(2, t).bind(3, next_uidvalidity(db, user_id)).run();
      const std::int64_t to_id = db.last_insert_rowid();
      // RFC 5464 4.1: the annotations are copied; INBOX keeps its own.
      db.prepare("INSERT INTO metadata(mailbox_id, owner, name, value) "
                 "SELECT ?, owner, name, value FROM metadata WHERE mailbox_id = ?")
          .bind(1, to_id).bind(2, id).run();
      // RFC 4314 3: the access list goes with the name, INBOX keeps its own.
      db.prepare("INSERT INTO acl(mailbox_id, identifier, rights) SELECT ?, identifier, rights FROM acl "
                 "WHERE mailbox_id = ?")
          .bind(1, to_id).bind(2, id).run();
      // Seen from INBOX they are expunged, with one MODSEQ (RFC 7162 3.2.10).
      auto modseq = db.prepare(
          "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?1 AND "
          "EXISTS (SELECT 1 FROM mailbox_messages WHERE mailbox_id = ?1) RETURNING highestmodseq");
      modseq.bind(1, id);
      if (modseq.step()) {
        const std::int64_t m = modseq.i64(0);
        while (modseq.step()) {}
        db.prepare("INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) "
                   "SELECT mailbox_id, uid, ? FROM mailbox_messages WHERE mailbox_id = ?")
            .bind(1, m).bind(2, id).run();
        core_.note_change(id, m);
      }
      db.prepare("UPDATE mailbox_messages SET mailbox_id = ? WHERE mailbox_id = ?").bind(1, to_id).bind(2, id).run();
      db.prepare("UPDATE mailboxes SET uidnext = (SELECT uidnext FROM mailboxes WHERE id = ?2), "
                 "highestmodseq = (SELECT highestmodseq FROM mailboxes WHERE id = ?2) WHERE id = ?1")
          .bind(1, to_id).bind(2, id).run();
      return;
    }
    // The mailbox and every level below it: "from/x" becomes "to/x".
    auto [low, high] = children_range(f);
    db.prepare("UPDATE mailboxes SET name = ?3 || substr(name, length(?4) + 1) "
               "WHERE user_id = ?1 AND (name = ?4 OR (name >= ?5 AND name < ?2))")
        .bind(1, user_id).bind(2, high).bind(3, t).bind(4, f).bind(5, low).run();
  });
  if (!st) return st;
  return outcome;
}

Status SqliteMailboxes::set_subscribed(std::int64_t user_id, const std::string& name, bool subscribed) {
  std::string n = canonical_mailbox_name(name);
  if (auto st = check_name(n); !st) return st;
  return core_.write_sync([&](Db& db) {
    if (subscribed)
      db.prepare("INSERT OR IGNORE INTO subscriptions(user_id, name) VALUES(?, ?)").bind(1, user_id).bind(2, n).run();
    else
      db.prepare("DELETE FROM subscriptions WHERE user_id = ? AND name = ?").bind(1, user_id).bind(2, n).run();
  });
}

Result<std::vector<std::string>> SqliteMailboxes::subscriptions(std::int64_t user_id) {
  return core_.read([&](Db& db) -> Result<std::vector<std::string>> {
    std::vector<std::string> out;
    auto st = db.prepare("SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name");
    st.bind(1, user_id);
    while (st.step()) out.push_back(st.text(0));
    return out;
  });
}

Result<std::vector<MailboxChange>> SqliteMailboxes::highest_modseqs(const std::vector<std::int64_t>& mailbox_ids) {
  return core_.read([&](Db& db) -> Result<std::vector<MailboxChange>> {
    std::vector<MailboxChange> out;
    for (auto id : mailbox_ids) {
      auto st = db.prepare("SELECT highestmodseq FROM mailboxes WHERE id = ?");
      st.bind(1, id);
      // Gone: past every MODSEQ a session may know, which it then asks for.
      out.push_back({id, st.step() ? st.i64(0) : std::numeric_limits<std::int64_t>::max()});
    }
    return out;
  });
}

// ---- POP3 ----------------------------------------------------------------

// The lock of one maildrop; gives it back when the session ends.
class SqliteMailboxes::Lock final : public MaildropLock {
 public:
  Lock(SqliteMailboxes& owner, std::int64_t user_id) : owner_(owner), user_id_(user_id) {}
  ~Lock() override {
    std::lock_guard lk(owner_.locks_mu_);
    owner_.locked_.erase(user_id_);
  }

 private:
  SqliteMailboxes& owner_;
  std::int64_t user_id_;
};

Result<std::unique_ptr<MaildropLock>> SqliteMailboxes::lock_maildrop(std::int64_t user_id) {
  std::lock_guard lk(locks_mu_);
  if (!locked_.insert(user_id).second) return std::unique_ptr<MaildropLock>();
  return std::unique_ptr<MaildropLock>(std::make_unique<Lock>(*this, user_id));
}

Result<Maildrop> SqliteMailboxes::maildrop(std::int64_t user_id) {
  return core_.read([&](Db& db) -> Result<Maildrop> {
    Maildrop out;
    ReadTransaction txn(db);  // the mailbox row and its messages from one snapshot
    auto mb = db.prepare("SELECT id, uidvalidity FROM mailboxes WHERE user_id = ? AND name = ?");
    mb.bind(1, user_id).bind(2, kInbox);
    if (!mb.step()) return make_error(Errc::not_found, fmt::format("user {} has no {}", user_id, kInbox));
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

Result<std::vector<AclEntry>> SqliteMailboxes::acl(std::int64_t mailbox_id) {
  return core_.read([&](Db& db) -> Result<std::vector<AclEntry>> {
    std::vector<AclEntry> out;
    auto st = db.prepare("SELECT identifier, rights FROM acl WHERE mailbox_id = ? ORDER BY identifier");
    st.bind(1, mailbox_id);
    while (st.step()) out.push_back({st.text(0), st.text(1)});
    return out;
  });
}

Status SqliteMailboxes::change_acl(std::int64_t mailbox_id, const std::string& identifier,
                                   const std::function<std::string(const std::string&)>& rights_after) {
  Status outcome;
  auto st = core_.write_sync([&](Db& db) {
    outcome = {};
    auto exists = db.prepare("SELECT 1 FROM mailboxes WHERE id = ?");
    exists.bind(1, mailbox_id);
    if (!exists.step()) {
      outcome = make_error(Errc::not_found, "no such mailbox");
      return;
    }
    auto old = db.prepare("SELECT rights FROM acl WHERE mailbox_id = ? AND identifier = ?");
    old.bind(1, mailbox_id).bind(2, identifier);
    const std::string rights = rights_after(old.step() ? old.text(0) : std::string());
    if (rights.empty())
      db.prepare("DELETE FROM acl WHERE mailbox_id = ? AND identifier = ?").bind(1, mailbox_id).bind(2, identifier).run();
    else
      db.prepare("INSERT OR REPLACE INTO acl(mailbox_id, identifier, rights) VALUES(?, ?, ?)")
          .bind(1, mailbox_id).bind(2, identifier).bind(3, rights).run();
  });
  if (!st) return st;
  return outcome;
}

Result<std::vector<SharedMailbox>> SqliteMailboxes::shared_with(std::int64_t user_id, const std::string& address) {
  return core_.read([&](Db& db) -> Result<std::vector<SharedMailbox>> {
    std::vector<SharedMailbox> out;
    auto st = db.prepare(kSharedWith);
    st.bind(1, user_id).bind(2, address);
    while (st.step()) out.push_back({st.i64(8), st.text(9), mailbox_from(st), st.text(10)});
    return out;
  });
}

}  // namespace herald::store

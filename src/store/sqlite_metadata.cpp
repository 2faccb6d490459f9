// store/sqlite_metadata.cpp - the annotations of RFC 5464 (IMAP METADATA)
// in SQLite's metadata table (schema 15): per mailbox, or on the server
// (mailbox 0); a /private entry under its user, a /shared one under the
// mailbox's owner (docs/ARCHITECTURE.md "IMAP").
#include <algorithm>

#include <fmt/format.h>

#include "base/text.h"
#include "store/sqlite_store.h"

namespace herald::store {
namespace {

// Where - the rows a user's view of a mailbox's annotations lives in.
struct Where {
  std::int64_t mailbox_id = 0;     // 0: the server
  std::int64_t shared_owner = 0;   // the mailbox's owner; 0 for the server
  std::int64_t private_owner = 0;  // the user
  std::int64_t owner_of(const std::string& name) const {
    return name.starts_with("/private") ? private_owner : shared_owner;
  }
};

// where - "" is the server; any mailbox of owner's, \Noselect ones too
// (RFC 5464 4.1), as reader sees it (reader 0: the owner).
std::optional<Where> where(Db& db, std::int64_t owner_id, const std::string& mailbox, std::int64_t reader_id) {
  const std::int64_t reader = reader_id ? reader_id : owner_id;
  if (mailbox.empty()) return Where{0, 0, reader};
  auto st = db.prepare("SELECT id FROM mailboxes WHERE user_id = ? AND name = ?");
  st.bind(1, owner_id).bind(2, canonical_mailbox_name(mailbox));
  if (!st.step()) return std::nullopt;
  return Where{st.i64(0), owner_id, reader};
}

Error no_such_mailbox(const std::string& name) {
  return make_error(Errc::not_found, fmt::format("no such mailbox: {}", printable(name, 200)));
}

}  // namespace

Result<std::vector<MetadataEntry>> SqliteMailboxes::metadata(std::int64_t user_id, const std::string& mailbox,
                                                             const std::vector<std::string>& names,
                                                             std::int64_t reader_id) {
  return core_.read([&](Db& db) -> Result<std::vector<MetadataEntry>> {
    ReadTransaction txn(db);
    auto at = where(db, user_id, mailbox, reader_id);
    if (!at) return no_such_mailbox(mailbox);
    std::vector<MetadataEntry> out;
    for (const auto& name : names) {
      // The entry and those below it: from "name/" up to "name0" ('0'
      // follows '/'), as the mailbox hierarchy is read.
      auto st = db.prepare(
          "SELECT name, value FROM metadata WHERE mailbox_id = ?1 AND owner = ?2 AND "
          "(name = ?3 OR (name >= ?3 || '/' AND name < ?3 || '0'))");
      st.bind(1, at->mailbox_id).bind(2, at->owner_of(name)).bind(3, name);
      while (st.step()) out.push_back({st.text(0), st.text(1)});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  });
}

Status SqliteMailboxes::set_metadata(std::int64_t user_id, const std::string& mailbox,
                                     const std::vector<MetadataChange>& entries, std::uint32_t max_entries,
                                     std::int64_t reader_id) {
  Status outcome;
  auto st = core_.write_sync([&](Db& db) {
    outcome = {};  // a second run after a rollback starts afresh
    auto at = where(db, user_id, mailbox, reader_id);
    if (!at) {
      outcome = no_such_mailbox(mailbox);
      return;
    }
    // RFC 5464 4.3: past the limit nothing is set. Only a new entry counts.
    std::vector<std::pair<std::int64_t, std::int64_t>> added;  // owner, entries added
    for (const auto& [name, value] : entries) {
      if (!value) continue;
      const std::int64_t owner = at->owner_of(name);
      auto exists = db.prepare("SELECT 1 FROM metadata WHERE mailbox_id = ? AND owner = ? AND name = ?");
      exists.bind(1, at->mailbox_id).bind(2, owner).bind(3, name);
      if (exists.step()) continue;
      auto it = std::find_if(added.begin(), added.end(), [&](const auto& p) { return p.first == owner; });
      if (it == added.end()) added.emplace_back(owner, 1);
      else ++it->second;
    }
    for (const auto& [owner, count] : added) {
      auto held = db.prepare("SELECT count(*) FROM metadata WHERE owner = ?");
      held.bind(1, owner);
      held.step();
      if (held.i64(0) + count > static_cast<std::int64_t>(max_entries)) {
        outcome = make_error(Errc::quota, fmt::format("more than {} metadata entries", max_entries));
        return;
      }
    }
    for (const auto& [name, value] : entries) {
      if (value)
        db.prepare("INSERT OR REPLACE INTO metadata(mailbox_id, owner, name, value) VALUES(?, ?, ?, ?)")
            .bind(1, at->mailbox_id).bind(2, at->owner_of(name)).bind(3, name).bind_blob(4, *value).run();
      else
        db.prepare("DELETE FROM metadata WHERE mailbox_id = ? AND owner = ? AND name = ?")
            .bind(1, at->mailbox_id).bind(2, at->owner_of(name)).bind(3, name).run();
    }
  });
  if (!st) return st;
  return outcome;
}

}  // namespace herald::store

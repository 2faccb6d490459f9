// store/sqlite_messages.cpp - the messages of a mailbox in SQLite: their
// listing by UID or MODSEQ, flags and keywords, reading (whole or a byte
// range), and expunge. Every change takes the mailbox's next MODSEQ inside
// its transaction (RFC 7162 3.1).
#include <algorithm>
#include <sstream>

#include <fmt/format.h>

#include "store/sqlite_store.h"

namespace herald::store {
namespace {

std::vector<std::string> split_keywords(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string k; in >> k;) out.push_back(k);
  return out;
}

std::string join_keywords(const std::vector<std::string>& keywords) {
  std::string out;
  for (const auto& k : keywords) {
    if (!out.empty()) out += ' ';
    out += k;
  }
  return out;
}

MessageRecord message_from(const Stmt& st) {
  MessageRecord r;
  r.uid = st.i64(0);
  r.size = static_cast<std::uint64_t>(st.i64(1));
  r.flags = static_cast<std::uint32_t>(st.i64(2));
  r.keywords = split_keywords(st.text(3));
  r.modseq = st.i64(4);
  r.internaldate = st.i64(5);
  return r;
}

// next_modseq - the mailbox's HIGHESTMODSEQ, moved on by one.
std::int64_t next_modseq(Db& db, std::int64_t mailbox_id) {
  auto st = db.prepare("UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq");
  st.bind(1, mailbox_id);
  if (!st.step()) throw SqliteError(SQLITE_CONSTRAINT, fmt::format("no mailbox {}", mailbox_id));
  std::int64_t modseq = st.i64(0);
  while (st.step()) {}
  return modseq;
}

// changed - flags and keywords after a STORE of this kind.
std::pair<std::uint32_t, std::vector<std::string>> changed(FlagChange change, std::uint32_t old_flags,
                                                           std::vector<std::string> old_keywords,
                                                           std::uint32_t flags,
                                                           const std::vector<std::string>& keywords) {
  switch (change) {
    case FlagChange::replace:
      return {flags, keywords};
    case FlagChange::add:
      for (const auto& k : keywords)
        if (std::find(old_keywords.begin(), old_keywords.end(), k) == old_keywords.end()) old_keywords.push_back(k);
      return {old_flags | flags, std::move(old_keywords)};
    case FlagChange::remove:
      std::erase_if(old_keywords, [&](const std::string& k) {
        return std::find(keywords.begin(), keywords.end(), k) != keywords.end();
      });
      return {old_flags & ~flags, std::move(old_keywords)};
  }
  return {old_flags, std::move(old_keywords)};
}

}  // namespace

Result<std::vector<MessageRecord>> SqliteMailboxes::messages(std::int64_t mailbox_id, std::int64_t changed_since) {
  return core_.read([&](Db& db) -> Result<std::vector<MessageRecord>> {
    std::vector<MessageRecord> out;
    auto st = db.prepare(
        "SELECT uid, size, flags, keywords, modseq, internaldate FROM mailbox_messages "
        "WHERE mailbox_id = ? AND modseq > ? ORDER BY uid");
    st.bind(1, mailbox_id).bind(2, changed_since);
    while (st.step()) out.push_back(message_from(st));
    return out;
  });
}

Result<std::vector<ExpungedRecord>> SqliteMailboxes::expunged_since(std::int64_t mailbox_id, std::int64_t modseq) {
  return core_.read([&](Db& db) -> Result<std::vector<ExpungedRecord>> {
    std::vector<ExpungedRecord> out;
    auto st = db.prepare("SELECT uid, modseq FROM expunged WHERE mailbox_id = ? AND modseq > ? ORDER BY uid");
    st.bind(1, mailbox_id).bind(2, modseq);
    while (st.step()) out.push_back({st.i64(0), st.i64(1)});
    return out;
  });
}

Result<std::optional<Mailboxes::Structure>> SqliteMailboxes::message_structure(std::int64_t mailbox_id,
                                                                               std::int64_t uid) {
  return core_.read([&](Db& db) -> Result<std::optional<Structure>> {
    auto st = db.prepare(
        "SELECT m.structure, length(CAST(mm.prefix AS BLOB)) FROM mailbox_messages mm JOIN messages m "
        "ON m.id = mm.message WHERE mm.mailbox_id = ? AND mm.uid = ?");
    st.bind(1, mailbox_id).bind(2, uid);
    if (!st.step()) return make_error(Errc::not_found, "no such message");
    if (st.is_null(0)) return std::optional<Structure>();
    return std::optional<Structure>(Structure{st.text(0), static_cast<std::uint64_t>(st.i64(1))});
  });
}

Result<std::string> SqliteMailboxes::read_message(std::int64_t mailbox_id, std::int64_t uid, ByteRange range) {
  auto whole = core_.read([&](Db& db) -> Result<std::string> {
    auto st = db.prepare(
        "SELECT mm.prefix, m.body, m.blob_sha, m.size FROM mailbox_messages mm JOIN messages m ON m.id = mm.message "
        "WHERE mm.mailbox_id = ? AND mm.uid = ?");
    st.bind(1, mailbox_id).bind(2, uid);
    if (!st.step()) return make_error(Errc::not_found, "no such message");
    std::string out = st.text(0);
    if (st.is_null(2)) {
      out += st.text(1);
      return out;
    }
    if (auto read = core_.blobs().append_to(st.text(2), static_cast<std::uint64_t>(st.i64(3)), out); !read)
      return read.error();
    return out;
  });
  // A range is cut from the whole message, which was read and checked whole:
  // messages are bounded by smtp.max_message_size.
  if (!whole || (range.offset == 0 && range.length >= whole->size())) return whole;
  if (range.offset >= whole->size()) return std::string();
  return whole->substr(range.offset, range.length);
}

void SqliteMailboxes::store_flags(std::int64_t mailbox_id, std::vector<std::int64_t> uids, FlagChange change,
                                  std::uint32_t flags, std::vector<std::string> keywords,
                                  std::function<void(Result<std::vector<MessageRecord>>)> done) {
  auto result = std::make_shared<std::vector<MessageRecord>>();
  auto apply = [=, uids = std::move(uids), keywords = std::move(keywords)](Db& db) {
    result->clear();  // a second run after a rollback starts afresh
    for (auto uid : uids) {
      auto st = db.prepare(
          "SELECT uid, size, flags, keywords, modseq, internaldate FROM mailbox_messages "
          "WHERE mailbox_id = ? AND uid = ?");
      st.bind(1, mailbox_id).bind(2, uid);
      if (!st.step()) continue;  // expunged meanwhile: nothing to change
      MessageRecord r = message_from(st);
      auto [new_flags, new_keywords] = changed(change, r.flags, r.keywords, flags, keywords);
      if (new_flags == r.flags && new_keywords == r.keywords) continue;  // RFC 7162 3.1.3: no change, no MODSEQ
      r.flags = new_flags;
      r.keywords = std::move(new_keywords);
      r.modseq = next_modseq(db, mailbox_id);
      std::string text = join_keywords(r.keywords);
      db.prepare("UPDATE mailbox_messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?")
          .bind(1, static_cast<std::int64_t>(r.flags)).bind(2, text).bind(3, r.modseq).bind(4, mailbox_id).bind(5, uid).run();
      result->push_back(std::move(r));
    }
  };
  core_.submit(nullptr, std::move(apply), [done = std::move(done), result](Status st) {
    if (st) done(std::move(*result));
    else done(st.error());
  });
}

void SqliteMailboxes::expunge(std::int64_t user_id, std::int64_t mailbox_id, std::vector<std::int64_t> uids,
                              std::function<void(Status)> done) {
  auto unlink = std::make_shared<std::vector<std::string>>();
  auto apply = [user_id, mailbox_id, uids = std::move(uids), unlink](Db& db) {
    unlink->clear();  // a second run after a rollback starts afresh
    std::int64_t freed = 0;
    // RFC 7162 3.2.10: one MODSEQ for the expunge, kept with each UID so
    // that a client can ask what vanished since it last looked.
    const std::int64_t modseq = next_modseq(db, mailbox_id);
    for (auto uid : uids) {
      auto st = db.prepare("DELETE FROM mailbox_messages WHERE mailbox_id = ? AND uid = ? RETURNING message, size");
      st.bind(1, mailbox_id).bind(2, uid);
      if (!st.step()) continue;
      std::int64_t message = st.i64(0);
      freed += st.i64(1);
      while (st.step()) {}
      db.prepare("INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES(?, ?, ?)")
          .bind(1, mailbox_id).bind(2, uid).bind(3, modseq).run();
      SqliteCore::collect_message(db, message, *unlink);
    }
    db.prepare("UPDATE users SET used_bytes = max(0, used_bytes - ?) WHERE id = ?").bind(1, freed).bind(2, user_id).run();
  };
  core_.submit(nullptr, std::move(apply), [this, done = std::move(done), unlink](Status st) {
    if (st) core_.remove_blobs(std::move(*unlink));
    done(st);
  });
}

void SqliteMailboxes::remove_messages(Db& db, std::int64_t user_id, std::int64_t mailbox_id,
                                      std::vector<std::string>& unlink) {
  std::vector<std::int64_t> messages;
  std::int64_t freed = 0;
  {
    auto st = db.prepare("DELETE FROM mailbox_messages WHERE mailbox_id = ? RETURNING message, size");
    st.bind(1, mailbox_id);
    while (st.step()) {
      messages.push_back(st.i64(0));
      freed += st.i64(1);
    }
  }
  for (auto m : messages) SqliteCore::collect_message(db, m, unlink);
  db.prepare("UPDATE users SET used_bytes = max(0, used_bytes - ?) WHERE id = ?").bind(1, freed).bind(2, user_id).run();
}

}  // namespace herald::store

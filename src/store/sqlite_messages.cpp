// store/sqlite_messages.cpp - the messages of a mailbox in SQLite: their
// listing by UID or MODSEQ, counts, flags and keywords, reading (whole or a
// byte range), append, copy and move, and expunge. Every change takes the
// mailbox's next MODSEQ inside its transaction (RFC 7162 3.1).
#include <algorithm>
#include <sstream>
#include <tuple>

#include <fmt/format.h>

#include "base/text.h"
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
  r.message = st.i64(6);
  r.savedate = st.i64(7);  // NULL (stored before schema 14) reads 0
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

// next_uid - the mailbox's UIDNEXT and its next MODSEQ, for a new message,
// counted in (schema 17).
std::pair<std::int64_t, std::int64_t> next_uid(Db& db, std::int64_t mailbox_id) {
  auto st = db.prepare(
      "UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1, messages = messages + 1 "
      "WHERE id = ? "
      "RETURNING uidnext - 1, highestmodseq");
  st.bind(1, mailbox_id);
  if (!st.step()) throw SqliteError(SQLITE_CONSTRAINT, fmt::format("no mailbox {}", mailbox_id));
  std::pair<std::int64_t, std::int64_t> out{st.i64(0), st.i64(1)};
  while (st.step()) {}
  return out;
}

// Target - a mailbox APPEND, COPY or MOVE puts messages into.
struct Target {
  std::int64_t id = 0, uidvalidity = 0;
};

// target_mailbox - the user's selectable mailbox of that (canonical) name.
std::optional<Target> target_mailbox(Db& db, std::int64_t user_id, const std::string& name) {
  auto st = db.prepare("SELECT id, uidvalidity FROM mailboxes WHERE user_id = ? AND name = ? AND selectable = 1");
  st.bind(1, user_id).bind(2, name);
  if (!st.step()) return std::nullopt;
  return Target{st.i64(0), st.i64(1)};
}

Error no_such_mailbox(const std::string& name) {
  return make_error(Errc::not_found, fmt::format("no such mailbox: {}", printable(name, 200)));
}

// over_quota - whether size more octets would pass the user's quota (0: none).
bool over_quota(Db& db, std::int64_t user_id, std::uint64_t size) {
  auto st = db.prepare("SELECT quota_bytes, used_bytes FROM users WHERE id = ?");
  st.bind(1, user_id);
  if (!st.step()) throw SqliteError(SQLITE_CONSTRAINT, fmt::format("no user {}", user_id));
  const auto quota = static_cast<std::uint64_t>(st.i64(0)), used = static_cast<std::uint64_t>(st.i64(1));
  return quota > 0 && used + size > quota;
}

Error quota_error(std::uint64_t size) {
  return make_error(Errc::quota, fmt::format("{} more octets would exceed the quota", size));
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
        "SELECT uid, size, flags, keywords, modseq, internaldate, message, savedate FROM mailbox_messages "
        "WHERE mailbox_id = ? AND modseq > ? ORDER BY uid");
    st.bind(1, mailbox_id).bind(2, changed_since);
    while (st.step()) out.push_back(message_from(st));
    return out;
  });
}

Result<Mailboxes::Changes> SqliteMailboxes::changes_since(std::int64_t mailbox_id, std::int64_t modseq) {
  return read_changes(mailbox_id, modseq, true);
}

Result<Mailboxes::Changes> SqliteMailboxes::listing(std::int64_t mailbox_id) {
  return read_changes(mailbox_id, 0, false);
}

Result<Mailboxes::Changes> SqliteMailboxes::read_changes(std::int64_t mailbox_id, std::int64_t modseq,
                                                         bool expunged) {
  return core_.read([&](Db& db) -> Result<Changes> {
    Changes out;
    ReadTransaction txn(db);  // the reads from one snapshot
    auto mb = db.prepare("SELECT highestmodseq FROM mailboxes WHERE id = ?");
    mb.bind(1, mailbox_id);
    if (!mb.step()) return make_error(Errc::not_found, "no such mailbox");
    out.highestmodseq = mb.i64(0);
    // What changed reads the MODSEQ indexes (schema 13): the planner,
    // without statistics, would take the primary key for the ORDER BY and
    // read the whole mailbox. The whole listing reads the primary key.
    auto st = db.prepare(expunged ? "SELECT uid, size, flags, keywords, modseq, internaldate, message, savedate "
                                    "FROM mailbox_messages INDEXED BY mailbox_messages_modseq "
                                    "WHERE mailbox_id = ? AND modseq > ? ORDER BY uid"
                                  : "SELECT uid, size, flags, keywords, modseq, internaldate, message, savedate "
                                    "FROM mailbox_messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid");
    st.bind(1, mailbox_id).bind(2, modseq);
    while (st.step()) out.messages.push_back(message_from(st));
    if (!expunged) return out;
    auto ex = db.prepare(
        "SELECT uid, modseq FROM expunged INDEXED BY expunged_modseq WHERE mailbox_id = ? AND modseq > ? ORDER BY uid");
    ex.bind(1, mailbox_id).bind(2, modseq);
    while (ex.step()) out.expunged.push_back({ex.i64(0), ex.i64(1)});
    return out;
  });
}

Result<std::vector<ExpungedRecord>> SqliteMailboxes::expunged_since(std::int64_t mailbox_id, std::int64_t modseq) {
  return core_.read([&](Db& db) -> Result<std::vector<ExpungedRecord>> {
    std::vector<ExpungedRecord> out;
    auto st = db.prepare(
        "SELECT uid, modseq FROM expunged INDEXED BY expunged_modseq WHERE mailbox_id = ? AND modseq > ? ORDER BY uid");
    st.bind(1, mailbox_id).bind(2, modseq);
    while (st.step()) out.push_back({st.i64(0), st.i64(1)});
    return out;
  });
}

Result<std::optional<Mailboxes::Structure>> SqliteMailboxes::message_structure(std::int64_t mailbox_id,
                                                                               std::int64_t uid) {
  auto found = message_structures(mailbox_id, {uid});
  if (!found) return found.error();
  if (!found->at(0).found) return make_error(Errc::not_found, "no such message");
  return std::move(found->at(0).structure);
}

Result<std::vector<Mailboxes::FoundStructure>> SqliteMailboxes::message_structures(
    std::int64_t mailbox_id, const std::vector<std::int64_t>& uids, std::uint64_t max_octets) {
  return core_.read([&](Db& db) -> Result<std::vector<FoundStructure>> {
    std::vector<FoundStructure> out;
    out.reserve(uids.size());
    std::uint64_t octets = 0;
    ReadTransaction txn(db);  // one snapshot, not one per message
    for (std::size_t i = 0; i < uids.size() && (max_octets == 0 || octets < max_octets); ++i) {
      auto& found = out.emplace_back();
      auto st = db.prepare(
          "SELECT s.structure, length(CAST(mm.prefix AS BLOB)) FROM mailbox_messages mm "
          "LEFT JOIN message_structures s ON s.message = mm.message WHERE mm.mailbox_id = ? AND mm.uid = ?");
      st.bind(1, mailbox_id).bind(2, uids[i]);
      if (!st.step()) continue;
      found.found = true;
      if (st.is_null(0)) continue;
      found.structure = Structure{st.text(0), static_cast<std::uint64_t>(st.i64(1))};
      octets += found.structure->encoded.size();
    }
    return out;
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

void SqliteMailboxes::store_flags(std::int64_t mailbox_id, std::vector<std::int64_t> uids, FlagUpdate update,
                                  std::function<void(Result<FlagsStored>)> done) {
  auto result = std::make_shared<FlagsStored>();
  auto apply = [=, this, uids = std::move(uids), update = std::move(update)](Db& db) {
    *result = {};  // a second run after a rollback starts afresh
    for (auto uid : uids) {
      auto st = db.prepare(
          "SELECT uid, size, flags, keywords, modseq, internaldate, message, savedate FROM mailbox_messages "
          "WHERE mailbox_id = ? AND uid = ?");
      st.bind(1, mailbox_id).bind(2, uid);
      if (!st.step()) continue;  // expunged meanwhile: nothing to change
      MessageRecord r = message_from(st);
      if (update.unchanged_since && r.modseq > *update.unchanged_since) {
        result->modified.push_back(uid);  // RFC 7162 3.1.3: changed since the client looked
        continue;
      }
      auto [new_flags, new_keywords] = changed(update.change, r.flags, r.keywords, update.flags, update.keywords);
      if (new_flags == r.flags && new_keywords == r.keywords) continue;  // RFC 7162 3.1.3: no change, no MODSEQ
      r.flags = new_flags;
      r.keywords = std::move(new_keywords);
      r.modseq = next_modseq(db, mailbox_id);
      std::string text = join_keywords(r.keywords);
      db.prepare("UPDATE mailbox_messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?")
          .bind(1, static_cast<std::int64_t>(r.flags)).bind(2, text).bind(3, r.modseq).bind(4, mailbox_id).bind(5, uid).run();
      core_.note_change(mailbox_id, r.modseq);
      result->changed.push_back(std::move(r));
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
  auto apply = [this, user_id, mailbox_id, uids = std::move(uids), unlink](Db& db) {
    unlink->clear();  // a second run after a rollback starts afresh
    expunge_uids(db, user_id, mailbox_id, uids, *unlink);
  };
  core_.submit(nullptr, std::move(apply), [this, done = std::move(done), unlink](Status st) {
    if (st) core_.remove_blobs(std::move(*unlink));
    done(st);
  });
}

void SqliteMailboxes::expunge_deleted(std::int64_t user_id, std::int64_t mailbox_id,
                                      std::optional<std::vector<std::int64_t>> uids,
                                      std::function<void(Result<std::vector<std::int64_t>>)> done) {
  if (uids) std::sort(uids->begin(), uids->end());
  auto removed = std::make_shared<std::vector<std::int64_t>>();
  auto unlink = std::make_shared<std::vector<std::string>>();
  auto apply = [this, user_id, mailbox_id, uids = std::move(uids), removed, unlink](Db& db) {
    unlink->clear();  // a second run after a rollback starts afresh
    std::vector<std::int64_t> deleted;
    auto st = db.prepare("SELECT uid FROM mailbox_messages WHERE mailbox_id = ? AND (flags & ?) != 0 ORDER BY uid");
    st.bind(1, mailbox_id).bind(2, static_cast<std::int64_t>(kDeleted));
    while (st.step())
      if (std::int64_t uid = st.i64(0); !uids || std::binary_search(uids->begin(), uids->end(), uid))
        deleted.push_back(uid);
    *removed = expunge_uids(db, user_id, mailbox_id, deleted, *unlink);
  };
  core_.submit(nullptr, std::move(apply), [this, done = std::move(done), removed, unlink](Status st) {
    if (st) core_.remove_blobs(std::move(*unlink));
    if (st) done(std::move(*removed));
    else done(st.error());
  });
}

std::vector<std::int64_t> SqliteMailboxes::expunge_uids(Db& db, std::int64_t user_id, std::int64_t mailbox_id,
                                                        const std::vector<std::int64_t>& uids,
                                                        std::vector<std::string>& unlink) {
  std::vector<std::int64_t> removed;
  std::int64_t freed = 0, modseq = 0;
  for (auto uid : uids) {
    auto st = db.prepare("DELETE FROM mailbox_messages WHERE mailbox_id = ? AND uid = ? RETURNING message, size");
    st.bind(1, mailbox_id).bind(2, uid);
    if (!st.step()) continue;
    std::int64_t message = st.i64(0);
    freed += st.i64(1);
    while (st.step()) {}
    // RFC 7162 3.2.10: one MODSEQ for the expunge, kept with each UID so
    // that a client can ask what vanished since it last looked; none when
    // nothing went (RFC 7162 3.1: no change, no MODSEQ).
    if (modseq == 0) modseq = next_modseq(db, mailbox_id);
    db.prepare("INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES(?, ?, ?)")
        .bind(1, mailbox_id).bind(2, uid).bind(3, modseq).run();
    SqliteCore::collect_message(db, message, unlink);
    removed.push_back(uid);
  }
  if (removed.empty()) return removed;
  db.prepare("UPDATE users SET used_bytes = max(0, used_bytes - ?) WHERE id = ?").bind(1, freed).bind(2, user_id).run();
  core_.note_change(mailbox_id, modseq);
  return removed;
}

void SqliteMailboxes::append_messages(std::int64_t user_id, const std::string& mailbox,
                                      std::vector<AppendMessage> messages, std::function<void(Result<Appended>)> done) {
  struct One {
    AppendMessage m;
    std::string packed;  // the indexed text, deflated off the writer
    bool eight_bit = false;
  };
  const std::string name = canonical_mailbox_name(mailbox);
  const std::int64_t now = now_s();
  auto all = std::make_shared<std::vector<One>>();
  all->reserve(messages.size());
  std::uint64_t total = 0;
  for (auto& m : messages) {
    if (m.internaldate == 0) m.internaldate = now;
    total += m.body.size();
    std::string packed = SqliteCore::pack_text(m.text);
    const bool eight_bit = std::any_of(m.body.begin(), m.body.end(), [](char c) { return (c & 0x80) != 0; });
    all->push_back({std::move(m), std::move(packed), eight_bit});
  }
  auto shas = std::make_shared<std::vector<std::string>>(all->size());
  auto outcome = std::make_shared<Result<Appended>>(Appended{});
  auto apply = [this, user_id, name, all, shas, total, outcome](Db& db) {
    *outcome = Appended{};  // a second run after a rollback starts afresh
    auto target = target_mailbox(db, user_id, name);
    if (!target) {
      *outcome = no_such_mailbox(name);
      return;
    }
    // RFC 3502 6: all of them or none, the quota too.
    if (over_quota(db, user_id, total)) {
      *outcome = quota_error(total);
      return;
    }
    Appended appended{target->id, target->uidvalidity, 0, 0};
    std::int64_t modseq = 0;
    const std::int64_t saved = now_s();
    for (std::size_t i = 0; i < all->size(); ++i) {
      const One& one = (*all)[i];
      const AppendMessage& m = one.m;
      const std::uint64_t size = m.body.size();
      // Not from the queue: no queue id, no envelope.
      const std::int64_t id = SqliteCore::insert_message(
          db, {"", "", "", "", size, saved, m.body, one.eight_bit, "", "", m.structure}, (*shas)[i]);
      SqliteCore::index_text(db, id, m.text, one.packed);
      std::int64_t uid = 0;
      std::tie(uid, modseq) = next_uid(db, target->id);
      db.prepare("INSERT INTO mailbox_messages(mailbox_id, uid, message, prefix, size, flags, keywords, modseq, "
                 "internaldate, savedate) VALUES(?, ?, ?, '', ?, ?, ?, ?, ?, ?)")
          .bind(1, target->id).bind(2, uid).bind(3, id).bind(4, size).bind(5, static_cast<std::int64_t>(m.flags))
          .bind(6, join_keywords(m.keywords)).bind(7, modseq).bind(8, m.internaldate).bind(9, saved).run();
      if (i == 0) appended.uid = uid;
      ++appended.count;
    }
    db.prepare("UPDATE users SET used_bytes = used_bytes + ? WHERE id = ?").bind(1, total).bind(2, user_id).run();
    if (modseq) core_.note_change(target->id, modseq);
    *outcome = appended;
  };
  // The bodies kept in files are written before the transaction, each.
  std::vector<std::function<void()>> prepares;
  for (std::size_t i = 0; i < all->size(); ++i) {
    auto body = std::shared_ptr<const std::string>(all, &(*all)[i].m.body);
    auto sha = std::shared_ptr<std::string>(shas, &(*shas)[i]);
    if (auto p = core_.prepare_body(std::move(body), std::move(sha))) prepares.push_back(std::move(p));
  }
  std::function<void()> prepare;
  if (!prepares.empty())
    prepare = [prepares = std::move(prepares)] {
      for (const auto& p : prepares) p();
    };
  core_.submit(std::move(prepare), std::move(apply), [this, done = std::move(done), shas, outcome](Status st) {
    // Body files written for messages refused: no row references them.
    if (!st || !*outcome) {
      std::vector<std::string> unused;
      for (const auto& sha : *shas)
        if (!sha.empty()) unused.push_back(sha);
      std::sort(unused.begin(), unused.end());
      unused.erase(std::unique(unused.begin(), unused.end()), unused.end());
      if (!unused.empty()) core_.remove_blobs(std::move(unused));
    }
    if (st) done(std::move(*outcome));
    else done(st.error());
  });
}

void SqliteMailboxes::copy_messages(std::int64_t from_owner_id, std::int64_t from_mailbox_id,
                                    std::vector<std::int64_t> uids, std::int64_t to_owner_id,
                                    const std::string& to_mailbox, bool move,
                                    std::function<void(Result<Copied>)> done) {
  const std::string name = canonical_mailbox_name(to_mailbox);
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  auto outcome = std::make_shared<Result<Copied>>(Copied{});
  auto unlink = std::make_shared<std::vector<std::string>>();
  auto apply = [this, from_owner_id, from_mailbox_id, uids = std::move(uids), to_owner_id, name, move, outcome,
                unlink](Db& db) {
    *outcome = Copied{};  // a second run after a rollback starts afresh
    unlink->clear();
    auto target = target_mailbox(db, to_owner_id, name);
    if (!target) {
      *outcome = no_such_mailbox(name);
      return;
    }
    struct Source {
      std::int64_t uid, message;
      std::string prefix;
      std::int64_t size, flags;
      std::string keywords;
      std::int64_t internaldate;
    };
    std::vector<Source> sources;
    std::uint64_t total = 0;
    for (auto uid : uids) {
      // The source must be from_owner's: a move frees their space.
      auto st = db.prepare(
          "SELECT mm.message, mm.prefix, mm.size, mm.flags, mm.keywords, mm.internaldate FROM mailbox_messages mm "
          "JOIN mailboxes mb ON mb.id = mm.mailbox_id WHERE mm.mailbox_id = ? AND mm.uid = ? AND mb.user_id = ?");
      st.bind(1, from_mailbox_id).bind(2, uid).bind(3, from_owner_id);
      if (!st.step()) continue;  // expunged meanwhile: nothing to copy (RFC 9051 6.4.7)
      sources.push_back({uid, st.i64(0), st.text(1), st.i64(2), st.i64(3), st.text(4), st.i64(5)});
      total += static_cast<std::uint64_t>(st.i64(2));
    }
    // A move within one user's mailboxes adds what it removes: only a copy,
    // or a move to another user's, can pass the quota.
    if ((!move || from_owner_id != to_owner_id) && over_quota(db, to_owner_id, total)) {
      *outcome = quota_error(total);
      return;
    }
    Copied copied{target->id, target->uidvalidity, {}, {}};
    std::int64_t modseq = 0;
    const std::int64_t now = now_s();
    for (const auto& s : sources) {
      std::int64_t uid = 0;
      std::tie(uid, modseq) = next_uid(db, target->id);
      // RFC 8514 3: a copy, and a moved message, is saved now.
      db.prepare("INSERT INTO mailbox_messages(mailbox_id, uid, message, prefix, size, flags, keywords, modseq, "
                 "internaldate, savedate) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
          .bind(1, target->id).bind(2, uid).bind(3, s.message).bind(4, s.prefix).bind(5, s.size).bind(6, s.flags)
          .bind(7, s.keywords).bind(8, modseq).bind(9, s.internaldate).bind(10, now).run();
      copied.from.push_back(s.uid);
      copied.to.push_back(uid);
    }
    if (sources.empty()) {
      *outcome = std::move(copied);
      return;
    }
    db.prepare("UPDATE users SET used_bytes = used_bytes + ? WHERE id = ?").bind(1, total).bind(2, to_owner_id).run();
    core_.note_change(target->id, modseq);
    // RFC 6851 3.3: the source messages go as EXPUNGE removes them.
    if (move) expunge_uids(db, from_owner_id, from_mailbox_id, copied.from, *unlink);
    *outcome = std::move(copied);
  };
  core_.submit(nullptr, std::move(apply), [this, done = std::move(done), outcome, unlink](Status st) {
    if (st) core_.remove_blobs(std::move(*unlink));
    if (st) done(std::move(*outcome));
    else done(st.error());
  });
}

Result<MailboxCounts> SqliteMailboxes::mailbox_counts(std::int64_t mailbox_id) {
  return core_.read([&](Db& db) -> Result<MailboxCounts> {
    auto st = db.prepare(
        "SELECT count(mm.uid), coalesce(sum((mm.flags & ?1) = 0), 0), coalesce(sum((mm.flags & ?2) != 0), 0), "
        "coalesce(sum(mm.size), 0) FROM mailboxes mb LEFT JOIN mailbox_messages mm ON mm.mailbox_id = mb.id "
        "WHERE mb.id = ?3 GROUP BY mb.id");
    st.bind(1, static_cast<std::int64_t>(kSeen)).bind(2, static_cast<std::int64_t>(kDeleted)).bind(3, mailbox_id);
    if (!st.step()) return make_error(Errc::not_found, fmt::format("no mailbox {}", mailbox_id));
    return MailboxCounts{static_cast<std::uint64_t>(st.i64(0)), static_cast<std::uint64_t>(st.i64(1)),
                         static_cast<std::uint64_t>(st.i64(2)), static_cast<std::uint64_t>(st.i64(3))};
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

// store/sqlite_mailboxes.cpp - mailboxes and the messages in them, in
// SQLite; bodies inline or in the blob store.
#include <fmt/format.h>

#include "store/sqlite_store.h"

namespace herald::store {

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

Result<std::string> SqliteMailboxes::read_message(std::int64_t mailbox_id, std::int64_t uid) {
  return core_.read([&](Db& db) -> Result<std::string> {
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
}

void SqliteMailboxes::expunge(std::int64_t user_id, std::int64_t mailbox_id, std::vector<std::int64_t> uids,
                              std::function<void(Status)> done) {
  auto unlink = std::make_shared<std::vector<std::string>>();
  auto apply = [user_id, mailbox_id, uids = std::move(uids), unlink](Db& db) {
    unlink->clear();  // a second run after a rollback starts afresh
    std::int64_t freed = 0;
    // RFC 7162 3.1.8 (CONDSTORE): an expunge is a change of the mailbox, so
    // its HIGHESTMODSEQ moves on.
    db.prepare("UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ?").bind(1, mailbox_id).run();
    for (auto uid : uids) {
      auto st = db.prepare("DELETE FROM mailbox_messages WHERE mailbox_id = ? AND uid = ? RETURNING message, size");
      st.bind(1, mailbox_id).bind(2, uid);
      if (!st.step()) continue;
      std::int64_t message = st.i64(0);
      freed += st.i64(1);
      while (st.step()) {}
      SqliteCore::collect_message(db, message, *unlink);
    }
    db.prepare("UPDATE users SET used_bytes = max(0, used_bytes - ?) WHERE id = ?").bind(1, freed).bind(2, user_id).run();
  };
  core_.submit(nullptr, std::move(apply), [this, done = std::move(done), unlink](Status st) {
    if (st) core_.remove_blobs(std::move(*unlink));
    done(st);
  });
}

}  // namespace herald::store

// store/sqlite_journal.cpp - the journal in SQLite: appends ride on the
// next group commit; queries read an index or a key range (journal_sql.h).
#include <algorithm>

#include <fmt/format.h>

#include "base/log.h"
#include "base/text.h"
#include "store/journal_sql.h"
#include "store/sqlite_store.h"

namespace herald::store {

void SqliteJournal::append(JournalEntry e) {
  const auto& skip = core_.options().journal_skip;
  if (std::find(skip.begin(), skip.end(), e.event) != skip.end()) return;
  if (e.time_ms == 0) e.time_ms = now_ms();
  auto entry = std::make_shared<JournalEntry>(std::move(e));
  core_.submit(
      nullptr, [this, entry](Db& db) { core_.insert_journal(db, *entry); },
      [this, entry](Status st) {
        if (st) return;
        // Nobody waits for an append: the failure is counted and logged
        // (the log line carries what the journal lost).
        auto n = ++failed_;
        log::get("master")->error("error: journal write failed ({} so far): {}: {} {}", n, st.error().message,
                                  to_string(entry->event), printable(entry->recipient, 200));
      });
}

namespace {

// QueryParams - a query's filters bound to a statement; the lower-cased
// address is bound without a copy, so it lives as long as the statement runs.
struct QueryParams {
  explicit QueryParams(const JournalQuery& q) : q(q), address(to_lower(q.address)) {}
  void bind(Stmt& st) const {
    if (q.since_ms > 0) st.bind(1, journal_key(q.since_ms)).bind(6, q.since_ms);
    if (!q.queue_id.empty()) st.bind(2, q.queue_id);
    if (!q.message_id.empty()) st.bind(3, q.message_id);
    if (!address.empty()) st.bind(4, address);
    st.bind(5, static_cast<std::int64_t>(q.limit));
    if (q.accounting()) st.bind(8, q.door).bind(9, q.identity).bind(10, q.subject).bind(11, q.attachment);
    if (q.event) st.bind(12, to_string(*q.event));
  }
  const JournalQuery& q;
  std::string address;
};

Result<JournalEntry> entry_from(const Stmt& st) {
  JournalEntry e;
  e.time_ms = st.i64(0);
  std::string event = st.text(1);
  auto parsed = parse_journal_event(event);
  if (!parsed) return make_error(Errc::internal, fmt::format("journal row with unknown event '{}'", event));
  e.event = *parsed;
  e.queue_id = st.text(2);
  e.message_id = st.text(3);
  e.sender = st.text(4);
  e.recipient = st.text(5);
  e.client = st.text(6);
  e.size = static_cast<std::uint64_t>(st.i64(7));
  e.reply = st.text(8);
  e.detail = st.text(9);
  e.key = st.i64(10);
  e.door = st.text(11);
  e.identity = st.text(12);
  e.subject = st.text(13);
  e.recipients = st.text(14);
  e.attachments = static_cast<std::uint32_t>(st.i64(15));
  std::string names = st.text(16);
  if (!names.empty())
    for (auto n : split(names, '\n')) e.attachment_names.emplace_back(n);
  return e;
}

}  // namespace

Result<std::vector<JournalEntry>> SqliteJournal::query(const JournalQuery& q) {
  return core_.read([&](Db& db) -> Result<std::vector<JournalEntry>> {
    std::vector<JournalEntry> out;
    QueryParams params(q);
    auto st = db.prepare(journal_select_sql(q, q.after ? JournalRead::forward : JournalRead::newest));
    params.bind(st);
    if (q.after) st.bind(7, *q.after);
    while (st.step()) {
      auto e = entry_from(st);
      if (!e) return e.error();
      out.push_back(std::move(*e));
    }
    if (!q.after) std::reverse(out.begin(), out.end());
    return out;
  });
}

// prune - the oldest rows by key: a key below journal_key(before_ms) has a
// time below before_ms (kJournalInsert never gives a key under the time).
Result<std::size_t> SqliteJournal::prune(std::int64_t before_ms, std::size_t limit) {
  std::size_t removed = 0;
  Status st = core_.write_sync([&](Db& db) {
    db.prepare("DELETE FROM journal WHERE id IN (SELECT id FROM journal WHERE id < ?1 ORDER BY id LIMIT ?2)")
        .bind(1, journal_key(before_ms))
        .bind(2, static_cast<std::int64_t>(limit))
        .run();
    removed = static_cast<std::size_t>(db.changes());
  });
  if (!st) return st.error();
  return removed;
}

Result<std::int64_t> SqliteJournal::newest_start(const JournalQuery& q) {
  return core_.read([&](Db& db) -> Result<std::int64_t> {
    QueryParams params(q);
    auto st = db.prepare(journal_select_sql(q, JournalRead::newest_start));
    params.bind(st);
    return st.step() ? st.i64(0) : std::int64_t{0};
  });
}

}  // namespace herald::store

// store/journal_sql.h - the journal's key and the SQL of its queries
// (schema v3), kept apart so that tests can ask SQLite for their plans.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "store/store.h"

namespace herald::store {

// The journal's rowid orders rows by time: (time_ms << 16) + a sequence. A
// time bound is a key bound, so `--since` reads a key range, no index.
inline constexpr int kJournalSeqBits = 16;
static_assert(kJournalSeqBits == 16, "kJournalInsert and migration 3 write the shift as << 16");
inline std::int64_t journal_key(std::int64_t time_ms) { return time_ms * (std::int64_t{1} << kJournalSeqBits); }

// The insert takes the larger of "after the newest row" and the event's own
// time, so keys stay unique and ascending even when two processes write or
// the clock steps back. Parameters: ?1 time_ms, ?2..?10 the other columns,
// ?11 the key after the newest row (kJournalNextKey, read once per write
// transaction: no other process can add a row while it holds the lock).
inline constexpr const char* kJournalInsert =
    "INSERT INTO journal(id, time_ms, event, queue_id, message_id, sender, recipient, client, size, reply, "
    "detail) VALUES(max(?11, ?1 << 16), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
inline constexpr const char* kJournalNextKey = "SELECT coalesce(max(id), 0) + 1 FROM journal";

// journal_select_sql - the newest `limit` rows matching the query's filters.
// Parameters: ?1 key bound, ?2 queue id, ?3 Message-ID, ?4 address, ?5 limit,
// ?6 the time bound itself (a row committed late with an older time_ms has a
// key above the bound: the key range narrows, time_ms decides).
// Each filter is written so that one of the partial indexes of schema v3
// serves it (their WHERE clauses are repeated literally: SQLite uses a partial
// index only when the query implies its condition). A Message-ID or a sender
// is indexed on the received row only; the other rows of those messages are
// found through their queue id, which every row of a message carries.
// The text is one of 16 built once, so Db's statement cache can key on it.
inline const char* journal_select_sql(const JournalQuery& q) {
  static const auto texts = [] {
    std::array<std::string, 16> t;
    for (unsigned f = 0; f < t.size(); ++f) {
      std::string& sql = t[f];
      sql = "SELECT time_ms, event, queue_id, message_id, sender, recipient, client, size, reply, detail "
            "FROM journal WHERE 1";
      if (f & 1) sql += " AND id >= ?1 AND time_ms >= ?6";
      if (f & 2) sql += " AND queue_id = ?2 AND queue_id != ''";
      if (f & 4)
        sql += " AND queue_id != '' AND queue_id IN "
               "(SELECT queue_id FROM journal WHERE event = 'received' AND message_id = ?3)";
      if (f & 8)
        sql += " AND ((recipient = ?4 AND recipient != '') OR (queue_id != '' AND queue_id IN "
               "(SELECT queue_id FROM journal WHERE event = 'received' AND sender = ?4)))";
      sql += " ORDER BY id DESC LIMIT ?5";
    }
    return t;
  }();
  unsigned f = (q.since_ms > 0 ? 1u : 0u) | (q.queue_id.empty() ? 0u : 2u) | (q.message_id.empty() ? 0u : 4u) |
               (q.address.empty() ? 0u : 8u);
  return texts[f].c_str();
}

}  // namespace herald::store

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
    "detail, door, identity, subject, recipients, attachments, attachment_names) "
    "VALUES(max(?11, ?1 << 16), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?13, ?14, ?15, ?16, ?17)";
inline constexpr const char* kJournalNextKey = "SELECT coalesce(max(id), 0) + 1 FROM journal";

// JournalRead - which rows of those matching a query a statement reads.
enum class JournalRead {
  newest,        // the newest ?5, newest first
  forward,       // the first ?5 with a key above ?7, oldest first
  newest_start,  // the key of the row just older than the newest ?5 (one row, or none)
};

// journal_select_sql - the rows matching the query's filters, as `read` says.
// Parameters: ?1 key bound, ?2 queue id, ?3 Message-ID, ?4 address, ?5 limit,
// ?6 the time bound itself (a row committed late with an older time_ms has a
// key above the bound: the key range narrows, time_ms decides), ?7 the key
// to read forward from; the accounting filters ?8 door, ?9 identity, ?10
// Subject, ?11 an attachment's name (received rows only: no index, they
// read the key range or the newest rows until enough match), ?12 the event.
// Each filter is written so that one of the partial indexes of schema v3
// serves it (their WHERE clauses are repeated literally: SQLite uses a partial
// index only when the query implies its condition). A Message-ID or a sender
// is indexed on the received row only; the other rows of those messages are
// found through their queue id, which every row of a message carries.
// The text is one of 192 built once, so Db's statement cache can key on it.
inline const char* journal_select_sql(const JournalQuery& q, JournalRead read = JournalRead::newest) {
  static const auto texts = [] {
    std::array<std::string, 192> t;
    for (unsigned i = 0; i < t.size(); ++i) {
      const unsigned f = i % 64;
      const auto r = static_cast<JournalRead>(i / 64);
      std::string& sql = t[i];
      sql = r == JournalRead::newest_start
                ? "SELECT id FROM journal WHERE 1"
                : "SELECT time_ms, event, queue_id, message_id, sender, recipient, client, size, reply, detail, id, "
                  "door, identity, subject, recipients, attachments, attachment_names FROM journal WHERE 1";
      if (f & 1) sql += " AND id >= ?1 AND time_ms >= ?6";
      if (f & 2) sql += " AND queue_id = ?2 AND queue_id != ''";
      if (f & 4)
        sql += " AND queue_id != '' AND queue_id IN "
               "(SELECT queue_id FROM journal WHERE event = 'received' AND message_id = ?3)";
      if (f & 8)
        sql += " AND ((recipient = ?4 AND recipient != '') OR (queue_id != '' AND queue_id IN "
               "(SELECT queue_id FROM journal WHERE event = 'received' AND sender = ?4)))";
      if (f & 16)
        sql += " AND event = 'received' AND (?8 = '' OR door = ?8) AND (?9 = '' OR instr(lower(identity), lower(?9)) > 0)"
               " AND (?10 = '' OR instr(lower(subject), lower(?10)) > 0)"
               " AND (?11 = '' OR instr(lower(attachment_names), lower(?11)) > 0)";
      if (f & 32) sql += " AND event = ?12";
      if (r == JournalRead::newest) sql += " ORDER BY id DESC LIMIT ?5";
      if (r == JournalRead::forward) sql += " AND id > ?7 ORDER BY id LIMIT ?5";
      if (r == JournalRead::newest_start) sql += " ORDER BY id DESC LIMIT 1 OFFSET ?5";
    }
    return t;
  }();
  unsigned f = (q.since_ms > 0 ? 1u : 0u) | (q.queue_id.empty() ? 0u : 2u) | (q.message_id.empty() ? 0u : 4u) |
               (q.address.empty() ? 0u : 8u) | (q.accounting() ? 16u : 0u) | (q.event ? 32u : 0u);
  return texts[static_cast<unsigned>(read) * 64 + f].c_str();
}

}  // namespace herald::store

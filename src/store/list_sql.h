// store/list_sql.h - the SQL of the paged lists (domains, users, aliases,
// queue rows), kept apart so that tests can ask SQLite for their plans.
//
// Every page is a range of one index read in that index's order: it starts
// at its first row (no sort of the whole table before the first one) and
// costs the rows it reads, however large the table. The texts are built
// once, so Db's statement cache can key on them.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "store/store.h"

namespace herald::store {

// prefix_end - the least string above every string that starts with prefix
// (octet order); nullopt when there is none (prefix all 0xff octets).
inline std::optional<std::string> prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::nullopt;
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

// KeyRange - where a page of keys starts and ends: one lower bound, so that
// SQLite ranges over the index from it (given `key > after AND key >=
// prefix` it would range from one and only filter by the other).
struct KeyRange {
  std::string from;                // the first key that may be read (inclusive)
  std::optional<std::string> to;   // keys below this one
};

// key_range - after (exclusive) and prefix as one range. The least string
// above `after` is after + '\0' (SQLite compares text octet by octet, NUL
// included, when it is bound with its length).
inline KeyRange key_range(const std::string& after, const std::string& prefix) {
  KeyRange r;
  r.from = after.empty() ? std::string() : after + '\0';
  if (prefix > r.from) r.from = prefix;
  if (!prefix.empty()) r.to = prefix_end(prefix);
  return r;
}

// Parameters of the directory pages: ?1 KeyRange::from, ?2 KeyRange::to,
// ?3 domain, ?4 limit. Flags: 1 = an upper bound, 2 = a domain.
inline unsigned key_range_flags(const KeyRange& r, const ListQuery& q, bool with_domain) {
  return (r.to ? 1u : 0u) | (with_domain && !q.domain.empty() ? 2u : 0u);
}

// key_range_sql - `select` over the key range of the flags, in key order.
// The domain is compared as the address's end, "@domain": a filter on the
// entries of the address index, which has no domain order to range over.
inline std::string key_range_sql(std::string_view select, std::string_view key, unsigned f,
                                 std::string_view order) {
  std::string sql(select);
  std::string k(key);
  sql += " WHERE " + k + " >= ?1";
  if (f & 1) sql += " AND " + k + " < ?2";
  if (f & 2) sql += " AND substr(" + k + ", length(" + k + ") - length(?3)) = '@' || ?3";
  sql += " ORDER BY ";
  sql += order;
  return sql;
}

inline const char* user_page_sql(const KeyRange& r, const ListQuery& q) {
  static const auto texts = [] {
    std::array<std::string, 4> t;
    for (unsigned f = 0; f < t.size(); ++f)
      t[f] = key_range_sql(
          "SELECT id, address, password_hash, quota_bytes, used_bytes, scram_sha256, send_as_any FROM users",
          "address", f, "address LIMIT ?4");
    return t;
  }();
  return texts[key_range_flags(r, q, true)].c_str();
}

// alias_page_sql - alias rows (one per target) from the primary key; the
// page ends where the limit of aliases does (no LIMIT: stepping stops).
inline const char* alias_page_sql(const KeyRange& r, const ListQuery& q) {
  static const auto texts = [] {
    std::array<std::string, 4> t;
    for (unsigned f = 0; f < t.size(); ++f)
      t[f] = key_range_sql("SELECT address, target FROM aliases", "address", f, "address, target");
    return t;
  }();
  return texts[key_range_flags(r, q, true)].c_str();
}

inline const char* domain_page_sql(const KeyRange& r) {
  static const auto texts = [] {
    std::array<std::string, 2> t;
    for (unsigned f = 0; f < t.size(); ++f)
      t[f] = key_range_sql("SELECT name FROM domains", "name", f, "name LIMIT ?4");
    return t;
  }();
  return texts[r.to ? 1 : 0].c_str();
}

// queue_page_sql - queue rows by their key. Parameters: ?1 after, ?2 sender,
// ?3 recipient, ?4 limit, ?5 state, ?6 queued at or before. CROSS JOIN keeps the queue the outer
// loop: SQLite must not start from messages (no sender index) and sort the
// rows after.
inline const char* queue_page_sql(const QueueQuery& q) {
  static const auto texts = [] {
    std::array<std::string, 16> t;
    for (unsigned f = 0; f < t.size(); ++f) {
      std::string& sql = t[f];
      sql = "SELECT q.id, q.queue_id, m.sender, q.recipient, q.original_recipient, q.status, q.attempts, "
            "q.created, q.next_attempt, m.size, q.last_reply, q.message FROM queue q CROSS JOIN messages m "
            "ON m.id = q.message WHERE q.id > ?1";
      if (f & 1) sql += " AND m.sender = ?2 COLLATE NOCASE";
      if (f & 2) sql += " AND q.recipient = ?3 COLLATE NOCASE";
      if (f & 4) sql += " AND +q.status = ?5";  // not by queue_due: pages stay in key order
      if (f & 8) sql += " AND q.created <= ?6";
      sql += " ORDER BY q.id LIMIT ?4";
    }
    return t;
  }();
  return texts[(q.sender ? 1u : 0u) | (q.recipient ? 2u : 0u) | (q.state ? 4u : 0u) | (q.queued_before ? 8u : 0u)]
      .c_str();
}

}  // namespace herald::store

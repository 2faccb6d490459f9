// store/sqlite_text.cpp - the full-text index of messages (schema 12):
// message_text, a contentless FTS5 table; message_text_source, the
// deflated text each row was made from, which the delete of a contentless
// row needs; unindexed_messages, those without a row (schema.h says why
// this design).
#include <zlib.h>


#include <fmt/format.h>

#include "store/sqlite_store.h"

namespace herald::store {
namespace {

// The text's layout (mime::indexable_text): header values, NUL, body text.
constexpr char kSeparator = '\0';

std::string inflate_text(std::string_view stored) {
  if (stored.size() < 4) throw SqliteError(SQLITE_CORRUPT, "message_text_source: a row too short");
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(stored[i])) << (8 * i);
  std::string out(n, '\0');
  uLongf size = n;
  int rc = uncompress(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(stored.data() + 4),
                      static_cast<uLong>(stored.size() - 4));
  if (rc != Z_OK || size != n)
    throw SqliteError(SQLITE_CORRUPT, fmt::format("message_text_source: a row that does not inflate (zlib {})", rc));
  return out;
}

// columns - the header values and the body text of a text; one without
// a separator is all body.
std::pair<std::string_view, std::string_view> columns(std::string_view text) {
  std::size_t sep = text.find(kSeparator);
  if (sep == std::string_view::npos) return {{}, text};
  return {text.substr(0, sep), text.substr(sep + 1)};
}

// has_word - whether the unicode61 tokenizer finds a word in s: an ASCII
// letter or digit, or any non-ASCII octet (most of them are letters; a
// query of non-ASCII punctuation alone finds nothing).
bool has_word(std::string_view s) {
  for (unsigned char c : s)
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return true;
  return false;
}

// fts_query - query as one FTS5 phrase (double quotes doubled inside), its
// last word a prefix, limited to the body column for BODY.
std::string fts_query(std::string_view query, bool body_only) {
  std::string out = body_only ? "body : \"" : "\"";
  for (char c : query) {
    if (c == '"') out += '"';
    out += c == '\0' ? ' ' : c;
  }
  out += "\" *";
  return out;
}

}  // namespace

std::string SqliteCore::pack_text(std::string_view text) {
  if (text.empty() || text.size() > 0xffffffffu) return {};
  uLongf bound = compressBound(static_cast<uLong>(text.size()));
  std::string out(4 + bound, '\0');
  const auto n = static_cast<std::uint32_t>(text.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  // Level 1: most of the gain (to about 40% of the text) for the least time.
  if (compress2(reinterpret_cast<Bytef*>(out.data() + 4), &bound, reinterpret_cast<const Bytef*>(text.data()),
                static_cast<uLong>(text.size()), 1) != Z_OK)
    return {};
  out.resize(4 + bound);
  return out;
}

void SqliteCore::index_text(Db& db, std::int64_t message, std::string_view text, std::string_view packed) {
  if (text.empty() || packed.empty()) {
    db.prepare("INSERT OR IGNORE INTO unindexed_messages(message) VALUES(?)").bind(1, message).run();
    return;
  }
  const auto [headers, body] = columns(text);
  db.prepare("INSERT INTO message_text(rowid, headers, body) VALUES(?, ?, ?)")
      .bind(1, message).bind(2, headers).bind(3, body).run();
  db.prepare("INSERT INTO message_text_source(message, text) VALUES(?, ?)")
      .bind(1, message).bind_blob(2, packed).run();
}

void SqliteCore::unindex_text(Db& db, std::int64_t message) {
  auto st = db.prepare("DELETE FROM message_text_source WHERE message = ? RETURNING text");
  st.bind(1, message);
  if (!st.step()) {  // never indexed
    db.prepare("DELETE FROM unindexed_messages WHERE message = ?").bind(1, message).run();
    return;
  }
  const std::string text = inflate_text(st.text(0));
  while (st.step()) {}
  const auto [headers, body] = columns(text);
  // A contentless table forgets a row by being told what it held.
  db.prepare("INSERT INTO message_text(message_text, rowid, headers, body) VALUES('delete', ?, ?, ?)")
      .bind(1, message).bind(2, headers).bind(3, body).run();
}

Result<TextSearch> SqliteMailboxes::search_text(std::int64_t mailbox_id, const std::string& query, bool body_only) {
  if (!has_word(query)) return make_error(Errc::invalid, "no word to search for");
  const std::string match = fts_query(query, body_only);
  return core_.read([&](Db& db) -> Result<TextSearch> {
    ReadTransaction snapshot(db);  // matches and unindexed from one state
    TextSearch out;
    // The index gives the rowids of every mailbox's matches (rare words
    // are few); each is kept when it is in this mailbox (by the message
    // index of mailbox_messages).
    auto st = db.prepare(
        "SELECT mm.uid FROM message_text CROSS JOIN mailbox_messages mm ON mm.message = message_text.rowid "
        "WHERE message_text MATCH ?1 AND mm.mailbox_id = ?2 ORDER BY mm.uid");
    st.bind(1, match).bind(2, mailbox_id);
    while (st.step()) out.matches.push_back(st.i64(0));
    // Most stores have no unindexed message at all: then one look at an
    // empty table; else a probe of that narrow table per message.
    if (!db.prepare("SELECT 1 FROM unindexed_messages LIMIT 1").step()) return out;
    auto un = db.prepare(
        "SELECT mm.uid FROM mailbox_messages mm WHERE mm.mailbox_id = ? "
        "AND EXISTS (SELECT 1 FROM unindexed_messages u WHERE u.message = mm.message) ORDER BY mm.uid");
    un.bind(1, mailbox_id);
    while (un.step()) out.unindexed.push_back(un.i64(0));
    return out;
  });
}

}  // namespace herald::store

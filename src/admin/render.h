// admin/render.h - what the operator commands return, as the `herald` CLI
// prints it: one text line per row, or JSON (the README's CLI section: lists take
// --json). A list is written as its rows come (RowWriter), never gathered
// first; its JSON is one array, byte for byte what nlohmann's dump(2) of
// the whole array would be, so scripts see the same output as before.
//
// Security: rows hold what clients sent (addresses, Message-IDs, replies),
// and the store may hold bytes older code let in. A text line goes out
// through printable_utf8() (base/text.h: controls and malformed UTF-8 as
// "\xNN"), so no escape sequence reaches the operator's terminal; JSON
// escapes controls itself, and malformed UTF-8, which JSON cannot carry, is
// replaced by U+FFFD (nlohmann's error_handler_t::replace) instead of
// throwing: no stored byte can make a listing fail.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "admin/commands.h"
#include "base/text.h"

namespace herald::admin {

// iso_time - unix milliseconds as "2026-11-23T22:08:33.120Z".
std::string iso_time(std::int64_t ms);

// text_line - one row as the text listing shows it, without the line end.
std::string text_line(const store::DomainRecord& d);
std::string text_line(const UserInfo& u);
std::string text_line(const store::AliasRecord& a);
std::string text_line(const store::QueueRow& r);
std::string text_line(const store::JournalEntry& e);

// human_size - octets for a person: "512", "1.5k", "23M", "1.2G" (binary
// units, rounded; format_size gives the exact form).
std::string human_size(std::uint64_t octets);

// A user's mail: the rows of `mailbox list` and `flags`.
std::string text_line(const MailboxInfo& m);
std::string text_line(const MessageFlags& f);
std::string text_line(const SearchHit& h);
// mailbox_header - the column titles text_line(MailboxInfo) writes under.
std::string mailbox_header();

// dump - j as dump(2) writes it, malformed UTF-8 in its strings replaced by
// U+FFFD rather than thrown as an exception.
std::string dump(const nlohmann::json& j);
// dump_line - the same, compact, on one line.
std::string dump_line(const nlohmann::json& j);

// to_json - one row as a JSON object. Keys: the list's key is among them
// (name, address, alias, row, key); the journal's key is a string, since it
// exceeds what a JSON number holds exactly in most readers (2^53).
nlohmann::json to_json(const store::DomainRecord& d);
nlohmann::json to_json(const UserInfo& u);
nlohmann::json to_json(const store::AliasRecord& a);
nlohmann::json to_json(const store::QueueRow& r);
nlohmann::json to_json(const store::JournalEntry& e);
nlohmann::json to_json(const MailboxInfo& m);
nlohmann::json to_json(const MessageFlags& f);
nlohmann::json to_json(const SearchHit& h);
nlohmann::json to_json(const QuotaInfo& q);
nlohmann::json to_json(const AclInfo& a);
nlohmann::json to_json(const ImportReport& r);
nlohmann::json to_json(const ExportReport& r);

// RowWriter - rows to `out` as they come, as text lines or as the elements
// of one JSON array that finish() closes. A list that fails half way is left
// unclosed on purpose: invalid JSON, not a shorter list that looks whole.
// Format - text lines, one JSON array, or JSON lines (one compact object
// per line: `herald journal --jsonl`, for export and log shippers).
enum class Format { text, json, json_lines };

class RowWriter {
 public:
  RowWriter(std::ostream& out, Format format)
      : out_(out), json_(format == Format::json), lines_(format == Format::json_lines) {}
  RowWriter(std::ostream& out, bool json) : RowWriter(out, json ? Format::json : Format::text) {}
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;

  // write - false once the stream has failed (the reader went away).
  template <typename Row>
  bool write(const Row& row) {
    if (lines_) out_ << dump_line(to_json(row)) << '\n';
    else if (json_) element(dump(to_json(row)));
    else out_ << printable_utf8(text_line(row)) << '\n';
    return static_cast<bool>(out_);
  }
  // sink - write as a Sink of a list command.
  template <typename Row>
  Sink<Row> sink() {
    return [this](const Row& row) { return write(row); };
  }
  void finish();  // JSON: "]" ("[]" for no rows) and the line end; text: nothing

 private:
  void element(const std::string& dumped);

  std::ostream& out_;
  bool json_;
  bool lines_;
  bool first_ = true;
};

}  // namespace herald::admin

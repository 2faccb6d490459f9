// imap/fetch_spec.h - FETCH's data items (RFC 9051 6.4.5): parsed from the
// command into a FetchSpec once, then written for each message from what
// the store gives: its listing, its stored structure, its octets. Pure.
//
// A body section is cut from the octets with the offsets of the stored
// structure (mime/structure.h): BODY[2.1.MIME] is a substring, never a
// parse of the message.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/command.h"
#include "imap/mailstore.h"
#include "imap/writer.h"
#include "mime/structure.h"

namespace herald::imap {

// Section - RFC 9051 section-spec: a part path and what of it.
struct Section {
  enum class Text { all, header, header_fields, header_fields_not, text, mime };
  std::vector<std::uint32_t> path;  // "2.1" -> {2, 1}; empty: the message
  Text text = Text::all;
  std::vector<std::string> fields;  // HEADER.FIELDS (upper case)
  std::string spec;                 // as written between the brackets, echoed in the response
};

struct FetchItem {
  enum class Kind {
    flags, internaldate, rfc822_size, uid, envelope, body, bodystructure,
    section,      // BODY[...] and BODY.PEEK[...]
    binary,       // BINARY[...] and BINARY.PEEK[...] (RFC 3516)
    binary_size,  // BINARY.SIZE[...]
    rfc822, rfc822_header, rfc822_text,
    modseq,       // RFC 7162 3.1.4
    savedate,     // RFC 8514
    emailid, threadid,  // RFC 8474
    preview,            // RFC 8970
  };
  Kind kind = Kind::flags;
  Section section;
  bool peek = false;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> partial;  // <offset.length>
};

struct FetchSpec {
  std::vector<FetchItem> items;
  bool needs_structure = false;  // ENVELOPE, BODY(STRUCTURE), sections
  bool needs_octets = false;     // any body section, RFC822*, BINARY
  bool sets_seen = false;        // a non-PEEK body item (RFC 9051 6.4.5)
  std::uint64_t changed_since = 0;  // CHANGEDSINCE (RFC 7162 3.1.4.1); 0 = none
  bool vanished = false;            // VANISHED modifier (RFC 7162 3.2.6)

  bool has(FetchItem::Kind k) const;
};

// kMaxFetchItems - items one FETCH may ask (the same item twice counts once).
inline constexpr std::size_t kMaxFetchItems = 64;

// parse_fetch - the items of "FETCH set <items>" (an atom, a macro, or a
// list) and its modifiers (a list after them); error: the BAD text.
std::optional<FetchSpec> parse_fetch(const std::vector<Value>& args, std::size_t from, std::string& error);

// Message - what a FETCH response is written from.
struct FetchSource {
  const MessageMeta* meta = nullptr;
  const mime::Part* structure = nullptr;  // nullopt when none is kept
  std::uint64_t prefix_size = 0;          // octets of octets before the structure's offsets
  std::string_view octets;                // the message, prefix included (when needs_octets)
};

struct FetchOptions {
  StringForm form;
  bool uid = false;     // UID FETCH: the UID always goes out (RFC 9051 6.4.9)
  bool modseq = false;  // CONDSTORE enabled: MODSEQ always goes out (RFC 7162 3.1.4)
};

// append_fetch - "* msn FETCH (...)\r\n"; false when a section cannot be
// given (BINARY of an unknown encoding: the caller answers NO
// [UNKNOWN-CTE], RFC 3516 4.3).
bool append_fetch(std::string& out, std::uint32_t msn, const FetchSpec& spec, const FetchSource& source,
                  const FetchOptions& options);

// append_flags - "(\Seen $Label)": system flags, then keywords.
void append_flags(std::string& out, std::uint32_t flags, const std::vector<std::string>& keywords);

// preview - RFC 8970 3: the start of the message's text (decoded, HTML
// stripped, white space collapsed), at most 200 characters; "" when it
// has none.
std::string preview(const FetchSource& source);

// section_octets - the octets of a section of a message, "" for a part
// that does not exist (RFC 9051 6.4.5 answers it as empty). Exposed for
// SEARCH and the tests.
std::string section_octets(const Section& section, const FetchSource& source);

}  // namespace herald::imap

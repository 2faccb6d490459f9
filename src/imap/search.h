// imap/search.h - SEARCH's keys (RFC 9051 6.4.4; NEW, OLD and RECENT of
// RFC 3501 6.4.4; MODSEQ of RFC 7162 3.1.5; SAVEDBEFORE, SAVEDON,
// SAVEDSINCE and SAVEDATESUPPORTED of RFC 8514 4.3; OLDER and YOUNGER of
// RFC 5032): parsed from the command's values into a tree, and matched
// against one message at a time.
//
// Pure and bounded: the tree's depth (NOT NOT NOT ... nests without any
// parentheses) and its number of keys are limited, so a hostile command
// cannot exhaust the stack. need() tells the driver how much of each
// message to read: the listing alone, the header section, or the whole
// message.
//
// Matching: strings match as case-insensitive substrings (ASCII case
// folding; other UTF-8 octets compare as they are). Header fields are
// unfolded, and their RFC 2047 encoded-words in UTF-8, US-ASCII or
// ISO-8859-1 decoded, before matching; words in other charsets stay
// encoded. BODY and TEXT are answered from the full-text index the store
// builds at delivery (SearchInput::indexed: decoded text, whole words and
// the last word's prefix, case and accents folded); a message the index
// does not hold (stored before it) is scanned: its raw octets (BODY those
// after the header section) as substrings.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "imap/command.h"
#include "imap/mailstore.h"
#include "imap/sequence.h"
#include "mime/header.h"
#include "mime/structure.h"

namespace herald::imap {

struct SearchKey {
  // The keys by their names in the RFCs; new_, not_, or_ and and_ with an
  // underscore because the plain words are C++'s.
  enum class Kind {
    all, answered, deleted, draft, flagged, seen,
    unanswered, undeleted, undraft, unflagged, unseen,
    new_, old, recent,                       // RFC 3501: no \Recent in IMAP4rev2
    keyword, unkeyword,                      // text
    bcc, cc, from, to, subject, body, text,  // text
    header,                                  // field, text
    before, on, since,                       // date, of the internal date
    sentbefore, senton, sentsince,           // date, of the Date: field
    savedbefore, savedon, savedsince,        // date, of the save date (RFC 8514)
    savedatesupported,
    larger, smaller,                         // number: octets
    modseq,                                  // number: mod-sequence (RFC 7162)
    older, younger,                          // number: seconds (RFC 5032)
    uid, sequence_set,                       // set
    not_, or_, and_,                         // keys: one, two, one or more
  };
  Kind kind = Kind::all;
  std::string field;            // header: the field name
  std::string text;             // string keys: what to find; keyword, unkeyword: the keyword
  std::int64_t date = 0;        // date keys: the day's 00:00 UTC (parse_search_date)
  std::uint64_t number = 0;     // larger, smaller, modseq, older, younger
  SequenceSet set;              // uid, sequence_set ("$" included)
  std::vector<SearchKey> keys;  // not_, or_, and_
};

struct SearchProgram {
  SearchKey root;
  std::string charset;  // as given after CHARSET; "" when none was
};

struct SearchParse {
  std::optional<SearchProgram> program;
  std::string error;         // the BAD response's text when !program and !bad_charset
  bool bad_charset = false;  // answer NO [BADCHARSET (UTF-8 US-ASCII)] (RFC 9051 6.4.4)
};

struct SearchLimits {
  std::size_t max_depth = 32;   // NOT, OR and parentheses nested
  std::size_t max_keys = 1000;  // keys in all, at every depth
};

// parse_search - args[from..] as search keys, optionally led by CHARSET
// <astring> when allow_charset; several keys at the top are their AND.
// Only UTF-8 and US-ASCII (any case) are charsets we search in: the
// strings are compared as octets.
SearchParse parse_search(const std::vector<Value>& args, std::size_t from, bool allow_charset,
                         SearchLimits limits = {});

// SearchNeed - how much of a message a program reads; ordered.
enum class SearchNeed {
  meta,      // the listing: flags, keywords, UID, size, dates, mod-sequence, MSN
  envelope,  // and the envelope's fields, as delivery kept them: BCC CC FROM TO SUBJECT SENT*
  header,    // and the header section: HEADER (any field)
  text,      // and the whole message: BODY TEXT
};
SearchNeed need(const SearchKey& key);

// text_keys - the BODY and TEXT keys of a program, for the index to answer.
std::vector<const SearchKey*> text_keys(const SearchKey& key);
// need_indexed - need() when every BODY and TEXT key is answered by the
// index: they need nothing read.
SearchNeed need_indexed(const SearchKey& key);

// uses_modseq - the program has a MODSEQ key, so the SEARCH response must
// carry (MODSEQ n) (RFC 7162 3.1.5).
bool uses_modseq(const SearchKey& key);

// SearchInput - one message, as far as the program needs it.
struct SearchInput {
  std::uint32_t msn = 0;
  std::uint32_t largest_msn = 0;  // what "*" is in a sequence set
  std::uint32_t largest_uid = 0;  // what "*" is in a UID set
  const MessageMeta* meta = nullptr;
  std::string_view header;  // the header section, raw, when need >= header
  // The envelope kept at delivery, when need == envelope and the store
  // kept one: FROM, TO, CC, BCC, SUBJECT and SENT* read it, not header.
  const mime::Envelope* envelope = nullptr;
  std::string_view text;    // the whole message when need == text
  std::int64_t now = 0;     // unix seconds, for OLDER and YOUNGER
  // The UIDs of the saved result, ascending: what "$" is (RFC 5182 2.1).
  std::span<const std::uint32_t> saved_uids;
  // The index's answer to a BODY or TEXT key for this message: true or
  // false, or nullopt when the index does not hold it (then text is read).
  std::function<std::optional<bool>(const SearchKey&)> indexed;
};

bool matches(const SearchKey& key, const SearchInput& in);

// decode_encoded_words - mime/header.h's, which the text index shares.
using mime::decode_encoded_words;

}  // namespace herald::imap

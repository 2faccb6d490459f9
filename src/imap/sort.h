// imap/sort.h - SORT and THREAD (RFC 5256) with the DISPLAYFROM and
// DISPLAYTO keys of SORT=DISPLAY (RFC 5957): the base subject, the sort
// criteria, the order they give, the ORDEREDSUBJECT and REFERENCES
// threads and the THREAD response's form.
//
// Pure: the caller hands over the messages a search found (their listing
// and raw header section) and writes the answer; nothing here reads the
// store.
//
// Strings compare as octets after casemap(): an approximation of the
// i;unicode-casemap collation (RFC 5051) that RFC 5256 asks for. It maps
// ASCII and the common alphabets (Latin-1, Latin Extended-A, Greek,
// Cyrillic) to upper case, one character to one character; it neither
// decomposes nor title-cases ("\xc3\xa9" stays apart from "E"), and
// ill-formed UTF-8 compares as its octets.
//
// Bounded: References is read to its last 64 message-ids; a link is made
// only when proven free of loops, within a budget of steps proportional
// to the number of messages (past it, links are left out: a hostile
// mailbox gets flatter threads, never a loop); and a thread is nested at
// most 1024 deep (deeper messages hang as siblings at that depth). So a
// hostile mailbox costs time linear in its size and stack in the bound.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "imap/command.h"
#include "imap/mailstore.h"

namespace herald::imap {

// BaseSubject - a subject reduced as RFC 5256 2.1 says, and whether the
// reduction took off a reply or forward marker: a subj-refwd ("Re:",
// "Fwd[2]:"), a "(fwd)" trailer or a "[fwd: ...]" wrapper (what section
// 4's REFERENCES step 5 calls a reply or forward).
struct BaseSubject {
  std::string text;  // UTF-8, case kept; "" when nothing is left
  bool reply_or_forward = false;
};

// extract_base_subject - the subject field's value (folded or not) with
// its encoded-words decoded (decode_encoded_words), tabs and line breaks
// as spaces, runs of spaces as one, then the leaders, blobs, trailers and
// "[fwd: ]" wrappers taken off until none is left.
BaseSubject extract_base_subject(std::string_view subject);
inline std::string base_subject(std::string_view subject) { return extract_base_subject(subject).text; }

// casemap - the form strings are compared in (see above).
std::string casemap(std::string_view utf8);

// SortInput - one message that a SORT or THREAD sorts: id is what the
// answer lists (sequence number or UID, the caller's choice), given in
// ascending sequence order, which breaks every tie.
struct SortInput {
  std::uint32_t id = 0;
  const MessageMeta* meta = nullptr;
  std::string_view header;  // the raw header section
};

struct SortKey {
  enum class Kind { arrival, cc, date, from, size, subject, to, displayfrom, displayto };
  Kind kind = Kind::arrival;
  bool reverse = false;
};

// parse_sort_criteria - the parenthesised sort-criteria of RFC 5256 5
// (with RFC 5957's keys): one or more keys, each optionally after
// REVERSE. nullopt with error (the BAD response's text) otherwise.
std::optional<std::vector<SortKey>> parse_sort_criteria(const Value& list, std::string& error);

// sort_messages - the ids in the order the keys give (RFC 5256 3):
//   ARRIVAL  the internal date;
//   DATE     the Date: field in UTC, the internal date when it is missing
//            or unreadable;
//   FROM, TO, CC  the mailbox (local part) of the field's first address
//            ("" without one; a group counts as its name, as ENVELOPE
//            gives it);
//   DISPLAYFROM, DISPLAYTO  that address's display name, decoded, else
//            its addr-spec (RFC 5957 3);
//   SUBJECT  the base subject; SIZE  RFC822.SIZE.
// REVERSE turns its key only; ties go to the next key, then to the input
// order ascending.
std::vector<std::uint32_t> sort_messages(const std::vector<SortInput>& messages, const std::vector<SortKey>& keys);

enum class ThreadAlgorithm { orderedsubject, references };

// parse_thread_algorithm - the THREAD command's algorithm name, any case.
std::optional<ThreadAlgorithm> parse_thread_algorithm(std::string_view name);

// ThreadNode - a message of a thread with its replies; id 0 is a dummy,
// a message that is missing (not found, or not among the input) and holds
// its replies together.
struct ThreadNode {
  std::uint32_t id = 0;
  std::vector<ThreadNode> children;
};

// thread_messages - the threads of RFC 5256 4, in their order:
// ORDEREDSUBJECT groups by base subject, the first message of each group
// (by sent date) with the others as its children; REFERENCES links
// messages by Message-ID, References and In-Reply-To, prunes dummies,
// merges threads of the same base subject and sorts siblings by sent date
// (the DATE key's value; ties by input order).
std::vector<ThreadNode> thread_messages(const std::vector<SortInput>& messages, ThreadAlgorithm algorithm);

// append_threads - the threads as the THREAD response writes them after
// "* THREAD " (RFC 5256 5 thread-list): "(2)(3 6 (4 23)(44 7 96))". A
// single reply continues its parent's list, several open one list each,
// and a dummy writes only its children's lists ("((3)(5))"); dummies
// without messages below them are left out.
void append_threads(std::string& out, const std::vector<ThreadNode>& threads);

}  // namespace herald::imap

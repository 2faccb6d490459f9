// mime/text.h - the words of a message that a full-text index keeps
// (issue 14: SEARCH BODY and TEXT answered from an index built at
// delivery): the decoded text of its text/plain and text/html parts and
// the values of its Subject, From, To and Cc fields.
//
// What is undone before the words are taken:
// - the transfer encoding (mime/transfer.h), so a base64 or
//   quoted-printable body is found by its words, never by its encoding;
// - the charset: UTF-8 and US-ASCII are kept as they are; ISO-8859-1 and
//   windows-1252 (which mailers send under the ISO-8859-1 label, as WHATWG
//   reads it) become UTF-8; any other charset is left as its octets;
// - HTML, crudely: tags, comments, <script> and <style> elements become a
//   space; the entities &amp; &lt; &gt; &quot; &apos; &nbsp; and &#N; / &#xH;
//   are decoded, other entities left as written;
// - RFC 2047 encoded-words in the four header values (decode_encoded_words).
// Control characters other than LF become spaces.
//
// Bounded: at most max_octets octets come out (cut at a UTF-8 character
// boundary), and no part is read past about four times what is left of
// that bound, so a huge message costs bounded work whatever its size.
// The parts of a message/rfc822 part are read too, and its header values
// count as body text (they are the outer message's body octets). Of a
// multipart/alternative with a text/plain version only that version is
// read: the HTML one says the same words again, at twice the index's cost.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "mime/structure.h"

namespace herald::mime {

inline constexpr std::size_t kIndexableMax = 1024 * 1024;

// The layout of the text: the header values (one per line), then
// kTextSeparator, then the body text; the store keeps the two apart so
// that SEARCH BODY leaves the header values out. There is always a
// separator: "" is not a text, but "nothing was computed".
inline constexpr char kTextSeparator = '\0';

// indexable_text - the text of a message held whole in memory; structure
// is its structure (structure_of, or as computed at delivery), whose
// offsets are into message.
std::string indexable_text(std::string_view message, const Part& structure, std::size_t max_octets = kIndexableMax);

// ReadRange - octets [offset, offset + length) of a message not held in
// memory (fewer at its end); nullopt when they cannot be read.
using ReadRange = std::function<std::optional<std::string>(std::uint64_t offset, std::uint64_t length)>;

// indexable_text - the same, reading only the text parts through read
// (a message spooled to a file); nullopt when a read failed.
std::optional<std::string> indexable_text(const ReadRange& read, const Part& structure,
                                          std::size_t max_octets = kIndexableMax);

// Stored - what the store keeps beside a message it is handed whole
// (IMAP APPEND, `herald import`): its structure, encoded, and its text.
struct Stored {
  std::string structure;  // encode(structure_of(message))
  std::string text;       // indexable_text
};
Stored stored_forms(std::string_view message);

// to_utf8 - octets in charset (any case) as UTF-8: ISO-8859-1 and
// windows-1252 converted, others as they are.
std::string to_utf8(std::string_view octets, std::string_view charset);

// html_text - the text of HTML: tags dropped, the entities above decoded.
std::string html_text(std::string_view html);

}  // namespace herald::mime

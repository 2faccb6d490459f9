// mime/builder.h - a MIME message made from its parts (RFC 2045-2047, 2183,
// 2231, 5322): what `herald send` builds, and later the spool's send jobs
// and the HTTP API (docs/ARCHITECTURE.md "Mail from programs").
//
// Pure but for content-type detection (libmagic): parts in, the octets of
// the message out, CRLF lines within 998 octets, 7-bit clean:
//   - text and HTML in quoted-printable when they are not plain ASCII or
//     have long lines, as 7bit otherwise;
//   - attachments in base64, typed by libmagic, by extension when it
//     cannot tell, named per RFC 2231 when the name is not ASCII;
//   - Subject and display names as RFC 2047 encoded words when not ASCII;
//   - multipart/alternative for text with HTML, multipart/mixed around
//     attachments.
//
// Hand-written: no Debian C++ library builds MIME messages (GMime is C,
// with GLib, for a few hundred lines of encoders this module owns).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace herald::mime {

struct Attachment {
  std::string filename;      // as shown to the reader (any UTF-8)
  std::string content;       // the octets
  std::string content_type;  // "" = detected
};

struct Composition {
  std::string from;                     // "addr" or "Display Name <addr>"
  std::vector<std::string> to, cc, reply_to;
  std::string subject;
  std::string text;                     // the text part (UTF-8)
  std::string html;                     // "" = none; else with text, multipart/alternative
  std::vector<Attachment> attachments;
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields, in order
  std::string date;                     // RFC 5322 date
  std::string message_id;               // "<id@host>"
  std::string boundary_seed;            // unique per message: the boundaries are made from it
};

// build - the message; Errc::invalid for a header that would break the
// message (CR or LF in a value, a bad field name).
Result<std::string> build(const Composition& c);

// The encoders, for tests and the other doors.
// quoted_printable - RFC 2045 6.7, CRLF line breaks kept, lines <= 76.
std::string quoted_printable(std::string_view text);
// encoded_words - RFC 2047 "=?UTF-8?B?...?=" words (each <= 75), joined
// by folding ("\r\n "); text itself when it is printable ASCII.
std::string encoded_words(std::string_view text);
// filename_params - RFC 2183/2231: `filename="a.pdf"`, or
// `filename*=UTF-8''%C3%A9.pdf` when the name is not printable ASCII.
std::string filename_params(std::string_view filename);
// content_type_of - libmagic's type of content, else the name's
// extension's, else application/octet-stream.
std::string content_type_of(std::string_view filename, std::string_view content);

}  // namespace herald::mime

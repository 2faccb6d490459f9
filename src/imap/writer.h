// imap/writer.h - strings in responses in the form RFC 9051 4.3 allows
// them: an atom when astring allows one and the text is one, a quoted
// string when it holds no CR, LF, NUL (nor 8-bit octets, unless the client
// takes UTF-8: IMAP4rev2 or UTF8=ACCEPT), else a literal. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace herald::imap {

struct StringForm {
  bool utf8 = false;                 // the client takes UTF-8 in quoted strings
  std::size_t max_quoted = 1024;     // longer strings go as literals
};

// append_string - RFC 9051 string: quoted or literal.
void append_string(std::string& out, std::string_view s, StringForm form = {});
// append_astring - astring: as an atom when it is one ("INBOX", "Sent").
void append_astring(std::string& out, std::string_view s, StringForm form = {});
// append_nstring - nstring: NIL for nullopt.
void append_nstring(std::string& out, const std::optional<std::string_view>& s, StringForm form = {});
// append_literal - "{N}\r\n" and the octets; binary: "~{N}" (RFC 3516).
void append_literal(std::string& out, std::string_view s, bool binary = false);

}  // namespace herald::imap

#include "imap/writer.h"

#include <fmt/format.h>

namespace herald::imap {
namespace {

bool quotable(std::string_view s, const StringForm& form) {
  if (s.size() > form.max_quoted) return false;
  for (unsigned char c : s) {
    if (c == 0 || c == '\r' || c == '\n') return false;
    if (c > 0x7f && !form.utf8) return false;
  }
  return true;
}

// is_atom - 1*ATOM-CHAR (RFC 9051 9), and not the word NIL.
bool is_atom(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  for (unsigned char c : s)
    if (c <= 0x20 || c >= 0x7f || c == '(' || c == ')' || c == '{' || c == '%' || c == '*' || c == '"' ||
        c == '\\' || c == ']')
      return false;
  return !(s.size() == 3 && (s[0] | 0x20) == 'n' && (s[1] | 0x20) == 'i' && (s[2] | 0x20) == 'l');
}

}  // namespace

void append_literal(std::string& out, std::string_view s, bool binary) {
  out += fmt::format("{}{{{}}}\r\n", binary ? "~" : "", s.size());
  out.append(s);
}

void append_string(std::string& out, std::string_view s, StringForm form) {
  if (!quotable(s, form)) {
    append_literal(out, s);
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void append_astring(std::string& out, std::string_view s, StringForm form) {
  if (is_atom(s)) out.append(s);
  else append_string(out, s, form);
}

void append_nstring(std::string& out, const std::optional<std::string_view>& s, StringForm form) {
  if (!s) out += "NIL";
  else append_string(out, *s, form);
}

}  // namespace herald::imap

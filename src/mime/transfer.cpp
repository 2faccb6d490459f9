#include "mime/transfer.h"

#include <cstdint>

namespace herald::mime {
namespace {

int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string decode_base64(std::string_view body) {
  std::string out;
  out.reserve(body.size() / 4 * 3);
  std::uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : body) {
    if (c == '=') break;  // padding ends the data (RFC 2045 6.8)
    int v = base64_value(c);
    if (v < 0) continue;  // line breaks and stray characters are ignored
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    if (++count == 4) {
      out += static_cast<char>((bits >> 16) & 0xff);
      out += static_cast<char>((bits >> 8) & 0xff);
      out += static_cast<char>(bits & 0xff);
      bits = 0;
      count = 0;
    }
  }
  if (count == 2) out += static_cast<char>((bits >> 4) & 0xff);
  if (count == 3) {
    out += static_cast<char>((bits >> 10) & 0xff);
    out += static_cast<char>((bits >> 2) & 0xff);
  }
  return out;
}

int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string decode_quoted_printable(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  std::size_t i = 0;
  while (i < body.size()) {
    std::size_t eol = body.find('\n', i);
    std::size_t end = eol == std::string_view::npos ? body.size() : eol;
    std::size_t text_end = end;
    if (text_end > i && body[text_end - 1] == '\r') --text_end;
    std::string_view line = body.substr(i, text_end - i);
    // RFC 2045 6.7 rule 3: trailing white space is not part of the data.
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    bool soft = !line.empty() && line.back() == '=';
    if (soft) line.remove_suffix(1);
    for (std::size_t k = 0; k < line.size(); ++k) {
      if (line[k] == '=') {
        int hi = k + 1 < line.size() ? hex_value(static_cast<unsigned char>(line[k + 1])) : -1;
        int lo = k + 2 < line.size() ? hex_value(static_cast<unsigned char>(line[k + 2])) : -1;
        if (hi >= 0 && lo >= 0) {
          out += static_cast<char>(hi * 16 + lo);
          k += 2;
          continue;
        }
      }
      out += line[k];  // a malformed "=" stays as it is
    }
    if (eol == std::string_view::npos) break;
    if (!soft) out += "\r\n";
    i = eol + 1;
  }
  return out;
}

}  // namespace

std::optional<std::string> decode_transfer(std::string_view body, std::string_view encoding) {
  if (encoding.empty() || encoding == "7bit" || encoding == "8bit" || encoding == "binary") return std::string(body);
  if (encoding == "base64") return decode_base64(body);
  if (encoding == "quoted-printable") return decode_quoted_printable(body);
  return std::nullopt;
}

}  // namespace herald::mime

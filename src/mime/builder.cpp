#include "mime/builder.h"

#include <magic.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "base/base64.h"
#include "base/text.h"

namespace herald::mime {

namespace {

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// crlf - line ends made CRLF (bare LF and bare CR alike).
std::string crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 40);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else if (text[i] == '\n') {
      out += "\r\n";
    } else {
      out += text[i];
    }
  }
  return out;
}

// needs_encoding - a text part that is not 7-bit, or has a line too long
// for SMTP (RFC 5322 2.1.1: 998), or a NUL.
bool needs_encoding(std::string_view text) {
  std::size_t line = 0;
  for (char c : text) {
    if (c == '\n') {
      line = 0;
      continue;
    }
    if (static_cast<unsigned char>(c) >= 0x80 || c == '\0' || ++line > 998) return true;
  }
  return false;
}

std::string base64_lines(std::string_view data) {
  std::string b = base64_encode(data), out;
  out.reserve(b.size() + b.size() / 38 + 2);
  for (std::size_t i = 0; i < b.size(); i += 76) out += b.substr(i, 76) + "\r\n";
  return out;
}

// address_list - addresses for a header: a display name that is not ASCII
// becomes encoded words (RFC 2047 5(3)), the address stays as given.
std::string address(std::string_view a) {
  std::size_t lt = a.rfind('<');
  if (lt == std::string_view::npos || lt == 0) return std::string(trim(a));
  std::string_view name = trim(a.substr(0, lt));
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
  std::string shown = printable_ascii(name) ? fmt::format("\"{}\"", name) : encoded_words(name);
  return fmt::format("{} {}", shown, trim(a.substr(lt)));
}

std::string address_list(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& a : list) out += (out.empty() ? "" : ",\r\n ") + address(a);
  return out;
}

// text_part - a text body part with its headers.
std::string text_part(std::string_view subtype, std::string_view text) {
  std::string body = crlf(text);
  if (!body.empty() && !body.ends_with("\r\n")) body += "\r\n";
  if (!needs_encoding(body))
    return fmt::format("Content-Type: text/{}; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{}",
                       subtype, body);
  return fmt::format("Content-Type: text/{}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
                     subtype, quoted_printable(body));
}

std::string multipart(std::string_view subtype, const std::string& boundary, const std::vector<std::string>& parts) {
  std::string out = fmt::format("Content-Type: multipart/{}; boundary=\"{}\"\r\n\r\n", subtype, boundary);
  // The CRLF before a boundary belongs to it (RFC 2046 5.1.1): each part,
  // which ends in its own CRLF, gets one more, so its last line break stays.
  for (const auto& p : parts) out += fmt::format("--{}\r\n{}\r\n", boundary, p);
  out += fmt::format("--{}--\r\n", boundary);
  return out;
}

bool valid_field_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f && c != ':'; });
}

}  // namespace

std::string quoted_printable(std::string_view text) {
  std::string out;
  std::size_t column = 0;
  auto put = [&](std::string_view piece) {
    // A soft line break keeps every line within 76 (RFC 2045 6.7 (5)).
    if (column + piece.size() > 75) {
      out += "=\r\n";
      column = 0;
    }
    out += piece;
    column += piece.size();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      // Space or tab before a line break is encoded (rule 3).
      if (!out.empty() && (out.back() == ' ' || out.back() == '\t') && column > 0) {
        char last = out.back();
        out.pop_back();
        --column;
        put(fmt::format("={:02X}", static_cast<unsigned char>(last)));
      }
      out += "\r\n";
      column = 0;
      ++i;
    } else if ((c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t') {
      put(std::string_view(&text[i], 1));
    } else {
      put(fmt::format("={:02X}", c));
    }
  }
  return out;
}

std::string encoded_words(std::string_view text) {
  if (printable_ascii(text)) return std::string(text);
  // At most 45 octets per word (60 of base64, 75 with "=?UTF-8?B?...?="),
  // never a UTF-8 character cut in two (RFC 2047 5(3)).
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = std::min<std::size_t>(45, text.size() - i);
    while (i + n < text.size() && n > 0 && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) --n;
    if (n == 0) n = std::min<std::size_t>(45, text.size() - i);
    out += (out.empty() ? "" : "\r\n ") + fmt::format("=?UTF-8?B?{}?=", base64_encode(text.substr(i, n)));
    i += n;
  }
  return out;
}

std::string filename_params(std::string_view filename) {
  if (printable_ascii(filename) && filename.find_first_of("\"\\") == std::string_view::npos)
    return fmt::format("filename=\"{}\"", filename);
  // RFC 2231 4: charset'language'percent-encoded octets.
  std::string out = "filename*=UTF-8''";
  for (unsigned char c : filename) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string content_type_of(std::string_view filename, std::string_view content) {
  // One libmagic handle for the process: loading its database is the cost.
  static std::mutex lock;
  static magic_t cookie = [] {
    magic_t m = magic_open(MAGIC_MIME_TYPE);
    if (m && magic_load(m, nullptr) != 0) {
      magic_close(m);
      m = nullptr;
    }
    return m;
  }();
  std::string found;
  {
    std::lock_guard guard(lock);
    if (cookie) {
      const char* t = magic_buffer(cookie, content.data(), content.size());
      if (t) found = t;
    }
  }
  if (!found.empty() && found != "application/octet-stream") return found;
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kByExtension{{
      {".pdf", "application/pdf"}, {".txt", "text/plain"},  {".csv", "text/csv"},   {".html", "text/html"},
      {".png", "image/png"},       {".jpg", "image/jpeg"},  {".gif", "image/gif"},  {".zip", "application/zip"},
      {".json", "application/json"}, {".xml", "application/xml"},
  }};
  for (const auto& [ext, type] : kByExtension)
    if (filename.size() > ext.size() && iequals(filename.substr(filename.size() - ext.size()), ext))
      return std::string(type);
  return "application/octet-stream";
}

Result<std::string> build(const Composition& c) {
  auto bad = [](std::string_view what) { return make_error(Errc::invalid, std::string(what)); };
  auto clean = [](std::string_view v) { return v.find_first_of("\r\n") == std::string_view::npos; };
  std::vector<std::string> singles{c.from, c.subject, c.date, c.message_id};
  for (const auto* list : {&c.to, &c.cc, &c.reply_to})
    for (const auto& a : *list) singles.push_back(a);
  for (const auto& s : singles)
    if (!clean(s)) return bad("a header value holds CR or LF");
  for (const auto& [name, value] : c.headers)
    if (!valid_field_name(name) || !clean(value)) return bad(fmt::format("not a header field: {}", printable(name, 60)));

  std::string head;
  head += fmt::format("From: {}\r\n", address(c.from));
  if (!c.to.empty()) head += fmt::format("To: {}\r\n", address_list(c.to));
  if (!c.cc.empty()) head += fmt::format("Cc: {}\r\n", address_list(c.cc));
  if (!c.reply_to.empty()) head += fmt::format("Reply-To: {}\r\n", address_list(c.reply_to));
  head += fmt::format("Subject: {}\r\n", encoded_words(c.subject));
  head += fmt::format("Date: {}\r\nMessage-ID: {}\r\n", c.date, c.message_id);
  for (const auto& [name, value] : c.headers) head += fmt::format("{}: {}\r\n", name, encoded_words(value));
  head += "MIME-Version: 1.0\r\n";

  // The boundaries: the seed and the level, and "=_" which neither base64
  // nor quoted-printable text can start a line with by chance.
  auto boundary = [&c](int level) { return fmt::format("=_herald_{}_{}", c.boundary_seed, level); };
  std::string body = c.html.empty()
                         ? text_part("plain", c.text)
                         : multipart("alternative", boundary(1), {text_part("plain", c.text), text_part("html", c.html)});
  if (!c.attachments.empty()) {
    std::vector<std::string> parts{body};
    for (const auto& a : c.attachments) {
      std::string type = a.content_type.empty() ? content_type_of(a.filename, a.content) : a.content_type;
      if (!clean(type) || !clean(a.filename)) return bad("an attachment's name or type holds CR or LF");
      parts.push_back(fmt::format("Content-Type: {}\r\nContent-Transfer-Encoding: base64\r\n"
                                  "Content-Disposition: attachment; {}\r\n\r\n{}",
                                  type, filename_params(a.filename), base64_lines(a.content)));
    }
    body = multipart("mixed", boundary(0), parts);
  }
  return head + body;
}

}  // namespace herald::mime

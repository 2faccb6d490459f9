#include "mime/text.h"

#include <algorithm>

#include "base/text.h"
#include "mime/header.h"
#include "mime/transfer.h"

namespace herald::mime {
namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// windows-1252's 0x80-0x9F (the C1 controls in ISO-8859-1); 0 = unassigned,
// kept as the C1 code point.
constexpr std::uint16_t kCp1252[32] = {
    0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
    0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

bool latin(std::string_view charset) {
  for (std::string_view name : {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1", "windows-1252", "cp1252",
                                "x-cp1252"})
    if (iequals(charset, name)) return true;
  return false;
}

// clean - control characters (CR, NUL: the separator) as spaces.
void append_clean(std::string& out, std::string_view s) {
  const std::size_t from = out.size();
  out.append(s);
  for (std::size_t i = from; i < out.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(out[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7f) out[i] = ' ';
  }
}

bool name_at(std::string_view s, std::size_t at, std::string_view name) {
  if (at + name.size() > s.size() || !iequals(s.substr(at, name.size()), name)) return false;
  if (at + name.size() == s.size()) return true;
  char next = s[at + name.size()];
  return !((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') || (next >= '0' && next <= '9'));
}

// entity - the entity at s[at] ('&'), decoded into out; the octets it
// took, 0 when it is not one decoded here.
std::size_t entity(std::string_view s, std::size_t at, std::string& out) {
  std::size_t semi = s.find(';', at);
  if (semi == std::string_view::npos || semi - at > 10) return 0;
  std::string_view name = s.substr(at + 1, semi - at - 1);
  if (name.size() > 1 && name[0] == '#') {
    std::uint32_t cp = 0;
    const bool hex = name[1] == 'x' || name[1] == 'X';
    std::string_view digits = name.substr(hex ? 2 : 1);
    if (digits.empty()) return 0;
    for (char c : digits) {
      int v = -1;
      if (c >= '0' && c <= '9') v = c - '0';
      else if (hex && c >= 'a' && c <= 'f') v = c - 'a' + 10;
      else if (hex && c >= 'A' && c <= 'F') v = c - 'A' + 10;
      if (v < 0) return 0;
      cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(v);
      if (cp > 0x10ffff) return 0;
    }
    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    if (cp < 0x20) cp = ' ';
    append_utf8(out, cp);
    return semi - at + 1;
  }
  static constexpr std::pair<std::string_view, char> kNamed[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '}};
  for (const auto& [n, c] : kNamed) {
    if (iequals(name, n)) {
      out += c;
      return semi - at + 1;
    }
  }
  return 0;
}

// Builder - the text, bounded.
class Builder {
 public:
  explicit Builder(std::size_t max) : max_(max) {}
  std::size_t left() const { return full_ ? 0 : max_ - out_.size(); }
  bool full() const { return full_; }
  void add(std::string_view s) {
    if (full_) return;
    if (s.size() > left()) {
      std::size_t cut = left();
      // Never half a character: back up to the lead octet of the one cut.
      while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
      append_clean(out_, s.substr(0, cut));
      full_ = true;
      return;
    }
    append_clean(out_, s);
  }
  void line(std::string_view s) {
    if (s.empty()) return;
    add(s);
    add("\n");
  }
  void separator() { out_ += kTextSeparator; }  // counted in max_ (reserved by the caller)
  std::string take() { return std::move(out_); }

 private:
  std::size_t max_;
  std::string out_;
  bool full_ = false;
};

void header_values(const Envelope& e, Builder& b) {
  for (const std::string* v : {&e.subject, &e.from, &e.to, &e.cc}) b.line(decode_encoded_words(*v));
}

std::string_view charset_of(const Part& p) {
  for (const auto& [k, v] : p.params)
    if (iequals(k, "charset")) return v;
  return {};
}

// walk - the text parts under p, depth first; false when a read failed.
bool walk(const ReadRange& read, const Part& p, Builder& b) {
  if (b.full()) return true;
  if (p.multipart()) {
    // The versions of one text (RFC 2046 5.1.4) say the same words twice:
    // of a plain and an HTML version, the plain one is enough.
    if (p.subtype == "alternative") {
      for (const auto& c : p.parts)
        if (c.type == "text" && c.subtype == "plain") return walk(read, c, b);
    }
    for (const auto& c : p.parts)
      if (!walk(read, c, b)) return false;
    return true;
  }
  if (p.message()) {
    for (const auto& c : p.parts) {
      if (c.envelope) header_values(*c.envelope, b);
      if (!walk(read, c, b)) return false;
    }
    return true;
  }
  if (p.type != "text" || (p.subtype != "plain" && p.subtype != "html")) return true;
  // An encoding grows text by 4/3 (base64) up to 3 (quoted-printable of
  // non-ASCII); HTML shrinks it by its tags: 4 times what is left is
  // enough, and the bound of the work.
  const std::uint64_t want = std::min<std::uint64_t>(p.size(), std::uint64_t{b.left()} * 4 + 4096);
  if (want == 0) return true;
  auto raw = read(p.body_offset, want);
  if (!raw) return false;
  std::string decoded;
  if (auto d = decode_transfer(*raw, p.encoding)) decoded = std::move(*d);
  else decoded = std::move(*raw);  // an encoding unknown: its octets as they are
  std::string text = to_utf8(decoded, charset_of(p));
  if (p.subtype == "html") text = html_text(text);
  b.add(text);
  b.add("\n");
  return true;
}

}  // namespace

std::string to_utf8(std::string_view octets, std::string_view charset) {
  if (!latin(charset)) return std::string(octets);
  std::string out;
  out.reserve(octets.size() + octets.size() / 8);
  for (unsigned char c : octets) {
    if (c < 0x80) out += static_cast<char>(c);
    else if (c < 0xa0 && kCp1252[c - 0x80] != 0) append_utf8(out, kCp1252[c - 0x80]);
    else append_utf8(out, c);
  }
  return out;
}

std::string html_text(std::string_view s) {
  std::string out;
  out.reserve(s.size() / 2);
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t lt = s.find_first_of("<&", i);
    if (lt == std::string_view::npos) {
      out.append(s.substr(i));
      break;
    }
    out.append(s.substr(i, lt - i));
    i = lt;
    if (s[i] == '&') {
      std::size_t n = entity(s, i, out);
      if (n == 0) {
        out += '&';
        n = 1;
      }
      i += n;
      continue;
    }
    // A tag, a comment or an element whose content is not text.
    std::size_t end;
    if (s.substr(i, 4) == "<!--") {
      end = s.find("-->", i + 4);
      end = end == std::string_view::npos ? s.size() : end + 3;
    } else {
      std::size_t close = s.find('>', i + 1);
      end = close == std::string_view::npos ? s.size() : close + 1;
      for (std::string_view skip : {"script", "style"}) {
        if (!name_at(s, i + 1, skip)) continue;
        std::size_t at = end;
        while (at < s.size()) {
          at = s.find("</", at);
          if (at == std::string_view::npos || name_at(s, at + 2, skip)) break;
          at += 2;
        }
        if (at == std::string_view::npos || at >= s.size()) {
          end = s.size();
        } else {
          close = s.find('>', at);
          end = close == std::string_view::npos ? s.size() : close + 1;
        }
      }
    }
    out += ' ';
    i = end;
  }
  return out;
}

std::optional<std::string> indexable_text(const ReadRange& read, const Part& structure, std::size_t max_octets) {
  if (max_octets == 0) return std::string(1, kTextSeparator);
  Builder headers(max_octets - 1);  // one octet for the separator
  if (structure.envelope) header_values(*structure.envelope, headers);
  std::string head = headers.take();
  Builder body(max_octets - 1 - head.size());
  if (!walk(read, structure, body)) return std::nullopt;
  std::string out = std::move(head);
  out += kTextSeparator;
  out += body.take();
  return out;
}

std::string indexable_text(std::string_view message, const Part& structure, std::size_t max_octets) {
  auto read = [message](std::uint64_t offset, std::uint64_t length) -> std::optional<std::string> {
    if (offset >= message.size()) return std::string();
    return std::string(message.substr(offset, length));
  };
  auto text = indexable_text(ReadRange(read), structure, max_octets);
  return text ? std::move(*text) : std::string(1, kTextSeparator);
}

Stored stored_forms(std::string_view message) {
  Part structure = structure_of(message);
  Stored out;
  out.text = indexable_text(message, structure);
  out.structure = encode(structure);
  return out;
}

}  // namespace herald::mime

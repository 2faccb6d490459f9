#include "mime/header.h"

#include <cstdint>
#include <optional>

#include "base/text.h"

namespace herald::mime {
namespace {

// Field - one header field of a CRLF or LF message: where it starts and
// ends (its continuation lines included, its line end too).
struct Field {
  std::string_view name;
  std::size_t begin = 0, end = 0;
};

// next_field - the field at pos, or none at the end of the header section.
bool next_field(std::string_view m, std::size_t pos, Field& f) {
  if (pos >= m.size() || m[pos] == '\n' || m.substr(pos, 2) == "\r\n") return false;
  std::size_t end = pos;
  do {
    std::size_t nl = m.find('\n', end);
    end = nl == std::string_view::npos ? m.size() : nl + 1;
  } while (end < m.size() && (m[end] == ' ' || m[end] == '\t'));
  std::string_view line = m.substr(pos, end - pos);
  std::size_t colon = line.find(':');
  f.name = colon == std::string_view::npos ? std::string_view() : trim(line.substr(0, colon));
  f.begin = pos;
  f.end = end;
  return true;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// percent_decoded - RFC 2231 4's %XX octets.
std::string percent_decoded(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// base64 - lenient (RFC 2047 4.1 B encoding as mailers write it): padding
// optional, octets outside the alphabet skipped.
std::string base64(std::string_view s) {
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : s) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') break;
    else continue;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

// quoted - the Q encoding (RFC 2047 4.2): "_" is a space, "=XX" an octet.
std::string quoted(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      out += ' ';
    } else if (s[i] == '=' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Word {
  std::string text;  // decoded, UTF-8
  std::size_t end = 0;
};

// encoded_word - the encoded-word "=?charset?encoding?text?=" at start of
// v (RFC 2047 2), decoded; nullopt when it is not one or its charset is
// not one we convert.
std::optional<Word> encoded_word(std::string_view v, std::size_t start) {
  std::size_t cs = start + 2, q = v.find('?', cs);
  if (q == std::string_view::npos || q - cs > 40 || q + 2 >= v.size() || v[q + 2] != '?') return std::nullopt;
  std::string_view charset = v.substr(cs, q - cs);
  charset = charset.substr(0, charset.find('*'));  // RFC 2231 5: "charset*language"
  char encoding = ascii_upper(v[q + 1]);
  std::size_t text = q + 3, end = v.find("?=", text);
  if (end == std::string_view::npos || (encoding != 'B' && encoding != 'Q')) return std::nullopt;
  std::string_view raw = v.substr(text, end - text);
  if (raw.find_first_of(" \t") != std::string_view::npos) return std::nullopt;  // no white space inside (2)
  std::string octets = encoding == 'B' ? base64(raw) : quoted(raw);
  Word w;
  w.end = end + 2;
  if (iequals(charset, "UTF-8") || iequals(charset, "US-ASCII")) {
    w.text = std::move(octets);
  } else if (iequals(charset, "ISO-8859-1") || iequals(charset, "LATIN1")) {
    for (unsigned char c : octets) {  // each octet is the code point of its character
      if (c < 0x80) {
        w.text += static_cast<char>(c);
      } else {
        w.text += static_cast<char>(0xc0 | (c >> 6));
        w.text += static_cast<char>(0x80 | (c & 0x3f));
      }
    }
  } else {
    return std::nullopt;
  }
  return w;
}

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

}  // namespace

std::vector<std::pair<std::string, std::string>> parameters(std::string_view value) {
  std::vector<std::pair<std::string, std::string>> out;
  // Each ";"-separated parameter, quoted strings kept whole.
  std::size_t pos = value.find(';');
  while (pos != std::string_view::npos && pos < value.size() && out.size() < 64) {
    std::size_t start = pos + 1;
    std::size_t eq = value.find('=', start);
    if (eq == std::string_view::npos) break;
    std::string key = to_lower(trim(value.substr(start, eq - start)));
    std::size_t v = eq + 1;
    while (v < value.size() && (value[v] == ' ' || value[v] == '\t')) ++v;
    std::string text;
    std::size_t next;
    if (v < value.size() && value[v] == '"') {
      std::size_t i = v + 1;
      for (; i < value.size() && value[i] != '"'; ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) ++i;
        text += value[i];
      }
      next = value.find(';', i);
    } else {
      next = value.find(';', v);
      text = std::string(trim(value.substr(v, next == std::string_view::npos ? std::string_view::npos : next - v)));
    }
    if (!key.empty() && key.back() == '*') {
      // RFC 2231: name*=charset'language'%XX.
      key.pop_back();
      std::size_t q = text.find('\'');
      std::size_t q2 = q == std::string::npos ? std::string::npos : text.find('\'', q + 1);
      text = percent_decoded(q2 == std::string::npos ? std::string_view(text) : std::string_view(text).substr(q2 + 1));
    }
    if (!key.empty()) out.emplace_back(std::move(key), std::move(text));
    pos = next;
  }
  return out;
}

std::string parameter(std::string_view value, std::string_view name) {
  for (auto& [k, v] : parameters(value))
    if (iequals(k, name)) return v;
  return {};
}

std::vector<AddressEntry> address_entries(std::string_view value) {
  std::vector<AddressEntry> out;
  std::string name;   // display name words so far, joined by one space
  std::string spec;   // an addr-spec written without <>, white space dropped
  std::string angle;  // the <angle-addr> seen, if any
  bool has_angle = false;
  bool in_group = false;
  auto word = [&](std::string_view w) {
    if (!name.empty()) name += ' ';
    name.append(w);
  };
  auto finish = [&] {
    std::string a = has_angle ? angle : spec;
    AddressEntry e;
    if (has_angle) {
      e.name = name;
      std::size_t colon = a.rfind(':');  // RFC 5322 4.4 obs-route
      if (colon != std::string::npos && a.starts_with("@")) {
        e.route = a.substr(0, colon);
        a.erase(0, colon + 1);
      }
    }
    a = std::string(trim(a));
    if (!a.empty()) {
      std::size_t at = a.rfind('@');
      e.local = at == std::string::npos ? a : a.substr(0, at);
      e.domain = at == std::string::npos ? "" : a.substr(at + 1);
      out.push_back(std::move(e));
    }
    name.clear();
    spec.clear();
    angle.clear();
    has_angle = false;
  };
  std::string atom;  // the word being read (for the name) and the spec it may be
  auto end_atom = [&] {
    if (atom.empty()) return;
    word(atom);
    spec += atom;
    atom.clear();
  };
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '"') {  // a quoted display name or local part
      end_atom();
      std::string unquoted, raw = "\"";
      for (++i; i < value.size() && value[i] != '"'; ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) raw += value[i++];
        raw += value[i];
        unquoted += value[i];
      }
      raw += '"';
      word(unquoted);
      spec += raw;
    } else if (c == '(') {  // a comment, nested (RFC 5322 3.2.2)
      end_atom();
      int depth = 1;
      for (++i; i < value.size() && depth > 0; ++i) {
        if (value[i] == '\\') ++i;
        else if (value[i] == '(') ++depth;
        else if (value[i] == ')') --depth;
      }
      --i;
    } else if (c == '<') {
      end_atom();
      std::size_t close = value.find('>', i);
      angle = std::string(value.substr(i + 1, close == std::string_view::npos ? std::string_view::npos : close - i - 1));
      has_angle = true;
      if (close == std::string_view::npos) break;
      i = close;
    } else if (c == ':' && !has_angle && !in_group) {
      end_atom();  // a group's display name (RFC 5322 3.4)
      out.push_back({AddressEntry::Kind::group_start, name, "", "", ""});
      name.clear();
      spec.clear();
      in_group = true;
    } else if (c == ',' || c == ';') {
      end_atom();
      finish();
      if (c == ';' && in_group) {
        out.push_back({AddressEntry::Kind::group_end, "", "", "", ""});
        in_group = false;
      }
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      end_atom();  // white space between the tokens of an addr-spec is not part of it (RFC 5322 3.4.1 CFWS)
    } else {
      atom += c;
    }
  }
  end_atom();
  finish();
  if (in_group) out.push_back({AddressEntry::Kind::group_end, "", "", "", ""});
  return out;
}

std::vector<std::string> addresses(std::string_view value) {
  std::vector<std::string> out;
  for (const auto& e : address_entries(value))
    if (e.kind == AddressEntry::Kind::mailbox) out.push_back(e.domain.empty() ? e.local : e.local + "@" + e.domain);
  return out;
}

std::vector<std::string> field_values(std::string_view head, std::string_view name) {
  std::vector<std::string> out;
  Field f;
  for (std::size_t pos = 0; next_field(head, pos, f); pos = f.end) {
    if (!iequals(f.name, name)) continue;
    std::string_view raw = head.substr(f.begin, f.end - f.begin);
    raw.remove_prefix(raw.find(':') + 1);
    std::string v;
    for (char c : raw)
      if (c != '\r' && c != '\n') v += c;  // unfolding (RFC 5322 2.2.3)
    out.emplace_back(trim(v));
  }
  return out;
}

std::string without_fields(std::string_view message, std::string_view name) {
  std::string out;
  out.reserve(message.size());
  Field f;
  std::size_t pos = 0;
  for (; next_field(message, pos, f); pos = f.end)
    if (!iequals(f.name, name)) out.append(message.substr(f.begin, f.end - f.begin));
  out.append(message.substr(pos));
  return out;
}

std::string decode_encoded_words(std::string_view value) {
  std::string out;
  std::size_t i = 0;
  bool after_word = false;
  while (i < value.size()) {
    std::size_t start = value.find("=?", i);
    if (start == std::string_view::npos) {
      out.append(value.substr(i));
      break;
    }
    auto word = encoded_word(value, start);
    if (!word) {
      out.append(value.substr(i, start + 2 - i));
      i = start + 2;
      after_word = false;
      continue;
    }
    std::string_view gap = value.substr(i, start - i);
    if (!(after_word && blank(gap))) out.append(gap);  // RFC 2047 6.2
    out += word->text;
    i = word->end;
    after_word = true;
  }
  return out;
}

}  // namespace herald::mime

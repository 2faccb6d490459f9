#include "mime/header.h"

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

std::vector<std::string> addresses(std::string_view value) {
  std::vector<std::string> out;
  std::string text;      // the entry so far, comments and quotes dropped
  std::string angle;     // an <angle-addr> seen in it
  bool has_angle = false;
  auto finish = [&] {
    std::string a = has_angle ? angle : std::string(trim(text));
    if (has_angle) {
      std::size_t route = a.rfind(':');  // RFC 5322 4.4 obs-route
      if (route != std::string::npos && a.starts_with("@")) a.erase(0, route + 1);
    }
    if (!trim(a).empty()) out.emplace_back(trim(a));
    text.clear();
    angle.clear();
    has_angle = false;
  };
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '"') {  // a quoted display name or local part
      std::string quoted = "\"";
      for (++i; i < value.size() && value[i] != '"'; ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) quoted += value[i++];
        quoted += value[i];
      }
      text += quoted + "\"";
    } else if (c == '(') {  // a comment, nested (RFC 5322 3.2.2)
      int depth = 1;
      for (++i; i < value.size() && depth > 0; ++i) {
        if (value[i] == '\\') ++i;
        else if (value[i] == '(') ++depth;
        else if (value[i] == ')') --depth;
      }
      --i;
    } else if (c == '<') {
      std::size_t close = value.find('>', i);
      angle = std::string(value.substr(i + 1, close == std::string_view::npos ? std::string_view::npos : close - i - 1));
      has_angle = true;
      if (close == std::string_view::npos) break;
      i = close;
    } else if (c == ':' && !has_angle) {
      text.clear();  // a group's display name (RFC 5322 3.4)
    } else if (c == ',' || c == ';') {
      finish();
    } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      text += c;  // white space between the tokens of an addr-spec is not part of it (RFC 5322 3.4.1 CFWS)
    }
  }
  finish();
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

}  // namespace herald::mime

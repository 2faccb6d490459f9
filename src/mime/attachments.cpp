#include "mime/attachments.h"

#include "base/text.h"

namespace herald::mime {
namespace {

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

std::string parameter(std::string_view value, std::string_view name) {
  // Each ";"-separated parameter, quoted strings kept whole.
  std::size_t pos = value.find(';');
  while (pos != std::string_view::npos && pos < value.size()) {
    std::size_t start = pos + 1;
    std::size_t eq = value.find('=', start);
    if (eq == std::string_view::npos) break;
    std::string_view key = trim(value.substr(start, eq - start));
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
    if (iequals(key, name)) return text;
    // RFC 2231: name*=charset'language'%XX (one piece; continuations are rare for names).
    if (key.size() == name.size() + 1 && key.back() == '*' && iequals(key.substr(0, name.size()), name)) {
      std::size_t q = text.find('\'');
      std::size_t q2 = q == std::string::npos ? std::string::npos : text.find('\'', q + 1);
      return percent_decoded(q2 == std::string::npos ? std::string_view(text) : std::string_view(text).substr(q2 + 1));
    }
    pos = next;
  }
  return {};
}

void AttachmentScan::feed(std::string_view octets) {
  while (!octets.empty()) {
    std::size_t nl = octets.find('\n');
    std::string_view piece = octets.substr(0, nl);
    if (!partial_overflow_) {
      std::size_t room = kLineMax - partial_.size();
      partial_.append(piece.substr(0, room));
      partial_overflow_ = piece.size() > room;
    }
    if (nl == std::string_view::npos) return;
    octets.remove_prefix(nl + 1);
    std::string_view l = partial_;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    line(l);
    partial_.clear();
    partial_overflow_ = false;
  }
}

void AttachmentScan::line(std::string_view l) {
  if (in_header_) {
    if (l.empty()) {
      if (!field_.empty()) field(field_);
      field_.clear();
      end_part_header();
      in_header_ = false;
    } else if (l.front() == ' ' || l.front() == '\t') {
      if (field_.size() < kLineMax) field_.append(l);  // RFC 5322 2.2.3 unfolding
    } else {
      if (!field_.empty()) field(field_);
      field_.assign(l);
    }
    return;
  }
  if (l.size() < 3 || l[0] != '-' || l[1] != '-') return;
  std::string_view b = trim(l.substr(2));
  for (const auto& known : boundaries_) {
    if (b == known) {  // RFC 2046 5.1.1: a part begins with its header
      in_header_ = true;
      attachment_ = false;
      name_.clear();
      return;
    }
    if (b.size() == known.size() + 2 && b.starts_with(known) && b.ends_with("--")) return;  // the close
  }
}

void AttachmentScan::field(std::string_view f) {
  std::size_t colon = f.find(':');
  if (colon == std::string_view::npos) return;
  std::string_view key = trim(f.substr(0, colon)), value = trim(f.substr(colon + 1));
  if (iequals(key, "Content-Type")) {
    std::string boundary = parameter(value, "boundary");
    if (!boundary.empty() && boundaries_.size() < kBoundariesMax) boundaries_.push_back(std::move(boundary));
    if (name_.empty()) name_ = parameter(value, "name");
  } else if (iequals(key, "Content-Disposition")) {
    std::string_view kind = trim(value.substr(0, value.find(';')));
    attachment_ = attachment_ || iequals(kind, "attachment");
    std::string filename = parameter(value, "filename");
    if (!filename.empty()) name_ = std::move(filename);
  }
}

void AttachmentScan::end_part_header() {
  if (!attachment_ && name_.empty()) return;
  ++count_;
  if (names_.size() < kNamesMax) names_.push_back(name_.substr(0, 255));
  attachment_ = false;
  name_.clear();
}

}  // namespace herald::mime

#include "mime/attachments.h"

#include "base/text.h"
#include "mime/header.h"

namespace herald::mime {

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

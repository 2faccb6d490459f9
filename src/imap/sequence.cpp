#include "imap/sequence.h"

#include <algorithm>
#include <charconv>

namespace herald::imap {
namespace {

// number - nz-number (RFC 9051 9: 1 to 4294967295) or "*".
std::optional<std::uint32_t> number(std::string_view s) {
  if (s == "*") return SequenceSet::kStar;
  if (s.empty() || s.size() > 10 || s.front() == '0') return std::nullopt;
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n == 0 || n > 0xffffffffull) return std::nullopt;
  return static_cast<std::uint32_t>(n);
}

}  // namespace

std::optional<SequenceSet> SequenceSet::parse(std::string_view text, std::size_t max_ranges) {
  SequenceSet set;
  if (text == "$") {
    set.saved_ = true;
    return set;
  }
  if (text.empty()) return std::nullopt;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    std::string_view element = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    std::size_t colon = element.find(':');
    auto first = number(element.substr(0, colon));
    auto last = colon == std::string_view::npos ? first : number(element.substr(colon + 1));
    if (!first || !last) return std::nullopt;
    if (set.ranges_.size() >= max_ranges) return std::nullopt;
    set.ranges_.push_back({*first, *last});
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return set;
}

bool SequenceSet::contains(std::uint32_t n, std::uint32_t largest) const {
  for (const auto& r : ranges_) {
    // RFC 9051 9: "*" is the largest number in use; a range may be written
    // either way round (4:2 is 2:4).
    std::uint32_t a = r.first == kStar ? largest : r.first;
    std::uint32_t b = r.last == kStar ? largest : r.last;
    if (a > b) std::swap(a, b);
    if (n >= a && n <= b) return true;
  }
  return false;
}

}  // namespace herald::imap

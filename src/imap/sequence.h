// imap/sequence.h - sequence sets (RFC 9051 9 sequence-set): "1:4,7,9:*",
// and "$" (RFC 5182 SEARCHRES), as ranges to test numbers against.
//
// Pure and bounded: at most max_ranges ranges (a million-range set is
// refused, not stored); "*" stands for the largest number in use, which
// the caller gives when it asks.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace herald::imap {

class SequenceSet {
 public:
  static constexpr std::uint32_t kStar = 0;  // "*" in a range's bound

  struct Range {
    std::uint32_t first = 1, last = 1;  // as written: either may be kStar, first may exceed last
  };

  // parse - the set, or nullopt for one that is malformed (a zero, a
  // number over 2^32-1, an empty element) or has more than max_ranges.
  static std::optional<SequenceSet> parse(std::string_view text, std::size_t max_ranges = 10000);

  // saved - "$": the result of the last SEARCH ... RETURN (SAVE).
  bool saved() const { return saved_; }
  const std::vector<Range>& ranges() const { return ranges_; }

  // contains - n is in the set when "*" is `largest` (the highest message
  // sequence number or UID in use; 0 when the mailbox is empty).
  bool contains(std::uint32_t n, std::uint32_t largest) const;

 private:
  std::vector<Range> ranges_;
  bool saved_ = false;
};

}  // namespace herald::imap

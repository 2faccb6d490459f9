// store/byte_range.h - a part of a stored message: an IMAP partial fetch
// (BODY[]<offset.length>, RFC 9051 6.4.5), a piece of a body being sent.
#pragma once

#include <cstdint>
#include <limits>

namespace herald::store {

struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t length = std::numeric_limits<std::uint64_t>::max();
};

}  // namespace herald::store

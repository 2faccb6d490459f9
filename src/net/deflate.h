// net/deflate.h - a connection's COMPRESS=DEFLATE layer (RFC 4978): raw
// DEFLATE (RFC 1951, no zlib header) both ways, each write flushed to a
// byte boundary (Z_SYNC_FLUSH) so the peer can read what was sent at once.
// zlib does the work.
//
// Bounded: inflate hands out at most what the caller's buffer holds and
// keeps the rest of its input, so a decompression bomb arrives a buffer at
// a time, through the same bounds as plain input.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace herald::net {

class Deflate {
 public:
  Deflate();
  ~Deflate();
  Deflate(const Deflate&) = delete;
  Deflate& operator=(const Deflate&) = delete;

  // feed - compressed octets from the peer.
  void feed(std::string_view compressed);
  // inflate - up to size octets of plain text from what was fed; 0 when
  // more input is needed; -1 when the input is not DEFLATE.
  long inflate(char* out, std::size_t size);
  // pending - fed octets not inflated yet, or output zlib still holds.
  bool pending() const;
  // deflate - plain octets as a flushed DEFLATE block sequence.
  std::string deflate(std::string_view plain);

 private:
  struct Streams;
  std::unique_ptr<Streams> z_;
  std::string in_;          // fed, not consumed yet
  std::size_t in_pos_ = 0;
  bool full_ = false;       // the last inflate filled its buffer
};

}  // namespace herald::net

#include "net/deflate.h"

#include <gtest/gtest.h>

#include <string>

namespace herald::net {
namespace {

std::string inflate_all(Deflate& d, std::size_t chunk) {
  std::string out;
  std::string buffer(chunk, '\0');
  for (;;) {
    long n = d.inflate(buffer.data(), buffer.size());
    EXPECT_GE(n, 0);
    if (n <= 0) break;
    out.append(buffer.data(), static_cast<std::size_t>(n));
  }
  return out;
}

// Two ends of a connection: what one deflates the other inflates, a write
// at a time, each readable as soon as it arrives (Z_SYNC_FLUSH).
TEST(Deflate, EachWriteIsReadableAtOnce) {
  Deflate a, b;
  std::string first = "a1 OK DEFLATE active\r\n";
  b.feed(a.deflate(first));
  EXPECT_EQ(inflate_all(b, 7), first);
  EXPECT_FALSE(b.pending());
  std::string big(200000, 'x');
  for (std::size_t i = 0; i < big.size(); i += 97) big[i] = static_cast<char>('a' + i % 26);
  std::string wire = a.deflate(big);
  EXPECT_LT(wire.size(), big.size() / 4);
  // Fed in pieces, read through a small buffer.
  std::string got;
  for (std::size_t i = 0; i < wire.size(); i += 1000) {
    b.feed(std::string_view(wire).substr(i, 1000));
    got += inflate_all(b, 512);
  }
  EXPECT_EQ(got, big);
}

TEST(Deflate, GarbageIsRefused) {
  Deflate d;
  d.feed(std::string("\xff\xff\xff\xff garbage", 12));
  char buffer[64];
  EXPECT_EQ(d.inflate(buffer, sizeof buffer), -1);
}

// A bomb arrives a buffer at a time: each inflate gives at most the
// buffer's size, whatever the ratio.
TEST(Deflate, ABombIsHandedOutABufferAtATime) {
  Deflate a, b;
  std::string wire = a.deflate(std::string(10 << 20, '\0'));
  EXPECT_LT(wire.size(), 20000u);
  b.feed(wire);
  char buffer[4096];
  long n = b.inflate(buffer, sizeof buffer);
  EXPECT_EQ(n, 4096);
  EXPECT_TRUE(b.pending()) << "more is to come: a reader must not wait on the socket";
}

// RFC 4978 has no end of stream: a final block ends the connection, and
// nothing after it piles up.
TEST(Deflate, AFinalBlockEndsTheStream) {
  Deflate b;
  // "hi" as one final raw DEFLATE block (stored), then more octets.
  b.feed(std::string("\x01\x02\x00\xfd\xffhi", 7));
  char buffer[16];
  EXPECT_EQ(b.inflate(buffer, sizeof buffer), 2);
  b.feed("more");
  EXPECT_EQ(b.inflate(buffer, sizeof buffer), -1);
}

}  // namespace
}  // namespace herald::net

#include "net/deflate.h"

#include <zlib.h>

#include <stdexcept>

namespace herald::net {

struct Deflate::Streams {
  z_stream in{};
  z_stream out{};
};

Deflate::Deflate() : z_(std::make_unique<Streams>()) {
  // windowBits -15: raw DEFLATE, as RFC 4978 3 asks. Level 6 with an
  // 8-level memory use is zlib's default trade.
  if (inflateInit2(&z_->in, -15) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  if (deflateInit2(&z_->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    inflateEnd(&z_->in);
    throw std::runtime_error("deflateInit2 failed");
  }
}

Deflate::~Deflate() {
  inflateEnd(&z_->in);
  deflateEnd(&z_->out);
}

void Deflate::feed(std::string_view compressed) {
  in_.erase(0, in_pos_);  // what inflate took goes: the buffer holds only what is unread
  in_pos_ = 0;
  in_.append(compressed);
}

bool Deflate::pending() const { return in_pos_ < in_.size() || full_; }

long Deflate::inflate(char* out, std::size_t size) {
  z_stream& s = z_->in;
  s.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
  s.avail_in = static_cast<uInt>(in_.size() - in_pos_);
  s.next_out = reinterpret_cast<Bytef*>(out);
  s.avail_out = static_cast<uInt>(size);
  int rc = ::inflate(&s, Z_SYNC_FLUSH);
  in_pos_ = in_.size() - s.avail_in;
  // A final block ends the stream (RFC 4978 has none): what follows would
  // pile up unread, so the stream's end is the connection's.
  if (rc == Z_STREAM_END && size == s.avail_out) return -1;
  if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) return -1;
  full_ = size > 0 && s.avail_out == 0;  // zlib may hold more output for the next call
  return static_cast<long>(size - s.avail_out);
}

std::string Deflate::deflate(std::string_view plain) {
  z_stream& s = z_->out;
  std::string out;
  out.resize(deflateBound(&s, static_cast<uLong>(plain.size())) + 16);
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  s.avail_in = static_cast<uInt>(plain.size());
  std::size_t produced = 0;
  for (;;) {
    s.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    s.avail_out = static_cast<uInt>(out.size() - produced);
    ::deflate(&s, Z_SYNC_FLUSH);
    produced = out.size() - s.avail_out;
    if (s.avail_in == 0 && s.avail_out > 0) break;
    out.resize(out.size() * 2);  // the flush marker did not fit
  }
  out.resize(produced);
  return out;
}

}  // namespace herald::net

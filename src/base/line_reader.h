// base/line_reader.h - bounded CRLF line splitting shared by SMTP and POP3.
//
// Invariant: the buffer never holds more than one over-long line's worth of
// bytes: once a line passes the limit its remaining octets are discarded up
// to the next LF and the line is reported as too long, so a hostile peer
// cannot grow memory by never sending a newline.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace herald {

struct Line {
  std::string text;        // without the line terminator
  bool too_long = false;   // the line passed the limit; text is truncated
  bool bare_lf = false;    // ended by LF without CR
};

// LineView - a line without copying; valid until the next call on the reader.
struct LineView {
  std::string_view text;
  bool too_long = false;
  bool bare_lf = false;
};

class LineReader {
 public:
  explicit LineReader(std::size_t max_line) : max_line_(max_line) {}

  void set_max_line(std::size_t max_line) { max_line_ = max_line; }
  void feed(std::string_view bytes) { buf_.append(bytes.data(), bytes.size()); }

  // next_line - the next complete line, or nullopt when more input is needed.
  std::optional<Line> next_line();
  // next_view - the same without a copy (the DATA hot path).
  std::optional<LineView> next_view();

  // take - up to n raw octets (BDAT chunks, literals); may return fewer.
  std::string take(std::size_t n);

  std::size_t buffered() const { return buf_.size() - pos_; }
  // discard_buffered - drop all pending input (RFC 3207 4.2: nothing sent
  // before the TLS handshake may be acted on after it).
  void discard_buffered() { buf_.clear(); pos_ = 0; }

 private:
  void compact();

  std::string buf_;
  std::string overflow_;       // the truncated text of an over-long line
  std::size_t pos_ = 0;        // consumed prefix of buf_
  std::size_t max_line_;
  bool discarding_ = false;    // inside an over-long line
};

}  // namespace herald

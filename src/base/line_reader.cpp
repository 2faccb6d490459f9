#include "base/line_reader.h"

#include <algorithm>

namespace herald {

// compact - drop consumed input; only between calls, so views stay valid.
void LineReader::compact() {
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ > 65536)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
}

std::optional<Line> LineReader::next_line() {
  auto v = next_view();
  if (!v) return std::nullopt;
  return Line{std::string(v->text), v->too_long, v->bare_lf};
}

std::optional<LineView> LineReader::next_view() {
  compact();
  for (;;) {
    std::size_t lf = buf_.find('\n', pos_);
    if (lf == std::string::npos) {
      // No terminator yet: bound what we keep.
      if (buffered() > max_line_) {
        bool first = !discarding_;
        if (first) overflow_.assign(buf_, pos_, max_line_);
        discarding_ = true;
        buf_.clear();
        pos_ = 0;
        if (first) return LineView{overflow_, true, false};
      }
      return std::nullopt;
    }
    std::size_t end = lf;
    bool crlf = end > pos_ && buf_[end - 1] == '\r';
    if (crlf) --end;
    if (discarding_) {
      // The tail of a line already reported as too long.
      discarding_ = false;
      pos_ = lf + 1;
      continue;
    }
    LineView line;
    std::size_t len = end - pos_;
    // max_line_ counts the CRLF, as RFC 5321 4.5.3.1 does.
    line.too_long = len + 2 > max_line_;
    line.text = std::string_view(buf_).substr(pos_, std::min(len, max_line_));
    line.bare_lf = !crlf;
    pos_ = lf + 1;
    return line;
  }
}

std::string LineReader::take(std::size_t n) {
  compact();  // a long BDAT chunk must not pile up consumed input
  std::size_t k = std::min(n, buffered());
  std::string out = buf_.substr(pos_, k);
  pos_ += k;
  return out;
}

}  // namespace herald

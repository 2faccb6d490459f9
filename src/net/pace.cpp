#include "net/pace.h"

#include <algorithm>

namespace herald::net {

void RateBudget::spend(milliseconds waited, std::size_t octets) {
  if (octets == 0) {
    left_ -= waited;
    return;
  }
  if (min_rate_ == 0) {
    left_ = cap_;
    return;
  }
  // octets / rate in milliseconds, computed in 64 bits: a read buffer's
  // worth at 1 octet/s is far from overflowing.
  auto earned = milliseconds(static_cast<std::int64_t>(octets) * 1000 / min_rate_);
  left_ = std::min(cap_, left_ - waited + earned);
}

void ReadPace::on_read(std::string_view octets, milliseconds waited, const ReadRules& rules) {
  const bool entered = rules.phase != phase_;
  phase_ = rules.phase;
  if (rules.phase == Phase::data) {
    in_line_ = false;
    if (entered) budget_ = RateBudget(rules.data, rules.min_rate);  // the DATA command's read is not the body's
    else budget_.spend(waited, octets.size());
    return;
  }
  if (!octets.empty() && octets.back() == '\n') {
    in_line_ = false;
    budget_ = RateBudget(rules.idle, 0);
    return;
  }
  // A line is open. It began in this read unless the one before left it
  // open and this one ended nothing; then this read's wait counts against it.
  bool began = entered || !in_line_ || octets.find('\n') != std::string_view::npos;
  in_line_ = true;
  if (began) budget_ = RateBudget(rules.line, 0);
  else budget_.spend(waited, 0);
}

}  // namespace herald::net

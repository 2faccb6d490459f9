#include "delivery/retry.h"

#include <algorithm>

namespace herald::delivery {

std::optional<std::int64_t> next_attempt(const RetryPolicy& p, std::int64_t created_s, std::int64_t now_s) {
  const std::int64_t end = created_s + p.lifetime.count();
  if (now_s >= end) return std::nullopt;
  const std::int64_t age = now_s - created_s;
  const std::int64_t interval = age < p.first_period.count() ? p.first_interval.count() : p.second_interval.count();
  return std::min(now_s + interval, end);
}

}  // namespace herald::delivery

#include "base/duration.h"

#include "base/text.h"

namespace herald {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) {
  s = trim(s);
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  auto n = parse_uint(s.substr(0, digits));
  if (!n) return std::nullopt;
  std::string_view unit = s.substr(digits);
  std::uint64_t ms;
  if (unit == "ms") ms = 1;
  else if (unit == "s" || unit.empty()) ms = 1000;
  else if (unit == "m") ms = 60'000;
  else if (unit == "h") ms = 3'600'000;
  else if (unit == "d") ms = 86'400'000;
  else return std::nullopt;
  // Past about 292 years a count of milliseconds overflows (and a deadline
  // of now + it in nanoseconds long before): too long is an error, never a
  // wrapped, tiny or negative duration.
  if (*n > kMaxDuration.count() / ms) return std::nullopt;
  return std::chrono::milliseconds(*n * ms);
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = static_cast<std::uint64_t>(d.count());
  if (ms == 0) return "0s";
  if (ms % 86'400'000 == 0) return std::to_string(ms / 86'400'000) + "d";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace herald

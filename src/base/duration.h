// base/duration.h - "30s", "5m", "2h", "500ms", "1d" as std::chrono durations.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace herald {

// kMaxDuration - the longest duration parse_duration accepts: 100 years, so
// that steady_clock::now() + it (nanoseconds, signed 64 bits: 292 years)
// cannot overflow. Config keys have far smaller ranges of their own.
inline constexpr std::chrono::milliseconds kMaxDuration{100LL * 365 * 86'400'000};

// parse_duration - nullopt when malformed or longer than kMaxDuration.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view s);
std::string format_duration(std::chrono::milliseconds d);

}  // namespace herald

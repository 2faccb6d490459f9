// base/duration.h - "30s", "5m", "2h", "500ms", "1d" as std::chrono durations.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace herald {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s);
std::string format_duration(std::chrono::milliseconds d);

}  // namespace herald

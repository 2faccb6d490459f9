// base/text.h - small ASCII string helpers shared by every protocol.
//
// Protocol keywords are ASCII and case-insensitive (RFC 5321 2.4, RFC 1939 3);
// these helpers never depend on the locale.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald {

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
constexpr char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? char(c - 'a' + 'A') : c; }

std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool istarts_with(std::string_view s, std::string_view prefix);
std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);

// parse_uint - a decimal number without sign or spaces; nullopt on overflow.
std::optional<std::uint64_t> parse_uint(std::string_view s);

// parse_size - "10M", "1G", "512k", "1000" as bytes (binary multiples).
std::optional<std::uint64_t> parse_size(std::string_view s);

// format_size - bytes as the shortest exact "10M"-style text.
std::string format_size(std::uint64_t bytes);

// printable - s with control and 8-bit octets escaped, safe for one log line.
std::string printable(std::string_view s, std::size_t max = 200);

}  // namespace herald

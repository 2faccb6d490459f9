// base/text.h - small ASCII string helpers shared by every protocol, the
// UTF-8 check and the escapes that make untrusted text safe to show.
//
// Protocol keywords are ASCII and case-insensitive (RFC 5321 2.4, RFC 1939 3);
// these helpers never depend on the locale.
//
// Security: text from the network or the store is shown only through
// printable() (ASCII only: SMTP replies, Received headers) or
// printable_utf8() (log lines, the CLI's text): neither lets a control byte
// or malformed UTF-8 through to a terminal or a line-oriented parser. Both
// write an escaped octet as "\xNN" (two lower-case hex digits).
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

// valid_hostname - a host name as RFC 1123 2.1 allows it in the greeting
// and EHLO (RFC 5321 4.1.2 Domain): dot-separated labels of letters, digits
// and '-', 1 to 63 octets each, not starting or ending with '-', 253 in all.
// Nothing else: a CR or LF here would be sent in every greeting.
bool valid_hostname(std::string_view name);
// ip_literal - an IPv4 or IPv6 address in its text form ("192.0.2.1", "::1").
bool ip_literal(const std::string& text);

// parse_uint - a decimal number without sign or spaces; nullopt on overflow.
std::optional<std::uint64_t> parse_uint(std::string_view s);

// parse_size - "10M", "1G", "512k", "1000" as bytes (binary multiples).
std::optional<std::uint64_t> parse_size(std::string_view s);

// format_size - bytes as the shortest exact "10M"-style text.
std::string format_size(std::uint64_t bytes);

// printable - s with control and 8-bit octets escaped, safe for one log line.
std::string printable(std::string_view s, std::size_t max = 200);

// utf8_length - the length of the well-formed UTF-8 character that s starts
// with (RFC 3629 4: 1 to 4 octets); 0 when s is empty or starts with an
// ill-formed sequence: a stray continuation octet, an overlong form (C0, C1,
// E0 80-9F, F0 80-8F), a surrogate (ED A0-BF), a code point past U+10FFFF
// (F4 90-, F5-FF) or a truncated sequence.
std::size_t utf8_length(std::string_view s);

// valid_utf8 - s is well-formed UTF-8 throughout (RFC 3629 4). Control
// characters are well-formed; callers that refuse them say so.
bool valid_utf8(std::string_view s);

// printable_utf8 - s for a terminal or a log line: printable ASCII and
// well-formed UTF-8 of printable characters as they are; C0 controls, DEL,
// C1 controls (U+0080-U+009F, also when well-formed) and every octet of an
// ill-formed sequence escaped as "\xNN", as printable() escapes them.
// Unlike printable() it keeps "\" (the text may already have passed
// through printable(); escaping it again would double the escapes) and has
// no length bound (callers bound what they store).
std::string printable_utf8(std::string_view s);

// is_printable_ascii - s is all printable ASCII (0x20-0x7e): nothing to escape.
bool is_printable_ascii(std::string_view s);

}  // namespace herald

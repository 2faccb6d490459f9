// imap/date.h - the dates of IMAP (RFC 9051 9 `date`, `date-time`) and the
// Date: header field of messages (RFC 5322 3.3, with the obsolete forms of
// 4.3) that SEARCH's SENT* keys and sorting read.
//
// Pure: civil-date arithmetic on std::chrono's calendar (proleptic
// Gregorian, UTC), never timegm, the locale or the clock; "now" is the
// caller's. Times are unix seconds; a day is the unix seconds of its
// 00:00 UTC, so days compare as numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::imap {

// parse_search_date - SEARCH's date (RFC 9051 9 date-text, quotes already
// taken off): "1-Feb-1994" or "01-Feb-1994", the month in any case, as
// the day's 00:00 UTC. nullopt for a day the month has not (31-Feb), a
// year outside 1900..9999 or anything else.
std::optional<std::int64_t> parse_search_date(std::string_view text);

// parse_date_time - APPEND's date-time (RFC 9051 9, quotes taken off):
// " 1-Feb-1994 21:52:25 -0800" or "01-Feb-1994 21:52:25 +0000" (a lone
// digit without its space is taken too) as unix seconds.
std::optional<std::int64_t> parse_date_time(std::string_view text);

// format_date_time - INTERNALDATE's form, without the quotes: "17-Jul-1996
// 09:44:25 +0000", the day space-padded (RFC 9051 9 date-day-fixed), in
// UTC. Times outside years 1900..9999 are clamped to them: the grammar
// has four year digits.
std::string format_date_time(std::int64_t unix_seconds);

// day_of - the day unix_seconds falls on where the clock is zone_minutes
// east of UTC, as that day's 00:00 UTC (the form parse_search_date gives).
std::int64_t day_of(std::int64_t unix_seconds, int zone_minutes = 0);

// MessageDate - a Date: field's moment and the zone it was written in.
struct MessageDate {
  std::int64_t seconds = 0;  // unix seconds
  int zone_minutes = 0;      // east of UTC: "-0800" is -480
};

// parse_message_date - an RFC 5322 date-time, read tolerantly: optional
// day of week, "day month year" (or "month day year"), the time with or
// without seconds (absent: midnight), the zone as "+hhmm", a name of RFC
// 5322 4.3 (UT, GMT, EST ... PDT) or absent (then +0000; military and
// unknown names also, as 4.3 says to treat them as -0000); comments
// dropped; 2- and 3-digit years as 4.3 says. nullopt when no valid day
// can be read.
std::optional<MessageDate> parse_message_date(std::string_view value);

}  // namespace herald::imap

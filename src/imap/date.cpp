#include "imap/date.h"

#include <chrono>
#include <cstdio>
#include <vector>

#include "base/text.h"

namespace herald::imap {
namespace {

namespace chr = std::chrono;

constexpr std::int64_t kDay = 86400;
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// digits - s as a decimal number when it is 1 to 4 digits.
std::optional<int> digits(std::string_view s, std::size_t min, std::size_t max) {
  if (s.size() < min || s.size() > max) return std::nullopt;
  int n = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// month - 1..12 for a month's three-letter name, any case.
std::optional<unsigned> month(std::string_view s) {
  if (s.size() != 3) return std::nullopt;
  for (unsigned m = 0; m < 12; ++m)
    if (iequals(s, kMonths[m])) return m + 1;
  return std::nullopt;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// civil - the day's 00:00 UTC, or nullopt for a day the month has not.
std::optional<std::int64_t> civil(int y, unsigned m, unsigned d) {
  chr::year_month_day ymd{chr::year{y}, chr::month{m}, chr::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return static_cast<std::int64_t>(chr::sys_days(ymd).time_since_epoch().count()) * kDay;
}

// time_of_day - "hh:mm:ss" (or "hh:mm" when seconds are optional) as
// seconds; 60 seconds is a leap second (RFC 5322 3.3).
std::optional<std::int64_t> time_of_day(std::string_view s, bool seconds_optional) {
  auto h = digits(s.substr(0, 2), 2, 2);
  if (!h || s.size() < 5 || s[2] != ':') return std::nullopt;
  auto m = digits(s.substr(3, 2), 2, 2);
  std::optional<int> sec = 0;
  if (s.size() == 5 && seconds_optional) {
  } else if (s.size() == 8 && s[5] == ':') {
    sec = digits(s.substr(6), 2, 2);
  } else {
    return std::nullopt;
  }
  if (!m || !sec || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;
  return *h * 3600 + *m * 60 + *sec;
}

// zone - "+hhmm" / "-hhmm" as minutes east of UTC.
std::optional<int> zone(std::string_view s) {
  if (s.size() != 5 || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  auto h = digits(s.substr(1, 2), 2, 2), m = digits(s.substr(3, 2), 2, 2);
  if (!h || !m || *h > 23 || *m > 59) return std::nullopt;
  return (s[0] == '-' ? -1 : 1) * (*h * 60 + *m);
}

}  // namespace

std::optional<std::int64_t> parse_search_date(std::string_view text) {
  // date-text = date-day "-" date-month "-" date-year (RFC 9051 9)
  std::size_t a = text.find('-');
  if (a == std::string_view::npos) return std::nullopt;
  std::size_t b = text.find('-', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  auto d = digits(text.substr(0, a), 1, 2);
  auto m = month(text.substr(a + 1, b - a - 1));
  auto y = digits(text.substr(b + 1), 4, 4);
  if (!d || !m || !y || *y < 1900) return std::nullopt;
  return civil(*y, *m, static_cast<unsigned>(*d));
}

std::optional<std::int64_t> parse_date_time(std::string_view text) {
  // date-time = date-day-fixed "-" date-month "-" date-year SP time SP zone,
  // date-day-fixed = (SP DIGIT) / 2DIGIT (RFC 9051 9).
  bool padded = !text.empty() && text[0] == ' ';
  if (padded) text.remove_prefix(1);
  std::size_t sp1 = text.find(' ');
  if (sp1 == std::string_view::npos || (padded && (sp1 < 2 || text[1] != '-'))) return std::nullopt;
  std::size_t sp2 = text.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return std::nullopt;
  auto day = parse_search_date(text.substr(0, sp1));
  auto t = time_of_day(text.substr(sp1 + 1, sp2 - sp1 - 1), false);
  auto z = zone(text.substr(sp2 + 1));
  if (!day || !t || !z) return std::nullopt;
  return *day + *t - std::int64_t{*z} * 60;
}

std::string format_date_time(std::int64_t unix_seconds) {
  const std::int64_t lo = *civil(1900, 1, 1), hi = *civil(9999, 12, 31) + kDay - 1;
  if (unix_seconds < lo) unix_seconds = lo;
  if (unix_seconds > hi) unix_seconds = hi;
  std::int64_t days = floor_div(unix_seconds, kDay), secs = unix_seconds - days * kDay;
  chr::year_month_day ymd{chr::sys_days{chr::days{days}}};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%2u-%s-%04d %02d:%02d:%02d +0000", static_cast<unsigned>(ymd.day()),
                kMonths[static_cast<unsigned>(ymd.month()) - 1], static_cast<int>(ymd.year()),
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
  return buf;
}

std::int64_t day_of(std::int64_t unix_seconds, int zone_minutes) {
  return floor_div(unix_seconds + std::int64_t{zone_minutes} * 60, kDay) * kDay;
}

std::optional<MessageDate> parse_message_date(std::string_view value) {
  // Tokens split at white space and commas, comments (nested, RFC 5322
  // 3.2.2) dropped: what is left of a date-time is words and numbers.
  std::vector<std::string_view> tokens;
  int depth = 0;
  std::size_t start = std::string_view::npos;
  auto end_token = [&](std::size_t i) {
    if (start != std::string_view::npos) tokens.push_back(value.substr(start, i - start));
    start = std::string_view::npos;
  };
  for (std::size_t i = 0; i < value.size() && tokens.size() < 16; ++i) {
    char c = value[i];
    if (depth > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++depth;
      else if (c == ')') --depth;
    } else if (c == '(') {
      end_token(i);
      depth = 1;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',') {
      end_token(i);
    } else if (start == std::string_view::npos) {
      start = i;
    }
  }
  if (depth == 0) end_token(value.size());

  std::size_t i = 0;
  auto next = [&]() -> std::string_view { return i < tokens.size() ? tokens[i++] : std::string_view(); };
  // day-of-week (RFC 5322 3.3), not checked against the date: it adds nothing.
  if (i < tokens.size() && !tokens[i].empty() && is_alpha(tokens[i][0]) && !month(tokens[i].substr(0, 3))) ++i;
  std::string_view day_text = next(), month_text = next();
  // "Feb 1 1994": month first, as some old mailers wrote it.
  if (!day_text.empty() && is_alpha(day_text[0])) std::swap(day_text, month_text);
  auto d = digits(day_text, 1, 2);
  // Month names written out ("February") are read by their first three letters.
  std::optional<unsigned> m;
  if (month_text.size() >= 3) {
    bool alpha = true;
    for (char c : month_text) alpha = alpha && is_alpha(c);
    if (alpha) m = month(month_text.substr(0, 3));
  }
  std::string_view year_text = next();
  auto y = digits(year_text, 2, 4);
  if (!d || !m || !y) return std::nullopt;
  // obs-year (RFC 5322 4.3): 2 digits below 50 are 20xx, others 19xx; 3 digits add 1900.
  if (year_text.size() == 2) *y += *y < 50 ? 2000 : 1900;
  else if (year_text.size() == 3) *y += 1900;
  if (*y < 1900) return std::nullopt;
  auto day = civil(*y, *m, static_cast<unsigned>(*d));
  if (!day) return std::nullopt;

  std::int64_t t = 0;
  if (i < tokens.size() && tokens[i].find(':') != std::string_view::npos) {
    auto tod = time_of_day(tokens[i++], true);
    if (!tod) return std::nullopt;
    t = *tod;
  }
  int zone_minutes = 0;
  if (i < tokens.size()) {
    std::string_view z = tokens[i];
    if (auto numeric = zone(z)) {
      zone_minutes = *numeric;
    } else {
      // obs-zone (RFC 5322 4.3): the North American names; the rest as -0000.
      static constexpr struct {
        const char* name;
        int minutes;
      } kNames[] = {{"EST", -300}, {"EDT", -240}, {"CST", -360}, {"CDT", -300},
                    {"MST", -420}, {"MDT", -360}, {"PST", -480}, {"PDT", -420}};
      for (const auto& n : kNames)
        if (iequals(z, n.name)) zone_minutes = n.minutes;
    }
  }
  return MessageDate{*day + t - std::int64_t{zone_minutes} * 60, zone_minutes};
}

}  // namespace herald::imap

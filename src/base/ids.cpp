#include "base/ids.h"

#include <atomic>
#include <ctime>

#include <fmt/format.h>

namespace herald {

std::string QueueIdGenerator::next() {
  static std::atomic<std::uint64_t> last{0};
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  // 48 bits of microseconds cover 8.9 years before wrapping into old ids; the
  // monotonic bump keeps ids unique when many are made in one microsecond.
  std::uint64_t candidate = static_cast<std::uint64_t>(now) & 0xFFFFFFFFFFFFull;
  std::uint64_t prev = last.load();
  std::uint64_t id;
  do {
    id = candidate > prev ? candidate : prev + 1;
  } while (!last.compare_exchange_weak(prev, id));
  return fmt::format("{:012X}", id & 0xFFFFFFFFFFFFull);
}

static std::tm utc_tm(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}

static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string rfc5322_date(std::chrono::system_clock::time_point t) {
  std::tm tm = utc_tm(t);
  return fmt::format("{}, {} {} {} {:02}:{:02}:{:02} +0000", kDays[tm.tm_wday], tm.tm_mday,
                     kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string syslog_time(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  localtime_r(&tt, &tm);
  return fmt::format("{} {:2} {:02}:{:02}:{:02}", kMonths[tm.tm_mon], tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::int64_t unix_millis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace herald

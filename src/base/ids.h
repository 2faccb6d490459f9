// base/ids.h - queue ids and RFC 5322 dates.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace herald {

// QueueIdGenerator - Postfix-style queue ids ("4F3A9C2B1D7E"): 12 uppercase
// hex digits from the clock in microseconds, with a counter for ids made in
// the same microsecond, so they are unique across restarts and sort by age.
// Thread-safe.
class QueueIdGenerator {
 public:
  std::string next();
};

// rfc5322_date - "Mon, 23 Nov 2026 22:08:33 +0000" (RFC 5322 3.3).
std::string rfc5322_date(std::chrono::system_clock::time_point t);

// syslog_time - "Nov 23 22:08:33", the timestamp of classic log lines.
std::string syslog_time(std::chrono::system_clock::time_point t);

std::int64_t unix_seconds(std::chrono::system_clock::time_point t);
std::int64_t unix_millis(std::chrono::system_clock::time_point t);

}  // namespace herald

// delivery/retry.h - when a recipient that failed for now is tried again,
// and when its time is up (docs/ARCHITECTURE.md "Outbound delivery").
//
// Two levels, as the mainframe mail hubs had them (CSSMTP's RetryLimit, then
// SMTPD's long retry): every first_interval while the message is younger
// than first_period, then every second_interval, until the message is
// lifetime old (Postfix's maximal_queue_lifetime); then it bounces. The
// last attempt is made at the end of the lifetime, not skipped past it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace herald::delivery {

struct RetryPolicy {
  std::chrono::seconds first_interval{300};
  std::chrono::seconds first_period{1800};
  std::chrono::seconds second_interval{3600};
  std::chrono::seconds lifetime{5 * 86400};
};

// next_attempt - unix seconds of the next attempt for a recipient of a
// message that came at created_s and failed at now_s; nullopt when its
// lifetime is over: it bounces now.
std::optional<std::int64_t> next_attempt(const RetryPolicy& policy, std::int64_t created_s, std::int64_t now_s);

}  // namespace herald::delivery

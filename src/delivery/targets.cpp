#include "delivery/targets.h"

#include <algorithm>

namespace herald::delivery {

TargetStats& TargetBoard::at(const std::string& target, std::int64_t now_s) {
  auto it = targets_.find(target);
  if (it == targets_.end()) {
    if (capacity_ > 0 && targets_.size() >= capacity_) {
      // Forget the one used least recently: a scan, only when full.
      auto oldest = std::min_element(targets_.begin(), targets_.end(), [](const auto& a, const auto& b) {
        return a.second.last_used_s < b.second.last_used_s;
      });
      targets_.erase(oldest);
    }
    it = targets_.emplace(target, TargetStats{}).first;
    it->second.target = target;
  }
  it->second.last_used_s = now_s;
  return it->second;
}

void TargetBoard::connect_failed(const std::string& target, const std::string& why, std::int64_t now_s) {
  TargetStats& t = at(target, now_s);
  t.state = TargetState::connect_failed;
  ++t.connect_failures;
  t.last_reply = why;
}

void TargetBoard::connected(const std::string& target, bool esmtp, std::uint64_t size_limit, bool tls,
                            std::int64_t now_s) {
  TargetStats& t = at(target, now_s);
  t.state = TargetState::ready;
  t.esmtp = esmtp;
  t.size_limit = size_limit;
  t.tls = tls;
}

void TargetBoard::message(const std::string& target, bool taken, const std::string& reply, std::int64_t now_s) {
  TargetStats& t = at(target, now_s);
  ++t.mail_attempts;
  if (taken) ++t.mail_sent;
  t.last_reply = reply;
}

void TargetBoard::session_failed(const std::string& target, const std::string& reply, std::int64_t now_s) {
  TargetStats& t = at(target, now_s);
  t.state = TargetState::refused;
  t.last_reply = reply;
}

std::vector<TargetStats> TargetBoard::list() const {
  std::vector<TargetStats> out;
  out.reserve(targets_.size());
  for (const auto& [name, t] : targets_) out.push_back(t);
  return out;
}

std::string_view to_string(TargetState state) {
  switch (state) {
    case TargetState::unknown: return "unknown";
    case TargetState::ready: return "ready";
    case TargetState::connect_failed: return "connect-failed";
    case TargetState::refused: return "refused";
  }
  return "unknown";
}

}  // namespace herald::delivery

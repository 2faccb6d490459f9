// net/dns_cache.h - answers kept for their time to live, so that a domain's
// MX hosts and their addresses are asked once per TTL, not once per
// connection (docs/ARCHITECTURE.md "Outbound delivery").
//
// Hand-written: c-ares gained a cache only after the version Debian 12
// ships (1.18), and this one is a map with an age order.
//
// Invariants: at most `capacity` entries (0: nothing is kept); an entry is
// never returned after its expiry; when full, the oldest stored goes. Pure: the caller says what time it is.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace herald::net {

template <typename Answer>
class DnsCache {
 public:
  using Clock = std::chrono::steady_clock;

  explicit DnsCache(std::size_t capacity) : capacity_(capacity) {}

  // find - the answer stored for name, unless it has expired by now.
  std::optional<Answer> find(const std::string& name, Clock::time_point now) {
    auto it = entries_.find(name);
    if (it == entries_.end()) return std::nullopt;
    if (it->second.expires <= now) {
      order_.erase(it->second.position);
      entries_.erase(it);
      return std::nullopt;
    }
    return it->second.answer;
  }

  // put - answer kept for name until expires (replacing an older one).
  void put(const std::string& name, Answer answer, Clock::time_point expires, Clock::time_point now) {
    if (capacity_ == 0 || expires <= now) return;
    if (auto it = entries_.find(name); it != entries_.end()) {
      order_.erase(it->second.position);
      entries_.erase(it);
    }
    if (entries_.size() >= capacity_) make_room();
    order_.push_back(name);
    entries_.emplace(name, Entry{std::move(answer), expires, std::prev(order_.end())});
  }

  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Answer answer;
    Clock::time_point expires;
    std::list<std::string>::iterator position;  // in order_
  };

  // make_room - the oldest stored entry dropped (expired or not): O(1),
  // and the oldest is the likeliest to have expired anyway.
  void make_room() {
    entries_.erase(order_.front());
    order_.pop_front();
  }

  std::size_t capacity_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> order_;  // oldest stored first
};

}  // namespace herald::net

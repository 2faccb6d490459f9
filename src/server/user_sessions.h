// server/user_sessions.h - what IMAP sessions share and must not exceed
// together: how many sessions each user has open, so that one account
// cannot hold every connection (imap.max_sessions_per_user, Dovecot's
// mail_max_userip_connections without the IP), and the memory their
// literals hold (imap.literal_memory). Counted in this process: one
// server per data directory (store/sqlite_store.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace herald::server {

class UserSessions {
 public:
  // Ticket - one session counted; the count goes down when it is destroyed.
  class Ticket {
   public:
    Ticket(UserSessions* owner, std::int64_t user) : owner_(owner), user_(user) {}
    Ticket(Ticket&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)), user_(o.user_) {}
    Ticket& operator=(Ticket&& o) noexcept {
      if (this != &o) {
        release();
        owner_ = std::exchange(o.owner_, nullptr);
        user_ = o.user_;
      }
      return *this;
    }
    ~Ticket() { release(); }

   private:
    void release() {
      if (owner_) owner_->leave(user_);
      owner_ = nullptr;
    }
    UserSessions* owner_;
    std::int64_t user_;
  };

  // enter - a ticket, or nullopt when the user has `max` sessions already.
  std::optional<Ticket> enter(std::int64_t user, std::uint32_t max) {
    std::lock_guard lk(mu_);
    auto& n = open_[user];
    if (n >= max) return std::nullopt;
    ++n;
    return Ticket(this, user);
  }

  std::uint32_t open(std::int64_t user) const {
    std::lock_guard lk(mu_);
    auto it = open_.find(user);
    return it == open_.end() ? 0 : it->second;
  }

 private:
  void leave(std::int64_t user) {
    std::lock_guard lk(mu_);
    auto it = open_.find(user);
    if (it != open_.end() && --it->second == 0) open_.erase(it);
  }

  mutable std::mutex mu_;
  std::unordered_map<std::int64_t, std::uint32_t> open_;
};

// LiteralMemory - the octets IMAP literals hold in memory, all sessions
// together (imap.literal_memory): what a thousand clients each APPENDing
// the largest message would otherwise take.
class LiteralMemory {
 public:
  explicit LiteralMemory(std::uint64_t limit) : limit_(limit) {}
  bool reserve(std::uint64_t n) {
    std::uint64_t used = used_.load();
    do {
      if (used + n > limit_) return false;
    } while (!used_.compare_exchange_weak(used, used + n));
    return true;
  }
  void release(std::uint64_t n) { used_.fetch_sub(n); }
  std::uint64_t used() const { return used_.load(); }

 private:
  const std::uint64_t limit_;
  std::atomic<std::uint64_t> used_{0};
};

}  // namespace herald::server

// server/free_space.h - whether the data directory has room for mail.
//
// Postfix's queue_minfree, and the i5/OS storage threshold: below the
// configured free space the SMTP server answers MAIL with 452 4.3.1
// (RFC 3463: mail system full) instead of taking a message it may not be
// able to store, and takes mail again by itself once space is back. The
// figure is read (statvfs) by the server's watch loop on the blocking pool,
// never by a connection: a session only reads the flag.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>

namespace herald::server {

class FreeSpace {
 public:
  // min_free: octets that must stay free in dir's file system.
  FreeSpace(std::filesystem::path dir, std::uint64_t min_free) : dir_(std::move(dir)), min_free_(min_free) {}

  // low - the last check found less than min_free free (any thread).
  bool low() const { return low_.load(std::memory_order_relaxed); }

  // check - read the free space now and log a change of state. Blocking.
  void check();

 private:
  const std::filesystem::path dir_;
  const std::uint64_t min_free_;
  std::atomic<bool> low_{false};
};

}  // namespace herald::server

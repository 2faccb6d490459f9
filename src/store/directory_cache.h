// store/directory_cache.h - recipient lookups answered from memory, and kept
// right when another process changes the directory.
//
// Every RCPT asks the store what an address is (Store::lookup_address). From
// SQLite that is a read transaction: two fcntl locks, the pages read again
// from the WAL after each commit (every group commit invalidates a reader's
// page cache), ~16 k instructions; about 7 % of the server's CPU per message
// under load. The directory (domains, users, aliases) changes rarely, and
// mostly from another process: the `herald` CLI. So a lookup is cached, and
// the cache is checked against a generation counter in a small file that
// every process on the data directory maps (data_dir/directory.generation):
// a change to the directory bumps it after its commit; a lookup that sees a
// generation newer than its cache's drops the cache.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "base/result.h"
#include "store/store.h"

namespace herald::store {

// SharedGeneration - a 64-bit counter shared by the processes that map the
// same file. Not durable and need not be: after a reboot every cache starts
// empty.
class SharedGeneration {
 public:
  // open - map the counter file, creating it (zero) when missing.
  static Result<std::unique_ptr<SharedGeneration>> open(const std::filesystem::path& path);
  ~SharedGeneration();
  SharedGeneration(const SharedGeneration&) = delete;
  SharedGeneration& operator=(const SharedGeneration&) = delete;

  std::uint64_t current() const;
  void bump();

 private:
  explicit SharedGeneration(std::uint64_t* word) : word_(word) {}
  std::uint64_t* word_;  // 8 bytes of a MAP_SHARED mapping
};

// DirectoryCache - lookup results by lower-case address, all filled under one
// generation. Bounded: when full it starts over (recipients of a busy MX
// repeat; a cleared cache refills at the cost of one read each).
class DirectoryCache {
 public:
  explicit DirectoryCache(std::size_t capacity) : capacity_(capacity) {}

  // find - the entry cached for this address, unless the directory changed
  // since it was read (generation: what SharedGeneration says now).
  std::optional<AddressEntry> find(const std::string& address, std::uint64_t generation);

  // put - an entry read after observing `generation`. Dropped if the cache
  // has already moved on: the read may predate a change.
  void put(const std::string& address, const AddressEntry& entry, std::uint64_t generation);

  std::size_t size();

 private:
  std::size_t capacity_;
  std::mutex mu_;
  std::uint64_t generation_ = 0;
  std::unordered_map<std::string, AddressEntry> entries_;
};

}  // namespace herald::store

// store/directory_cache.h - recipient lookups answered from memory, and kept
// right when another process changes the directory.
//
// Every RCPT asks the store what an address is (Directory::lookup_address).
// From SQLite that is a read transaction: two fcntl locks, and the pages read
// again from the WAL after each commit (every group commit invalidates a
// reader's page cache); bench/RESULTS.md has what it cost. The directory
// (domains, users, aliases) changes rarely, and mostly from another process:
// the `herald` CLI. So a lookup is cached, and the cache is checked against a
// generation counter in a small file that every process on the data
// directory maps (data_dir/directory.generation): a change to the directory
// bumps it after its commit; an entry read under an older generation is a
// miss. `directory_bench` (make bench) measures what the cache saves.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

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

// DirectoryCache - lookup results by lower-case address, a fixed number of
// slots chosen by the address's hash (direct-mapped): an entry costs what
// it holds (the address, the alias targets, a slim user record, no
// password hashes) in a slot allocated once, a miss costs a hash and a
// compare, and a put overwrites its slot, so a cache that mostly misses
// (recipients spread over many more users than slots) costs next to
// nothing. A slot holds the generation it was read under; a newer
// generation makes every older slot a miss at once, with nothing to clear.
class DirectoryCache {
 public:
  explicit DirectoryCache(std::size_t capacity) : slots_(capacity) {}

  // find - the entry cached for this address, unless the directory changed
  // since it was read (generation: what SharedGeneration says now).
  std::optional<AddressEntry> find(const std::string& address, std::uint64_t generation);

  // put - an entry read after observing `generation`. Dropped if the cache
  // has already moved on: the read may predate a change.
  void put(const std::string& address, const AddressEntry& entry, std::uint64_t generation);

  // size - entries valid now (a scan: for tests).
  std::size_t size();
  // slot_bytes - what one slot takes before anything is put in it.
  static std::size_t slot_bytes();

 private:
  struct Slot {
    std::uint64_t generation = 0;
    bool used = false;
    std::string address;
    AddressEntry entry;  // user->address left empty: it is the slot's address
  };
  Slot* slot_of(const std::string& address);

  std::mutex mu_;
  std::uint64_t generation_ = 0;  // the newest generation seen
  std::vector<Slot> slots_;
};

}  // namespace herald::store

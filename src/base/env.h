// base/env.h - the file system as the store and the queue use it, behind
// one small interface (LevelDB's Env is the model): results are Status
// values, never exceptions, and a test can put a fault-injecting Env in
// place of the real one to fail a write or a sync, shorten a read, or
// crash and lose whatever was not synced (store/fault_env.h).
//
// Durability is the caller's to ask for: data is on stable storage after
// WritableFile::sync; a new, renamed or removed name after sync_dir of its
// directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace herald {

// write_fd - every octet of data to the descriptor fd (a pipe, a socket in
// blocking mode, a file), retrying on EINTR; false when a write failed.
bool write_fd(int fd, std::string_view data);

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status append(std::string_view data) = 0;
  virtual Status sync() = 0;   // fdatasync: the data written so far is durable
  virtual Status close() = 0;  // also run by the destructor, its error then lost
};

class Env {
 public:
  virtual ~Env() = default;

  // posix - the real file system. Never destroyed.
  static Env& posix();

  // new_writable_file - create (or truncate) path for writing.
  virtual Result<std::unique_ptr<WritableFile>> new_writable_file(const std::filesystem::path& path) = 0;
  // read_file - the whole file. A read that ends early is an error.
  virtual Result<std::string> read_file(const std::filesystem::path& path) = 0;
  // append_file - append the file's content to out (one copy less for
  // callers that prefix it); out keeps what it had if this fails.
  virtual Status append_file(const std::filesystem::path& path, std::string& out) = 0;
  // append_range - the same for length octets from offset (fewer when the
  // file ends first: not an error here; the caller knows what to expect).
  virtual Status append_range(const std::filesystem::path& path, std::uint64_t offset, std::uint64_t length,
                              std::string& out) = 0;
  virtual Status rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  virtual Status remove(const std::filesystem::path& path) = 0;  // not_found when absent
  virtual Status create_dirs(const std::filesystem::path& dir) = 0;
  virtual Status sync_dir(const std::filesystem::path& dir) = 0;
  virtual bool exists(const std::filesystem::path& path) = 0;
  // touch - set the modification time to now (keeps a file from a sweep).
  virtual Status touch(const std::filesystem::path& path) = 0;
  // children - the names in dir (not "." and ".."), with whether each is a
  // directory and its age in seconds.
  struct Child {
    std::string name;
    bool is_dir = false;
    std::int64_t age_s = 0;
  };
  virtual Result<std::vector<Child>> children(const std::filesystem::path& dir) = 0;
};

}  // namespace herald

#include "store/directory_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace herald::store {

Result<std::unique_ptr<SharedGeneration>> SharedGeneration::open(const std::filesystem::path& path) {
  auto fail = [&](const char* what) {
    return make_error(Errc::io, fmt::format("{} {}: {}", what, path.string(), std::strerror(errno)));
  };
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return fail("cannot open");
  struct stat st {};
  // Two processes creating it at once both extend it with zeros: harmless.
  if (::fstat(fd, &st) != 0 || (st.st_size < 8 && ::ftruncate(fd, 8) != 0)) {
    auto err = fail("cannot size");
    ::close(fd);
    return err;
  }
  // The CLI run as root must not leave a file the server's user cannot
  // open: it goes to the data directory's owner (SQLite does the same for
  // the -wal and -shm files it creates as root).
  struct stat dir {};
  if (::geteuid() == 0 && ::stat(path.parent_path().c_str(), &dir) == 0 &&
      (st.st_uid != dir.st_uid || st.st_gid != dir.st_gid))
    (void)::fchown(fd, dir.st_uid, dir.st_gid);
  void* p = ::mmap(nullptr, 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);  // the mapping stays
  if (p == MAP_FAILED) return fail("cannot map");
  return std::unique_ptr<SharedGeneration>(new SharedGeneration(static_cast<std::uint64_t*>(p)));
}

SharedGeneration::~SharedGeneration() { ::munmap(word_, 8); }

// The word is page-aligned, so the atomic operations are lock-free and
// therefore valid across processes.
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);

std::uint64_t SharedGeneration::current() const {
  return std::atomic_ref<std::uint64_t>(*word_).load(std::memory_order_acquire);
}

void SharedGeneration::bump() { std::atomic_ref<std::uint64_t>(*word_).fetch_add(1, std::memory_order_acq_rel); }

std::optional<AddressEntry> DirectoryCache::find(const std::string& address, std::uint64_t generation) {
  std::lock_guard lk(mu_);
  if (generation != generation_) {
    if (generation > generation_) {
      entries_.clear();
      generation_ = generation;
    }
    return std::nullopt;
  }
  auto it = entries_.find(address);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void DirectoryCache::put(const std::string& address, const AddressEntry& entry, std::uint64_t generation) {
  if (capacity_ == 0) return;
  std::lock_guard lk(mu_);
  if (generation < generation_) return;
  if (generation > generation_) {
    entries_.clear();
    generation_ = generation;
  }
  if (entries_.size() >= capacity_) entries_.clear();
  entries_.insert_or_assign(address, entry);
}

std::size_t DirectoryCache::size() {
  std::lock_guard lk(mu_);
  return entries_.size();
}

}  // namespace herald::store

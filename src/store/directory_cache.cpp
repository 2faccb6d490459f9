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

DirectoryCache::Slot* DirectoryCache::slot_of(const std::string& address) {
  if (slots_.empty()) return nullptr;
  return &slots_[std::hash<std::string>{}(address) % slots_.size()];
}

std::optional<AddressEntry> DirectoryCache::find(const std::string& address, std::uint64_t generation) {
  std::lock_guard lk(mu_);
  if (generation > generation_) generation_ = generation;  // every older slot is stale now
  Slot* slot = slot_of(address);
  if (!slot || !slot->used || slot->generation != generation || generation != generation_ || slot->address != address)
    return std::nullopt;
  AddressEntry out = slot->entry;
  if (out.user) out.user->address = address;
  return out;
}

void DirectoryCache::put(const std::string& address, const AddressEntry& entry, std::uint64_t generation) {
  std::lock_guard lk(mu_);
  Slot* slot = slot_of(address);
  if (!slot || generation < generation_) return;
  generation_ = generation;
  slot->generation = generation;
  slot->used = true;
  slot->address = address;  // assignments reuse the slot's buffers
  slot->entry.local_domain = entry.local_domain;
  slot->entry.alias_targets = entry.alias_targets;
  slot->entry.user = entry.user;
  if (slot->entry.user) slot->entry.user->address.clear();
}

std::size_t DirectoryCache::slot_bytes() { return sizeof(Slot); }

std::size_t DirectoryCache::size() {
  std::lock_guard lk(mu_);
  std::size_t n = 0;
  for (const auto& s : slots_) n += s.used && s.generation == generation_;
  return n;
}

}  // namespace herald::store

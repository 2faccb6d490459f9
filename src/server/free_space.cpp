#include "server/free_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace herald::server {

void FreeSpace::check() {
  struct statvfs fs {};
  if (::statvfs(dir_.c_str(), &fs) != 0) {
    // Unknown is not full: the commit reports a real write error itself.
    log::get("master")->warn("warning: statvfs {}: {}", dir_.string(), std::strerror(errno));
    return;
  }
  // f_bavail: what an unprivileged writer may still use.
  std::uint64_t free = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  bool low = free < min_free_;
  if (low == low_.exchange(low, std::memory_order_relaxed)) return;
  if (low)
    log::get("master")->warn("warning: {}: {} octets free, below store.min_free_space ({}): "
                             "refusing mail with 452 4.3.1 until there is room",
                             dir_.string(), free, min_free_);
  else
    log::get("master")->info("{}: {} octets free: accepting mail again", dir_.string(), free);
}

}  // namespace herald::server

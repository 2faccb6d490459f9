// queue/resolver.h - where an address goes: local mailboxes (after alias
// expansion), remote addresses, or nowhere.
//
// Reads the store on every call (indexed lookups), so users and aliases
// added from the CLI take effect at once, with no cache to go stale.
// Alias loops are detected (a target that is its own ancestor) and the
// expansion is bounded in depth and fan-out.
#pragma once

#include <string>
#include <vector>

#include "store/store.h"

namespace herald::queue {

struct Target {
  std::string address;  // lower-cased
  bool local = false;
};

enum class Resolution { ok, not_local, unknown_user, over_quota, alias_loop, temp_fail };

struct Resolved {
  Resolution status = Resolution::ok;
  std::vector<Target> targets;  // deduplicated
};

class Resolver {
 public:
  explicit Resolver(store::Store& store) : store_(store) {}

  // resolve - declared_size (SIZE=, 0 if unknown) lets a mailbox that would
  // overflow its quota refuse at RCPT rather than after the data.
  Resolved resolve(const std::string& address, std::uint64_t declared_size = 0);

  static constexpr int kMaxDepth = 16;
  static constexpr std::size_t kMaxTargets = 10000;

 private:
  Resolution expand(const std::string& address, const store::AddressEntry& entry, int depth,
                    std::vector<std::string>& path, Resolved& out, std::uint64_t declared_size);
  store::Store& store_;
};

}  // namespace herald::queue

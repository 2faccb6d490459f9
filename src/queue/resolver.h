// queue/resolver.h - where an address goes: local mailboxes (after alias
// expansion), remote addresses, or nowhere.
//
// Reads the store on every call (indexed lookups), so users and aliases
// added from the CLI take effect at once, with no cache to go stale.
// Alias loops are detected (a target that is its own ancestor) and the
// expansion is bounded in depth and fan-out; an expansion past its bound is
// refused whole, never cut short (a cut would drop recipients silently).
#pragma once

#include <string>
#include <vector>

#include "store/store.h"

namespace herald::queue {

struct Target {
  std::string address;  // lower-cased
  bool local = false;
};

enum class Resolution { ok, not_local, unknown_user, over_quota, alias_loop, alias_too_large, temp_fail };

// Bounds of alias expansion (config [aliases]), as Postfix's
// virtual_alias_recursion_limit and virtual_alias_expansion_limit.
struct ResolverLimits {
  int max_depth = 16;              // aliases followed in a chain; deeper counts as a loop
  std::size_t max_targets = 10000; // addresses one recipient may expand to; more is refused
};

struct Resolved {
  Resolution status = Resolution::ok;
  std::vector<Target> targets;  // deduplicated
};

class Resolver {
 public:
  explicit Resolver(store::Store& store, ResolverLimits limits = {}) : store_(store), limits_(limits) {}

  // resolve - declared_size (SIZE=, 0 if unknown) lets a mailbox that would
  // overflow its quota refuse at RCPT rather than after the data.
  Resolved resolve(const std::string& address, std::uint64_t declared_size = 0);

 private:
  Resolution expand(const std::string& address, const store::AddressEntry& entry, int depth,
                    std::vector<std::string>& path, Resolved& out, std::uint64_t declared_size);
  store::Store& store_;
  ResolverLimits limits_;
};

}  // namespace herald::queue

// queue/alias_expander.h - where an address goes: local mailboxes (after
// alias expansion), remote addresses, or nowhere.
//
// Asks the Directory on every call, whose answers another process's change
// invalidates at once (directory_cache.h), so users and aliases added from
// the CLI take effect at the next RCPT. Alias loops are detected (a target
// that is its own ancestor) and the expansion is bounded in depth and
// fan-out; an expansion past its bound is refused whole, never cut short (a
// cut would drop recipients silently). Blocking: the Directory reads the
// store, so drivers run it off their I/O threads.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "store/directory.h"

namespace herald::queue {

struct Target {
  std::string address;  // lower-cased
  bool local = false;
};

enum class ExpansionStatus { ok, not_local, unknown_user, over_quota, alias_loop, alias_too_large, temp_fail };

// Bounds of alias expansion (config [aliases]), as Postfix's
// virtual_alias_recursion_limit and virtual_alias_expansion_limit.
struct ExpansionLimits {
  int max_depth = 16;              // aliases followed in a chain; deeper counts as a loop
  std::size_t max_targets = 10000; // addresses one recipient may expand to; more is refused
};

struct Expansion {
  ExpansionStatus status = ExpansionStatus::ok;
  std::vector<Target> targets;  // deduplicated
};

class AliasExpander {
 public:
  explicit AliasExpander(store::Directory& directory, ExpansionLimits limits = {})
      : directory_(directory), limits_(limits) {}

  // expand - declared_size (SIZE=, 0 if unknown) lets a mailbox that would
  // overflow its quota refuse at RCPT rather than after the data.
  Expansion expand(const std::string& address, std::uint64_t declared_size = 0);
  // expand_cached - the same answer from the directory's memory only, or
  // nullopt when any address on the way needs a read. Never blocks: an I/O
  // thread asks this first and leaves only the misses to the blocking pool.
  std::optional<Expansion> expand_cached(const std::string& address, std::uint64_t declared_size = 0);

 private:
  // Lookup - an address's entry, an error, or nullopt when it is not in
  // memory and only memory was asked.
  using Lookup = std::function<std::optional<Result<store::AddressEntry>>(const std::string&)>;
  std::optional<Expansion> run(const std::string& address, std::uint64_t declared_size, const Lookup& lookup);
  // expand_entry - nullopt: a lookup on the way was not in memory.
  std::optional<ExpansionStatus> expand_entry(const std::string& address, const store::AddressEntry& entry,
                                              int depth, std::vector<std::string>& path, Expansion& out,
                                              std::uint64_t declared_size, const Lookup& lookup);
  store::Directory& directory_;
  ExpansionLimits limits_;
};

}  // namespace herald::queue

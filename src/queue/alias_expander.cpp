#include "queue/alias_expander.h"

#include <algorithm>

#include "base/text.h"

namespace herald::queue {

Expansion AliasExpander::expand(const std::string& address, std::uint64_t declared_size) {
  Lookup read = [this](const std::string& a) -> std::optional<Result<store::AddressEntry>> {
    return directory_.lookup_address(a);
  };
  return *run(address, declared_size, read);  // a read is never "not in memory"
}

std::optional<Expansion> AliasExpander::expand_cached(const std::string& address, std::uint64_t declared_size) {
  Lookup memory = [this](const std::string& a) -> std::optional<Result<store::AddressEntry>> {
    auto hit = directory_.cached_address(a);
    if (!hit) return std::nullopt;
    return Result<store::AddressEntry>(std::move(*hit));
  };
  return run(address, declared_size, memory);
}

std::optional<Expansion> AliasExpander::run(const std::string& address, std::uint64_t declared_size,
                                            const Lookup& lookup) {
  Expansion out;
  std::string a = to_lower(address);
  auto entry = lookup(a);
  if (!entry) return std::nullopt;
  if (!*entry) {
    out.status = ExpansionStatus::temp_fail;
    return out;
  }
  if (!(*entry)->local_domain) {
    out.status = ExpansionStatus::not_local;
    return out;
  }
  std::vector<std::string> path;
  auto status = expand_entry(a, **entry, 0, path, out, declared_size, lookup);
  if (!status) return std::nullopt;
  out.status = *status;
  if (out.status == ExpansionStatus::ok && out.targets.empty()) out.status = ExpansionStatus::unknown_user;
  return out;
}

std::optional<ExpansionStatus> AliasExpander::expand_entry(const std::string& address,
                                                           const store::AddressEntry& entry, int depth,
                                                           std::vector<std::string>& path, Expansion& out,
                                                           std::uint64_t declared_size, const Lookup& lookup) {
  if (std::find(path.begin(), path.end(), address) != path.end() || depth > limits_.max_depth)
    return ExpansionStatus::alias_loop;
  // add - false when the expansion would pass max_targets.
  auto add = [&](Target t) {
    for (const auto& x : out.targets)
      if (x.address == t.address) return true;
    if (out.targets.size() >= limits_.max_targets) return false;
    out.targets.push_back(std::move(t));
    return true;
  };
  if (!entry.alias_targets.empty()) {
    path.push_back(address);
    for (const auto& t : entry.alias_targets) {
      // An alias may name itself among its targets to keep a copy
      // (Postfix's "user: user, other" idiom): that is delivery, not a loop.
      if (t == address) {
        if (entry.user && !add({t, true})) return ExpansionStatus::alias_too_large;
        continue;
      }
      auto target = lookup(t);
      if (!target) return std::nullopt;  // not in memory: the caller reads instead
      if (!*target) return ExpansionStatus::temp_fail;
      if (!(*target)->local_domain) {
        if (!add({t, false})) return ExpansionStatus::alias_too_large;
        continue;
      }
      auto r = expand_entry(t, **target, depth + 1, path, out, declared_size, lookup);
      if (!r || *r == ExpansionStatus::alias_loop || *r == ExpansionStatus::alias_too_large ||
          *r == ExpansionStatus::temp_fail)
        return r;
      // An unknown local target inside an alias is skipped; the others still get it.
    }
    path.pop_back();
    return ExpansionStatus::ok;
  }
  if (!entry.user) return ExpansionStatus::unknown_user;
  const auto& u = *entry.user;
  // Quota at RCPT (the mailbox is full, or this message as declared would
  // overflow it); delivery checks again with the real size.
  if (depth == 0 && u.quota_bytes > 0 && u.used_bytes + std::max<std::uint64_t>(declared_size, 1) > u.quota_bytes)
    return ExpansionStatus::over_quota;
  return add({address, true}) ? ExpansionStatus::ok : ExpansionStatus::alias_too_large;
}

}  // namespace herald::queue

// admin/aliases.cpp - herald alias add | del | list.
#include "admin/commands.h"
#include "admin/paging.h"
#include "admin/validate.h"

namespace herald::admin {

Status alias_add(store::Store& store, const std::string& alias, const std::vector<std::string>& targets) {
  if (targets.empty()) return make_error(Errc::invalid, alias + ": an alias needs at least one target");
  if (auto st = check_address(alias); !st) return st;
  for (const auto& t : targets)
    if (auto st = check_address(t); !st) return st;
  if (auto st = require_local(store, alias); !st) return st;
  return store.directory().add_alias(alias, targets);
}

Status alias_del(store::Store& store, const std::string& alias) { return store.directory().del_alias(alias); }

Result<ListEnd> alias_list(store::Store& store, const ListRequest& request, const Sink<store::AliasRecord>& row) {
  if (!request.domain.empty())
    if (auto st = check_domain(request.domain); !st) return st.error();
  auto read = [&](const std::string& after, std::size_t n) {
    return store.directory().list_aliases(
        {.after = after, .prefix = request.prefix, .domain = request.domain, .limit = n});
  };
  auto key = [](const store::AliasRecord& a) { return a.address; };
  return stream<store::AliasRecord>(request.limit, request.after, read, key, row);
}

}  // namespace herald::admin

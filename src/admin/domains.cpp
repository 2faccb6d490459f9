// admin/domains.cpp - herald domain add | del | list.
#include "admin/commands.h"
#include "admin/paging.h"
#include "admin/validate.h"

namespace herald::admin {

Status domain_add(store::Store& store, const std::string& name) {
  if (auto st = check_domain(name); !st) return st;
  return store.directory().add_domain(name);
}

Status domain_del(store::Store& store, const std::string& name) { return store.directory().del_domain(name); }

Result<ListEnd> domain_list(store::Store& store, const ListRequest& request, const Sink<store::DomainRecord>& row) {
  auto read = [&](const std::string& after, std::size_t n) {
    return store.directory().list_domains({.after = after, .prefix = request.prefix, .limit = n});
  };
  auto key = [](const store::DomainRecord& d) { return d.name; };
  return stream<store::DomainRecord>(request.limit, request.after, read, key, row);
}

}  // namespace herald::admin

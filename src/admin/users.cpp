// admin/users.cpp - herald user add | del | passwd | send-as | list.
#include "admin/commands.h"
#include "admin/paging.h"
#include "admin/validate.h"

#include <fmt/format.h>

namespace herald::admin {

// user_add - cheap checks first: the password is hashed (argon2id, slow on
// purpose) only for a request that can succeed.
Status user_add(store::Store& store, const UserAdd& request) {
  if (auto st = check_address(request.address); !st) return st;
  auto quota = parse_quota(request.quota);
  if (!quota) return quota.error();
  if (request.password.kind == NewPassword::Kind::hash)
    if (auto checked = credentials_for(request.password); !checked) return checked.error();
  if (auto st = require_local(store, request.address); !st) return st;
  auto credentials = credentials_for(request.password);
  if (!credentials) return credentials.error();
  auto st = store.directory().add_user(request.address, *credentials, *quota);
  if (!st && st.error().code == Errc::exists)
    return make_error(Errc::exists, fmt::format("{}: user exists", request.address));
  return st;
}

Status user_del(store::Store& store, const std::string& address) { return store.directory().del_user(address); }

Status user_passwd(store::Store& store, const std::string& address, const NewPassword& password) {
  if (auto st = check_address(address); !st) return st;
  auto credentials = credentials_for(password);
  if (!credentials) return credentials.error();
  return store.directory().set_password(address, *credentials);
}

Status user_send_as(store::Store& store, const std::string& address, bool allowed) {
  return store.directory().set_send_as_any(address, allowed);
}

Result<ListEnd> user_list(store::Store& store, const ListRequest& request, const Sink<UserInfo>& row) {
  if (!request.domain.empty())
    if (auto st = check_domain(request.domain); !st) return st.error();
  auto read = [&](const std::string& after, std::size_t n) -> Result<std::vector<UserInfo>> {
    auto page = store.directory().list_users(
        {.after = after, .prefix = request.prefix, .domain = request.domain, .limit = n});
    if (!page) return page.error();
    std::vector<UserInfo> out;
    out.reserve(page->size());
    for (const auto& u : *page)
      out.push_back({u.address, u.quota_bytes, u.used_bytes, !u.scram_sha256.empty(), u.send_as_any});
    return out;
  };
  auto key = [](const UserInfo& u) { return u.address; };
  return stream<UserInfo>(request.limit, request.after, read, key, row);
}

}  // namespace herald::admin

#include "server/mailbox_access.h"

#include <fmt/format.h>

#include "base/text.h"

namespace herald::server {

std::optional<std::pair<std::string, std::string>> shared_name(std::string_view name) {
  if (!name.starts_with(imap::kOtherUsers) || name.size() <= imap::kOtherUsers.size() ||
      name[imap::kOtherUsers.size()] != '/')
    return std::nullopt;
  name.remove_prefix(imap::kOtherUsers.size() + 1);
  const auto slash = name.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash + 1 == name.size()) return std::nullopt;
  return std::make_pair(to_lower(name.substr(0, slash)), std::string(name.substr(slash + 1)));
}

std::string shown_name(const std::string& owner, const std::string& name) {
  return fmt::format("{}/{}/{}", imap::kOtherUsers, owner, name);
}

imap::Rights rights_of(const std::vector<store::AclEntry>& acl, const std::string& address) {
  imap::Rights out;
  for (const auto& e : acl)
    if (e.identifier == address || e.identifier == "anyone")
      if (auto r = imap::Rights::parse(e.rights)) out = out | *r;
  return out;
}

Result<MailboxAccess> access(store::Mailboxes& mailboxes, store::Directory& directory, std::int64_t user_id,
                             const std::string& address, const std::string& name) {
  const Error none = make_error(Errc::not_found, "no such mailbox");
  auto shared = shared_name(name);
  if (!shared) {
    auto found = mailboxes.find_mailbox(user_id, name);
    if (!found) return found.error();
    if (!*found) return none;
    return MailboxAccess{user_id, std::move(**found), imap::Rights::all()};
  }
  auto owner = directory.find_user(shared->first);
  if (!owner) return owner.error();
  if (!*owner || (*owner)->id == user_id) return none;
  auto found = mailboxes.find_mailbox((*owner)->id, shared->second);
  if (!found) return found.error();
  if (!*found) return none;
  auto acl = mailboxes.acl((**found).id);
  if (!acl) return acl.error();
  const imap::Rights rights = rights_of(*acl, address);
  if (rights.empty()) return none;
  return MailboxAccess{(*owner)->id, std::move(**found), rights};
}

}  // namespace herald::server

// server/mailbox_access.h - whose mailbox an IMAP name is, and what the
// session's user may do with it (RFC 4314): a personal name is the user's
// own, with every right; "Other Users/OWNER/NAME" (imap::kOtherUsers) is
// OWNER's NAME, with the rights its access list gives the user or anyone
// (docs/ARCHITECTURE.md "IMAP").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"
#include "imap/acl.h"
#include "store/directory.h"
#include "store/mailboxes.h"

namespace herald::server {

// shared_name - OWNER and NAME of "Other Users/OWNER/NAME"; nullopt for
// any other name.
std::optional<std::pair<std::string, std::string>> shared_name(std::string_view name);

// shown_name - how the user sees another's mailbox: "Other Users/OWNER/NAME".
std::string shown_name(const std::string& owner, const std::string& name);

// MailboxAccess - a mailbox found for the user.
struct MailboxAccess {
  std::int64_t owner_id = 0;
  store::MailboxRecord mailbox;  // with the owner's name for it
  imap::Rights rights;
};

// access - name resolved for the user (their address, in lower case).
// Errc::not_found when there is no such mailbox, and equally when it is
// another's on which the user holds no right, so that nobody learns what
// another user has (RFC 4314 4). The caller checks the right it needs.
Result<MailboxAccess> access(store::Mailboxes& mailboxes, store::Directory& directory, std::int64_t user_id,
                             const std::string& address, const std::string& name);

// rights_of - the rights an access list gives an address: the union of its
// own entry and anyone's (RFC 4314 2).
imap::Rights rights_of(const std::vector<store::AclEntry>& acl, const std::string& address);

}  // namespace herald::server

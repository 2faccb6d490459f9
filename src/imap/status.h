// imap/status.h - STATUS's items (RFC 9051 6.3.11) and its response, for
// STATUS, LIST's RETURN (STATUS) (RFC 5819) and NOTIFY's unsolicited
// STATUS (RFC 5465). Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "imap/command.h"
#include "imap/mailstore.h"

namespace herald::imap {

// StatusItems - in the order asked: the response gives them in that order.
using StatusItems = std::vector<std::string>;

// parse_status_items - "(MESSAGES UIDNEXT ...)", upper case; nullopt:
// not a list of known items.
std::optional<StatusItems> parse_status_items(const Value& v);

// status_line - "* STATUS name (...)\r\n"; name_out in the client's form.
std::string status_line(const std::string& name_out, const MailboxInfo& m, const StatusItems& items,
                        std::uint64_t append_limit);

}  // namespace herald::imap

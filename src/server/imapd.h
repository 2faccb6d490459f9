// server/imapd.h - the IMAP driver: joins imap::Session to a connection,
// TLS, SASL, the users and mailboxes of the store, and the mailbox watch
// that wakes IDLE (RFC 9051, RFC 3501, RFC 2177, RFC 8314 implicit TLS on
// 993).
#pragma once

#include <asio/awaitable.hpp>

#include "server/context.h"
#include "server/listeners.h"

namespace herald::server {

// imap_connection - one client from accept to disconnect.
asio::awaitable<void> imap_connection(const ImapDriverContext& ctx, Accepted accepted);

}  // namespace herald::server

// server/pop3d.h - the POP3 driver: joins pop3::Session to a connection,
// TLS, SASL, the users of the store and the maildrop (RFC 1939, RFC 2449,
// RFC 2595 STLS, RFC 8314 implicit TLS on 995).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "server/context.h"
#include "server/listeners.h"

namespace herald::server {

// pop3_connection - one client from accept to disconnect.
asio::awaitable<void> pop3_connection(const Pop3DriverContext& ctx, Accepted accepted);

}  // namespace herald::server

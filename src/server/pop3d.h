// server/pop3d.h - the POP3 driver: joins pop3::Session to a connection,
// TLS, SASL, the users of the store and the maildrop (RFC 1939, RFC 2449,
// RFC 2595 STLS, RFC 8314 implicit TLS on 995).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "net/listener.h"
#include "server/context.h"

namespace herald::server {

// pop3_connection - one client from accept to disconnect.
asio::awaitable<void> pop3_connection(const Pop3DriverContext& ctx, asio::ip::tcp::socket socket,
                                      asio::ip::tcp::endpoint endpoint, net::ConnectionLimiter& limiter,
                                      bool implicit_tls);

}  // namespace herald::server

// server/pop3d.h - the POP3 driver: joins pop3::Session to a socket, the
// users of the store and the maildrop (RFC 1939, RFC 2449).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "server/context.h"

namespace herald::server {

asio::awaitable<void> pop3_connection(ServerContext& ctx, asio::ip::tcp::socket socket,
                                       asio::ip::tcp::endpoint endpoint, Listener listener);

}  // namespace herald::server

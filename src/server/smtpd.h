// server/smtpd.h - the SMTP driver: joins smtp::Session to a socket, the
// recipient resolver and intake (RFC 5321 on the smtp listener).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "server/context.h"

namespace herald::server {

asio::awaitable<void> smtp_connection(ServerContext& ctx, asio::ip::tcp::socket socket);

}  // namespace herald::server

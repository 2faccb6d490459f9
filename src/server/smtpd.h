// server/smtpd.h - the SMTP driver: joins smtp::Session to a connection,
// TLS, SASL, the recipient resolver and intake: RFC 5321 on the smtp
// listener, RFC 6409 submission on 587 and RFC 8314 implicit TLS on 465.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "server/context.h"

namespace herald::server {

asio::awaitable<void> smtp_connection(ServerContext& ctx, asio::ip::tcp::socket socket,
                                       asio::ip::tcp::endpoint endpoint, Listener listener);

}  // namespace herald::server

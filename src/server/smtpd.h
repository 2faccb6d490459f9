// server/smtpd.h - the SMTP driver: joins smtp::Session to a connection,
// TLS, SASL, the recipient checks and intake: RFC 5321 on the smtp
// listener, RFC 6409 submission on 587 and RFC 8314 implicit TLS on 465.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "net/listener.h"
#include "server/context.h"

namespace herald::server {

// smtp_connection - one client from accept to disconnect. submission:
// AUTH before MAIL (RFC 6409 4.2), the sender checked (6.1).
asio::awaitable<void> smtp_connection(const SmtpDriverContext& ctx, asio::ip::tcp::socket socket,
                                      asio::ip::tcp::endpoint endpoint, net::ConnectionLimiter& limiter,
                                      bool implicit_tls, bool submission);

}  // namespace herald::server

// server/smtpd.h - the SMTP driver: joins smtp::Session to a connection,
// TLS, SASL, the recipient checks and intake: RFC 5321 on the smtp
// listener, RFC 6409 submission on 587 and RFC 8314 implicit TLS on 465.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "server/context.h"
#include "server/listeners.h"

namespace herald::server {

// smtp_connection - one client from accept to disconnect. On a
// Role::submission listener AUTH comes before MAIL (RFC 6409 4.2) and the
// sender is checked (6.1).
asio::awaitable<void> smtp_connection(const SmtpDriverContext& ctx, Accepted accepted);

}  // namespace herald::server

#include "server/driver.h"

#include "base/log.h"

namespace herald::server {

asio::awaitable<bool> start_implicit_tls(net::Connection& conn, const TlsSetup& tls) {
  if (!tls.server) co_return false;
  co_return co_await conn.start_tls(tls.server->context(), tls.handshake_timeout);
}

asio::awaitable<net::ConnectionLimiter::Ticket> admit(net::Connection& conn, Accepted& accepted, const TlsSetup& tls,
                                                      std::string_view busy, const char* log_name) {
  auto ticket = accepted.limiter.acquire(conn.peer().ip);
  if (!ticket) {
    log::get(log_name)->warn("warning: too many connections from {}", conn.peer().display());
    co_await conn.write_all(busy);
    co_return net::ConnectionLimiter::Ticket();
  }
  if (accepted.kind.implicit_tls && !co_await start_implicit_tls(conn, tls)) {
    log::get(log_name)->info("TLS handshake failed: {}", conn.peer().display());
    co_return net::ConnectionLimiter::Ticket();
  }
  co_return ticket;
}

}  // namespace herald::server

#include "server/driver.h"

namespace herald::server {

asio::awaitable<bool> start_implicit_tls(net::Connection& conn, const TlsSetup& tls) {
  if (!tls.server) co_return false;
  co_return co_await conn.start_tls(tls.server->context(), tls.handshake_timeout);
}

}  // namespace herald::server

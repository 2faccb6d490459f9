#include "server/connection.h"

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace herald::server {

void Deadline::arm(std::chrono::milliseconds timeout) {
  timer_.expires_after(timeout);
  timer_.async_wait([this](std::error_code ec) {
    // operation_aborted: disarmed or destroyed - `this` may be gone.
    if (ec) return;
    expired_ = true;
    std::error_code ignored;
    socket_.cancel(ignored);
  });
}

asio::awaitable<std::size_t> read_some(tcp::socket& socket, Deadline& deadline, char* buffer,
                                       std::size_t buffer_size, std::chrono::milliseconds timeout) {
  std::error_code ec;
  deadline.arm(timeout);
  std::size_t n = co_await socket.async_read_some(asio::buffer(buffer, buffer_size),
                                                  asio::redirect_error(asio::use_awaitable, ec));
  deadline.disarm();
  co_return ec ? 0 : n;
}

asio::awaitable<bool> write_all(tcp::socket& socket, const std::string& data) {
  std::error_code ec;
  co_await asio::async_write(socket, asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

Peer peer_of(const tcp::socket& socket) {
  Peer p;
  std::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) {
    p.ip = p.name = "unknown";
    return p;
  }
  p.address = ep.address();
  if (p.address.is_v6() && p.address.to_v6().is_v4_mapped())
    p.address = asio::ip::make_address_v4(asio::ip::v4_mapped, p.address.to_v6());
  p.ip = p.address.to_string();
  p.name = p.address.is_loopback() ? "localhost" : "unknown";
  return p;
}

}  // namespace herald::server

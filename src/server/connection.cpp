#include "server/connection.h"

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace herald::server {

// The timer's handler shares this state, so it stays valid however late the
// handler runs; socket is cleared when the Deadline (and its socket) go.
struct Deadline::State {
  explicit State(tcp::socket& s) : socket(&s), timer(s.get_executor()) {}
  tcp::socket* socket;
  asio::steady_timer timer;
  std::chrono::steady_clock::time_point deadline;
  bool reading = false;
  bool waiting = false;
  bool expired = false;
  std::uint64_t generation = 0;  // bumps on every wait; stale handlers see a mismatch
};

Deadline::Deadline(tcp::socket& socket) : state_(std::make_shared<State>(socket)) {}

Deadline::~Deadline() {
  state_->socket = nullptr;
  state_->timer.cancel();
}

void Deadline::arm(std::chrono::milliseconds timeout) {
  state_->deadline = std::chrono::steady_clock::now() + timeout;
  state_->reading = true;
  // Re-wait only when idle or when the deadline came nearer (DATA's timeout
  // can be shorter than the command timeout).
  if (!state_->waiting || state_->deadline < state_->timer.expiry()) wait(state_);
}

void Deadline::disarm() { state_->reading = false; }

bool Deadline::expired() const { return state_->expired; }

void Deadline::wait(const std::shared_ptr<State>& state) {
  std::uint64_t generation = ++state->generation;
  state->waiting = true;
  state->timer.expires_at(state->deadline);  // cancels an earlier wait, if any
  state->timer.async_wait([state, generation](std::error_code ec) {
    if (generation != state->generation) return;
    state->waiting = false;
    if (ec || !state->socket || !state->reading) return;
    if (std::chrono::steady_clock::now() < state->deadline) {
      wait(state);  // the deadline moved on since this wait began
      return;
    }
    state->expired = true;
    std::error_code ignored;
    state->socket->cancel(ignored);
  });
}

Peer peer_of(const tcp::endpoint& endpoint) {
  Peer p;
  p.address = endpoint.address();
  if (p.address.is_v6() && p.address.to_v6().is_v4_mapped())
    p.address = asio::ip::make_address_v4(asio::ip::v4_mapped, p.address.to_v6());
  p.ip = p.address.to_string();
  p.name = p.address.is_loopback() ? "localhost" : "unknown";
  return p;
}

}  // namespace herald::server

namespace herald::server {

Connection::Connection(tcp::socket socket, const tcp::endpoint& peer)
    : socket_(std::move(socket)), peer_(peer_of(peer)), deadline_(socket_) {}

Connection::~Connection() = default;

asio::awaitable<std::size_t> Connection::read_some(char* buffer, std::size_t size,
                                                   std::chrono::milliseconds timeout) {
  std::error_code ec;
  deadline_.arm(timeout);
  std::size_t n;
  if (tls_)
    n = co_await tls_->async_read_some(asio::buffer(buffer, size), asio::redirect_error(asio::use_awaitable, ec));
  else
    n = co_await socket_.async_read_some(asio::buffer(buffer, size), asio::redirect_error(asio::use_awaitable, ec));
  deadline_.disarm();
  co_return ec ? 0 : n;
}

asio::awaitable<bool> Connection::write_all(std::string_view data) {
  std::error_code ec;
  if (tls_)
    co_await asio::async_write(*tls_, asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
  else
    co_await asio::async_write(socket_, asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
  co_return !ec;
}

asio::awaitable<bool> Connection::start_tls(asio::ssl::context& context, std::chrono::milliseconds timeout) {
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, context);
  std::error_code ec;
  deadline_.arm(timeout);
  co_await tls_->async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
  deadline_.disarm();
  if (ec) {
    // Nothing more may be said on this connection, in clear or in TLS.
    tls_.reset();
    socket_.close(ec);
    co_return false;
  }
  co_return true;
}

SSL* Connection::ssl() { return tls_->native_handle(); }

std::size_t Connection::pending_bytes() {
  std::error_code ec;
  return socket_.available(ec);
}

}  // namespace herald::server

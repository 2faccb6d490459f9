#include "net/connection.h"
#include "net/tls.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace herald::net {

// The timer's handler shares this state, so it stays valid however late the
// handler runs; socket is cleared when the Deadline (and its socket) go.
struct Deadline::State {
  struct Slot {
    bool armed = false;
    bool expired = false;
    Clock::time_point at;
  };
  explicit State(tcp::socket& s) : socket(&s), timer(s.get_executor()) {}
  Slot& slot(Op op) { return slots[static_cast<std::size_t>(op)]; }
  // earliest - the nearest armed deadline, if any.
  std::optional<Clock::time_point> earliest() const {
    std::optional<Clock::time_point> out;
    for (const auto& s : slots)
      if (s.armed && (!out || s.at < *out)) out = s.at;
    return out;
  }

  tcp::socket* socket;
  asio::steady_timer timer;
  std::array<Slot, 2> slots;  // indexed by Op
  bool waiting = false;
  std::uint64_t generation = 0;  // bumps on every wait; stale handlers see a mismatch
};

Deadline::Deadline(tcp::socket& socket) : state_(std::make_shared<State>(socket)) {}

Deadline::~Deadline() {
  state_->socket = nullptr;
  state_->timer.cancel();
}

void Deadline::arm(Op op, Clock::time_point at) {
  auto& s = state_->slot(op);
  s.armed = true;
  s.at = at;
  // Re-wait only when idle or when a deadline came nearer (DATA's timeout
  // can be shorter than the command timeout, a write's than the read's).
  if (!state_->waiting || at < state_->timer.expiry()) wait(state_);
}

void Deadline::disarm(Op op) { state_->slot(op).armed = false; }

bool Deadline::expired() const {
  return std::any_of(state_->slots.begin(), state_->slots.end(), [](const State::Slot& s) { return s.expired; });
}

bool Deadline::expired(Op op) const { return state_->slot(op).expired; }

void Deadline::wait(const std::shared_ptr<State>& state) {
  std::uint64_t generation = ++state->generation;
  state->waiting = true;
  state->timer.expires_at(*state->earliest());  // cancels an earlier wait, if any
  state->timer.async_wait([state, generation](std::error_code ec) {
    if (generation != state->generation) return;
    state->waiting = false;
    if (ec || !state->socket || !state->earliest()) return;
    auto now = Clock::now();
    bool passed = false;
    for (auto& s : state->slots) {
      if (s.armed && s.at <= now) s.expired = passed = true;
    }
    if (!passed) {
      wait(state);  // the deadlines moved on since this wait began
      return;
    }
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

Connection::Connection(tcp::socket socket, const tcp::endpoint& peer)
    : socket_(std::move(socket)), peer_(peer_of(peer)), deadline_(socket_) {}

Connection::~Connection() = default;

asio::awaitable<std::size_t> Connection::read_some(char* buffer, std::size_t size,
                                                   std::chrono::milliseconds timeout) {
  if (!deflate_) co_return co_await read_raw(buffer, size, timeout);
  // RFC 4978: inflate what came; read more only when it gives nothing.
  for (;;) {
    long n = deflate_->inflate(buffer, size);
    if (n < 0) co_return 0;  // not DEFLATE: the peer is gone as far as we can tell
    if (n > 0) co_return static_cast<std::size_t>(n);
    char raw[4096];
    std::size_t got = co_await read_raw(raw, sizeof raw, timeout);
    if (got == 0) co_return 0;
    deflate_->feed(std::string_view(raw, got));
  }
}

void Connection::start_compression(std::string_view already_read) {
  deflate_ = std::make_unique<Deflate>();
  deflate_->feed(already_read);
}

asio::awaitable<std::size_t> Connection::read_raw(char* buffer, std::size_t size, std::chrono::milliseconds timeout) {
  std::error_code ec;
  deadline_.arm(Deadline::Op::read, timeout);
  std::size_t n;
  if (tls_)
    n = co_await tls_->async_read_some(asio::buffer(buffer, size), asio::redirect_error(asio::use_awaitable, ec));
  else
    n = co_await socket_.async_read_some(asio::buffer(buffer, size), asio::redirect_error(asio::use_awaitable, ec));
  deadline_.disarm(Deadline::Op::read);
  co_return ec ? 0 : n;
}

asio::awaitable<bool> Connection::write_all(std::string_view data, std::optional<WriteRules> rules) {
  if (!deflate_) co_return co_await write_raw(data, rules);
  std::string compressed = deflate_->deflate(data);
  co_return co_await write_raw(compressed, rules);
}

asio::awaitable<bool> Connection::write_raw(std::string_view data, std::optional<WriteRules> rules) {
  std::error_code ec;
  if (!rules) {
    if (tls_)
      co_await asio::async_write(*tls_, asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
    else
      co_await asio::async_write(socket_, asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }
  // One partial write at a time, so the deadline can move with the octets
  // the peer takes (net/pace.h).
  RateBudget budget(rules->timeout, rules->min_rate);
  while (!data.empty() && !ec) {
    deadline_.arm(Deadline::Op::write, budget.left());
    auto start = Deadline::Clock::now();
    std::size_t n;
    if (tls_)
      n = co_await tls_->async_write_some(asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
    else
      n = co_await socket_.async_write_some(asio::buffer(data), asio::redirect_error(asio::use_awaitable, ec));
    budget.spend(std::chrono::duration_cast<std::chrono::milliseconds>(Deadline::Clock::now() - start), n);
    data.remove_prefix(n);
  }
  deadline_.disarm(Deadline::Op::write);
  co_return !ec;
}

asio::awaitable<bool> Connection::start_tls(asio::ssl::context& context, std::chrono::milliseconds timeout,
                                            asio::ssl::stream_base::handshake_type side, std::string verify_peer) {
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, context);
  if (!verify_peer.empty()) require_verified_peer(tls_->native_handle(), verify_peer);
  std::error_code ec;
  // The handshake waits on the peer as a read does.
  deadline_.arm(Deadline::Op::read, timeout);
  co_await tls_->async_handshake(side, asio::redirect_error(asio::use_awaitable, ec));
  deadline_.disarm(Deadline::Op::read);
  if (ec) {
    // Nothing more may be said on this connection, in clear or in TLS.
    tls_.reset();
    socket_.close(ec);
    co_return false;
  }
  co_return true;
}

SSL* Connection::ssl() { return tls_->native_handle(); }

bool Connection::quiet() {
  if (!socket_.is_open()) return false;
  if (tls_ && SSL_pending(tls_->native_handle()) > 0) return false;  // read already, not yet taken
  if (deflate_ && deflate_->pending()) return false;                  // compressed, not yet inflated
  char octet;
  const ssize_t n = ::recv(socket_.native_handle(), &octet, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);  // 0: closed; > 0: it spoke
}

std::size_t Connection::pending_bytes() {
  std::error_code ec;
  return socket_.available(ec);
}

}  // namespace herald::net

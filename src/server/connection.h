// server/connection.h - the socket layer every protocol driver shares:
// reads with an idle deadline, whole writes, TLS, and the client's address.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>

namespace herald::server {

using asio::ip::tcp;

// Deadline - cancels a socket's read when it waits too long (RFC 5321
// 4.5.3.2, RFC 1939 3 autologout timers). A watchdog: arming only moves the
// deadline forward, and the one timer re-waits when it fires early, so a
// busy connection costs no timer operation per read.
// REQUIRES: used from the socket's own (single-threaded) io_context.
class Deadline {
 public:
  explicit Deadline(tcp::socket& socket);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void arm(std::chrono::milliseconds timeout);
  void disarm();
  bool expired() const;

 private:
  struct State;
  static void wait(const std::shared_ptr<State>& state);
  std::shared_ptr<State> state_;
};

// Peer - who is on the other end, looked up once per connection.
struct Peer {
  asio::ip::address address;  // IPv4-mapped IPv6 unwrapped to IPv4
  std::string ip;             // "127.0.0.1", "::1"
  std::string name;           // "localhost" for loopback; reverse DNS comes with the dns module
  std::string display() const { return name + "[" + ip + "]"; }  // Postfix's "name[ip]"
};

// peer_of - the client at endpoint, as accept() reported it.
Peer peer_of(const tcp::endpoint& endpoint);

// Connection - one client's socket, optionally inside TLS, with its idle
// deadline. The only place that reads and writes client sockets; protocol
// drivers see bytes in and bytes out, whether TLS is on or not.
class Connection {
 public:
  Connection(tcp::socket socket, const tcp::endpoint& peer);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const Peer& peer() const { return peer_; }
  tcp::socket& socket() { return socket_; }

  // read_some - at most size octets; 0 on EOF, error or timeout (see timed_out).
  asio::awaitable<std::size_t> read_some(char* buffer, std::size_t size, std::chrono::milliseconds timeout);
  // write_all - false when the peer is gone.
  asio::awaitable<bool> write_all(std::string_view data);
  // start_tls - the server side of a TLS handshake (RFC 3207 STARTTLS, RFC
  // 2595 STLS, or RFC 8314 implicit TLS); false when it failed.
  asio::awaitable<bool> start_tls(asio::ssl::context& context, std::chrono::milliseconds timeout);

  bool timed_out() const { return deadline_.expired(); }
  bool tls_active() const { return tls_ != nullptr; }
  SSL* ssl();  // REQUIRES: tls_active()
  std::size_t pending_bytes();  // readable now without waiting (pre-greeting check)

 private:
  tcp::socket socket_;
  Peer peer_;
  Deadline deadline_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
};

}  // namespace herald::server

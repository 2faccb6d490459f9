// server/connection.h - the socket helpers every protocol driver shares:
// reads with an idle deadline, whole writes, and the client's address.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
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

// read_some - at most buffer_size octets; 0 on EOF, error or timeout.
asio::awaitable<std::size_t> read_some(tcp::socket& socket, Deadline& deadline, char* buffer,
                                       std::size_t buffer_size, std::chrono::milliseconds timeout);

// write_all - false when the peer is gone.
asio::awaitable<bool> write_all(tcp::socket& socket, const std::string& data);

// Peer - who is on the other end, looked up once per connection.
struct Peer {
  asio::ip::address address;  // IPv4-mapped IPv6 unwrapped to IPv4
  std::string ip;             // "127.0.0.1", "::1"
  std::string name;           // "localhost" for loopback; reverse DNS comes with the dns module
  std::string display() const { return name + "[" + ip + "]"; }  // Postfix's "name[ip]"
};

Peer peer_of(const tcp::socket& socket);

}  // namespace herald::server

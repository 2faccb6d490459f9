// net/connection.h - one TCP connection, plain or inside TLS, with the
// deadlines of its reads and writes: the socket layer that the protocol
// drivers (server/) and the outbound SMTP client share.
//
// Invariants: a Connection is used from its socket's own io_context only
// (one thread, no locks); a read or write that passes its deadline is
// cancelled and reports failure, and timed_out() says why; after a failed
// handshake nothing more is sent, in clear or in TLS.
//
// Security notes: every wait on the peer can be bounded (RFC 5321 4.5.3.2,
// RFC 1939 3 autologout); a peer that stops reading what we write can be
// cut off the same way (write_all's timeout), and a minimum data rate is a
// deadline that moves with the octets moved (Deadline's comment).
//
// RFCs: 3207 (STARTTLS), 2595 (STLS), 8314 (implicit TLS) - the callers of
// start_tls.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>

#include "net/deflate.h"
#include "net/pace.h"

namespace herald::net {

using asio::ip::tcp;

// Deadline - a watchdog that cancels a socket's operations when one of
// them waits past its deadline. Reads and writes have a deadline each
// (Op), set as a point in time: a per-call timeout is "now + timeout", a
// whole-operation bound (a DATA phase, an outbound transaction) is a fixed
// point, and a minimum data rate (Postfix's smtpd_min_data_rate; net/pace.h
// does the arithmetic) is a point that moves on by octets / rate after each
// transfer. One timer
// serves both: arming only moves a deadline, and the timer re-waits when it
// fires early, so a busy connection costs no timer operation per read.
// REQUIRES: used from the socket's own (single-threaded) io_context.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Op { read, write };

  explicit Deadline(tcp::socket& socket);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  // arm - op must finish by `at` (or within timeout from now).
  void arm(Op op, Clock::time_point at);
  void arm(Op op, std::chrono::milliseconds timeout) { arm(op, Clock::now() + timeout); }
  // disarm - op finished; its deadline no longer counts.
  void disarm(Op op);
  // expired - some operation passed its deadline and the socket's
  // operations were cancelled; stays true.
  bool expired() const;
  bool expired(Op op) const;

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

// peer_of - the peer at endpoint, as accept() or connect() reported it.
Peer peer_of(const tcp::endpoint& endpoint);

// Connection - one socket, optionally inside TLS, with its deadlines. The
// only place that reads and writes peers' sockets; drivers see bytes in and
// bytes out, whether TLS is on or not.
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
  // write_all - all of data, or false when the peer is gone or, with
  // rules, did not keep up with them (see timed_out): each partial write
  // spends the time it waited from a RateBudget and earns octets / min_rate
  // back, so a peer that stops reading, or reads a trickle, is cut off.
  asio::awaitable<bool> write_all(std::string_view data, std::optional<WriteRules> rules = std::nullopt);
  // write_all - the same with a timeout per partial write.
  asio::awaitable<bool> write_all(std::string_view data, std::chrono::milliseconds timeout) {
    return write_all(data, WriteRules{timeout, 0});
  }
  // start_tls - a TLS handshake on this connection, as the server (RFC 3207
  // STARTTLS, RFC 2595 STLS, RFC 8314 implicit TLS) or as the client
  // (outbound); false when it failed, and then the socket is closed. A
  // client with verify_peer set requires the server's certificate to be
  // valid for that name or address (tls.h require_verified_peer).
  asio::awaitable<bool> start_tls(asio::ssl::context& context, std::chrono::milliseconds timeout,
                                  asio::ssl::stream_base::handshake_type side = asio::ssl::stream_base::server,
                                  std::string verify_peer = {});

  // start_compression - RFC 4978 COMPRESS=DEFLATE from now on, both ways;
  // already_read: octets that came after the command, compressed.
  void start_compression(std::string_view already_read = {});
  bool compressed() const { return deflate_ != nullptr; }

  bool timed_out() const { return deadline_.expired(); }
  // quiet - the peer has neither sent anything nor closed since the last
  // read (a look at the socket that never blocks): an idle connection that
  // may be used again.
  bool quiet();
  bool tls_active() const { return tls_ != nullptr; }
  SSL* ssl();  // REQUIRES: tls_active()
  std::size_t pending_bytes();  // readable now without waiting (pre-greeting check)

 private:
  tcp::socket socket_;
  Peer peer_;
  Deadline deadline_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
  std::unique_ptr<Deflate> deflate_;  // COMPRESS=DEFLATE, when on

  asio::awaitable<std::size_t> read_raw(char* buffer, std::size_t size, std::chrono::milliseconds timeout);
  asio::awaitable<bool> write_raw(std::string_view data, std::optional<WriteRules> rules);
};

}  // namespace herald::net

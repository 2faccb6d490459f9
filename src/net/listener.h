// net/listener.h - listening sockets and connection limits.
//
// Each I/O thread opens its own acceptor on every address with SO_REUSEPORT,
// so the kernel spreads connections over the threads and a connection lives
// on the thread that accepted it (docs/ARCHITECTURE.md "Threads and executors").
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <asio/ip/network_v4.hpp>
#include <asio/ip/network_v6.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/v6_only.hpp>

#include "base/result.h"

namespace herald::net {

// parse_endpoint - "127.0.0.1:2525", "[::1]:2525", "*:25" / ":25" (any).
Result<asio::ip::tcp::endpoint> parse_endpoint(const std::string& text);

// check_free - fails when something already listens on ep. SO_REUSEPORT
// would otherwise let a second daemon (or a stale one) silently share the
// port and take half of the connections; a plain bind cannot share it.
Status check_free(asio::io_context& io, const asio::ip::tcp::endpoint& ep);

// open_acceptor - bound and listening, with SO_REUSEADDR and SO_REUSEPORT.
Result<std::unique_ptr<asio::ip::tcp::acceptor>> open_acceptor(asio::io_context& io,
                                                                const asio::ip::tcp::endpoint& ep);

// NetworkList - client addresses allowed something (relay), from CIDR text.
class NetworkList {
 public:
  // parse - REQUIRES: each entry valid (config validated it); bad ones are skipped.
  static NetworkList parse(const std::vector<std::string>& cidrs);
  bool contains(const asio::ip::address& address) const;

 private:
  std::vector<asio::ip::network_v4> v4_;
  std::vector<asio::ip::network_v6> v6_;
};

// ConnectionLimiter - connections in all and per client address, shared by
// the threads of one listener. acquire() hands out a ticket that gives the
// slot back when it is destroyed.
class ConnectionLimiter {
 public:
  ConnectionLimiter(std::uint32_t max_total, std::uint32_t max_per_client)
      : max_total_(max_total), max_per_client_(max_per_client) {}

  class Ticket {
   public:
    Ticket() = default;
    Ticket(ConnectionLimiter* owner, std::string client) : owner_(owner), client_(std::move(client)) {}
    Ticket(Ticket&& o) noexcept : owner_(o.owner_), client_(std::move(o.client_)) { o.owner_ = nullptr; }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (owner_) owner_->release(client_);
    }
    explicit operator bool() const { return owner_ != nullptr; }

   private:
    ConnectionLimiter* owner_ = nullptr;
    std::string client_;
  };

  // acquire - a ticket, or an empty one when a limit is reached.
  Ticket acquire(const std::string& client);

 private:
  void release(const std::string& client);

  const std::uint32_t max_total_;
  const std::uint32_t max_per_client_;
  mutable std::mutex mu_;
  std::uint32_t total_ = 0;
  std::map<std::string, std::uint32_t> per_client_;
};

}  // namespace herald::net

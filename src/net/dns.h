// net/dns.h - asynchronous DNS for outbound delivery: MX records (RFC 5321
// 5.1) and the addresses of a host, over c-ares, driven by the io_context
// the resolver lives on, so that a lookup never blocks an I/O thread.
//
// Hand-written only as the glue between c-ares and Asio: c-ares opens and
// closes its sockets and says which it wants watched (its sock_state_cb);
// each is watched with a non-owning posix::stream_descriptor, and c-ares's
// own timeouts run on one steady_timer.
//
// Answers are classified the way a mail server needs them: a name that does
// not exist (NXDOMAIN) or exists without such records (NODATA) is a fact,
// anything else (a timeout, SERVFAIL, a refused query) is temporary, so
// that a DNS failure defers mail and never bounces it.
//
// Answers are kept for their TTL (net/dns_cache.h, capped by
// ResolverOptions::cache_max_ttl): positive ones, and NXDOMAIN/NODATA of MX
// queries for the SOA's negative TTL (RFC 2308 5); a temporary failure is
// never kept.
//
// Invariants: a Resolver is used on its executor's thread only; destroying
// it ends its pending lookups (their awaiters get `temporary`).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/address.hpp>

#include "base/result.h"

namespace herald::net {

enum class DnsStatus {
  ok,
  nxdomain,   // the name does not exist
  nodata,     // the name exists, without records of that type
  temporary,  // no answer now: try again later
};

struct MxRecord {
  std::uint16_t preference = 0;
  std::string host;  // "" for the null MX's "." (RFC 7505)
};

struct MxAnswer {
  DnsStatus status = DnsStatus::temporary;
  std::vector<MxRecord> records;
  std::string error;  // c-ares's words when not ok
  std::uint32_t ttl = 0;  // seconds it may be kept (RFC 1035 3.2.1; RFC 2308 5 when negative)
};

struct AddressAnswer {
  DnsStatus status = DnsStatus::temporary;
  std::vector<asio::ip::address> addresses;  // IPv6 and IPv4, as the resolver ordered them
  std::string error;
  std::uint32_t ttl = 0;
};

struct ResolverOptions {
  std::vector<std::string> servers;  // "ip" or "ip:port"; none: those of /etc/resolv.conf
  std::chrono::milliseconds timeout{5000};  // per query, two tries
  std::size_t cache_entries = 10000;        // per record type; 0: nothing kept
  std::chrono::seconds cache_max_ttl{3600};  // no answer is kept longer
};

class Resolver {
 public:
  static Result<std::unique_ptr<Resolver>> create(asio::any_io_executor executor, const ResolverOptions& options);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  asio::awaitable<MxAnswer> mx(std::string domain);
  asio::awaitable<AddressAnswer> addresses(std::string host);

 private:
  struct Impl;  // shared with the waits it has started, which may outlive it
  explicit Resolver(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace herald::net

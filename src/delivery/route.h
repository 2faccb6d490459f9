// delivery/route.h - where mail for a recipient domain goes (docs/
// ARCHITECTURE.md "Outbound delivery"): a route of the transport table, else
// the smarthost, else the domain's MX hosts (RFC 5321 5.1).
//
// Pure: configuration in, next hops out. Configured targets are IP
// literals ("[192.0.2.1]:25", "[2001:db8::1]:587") or host names, looked up
// when a connection starts; a domain without a route or smarthost goes by
// MX, and mx_targets turns MX records and their addresses into targets (the
// lookups are the caller's: net/dns.h).
#pragma once

#include <cstdint>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "smtp/client.h"

namespace herald::delivery {

// Target - one server to connect to.
struct Target {
  std::string host;       // an IP literal (no brackets); "" until name is looked up
  std::uint16_t port = 25;
  std::string name;       // the host name it was given or found by (MX); "" for a literal
  std::string str() const;  // "[host]:port"
  // relay - Postfix's "name[ip]:port", for logs and the journal.
  std::string relay() const;
};

// NextHop - where a group of recipients is sent, and how. Connections and
// their concurrency limit are per next hop (its name).
struct NextHop {
  std::string name;              // "[192.0.2.1]:25", the route's domain pattern, or the MX domain
  std::vector<Target> targets;   // tried in order; the first four count (CSSMTP's rule)
  smtp::TlsPolicy tls = smtp::TlsPolicy::may;
  std::string auth_user;         // "" = no AUTH
  std::string auth_password;
  bool auth_without_tls = false;  // AUTH also in clear
  bool mx = false;               // targets are found by MX (RFC 5321 5.1) when a connection starts
  std::uint16_t mx_port = 0;     // mx: their port; 0 = delivery.mx_port
  std::string source_address;    // the local address connections come from; "" = the kernel's choice
};

// parse_target - "[ip]:port", "[host]:port" (its addresses), or the same
// without the port (25); Postfix's brackets say "no MX lookup".
// Errc::invalid for anything else.
Result<Target> parse_target(std::string_view text);

// parse_next_hop - a smarthost or a route's target as Postfix's relayhost
// reads it: bracketed, the target itself (parse_target); bare, "host" or
// "host:port", the MX hosts of host (on that port).
Result<NextHop> parse_next_hop(std::string_view text);

// Route - a domain ("example.org") or its subdomains ("*.example.org")
// to a next hop: the transport table.
struct Route {
  std::string domain;
  NextHop hop;
};

// Router - the next hop of each recipient domain.
class Router {
 public:
  static constexpr std::size_t kMaxTargets = 4;

  Router(std::vector<Route> routes, std::optional<NextHop> smarthost, std::optional<NextHop> fallback = std::nullopt);

  // route - the next hop for domain (any case): the first route that
  // matches, else the smarthost; nullptr when the domain's MX hosts are the
  // way (which needs the DNS resolver).
  const NextHop* route(std::string_view domain) const;
  // fallback - delivery.fallback_relay: where mail goes that its own next
  // hop could not take (takes_fallback); nullptr when none is configured.
  const NextHop* fallback() const { return fallback_ ? &*fallback_ : nullptr; }

 private:
  std::vector<Route> routes_;
  std::optional<NextHop> smarthost_;
  std::optional<NextHop> fallback_;
};

// takes_fallback - whether a recipient that its next hop did not take goes
// to the fallback relay (Postfix's smtp_fallback_relay): after a temporary
// failure of any kind, or when its destination cannot be found (5.1.2: the
// domain does not exist; 5.4.4: its hosts have no address) - mail for names
// only the relay knows. Never after the destination refused it (a 5xx
// reply, a null MX, a loop).
bool takes_fallback(const smtp::Verdict& verdict);

// MxHost - one MX record's host and the addresses it resolved to.
struct MxHost {
  std::uint16_t preference = 0;
  std::string host;
  std::vector<std::string> addresses;  // IP literals; empty when it has none
};

// mx_order - RFC 5321 5.1: MX records by preference, equal ones shuffled
// (shuffle_seed picks the order), with our own name and every record at its
// preference or higher dropped (a loop otherwise). In place.
void mx_order(std::vector<MxHost>& hosts, std::string_view our_name, std::uint64_t shuffle_seed);

// mx_targets - the addresses of ordered hosts as targets on port, at most
// limit of them (Postfix's smtp_mx_address_limit).
std::vector<Target> mx_targets(const std::vector<MxHost>& hosts, std::uint16_t port, std::size_t limit);

// domain_of - the domain of an address ("local@Domain" -> "domain"); "" if none.
std::string domain_of(std::string_view address);

}  // namespace herald::delivery

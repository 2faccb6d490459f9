// delivery/route.h - where mail for a recipient domain goes (docs/
// ARCHITECTURE.md "Outbound delivery"): a route of the transport table, else
// the smarthost, else the domain's MX hosts (RFC 5321 5.1).
//
// Pure: configuration in, next hops out. Targets are IP literals for now
// ("[192.0.2.1]:25", "[2001:db8::1]:587"); host names and MX lookups come
// with the DNS resolver, and until then mail that needs them waits in the
// queue (deferred, with the reason in its row).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "smtp/client.h"

namespace herald::delivery {

// Target - one server to connect to.
struct Target {
  std::string host;       // an IP literal (no brackets)
  std::uint16_t port = 25;
  std::string str() const;  // "[host]:port"
};

// parse_target - "[ip]:port" or "[ip]" (port 25); Postfix's brackets say
// "no MX lookup". Errc::invalid for anything else.
Result<Target> parse_target(std::string_view text);

// NextHop - where a group of recipients is sent, and how. Connections and
// their concurrency limit are per next hop (its name).
struct NextHop {
  std::string name;              // "[192.0.2.1]:25", or the route's domain pattern
  std::vector<Target> targets;   // tried in order; the first four count (CSSMTP's rule)
  smtp::TlsPolicy tls = smtp::TlsPolicy::may;
  std::string auth_user;         // "" = no AUTH
  std::string auth_password;
};

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

  Router(std::vector<Route> routes, std::optional<NextHop> smarthost);

  // route - the next hop for domain (any case): the first route that
  // matches, else the smarthost; nullptr when the domain's MX hosts are the
  // way (which needs the DNS resolver).
  const NextHop* route(std::string_view domain) const;

 private:
  std::vector<Route> routes_;
  std::optional<NextHop> smarthost_;
};

// domain_of - the domain of an address ("local@Domain" -> "domain"); "" if none.
std::string domain_of(std::string_view address);

}  // namespace herald::delivery

#include "delivery/route.h"

#include <fmt/format.h>

#include <arpa/inet.h>

#include <algorithm>
#include <random>

#include "base/text.h"

namespace herald::delivery {

namespace {

bool ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// matches - pattern "example.org" is that domain; "*.example.org" is any
// domain below it (not example.org itself, as Postfix's transport maps).
bool matches(std::string_view pattern, std::string_view domain) {
  if (pattern.starts_with("*.")) {
    std::string_view parent = pattern.substr(1);  // ".example.org"
    return domain.size() > parent.size() && iequals(domain.substr(domain.size() - parent.size()), parent);
  }
  return iequals(pattern, domain);
}

}  // namespace

std::string Target::str() const { return fmt::format("[{}]:{}", host, port); }

std::string Target::relay() const { return fmt::format("{}[{}]:{}", name.empty() ? host : name, host, port); }

void mx_order(std::vector<MxHost>& hosts, std::string_view our_name, std::uint64_t shuffle_seed) {
  std::mt19937_64 rng(shuffle_seed);
  std::shuffle(hosts.begin(), hosts.end(), rng);
  std::stable_sort(hosts.begin(), hosts.end(),
                   [](const MxHost& a, const MxHost& b) { return a.preference < b.preference; });
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    std::string_view h = hosts[i].host;
    if (h.ends_with('.')) h.remove_suffix(1);
    if (iequals(h, our_name)) {
      const std::uint16_t ours = hosts[i].preference;
      std::erase_if(hosts, [ours](const MxHost& m) { return m.preference >= ours; });
      return;
    }
  }
}

std::vector<Target> mx_targets(const std::vector<MxHost>& hosts, std::uint16_t port, std::size_t limit) {
  std::vector<Target> out;
  for (const auto& h : hosts)
    for (const auto& a : h.addresses) {
      if (out.size() >= limit) return out;
      out.push_back({a, port, h.host});
    }
  return out;
}

Result<Target> parse_target(std::string_view text) {
  auto invalid = [&] {
    return make_error(Errc::invalid,
                      fmt::format("\"{}\" is not a target: write \"[IP address]:port\", e.g. \"[192.0.2.1]:25\"",
                                  printable(text, 100)));
  };
  if (!text.starts_with("[")) return invalid();
  std::size_t close = text.find(']');
  if (close == std::string_view::npos) return invalid();
  Target t;
  t.host = std::string(text.substr(1, close - 1));
  if (!ip_literal(t.host)) return invalid();
  std::string_view rest = text.substr(close + 1);
  if (rest.empty()) return t;
  if (!rest.starts_with(":")) return invalid();
  auto port = parse_uint(rest.substr(1));
  if (!port || *port == 0 || *port > 65535) return invalid();
  t.port = static_cast<std::uint16_t>(*port);
  return t;
}

Router::Router(std::vector<Route> routes, std::optional<NextHop> smarthost)
    : routes_(std::move(routes)), smarthost_(std::move(smarthost)) {
  for (auto& r : routes_)
    if (r.hop.targets.size() > kMaxTargets) r.hop.targets.resize(kMaxTargets);
  if (smarthost_ && smarthost_->targets.size() > kMaxTargets) smarthost_->targets.resize(kMaxTargets);
}

const NextHop* Router::route(std::string_view domain) const {
  for (const auto& r : routes_)
    if (matches(r.domain, domain)) return &r.hop;
  return smarthost_ ? &*smarthost_ : nullptr;
}

std::string domain_of(std::string_view address) {
  std::size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : to_lower(address.substr(at + 1));
}

}  // namespace herald::delivery

#include "delivery/route.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <random>

#include "base/text.h"

namespace herald::delivery {

namespace {

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

namespace {

// port_of - ":port" (1 to 65535), or 25 for "".
std::optional<std::uint16_t> port_of(std::string_view rest) {
  if (rest.empty()) return 25;
  if (!rest.starts_with(":")) return std::nullopt;
  auto port = parse_uint(rest.substr(1));
  if (!port || *port == 0 || *port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(*port);
}

// not_a_target - the error, naming the forms accepted where text was.
Error not_a_target(std::string_view text, bool bare_allowed) {
  return make_error(Errc::invalid, fmt::format("\"{}\" is not a target: write \"[host or IP address]:port\"{}",
                                               printable(text, 100),
                                               bare_allowed ? " (no MX lookup) or \"host:port\" (its MX hosts)" : ""));
}

}  // namespace

Result<Target> parse_target(std::string_view text) {
  if (!text.starts_with("[")) return not_a_target(text, false);
  std::size_t close = text.find(']');
  if (close == std::string_view::npos) return not_a_target(text, false);
  std::string inside(text.substr(1, close - 1));
  auto port = port_of(text.substr(close + 1));
  if (!port) return not_a_target(text, false);
  Target t;
  t.port = *port;
  if (ip_literal(inside)) t.host = std::move(inside);
  else if (valid_hostname(inside)) t.name = to_lower(inside);
  else return not_a_target(text, false);
  return t;
}

Result<NextHop> parse_next_hop(std::string_view text) {
  NextHop hop;
  hop.name = std::string(text);
  if (text.starts_with("[")) {
    auto t = parse_target(text);
    if (!t) return t.error();
    hop.targets.push_back(*t);
    return hop;
  }
  std::size_t colon = text.find(':');
  std::string host(text.substr(0, colon));
  auto port = port_of(colon == std::string_view::npos ? std::string_view() : text.substr(colon));
  if (!port || !valid_hostname(host)) return not_a_target(text, true);
  hop.mx = true;
  hop.name = to_lower(host);
  hop.mx_port = *port;
  return hop;
}

Router::Router(std::vector<Route> routes, std::optional<NextHop> smarthost, std::optional<NextHop> fallback)
    : routes_(std::move(routes)), smarthost_(std::move(smarthost)), fallback_(std::move(fallback)) {
  for (auto& r : routes_)
    if (r.hop.targets.size() > kMaxTargets) r.hop.targets.resize(kMaxTargets);
  for (auto* hop : {&smarthost_, &fallback_})
    if (*hop && (*hop)->targets.size() > kMaxTargets) (*hop)->targets.resize(kMaxTargets);
}

bool takes_fallback(const smtp::Verdict& v) {
  if (v.outcome == smtp::Outcome::deferred) return true;
  return v.outcome == smtp::Outcome::bounced && v.code == 0 && (v.status == "5.1.2" || v.status == "5.4.4");
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

#include "spool/sender.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/text.h"

namespace herald::spool {

Result<SenderPolicy> parse_sender_policy(std::string_view mode, const std::vector<std::string>& trusted,
                                         const std::vector<std::string>& map, std::vector<std::string> own_domains) {
  SenderPolicy p;
  p.mode = mode == "verify" ? SenderMode::verify : mode == "replace" ? SenderMode::replace : SenderMode::any;
  p.trusted = trusted;
  for (auto& d : own_domains) d = to_lower(d);
  p.own_domains = std::move(own_domains);
  for (const auto& entry : map) {
    std::size_t colon = entry.find(':');
    std::string who = colon == std::string::npos ? "" : std::string(trim(std::string_view(entry).substr(0, colon)));
    std::string address =
        colon == std::string::npos ? "" : to_lower(trim(std::string_view(entry).substr(colon + 1)));
    bool ok = !who.empty() && who != "@" && address.find('@') != std::string::npos && address.back() != '@' &&
              address.find_first_of(" \t,<>") == std::string::npos;
    if (!ok)
      return make_error(Errc::invalid, fmt::format("sender_map: \"{}\" is not \"user:address\", \"user:@domain\" or "
                                                   "\"@group:address\"", printable(entry, 100)));
    p.rules.push_back({std::move(who), std::move(address)});
  }
  return p;
}

std::string own_address(const SenderPolicy& p, const Submitter& s) {
  return p.own_domains.empty() ? s.login : s.login + "@" + p.own_domains.front();
}

bool may_use(const SenderPolicy& p, const Submitter& s, std::string_view address) {
  if (p.mode == SenderMode::any) return true;
  if (std::find(p.trusted.begin(), p.trusted.end(), s.login) != p.trusted.end()) return true;
  if (address.empty()) return false;  // the null sender is for reports, made by the server
  std::string a = to_lower(address);
  std::size_t at = a.rfind('@');
  if (at == std::string::npos) return false;
  std::string_view local = std::string_view(a).substr(0, at), domain = std::string_view(a).substr(at + 1);
  if (local == to_lower(s.login) &&
      std::find(p.own_domains.begin(), p.own_domains.end(), domain) != p.own_domains.end())
    return true;
  for (const auto& r : p.rules) {
    bool applies = r.who.front() == '@'
                       ? std::find(s.groups.begin(), s.groups.end(), r.who.substr(1)) != s.groups.end()
                       : r.who == s.login;
    if (!applies) continue;
    if (r.address.front() == '@' ? domain == std::string_view(r.address).substr(1) : a == r.address) return true;
  }
  return false;
}

}  // namespace herald::spool

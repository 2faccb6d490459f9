// admin/validate.cpp - address, quota and key checks; new credentials.
#include "admin/validate.h"

#include <openssl/rand.h>

#include <fmt/format.h>

#include "auth/password.h"
#include "base/text.h"
#include "sasl/scram.h"
#include "smtp/address.h"

namespace herald::admin {

Status check_address(const std::string& address) {
  auto at = address.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == address.size() ||
      !smtp::valid_local_part(address.substr(0, at), true) || !smtp::valid_domain(address.substr(at + 1), true))
    return make_error(Errc::invalid, fmt::format("{}: not a valid address (local@domain)", address));
  return {};
}

Status check_domain(const std::string& domain) {
  if (!smtp::valid_domain(domain, true))
    return make_error(Errc::invalid, fmt::format("{}: not a valid domain name", domain));
  return {};
}

std::string domain_of(const std::string& address) { return to_lower(address.substr(address.rfind('@') + 1)); }

Status require_local(store::Store& store, const std::string& address) {
  const std::string domain = domain_of(address);
  auto local = store.directory().is_local_domain(domain);
  if (!local) return local.error();
  if (!*local)
    return make_error(Errc::not_found,
                      fmt::format("{}: {} is not a local domain (herald domain add {})", address, domain, domain));
  return {};
}

Result<store::UserRecord> user_of(store::Store& store, const std::string& address) {
  if (auto st = check_address(address); !st) return st.error();
  auto user = store.directory().find_user(address);
  if (!user) return user.error();
  if (!*user) return make_error(Errc::not_found, fmt::format("no such user: {}", to_lower(address)));
  return std::move(**user);
}

Result<std::uint64_t> parse_quota(const std::string& text) {
  if (text.empty()) return std::uint64_t{0};
  auto q = parse_size(text);
  if (!q) return make_error(Errc::invalid, fmt::format("quota {}: not a size such as 500M or 1G", text));
  return *q;
}

Result<std::int64_t> parse_key(const std::string& text) {
  if (text.empty()) return std::int64_t{0};
  auto n = parse_uint(text);
  if (!n || *n > static_cast<std::uint64_t>(INT64_MAX))
    return make_error(Errc::invalid, fmt::format("after {}: not a key of this list (a number)", text));
  return static_cast<std::int64_t>(*n);
}

Result<store::Credentials> credentials_for(const NewPassword& password) {
  store::Credentials c;
  if (password.kind == NewPassword::Kind::hash) {
    if (!auth::looks_like_hash(password.text))
      return make_error(Errc::invalid, "password hash: not an argon2id, $6$ or $2y$ hash");
    c.password_hash = password.text;  // SCRAM needs the password: not available for imports
    return c;
  }
  if (password.text.empty()) return make_error(Errc::invalid, "empty password");
  auto hash = auth::hash_password(password.text);
  if (!hash) return hash.error();
  c.password_hash = std::move(*hash);
  unsigned char salt[16];
  if (RAND_bytes(salt, sizeof salt) != 1) return make_error(Errc::internal, "no randomness for a salt");
  c.scram_sha256 = sasl::encode_scram_credentials(sasl::make_scram_credentials(
      password.text, std::string_view(reinterpret_cast<const char*>(salt), sizeof salt), sasl::kMinIterations));
  return c;
}

}  // namespace herald::admin

// admin/validate.h - the checks and conversions the operator commands share
// (internal to admin/): every door validates the same way because only the
// commands validate. Failures are Errc::invalid, naming the value.
#pragma once

#include <cstdint>
#include <string>

#include "admin/commands.h"
#include "base/result.h"
#include "store/directory.h"

namespace herald::admin {

// check_address - an address as users and aliases are keyed: local@domain,
// each part valid by RFC 5321 4.1.2 (UTF-8 allowed, RFC 6531).
Status check_address(const std::string& address);
Status check_domain(const std::string& domain);
// domain_of - the lower-case domain of a checked address.
std::string domain_of(const std::string& address);
// require_local - Errc::not_found unless the address's domain is local.
Status require_local(store::Store& store, const std::string& address);

// user_of - the user of a checked address: Errc::invalid for no address,
// Errc::not_found for no such user.
Result<store::UserRecord> user_of(store::Store& store, const std::string& address);

// parse_quota - "500M", "1G" as octets; "" = 0 (none).
Result<std::uint64_t> parse_quota(const std::string& text);
// parse_key - a numeric list key (queue row, journal key); "" = 0.
Result<std::int64_t> parse_key(const std::string& text);

// credentials_for - what the store keeps for a new password: its argon2id
// hash (PLAIN, LOGIN, USER) and SCRAM-SHA-256 keys with a fresh 16-octet
// salt (RFC 7677); for an imported hash, the hash alone.
Result<store::Credentials> credentials_for(const NewPassword& password);

}  // namespace herald::admin

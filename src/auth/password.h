// auth/password.h - password hashes: argon2id for new ones; SHA512-CRYPT
// ("$6$") and bcrypt ("$2y$"/"$2b$") verified for hashes imported from other
// servers (Dovecot, Postfix + Cyrus, /etc/shadow).
//
// Security: verification compares in constant time; an unknown scheme never
// verifies. The plaintext is never logged or stored.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace herald::auth {

// hash_password - a new argon2id hash in PHC string form ("$argon2id$v=19$...").
Result<std::string> hash_password(std::string_view password);

// verify_password - true when password matches the stored hash.
bool verify_password(std::string_view password, const std::string& hash);

// looks_like_hash - a hash we can verify (for `user add --password-hash`).
bool looks_like_hash(std::string_view hash);

}  // namespace herald::auth

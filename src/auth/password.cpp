#include "auth/password.h"

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>
#include <vector>

namespace herald::auth {
namespace {

// argon2id cost: OWASP's 2023 minimum (19 MiB, t=2, p=1) - a login costs
// ~20 ms of one core, affordable per login, expensive per guess.
constexpr std::uint32_t kTimeCost = 2;
constexpr std::uint32_t kMemoryKiB = 19 * 1024;
constexpr std::uint32_t kParallelism = 1;
constexpr std::size_t kSaltLen = 16;
constexpr std::size_t kHashLen = 32;

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

Result<std::string> hash_password(std::string_view password) {
  unsigned char salt[kSaltLen];
  if (RAND_bytes(salt, sizeof salt) != 1) return make_error(Errc::internal, "no randomness for a salt");
  std::size_t len = argon2_encodedlen(kTimeCost, kMemoryKiB, kParallelism, kSaltLen, kHashLen, Argon2_id);
  std::vector<char> encoded(len);
  int rc = argon2id_hash_encoded(kTimeCost, kMemoryKiB, kParallelism, password.data(), password.size(), salt,
                                 sizeof salt, kHashLen, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) return make_error(Errc::internal, argon2_error_message(rc));
  return std::string(encoded.data());
}

bool verify_password(std::string_view password, const std::string& hash) {
  if (starts_with(hash, "$argon2id$") || starts_with(hash, "$argon2i$")) {
    argon2_type type = starts_with(hash, "$argon2id$") ? Argon2_id : Argon2_i;
    return argon2_verify(hash.c_str(), password.data(), password.size(), type) == ARGON2_OK;
  }
  if (starts_with(hash, "$6$") || starts_with(hash, "$2y$") || starts_with(hash, "$2b$") ||
      starts_with(hash, "$2a$")) {
    // libxcrypt: reentrant crypt_r with the stored hash as its setting.
    std::string pw(password);
    if (pw.find('\0') != std::string::npos) return false;
    struct crypt_data data;
    std::memset(&data, 0, sizeof data);
    const char* out = crypt_r(pw.c_str(), hash.c_str(), &data);
    if (!out || out[0] == '*') return false;
    std::size_t n = std::strlen(out);
    return n == hash.size() && CRYPTO_memcmp(out, hash.data(), n) == 0;
  }
  return false;
}

bool looks_like_hash(std::string_view hash) {
  return starts_with(hash, "$argon2id$") || starts_with(hash, "$argon2i$") || starts_with(hash, "$6$") ||
         starts_with(hash, "$2y$") || starts_with(hash, "$2b$") || starts_with(hash, "$2a$");
}

}  // namespace herald::auth

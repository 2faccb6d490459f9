#include "auth/authenticator.h"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth/password.h"
#include "base/text.h"
#include "sasl/scram.h"

namespace herald::auth {
namespace {

// A valid argon2id hash of nothing anyone knows: verified against when the
// user does not exist, so both cases cost the same time.
constexpr const char* kDummyHash =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$dGhpc2lzbm90YXJlYWxoYXNoYXRhbGwuLi4uLi4uLi4";

}  // namespace

Authenticator::Authenticator(store::Directory& directory, AuthLimits limits) : directory_(directory), limits_(limits) {
  unsigned char secret[32];
  if (RAND_bytes(secret, sizeof secret) == 1) cache_secret_.assign(reinterpret_cast<char*>(secret), sizeof secret);
  else limits_.cache_ttl = std::chrono::milliseconds(0);  // no secret, no cache
}

std::string Authenticator::cache_key(const std::string& user, const std::string& password,
                                     const std::string& hash) const {
  std::string input = to_lower(user);
  input += '\0';
  input += password;
  input += '\0';
  input += hash;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), cache_secret_.data(), static_cast<int>(cache_secret_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), md, &len);
  OPENSSL_cleanse(input.data(), input.size());
  return std::string(reinterpret_cast<char*>(md), len);
}

bool Authenticator::cache_hit(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return false;
  if (Clock::now() >= it->second) {
    cache_.erase(it);
    return false;
  }
  return true;
}

void Authenticator::cache_put(std::string key) {
  std::lock_guard lk(mu_);
  auto now = Clock::now();
  if (cache_.size() >= limits_.max_tracked) {
    for (auto it = cache_.begin(); it != cache_.end();) it = now >= it->second ? cache_.erase(it) : std::next(it);
    if (cache_.size() >= limits_.max_tracked) cache_.clear();  // a miss costs one argon2 run, nothing more
  }
  cache_[std::move(key)] = now + limits_.cache_ttl;
}

bool Authenticator::locked(const Failures& f, Clock::time_point now) { return now < f.locked_until; }

// trim - keep a lockout table below max_tracked before it grows by one:
// entries without an active lock go first, then the locks that end soonest,
// down to 90 % so that the next trims are not at every failure.
// A lock dropped early lets that address or user guess again; a table
// without bound would let an attacker with many addresses (IPv6) exhaust
// memory.
void Authenticator::trim(std::map<std::string, Failures>& table, Clock::time_point now) const {
  if (table.size() < limits_.max_tracked) return;
  for (auto it = table.begin(); it != table.end();) it = locked(it->second, now) ? std::next(it) : table.erase(it);
  if (table.size() < limits_.max_tracked) return;
  std::vector<std::pair<Clock::time_point, std::string>> locks;
  locks.reserve(table.size());
  for (const auto& [key, f] : table) locks.emplace_back(f.locked_until, key);
  std::size_t keep = limits_.max_tracked - limits_.max_tracked / 10 - 1;
  std::size_t drop = table.size() - keep;
  std::nth_element(locks.begin(), locks.begin() + static_cast<std::ptrdiff_t>(drop - 1), locks.end());
  for (std::size_t i = 0; i < drop; ++i) table.erase(locks[i].second);
}

void Authenticator::fail(Failures& f, Clock::time_point now) {
  f.times.push_back(now);
  while (!f.times.empty() && now - f.times.front() > limits_.failure_window) f.times.pop_front();
  if (limits_.max_failures > 0 && f.times.size() >= limits_.max_failures) f.locked_until = now + limits_.lockout;
}

bool Authenticator::failed_recently(const std::string& client_ip, Clock::time_point now) const {
  auto a = by_address_.find(client_ip);
  return a != by_address_.end() && !a->second.times.empty() && now - a->second.times.back() <= limits_.failure_window;
}

bool Authenticator::locked_out(const std::string& user, const std::string& client_ip) {
  std::lock_guard lk(mu_);
  auto now = Clock::now();
  auto a = by_address_.find(client_ip);
  if (a != by_address_.end() && locked(a->second, now)) return true;
  auto u = by_user_.find(to_lower(user));
  if (u == by_user_.end() || !locked(u->second, now)) return false;
  // A user under attack: refused to the addresses that guessed, not to
  // one that has not failed (else ten wrong guesses lock anyone's account).
  return limits_.user_lockout || failed_recently(client_ip, now);
}

std::chrono::milliseconds Authenticator::user_penalty(const std::string& user) {
  std::lock_guard lk(mu_);
  auto u = by_user_.find(to_lower(user));
  if (u == by_user_.end() || !locked(u->second, Clock::now())) return std::chrono::milliseconds(0);
  return limits_.user_penalty;
}

void Authenticator::record(const std::string& user, const std::string& client_ip, bool success) {
  std::lock_guard lk(mu_);
  auto now = Clock::now();
  std::string u = to_lower(user);
  if (success) {
    // A user under attack stays so until its lock ends: the owner logging
    // in from elsewhere must not give the guessers a fresh count.
    if (auto it = by_user_.find(u); it != by_user_.end() && !locked(it->second, now)) by_user_.erase(it);
    return;  // the address keeps its count: one good account must not launder guesses at others
  }
  if (!by_address_.count(client_ip)) trim(by_address_, now);
  fail(by_address_[client_ip], now);
  if (!u.empty()) {
    if (!by_user_.count(u)) trim(by_user_, now);
    fail(by_user_[u], now);
  }
}

PasswordCheck Authenticator::check_password(const std::string& user, const std::string& password,
                                            const std::string& client_ip) {
  PasswordCheck out;
  if (locked_out(user, client_ip)) {
    verify_password(password, kDummyHash);
    out.verdict = Verdict::locked_out;
    return out;
  }
  auto found = directory_.find_user(user);
  if (!found) {
    out.verdict = Verdict::temp_fail;
    return out;
  }
  bool ok = false;
  if (*found) {
    const bool caching = limits_.cache_ttl.count() > 0;
    std::string key = caching ? cache_key(user, password, (*found)->password_hash) : std::string();
    ok = caching && cache_hit(key);
    if (!ok) {
      ok = verify_password(password, (*found)->password_hash);
      if (ok && caching) cache_put(std::move(key));
    }
  } else {
    verify_password(password, kDummyHash);
  }
  record(user, client_ip, ok);
  if (ok) {
    out.verdict = Verdict::ok;
    out.user = std::move(**found);
  }
  return out;
}

Result<std::optional<sasl::ScramCredentials>> Authenticator::scram_credentials(const std::string& user,
                                                                               const std::string& client_ip) {
  using Credentials = std::optional<sasl::ScramCredentials>;
  if (locked_out(user, client_ip)) return Credentials();
  auto found = directory_.find_user(user);
  if (!found) return found.error();
  if (!*found || (*found)->scram_sha256.empty()) return Credentials();
  return Credentials(sasl::decode_scram_credentials((*found)->scram_sha256));
}

std::chrono::milliseconds Authenticator::failure_delay(std::uint32_t failures) const {
  if (failures == 0) return std::chrono::milliseconds(0);
  auto d = limits_.failure_delay * (1u << std::min<std::uint32_t>(failures - 1, 16));
  return std::min(d, limits_.max_failure_delay);
}

}  // namespace herald::auth

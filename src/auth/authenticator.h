// auth/authenticator.h - who may log in: credentials against the store's
// users, and the throttles that make guessing slow (one implementation for
// SMTP AUTH, POP3 and, later, IMAP).
//
// Security notes: an unknown user costs the same argon2 work as a wrong
// password and gets the same answer. A client address with max_failures
// failures inside failure_window is locked out for `lockout`, during which
// even the right password is refused (the caller gives the same answer, so
// the lockout reveals nothing either). A user with max_failures failures,
// from any addresses, is under attack for `lockout`: refused to every
// address that has failed within failure_window, answered after
// user_penalty to the others, so that guessing from many addresses stays
// slow while nobody can lock an account by guessing wrong (Dovecot's auth
// penalty is per address only). user_lockout = true refuses a user under
// attack everywhere, as before. Counters live in memory: a restart forgets
// them, as fail2ban-style tools expect.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "sasl/mechanism.h"
#include "store/directory.h"

namespace herald::auth {

struct AuthLimits {
  std::chrono::milliseconds failure_delay{1000};
  std::chrono::milliseconds max_failure_delay{8000};
  std::uint32_t max_failures = 10;
  std::chrono::milliseconds failure_window{15 * 60 * 1000};
  std::chrono::milliseconds lockout{15 * 60 * 1000};
  // How long a verified (user, password) pair is remembered; 0 = never.
  std::chrono::milliseconds cache_ttl{60 * 1000};
  // Entries each of the lockout tables (per address, per user) and the
  // credentials cache may hold: the memory an attacker with many addresses
  // can make us spend.
  std::size_t max_tracked = 100000;
  // true: a user under attack is refused from every address (anyone can
  // lock any account); false: only from addresses that have failed.
  bool user_lockout = false;
  // The wait of every login as a user under attack (when not refused).
  std::chrono::milliseconds user_penalty{2000};
};

enum class Verdict { ok, bad_credentials, locked_out, temp_fail };

struct PasswordCheck {
  Verdict verdict = Verdict::bad_credentials;
  std::optional<store::UserRecord> user;  // set when ok
};

class Authenticator {
 public:
  Authenticator(store::Directory& directory, AuthLimits limits);

  // check_password - blocking (argon2 by design): run it off the I/O threads.
  PasswordCheck check_password(const std::string& user, const std::string& password, const std::string& client_ip);

  // scram_credentials - the stored SCRAM-SHA-256 credentials of user, or
  // nullopt (no such user, none stored, or locked out: the exchange then
  // fails at its end like a wrong password); an error when the store could
  // not be read, which must not look like an unknown user (a temporary
  // failure, RFC 4954 6). Blocking: run it off the I/O threads.
  Result<std::optional<sasl::ScramCredentials>> scram_credentials(const std::string& user,
                                                                  const std::string& client_ip);

  // record - count the outcome of an exchange that ended outside
  // check_password (SCRAM), for the lockout.
  void record(const std::string& user, const std::string& client_ip, bool success);

  bool locked_out(const std::string& user, const std::string& client_ip);

  // user_penalty - how long to wait before answering a login as user:
  // user_penalty while the user is under attack, else 0.
  std::chrono::milliseconds user_penalty(const std::string& user);

  // failure_delay - the wait after the n-th failure of one session:
  // failure_delay doubling each time, capped (Dovecot's auth_failure_delay).
  std::chrono::milliseconds failure_delay(std::uint32_t failures_in_session) const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Failures {
    std::deque<Clock::time_point> times;
    Clock::time_point locked_until{};
  };
  static bool locked(const Failures& f, Clock::time_point now);
  bool failed_recently(const std::string& client_ip, Clock::time_point now) const;  // REQUIRES: mu_ held
  void fail(Failures& f, Clock::time_point now);
  void trim(std::map<std::string, Failures>& table, Clock::time_point now) const;

  // The verified-credentials cache (Dovecot's auth_cache): mail clients log
  // in again every few minutes with the same password, and argon2 is meant
  // to be slow. Keyed by HMAC(process secret, user, password, stored hash):
  // it holds no password, and a password change (a new stored hash) misses.
  std::string cache_key(const std::string& user, const std::string& password, const std::string& hash) const;
  bool cache_hit(const std::string& key);
  void cache_put(std::string key);

  store::Directory& directory_;
  AuthLimits limits_;
  std::string cache_secret_;
  std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> cache_;  // key -> expiry
  std::map<std::string, Failures> by_address_;
  std::map<std::string, Failures> by_user_;
};

}  // namespace herald::auth

// sasl/scram.h - SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, server side.
//
// RFC 5802 (SCRAM) with SHA-256 (RFC 7677). The exchange:
//   C: client-first  gs2-header n=user,r=cnonce          -> Status::need_credentials
//   (driver: credentials(creds or nullopt))               -> challenge server-first
//   S: server-first  r=cnonce+snonce,s=salt,i=iterations
//   C: client-final  c=cbind,r=nonce,p=proof              -> success "v=signature"
// The server keeps only StoredKey and ServerKey, never the password.
//
// Security notes:
//  - ClientProof is checked in constant time (CRYPTO_memcmp).
//  - An unknown user gets a fake salt derived from its name and
//    MechanismOptions::fake_salt_secret, so that it looks like a real user
//    on every attempt, and fails only after client-final, as "invalid-proof"
//    like a wrong password.
//  - Channel binding (RFC 5802 6): for -PLUS the client's cb-name must be the
//    connection's binding type and c= must be gs2-header + binding data; for
//    plain SCRAM-SHA-256 a client "y" flag fails when we have binding data
//    (the client saw no -PLUS: a downgrade), and "p" always fails.
//  - Usernames: "=2C"/"=3D" unescaped, then checked as in mechanism.h (no
//    SASLprep; control characters and bad UTF-8 refused).
//  - The server nonce is 24 random octets (RAND_bytes) in base64.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sasl/mechanism.h"

namespace herald::sasl {

// RFC 7677 4: at least 4096. The upper bound keeps a stored value from
// making every client spin for minutes.
inline constexpr std::uint32_t kMinIterations = 4096;
inline constexpr std::uint32_t kMaxIterations = 10'000'000;

// make_scram_credentials - derive the stored form of a password at password
// set time: SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations).
// iterations is clamped to [kMinIterations, kMaxIterations]; the result
// records the count used. No SASLprep is applied: pass the password as
// clients will type it (mechanism.h). On an OpenSSL failure (out of memory)
// the keys are empty, which decode_scram_credentials and credentials() refuse.
// REQUIRES: salt is not empty (use 16 or more random octets).
ScramCredentials make_scram_credentials(std::string_view password, std::string_view salt,
                                        std::uint32_t iterations);

// encode_scram_credentials - as text for the store:
// "SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>"
// (the layout PostgreSQL keeps in pg_authid.rolpassword).
std::string encode_scram_credentials(const ScramCredentials& creds);

// decode_scram_credentials - the inverse; nullopt unless exactly that layout
// with strict base64, a non-empty salt, 1..kMaxIterations iterations (older
// stores may hold fewer than 4096) and 32-octet keys.
std::optional<ScramCredentials> decode_scram_credentials(std::string_view text);

// valid_scram_credentials - what credentials() accepts as a real user.
bool valid_scram_credentials(const ScramCredentials& creds);

// ScramServer - one SCRAM-SHA-256[-PLUS] exchange; see make_mechanism().
class ScramServer final : public ServerMechanism {
 public:
  // plus: SCRAM-SHA-256-PLUS (REQUIRES usable_binding(binding)). binding is
  // passed for the non-PLUS mechanism too, for the downgrade check.
  // server_nonce: empty = random; tests and fuzzers inject a fixed one
  // (REQUIRES printable ASCII without ",").
  ScramServer(bool plus, ChannelBinding binding, MechanismOptions options, std::string server_nonce = {});
  ~ScramServer() override;

  std::string_view name() const override { return plus_ ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256"; }
  Step start(std::optional<std::string_view> initial_response) override;
  Step step(std::string_view client_response) override;
  Step credentials(std::optional<ScramCredentials> creds) override;

 private:
  enum class State { start, wait_client_first, wait_credentials, wait_client_final, done };

  Step client_first(std::string_view message);
  Step client_final(std::string_view message);
  Step out_of_order();
  ScramCredentials fake_credentials() const;

  const bool plus_;
  const ChannelBinding binding_;
  const MechanismOptions options_;
  State state_ = State::start;
  bool cb_used_ = false;          // the client sent "p=": c= includes binding data
  bool unknown_user_ = false;     // creds_ are fake: fail at the end
  bool bad_credentials_ = false;  // ...because the stored ones were unusable
  std::string gs2_header_;        // "n,," / "y,a=x," / "p=tls-exporter,,"
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;             // client nonce + server nonce
  std::string server_nonce_;
  ScramCredentials creds_;
};

}  // namespace herald::sasl

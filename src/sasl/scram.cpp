// sasl/scram.cpp - SCRAM-SHA-256[-PLUS] server (RFC 5802, RFC 7677).
#include "sasl/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cassert>
#include <utility>
#include <vector>

#include "base/base64.h"
#include "base/text.h"

namespace herald::sasl {
namespace {

constexpr std::size_t kKeySize = SHA256_DIGEST_LENGTH;  // 32
constexpr std::size_t kNonceOctets = 24;
constexpr std::size_t kFakeSaltOctets = 16;
constexpr std::size_t kMaxSalt = 1024;
constexpr std::string_view kPrefix = "SCRAM-SHA-256$";

// hmac_sha256 - HMAC-SHA-256(key, data); empty if OpenSSL fails.
std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len) ||
      len != kKeySize)
    return {};
  return std::string(reinterpret_cast<const char*>(out), len);
}

// sha256 - H(data).
std::string sha256(std::string_view data) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

// printable_nonce_char - RFC 5802 7: printable = %x21-2B / %x2D-7E.
bool printable_nonce_char(char c) { return c >= 0x21 && c <= 0x7e && c != ','; }

// decode_saslname - RFC 5802 5.1: "=2C" is ",", "=3D" is "=", any other "="
// is an error; nullopt on a bad escape.
std::optional<std::string> decode_saslname(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '=') {
      out += s[i];
      continue;
    }
    std::string_view esc = s.substr(i + 1, 2);
    if (esc == "2C") out += ',';
    else if (esc == "3D") out += '=';
    else return std::nullopt;
    i += 2;
  }
  return out;
}

// valid_cb_name - RFC 5802 7: cb-name = 1*(ALPHA / DIGIT / "." / "-").
bool valid_cb_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
      return false;
  return true;
}

// valid_extension - RFC 5802 7: attr-val = ALPHA "=" value, value = 1*value-char.
bool valid_extension(std::string_view s) {
  if (s.size() < 3 || s[1] != '=') return false;
  char a = s[0];
  if (!((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z'))) return false;
  for (char c : s.substr(2))
    if (c == '\0') return false;
  return true;
}

}  // namespace

ScramCredentials make_scram_credentials(std::string_view password, std::string_view salt,
                                        std::uint32_t iterations) {
  assert(!salt.empty());
  ScramCredentials c;
  c.salt = salt;
  c.iterations = std::clamp(iterations, kMinIterations, kMaxIterations);
  unsigned char salted[kKeySize];
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                        static_cast<int>(c.iterations), EVP_sha256(), sizeof salted, salted) != 1)
    return c;
  std::string_view salted_password(reinterpret_cast<const char*>(salted), sizeof salted);
  std::string client_key = hmac_sha256(salted_password, "Client Key");
  std::string server_key = hmac_sha256(salted_password, "Server Key");
  OPENSSL_cleanse(salted, sizeof salted);
  if (client_key.empty() || server_key.empty()) return c;
  c.stored_key = sha256(client_key);
  c.server_key = std::move(server_key);
  OPENSSL_cleanse(client_key.data(), client_key.size());
  return c;
}

std::string encode_scram_credentials(const ScramCredentials& c) {
  return std::string(kPrefix) + std::to_string(c.iterations) + ":" + base64_encode(c.salt) + "$" +
         base64_encode(c.stored_key) + ":" + base64_encode(c.server_key);
}

std::optional<ScramCredentials> decode_scram_credentials(std::string_view text) {
  if (text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  std::size_t colon1 = text.find(':');
  std::size_t dollar = text.find('$');
  if (colon1 == std::string_view::npos || dollar == std::string_view::npos || dollar < colon1)
    return std::nullopt;
  std::size_t colon2 = text.find(':', dollar);
  if (colon2 == std::string_view::npos) return std::nullopt;
  auto iterations = parse_uint(text.substr(0, colon1));
  auto salt = base64_decode(text.substr(colon1 + 1, dollar - colon1 - 1));
  auto stored_key = base64_decode(text.substr(dollar + 1, colon2 - dollar - 1));
  auto server_key = base64_decode(text.substr(colon2 + 1));
  if (!iterations || !salt || !stored_key || !server_key) return std::nullopt;
  if (*iterations < 1 || *iterations > kMaxIterations) return std::nullopt;
  ScramCredentials c;
  c.salt = std::move(*salt);
  c.iterations = static_cast<std::uint32_t>(*iterations);
  c.stored_key = std::move(*stored_key);
  c.server_key = std::move(*server_key);
  if (!valid_scram_credentials(c)) return std::nullopt;
  return c;
}

bool valid_scram_credentials(const ScramCredentials& c) {
  return !c.salt.empty() && c.salt.size() <= kMaxSalt && c.iterations >= 1 && c.iterations <= kMaxIterations &&
         c.stored_key.size() == kKeySize && c.server_key.size() == kKeySize;
}

ScramServer::ScramServer(bool plus, ChannelBinding binding, MechanismOptions options, std::string server_nonce)
    : plus_(plus), binding_(std::move(binding)), options_(std::move(options)), server_nonce_(std::move(server_nonce)) {
  assert(!plus_ || usable_binding(binding_));
  assert(std::all_of(server_nonce_.begin(), server_nonce_.end(), printable_nonce_char));
}

ScramServer::~ScramServer() {
  if (!creds_.server_key.empty()) OPENSSL_cleanse(creds_.server_key.data(), creds_.server_key.size());
}

Step ScramServer::out_of_order() {
  state_ = State::done;
  return fail(std::string(name()) + ": call out of order", "e=other-error");
}

Step ScramServer::start(std::optional<std::string_view> initial_response) {
  if (state_ != State::start) return out_of_order();
  if (!initial_response) {
    // RFC 5802 5: the client speaks first; without an initial response we
    // ask for client-first with an empty challenge (RFC 4422 3.3).
    state_ = State::wait_client_first;
    return Step{Status::challenge, {}, {}};
  }
  return client_first(*initial_response);
}

Step ScramServer::step(std::string_view client_response) {
  if (state_ == State::wait_client_first) return client_first(client_response);
  if (state_ == State::wait_client_final) return client_final(client_response);
  return out_of_order();
}

// client_first - RFC 5802 7:
//   client-first-message = gs2-header client-first-message-bare
//   gs2-header = gs2-cbind-flag "," [ authzid ] ","
//   client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
Step ScramServer::client_first(std::string_view m) {
  state_ = State::done;
  if (m.size() > kMaxResponse) return fail("SCRAM: client-first too long", "e=other-error");
  std::size_t comma1 = m.find(',');
  std::size_t comma2 = comma1 == std::string_view::npos ? comma1 : m.find(',', comma1 + 1);
  if (comma2 == std::string_view::npos) return malformed("SCRAM: no gs2 header", "e=invalid-encoding");
  std::string_view flag = m.substr(0, comma1);
  std::string_view authzid = m.substr(comma1 + 1, comma2 - comma1 - 1);

  // RFC 5802 6: the channel binding flag against what this mechanism and
  // this connection can do.
  if (flag == "n" || flag == "y") {
    if (plus_) return fail("SCRAM: -PLUS chosen but gs2 flag \"" + std::string(flag) + "\"", "e=other-error");
    if (flag == "y" && usable_binding(binding_))
      return fail("SCRAM: client flag \"y\" while -PLUS is offered (downgrade?)",
                  "e=server-does-support-channel-binding");
  } else if (flag.substr(0, 2) == "p=" && valid_cb_name(flag.substr(2))) {
    if (!plus_) return fail("SCRAM: channel binding requested without -PLUS", "e=channel-binding-not-supported");
    if (flag.substr(2) != binding_.type)
      return fail("SCRAM: client wants channel binding " + printable(flag.substr(2), 64) + ", connection has " +
                      binding_.type,
                  "e=unsupported-channel-binding-type");
    cb_used_ = true;
  } else {
    return malformed("SCRAM: bad gs2-cbind-flag", "e=invalid-encoding");
  }

  if (!authzid.empty()) {
    auto a = authzid.substr(0, 2) == "a=" ? decode_saslname(authzid.substr(2)) : std::nullopt;
    if (!a || a->empty() || a->size() > kMaxIdentity || !valid_utf8_text(*a))
      return malformed("SCRAM: bad authzid", "e=invalid-username-encoding");
    authzid_ = std::move(*a);
  }

  std::string_view bare = m.substr(comma2 + 1);
  std::vector<std::string_view> attrs = split(bare, ',');
  if (!attrs.empty() && attrs[0].substr(0, 2) == "m=")
    return fail("SCRAM: mandatory extension", "e=extensions-not-supported");
  if (attrs.size() < 2 || attrs[0].substr(0, 2) != "n=" || attrs[1].substr(0, 2) != "r=")
    return malformed("SCRAM: client-first-message-bare needs n= and r=", "e=invalid-encoding");
  auto user = decode_saslname(attrs[0].substr(2));
  if (!user || user->empty() || user->size() > kMaxIdentity || !valid_utf8_text(*user))
    return malformed("SCRAM: bad username " + printable(attrs[0], 64), "e=invalid-username-encoding");
  std::string_view client_nonce = attrs[1].substr(2);
  if (client_nonce.empty() || !std::all_of(client_nonce.begin(), client_nonce.end(), printable_nonce_char))
    return malformed("SCRAM: bad client nonce", "e=invalid-encoding");
  for (std::size_t i = 2; i < attrs.size(); ++i)  // optional extensions: ignored
    if (!valid_extension(attrs[i])) return malformed("SCRAM: bad extension", "e=invalid-encoding");

  if (server_nonce_.empty()) {
    unsigned char random[kNonceOctets];
    if (RAND_bytes(random, sizeof random) != 1) return fail("SCRAM: RAND_bytes failed", "e=no-resources");
    server_nonce_ = base64_encode(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
  }
  authcid_ = std::move(*user);
  gs2_header_ = m.substr(0, comma2 + 1);
  client_first_bare_ = bare;
  nonce_ = std::string(client_nonce) + server_nonce_;
  state_ = State::wait_credentials;
  return Step{Status::need_credentials, {}, {}};
}

// fake_credentials - for an unknown user: stable per name and secret, so
// repeated probes see what a real user would show.
ScramCredentials ScramServer::fake_credentials() const {
  std::string_view secret = options_.fake_salt_secret;
  if (secret.empty()) secret = "herald fake SCRAM salt";
  ScramCredentials c;
  c.salt = hmac_sha256(secret, "salt\n" + authcid_).substr(0, kFakeSaltOctets);
  c.iterations = std::clamp<std::uint32_t>(options_.fake_iterations, 1, kMaxIterations);
  c.stored_key = hmac_sha256(secret, "stored\n" + authcid_);
  c.server_key = hmac_sha256(secret, "server\n" + authcid_);
  if (c.salt.empty()) c.salt.assign(kFakeSaltOctets, '\0');  // OpenSSL failed: still answer
  if (c.stored_key.size() != kKeySize) c.stored_key.assign(kKeySize, '\0');
  if (c.server_key.size() != kKeySize) c.server_key.assign(kKeySize, '\0');
  return c;
}

Step ScramServer::credentials(std::optional<ScramCredentials> creds) {
  if (state_ != State::wait_credentials) return out_of_order();
  unknown_user_ = !creds || !valid_scram_credentials(*creds);
  if (unknown_user_) {
    // Dovecot's rule: go on as if the user existed, fail at the end.
    creds_ = fake_credentials();
    bad_credentials_ = creds.has_value();
  } else {
    creds_ = std::move(*creds);
  }
  // RFC 5802 7: server-first-message = [reserved-mext ","] nonce "," salt ","
  // iteration-count ["," extensions]
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(creds_.salt) + ",i=" + std::to_string(creds_.iterations);
  state_ = State::wait_client_final;
  return Step{Status::challenge, server_first_, {}};
}

// client_final - RFC 5802 7:
//   client-final-message = channel-binding "," nonce ["," extensions] "," proof
Step ScramServer::client_final(std::string_view m) {
  state_ = State::done;
  if (m.size() > kMaxResponse) return fail("SCRAM: client-final too long", "e=other-error");
  std::size_t last = m.rfind(',');
  if (last == std::string_view::npos || m.substr(last + 1, 2) != "p=")
    return malformed("SCRAM: client-final without proof", "e=invalid-encoding");
  std::string_view without_proof = m.substr(0, last);
  std::vector<std::string_view> attrs = split(without_proof, ',');
  if (attrs.size() < 2 || attrs[0].substr(0, 2) != "c=" || attrs[1].substr(0, 2) != "r=")
    return malformed("SCRAM: client-final needs c= and r=", "e=invalid-encoding");
  for (std::size_t i = 2; i < attrs.size(); ++i)
    if (!valid_extension(attrs[i])) return malformed("SCRAM: bad extension", "e=invalid-encoding");

  // RFC 5802 7: cbind-input = gs2-header [ cbind-data ], the data only when
  // the client asked for binding with "p=".
  auto cbind_input = base64_decode(attrs[0].substr(2));
  if (!cbind_input) return malformed("SCRAM: c= is not base64", "e=invalid-encoding");
  std::string expected = gs2_header_;
  if (cb_used_) expected += binding_.data;
  if (*cbind_input != expected)
    return fail("SCRAM: channel binding mismatch for " + printable(authcid_, 64), "e=channel-bindings-dont-match");
  if (attrs[1].substr(2) != nonce_) return fail("SCRAM: nonce mismatch", "e=other-error");
  auto proof = base64_decode(m.substr(last + 3));
  if (!proof || proof->size() != kKeySize) return malformed("SCRAM: bad proof encoding", "e=invalid-encoding");

  // RFC 5802 3: AuthMessage = client-first-message-bare "," server-first-message
  // "," client-final-message-without-proof; the server recovers ClientKey as
  // ClientProof XOR HMAC(StoredKey, AuthMessage) and checks H(ClientKey).
  std::string auth_message = client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  std::string client_key = hmac_sha256(creds_.stored_key, auth_message);
  std::string server_signature = hmac_sha256(creds_.server_key, auth_message);
  if (client_key.size() != kKeySize || server_signature.size() != kKeySize)
    return fail("SCRAM: HMAC failed", "e=other-error");
  for (std::size_t i = 0; i < kKeySize; ++i) client_key[i] = static_cast<char>(client_key[i] ^ (*proof)[i]);
  std::string stored_key = sha256(client_key);
  OPENSSL_cleanse(client_key.data(), client_key.size());
  bool proof_ok = CRYPTO_memcmp(stored_key.data(), creds_.stored_key.data(), kKeySize) == 0;
  if (unknown_user_ || !proof_ok) {
    // The same answer for all three, so the client learns nothing.
    const char* why = !unknown_user_     ? "wrong password"
                      : bad_credentials_ ? "stored credentials unusable"
                                         : "unknown user";
    return fail("SCRAM: " + std::string(why) + " for " + printable(authcid_, 64), "e=invalid-proof");
  }
  return Step{Status::success, "v=" + base64_encode(server_signature), {}};
}

}  // namespace herald::sasl

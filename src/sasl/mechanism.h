// sasl/mechanism.h - server side of SASL (RFC 4422) as pure exchanges.
//
// A ServerMechanism turns client responses into challenges and an outcome. It
// never touches a socket, the store, a clock or a log: when it needs a
// password checked (PLAIN, LOGIN) or stored credentials looked up (SCRAM) it
// says so in its Step, and the driver answers with password_checked() or
// credentials(). All data in and out is raw octets; base64 (RFC 4954 4,
// RFC 5034 4, RFC 9051 6.2.2) and the "*" cancel belong to the protocol layer.
//
// Invariants: every response is bounded (kMaxResponse); after a success or a
// failure every further call fails, and so does any call out of order (a
// driver bug, answered with a failure rather than an assert so that no
// confused driver can skip a step); a Step::reason is for the log only and
// never reaches the client; an unknown user and a wrong password give the
// same exchange and the same failure (Dovecot's rule: reveal nothing).
//
// Security notes:
//  - PLAIN and LOGIN carry the password itself: offer them only on TLS
//    (mechanisms(plaintext_allowed = false) leaves them out).
//  - No SASLprep (RFC 4013) normalisation is done. Usernames and passwords
//    are compared as the client sends them; ASCII control characters, which
//    SASLprep prohibits, and ill-formed UTF-8 are refused. For printable
//    ASCII SASLprep is the identity, so only non-ASCII secrets are affected.
//  - SCRAM-SHA-256-PLUS binds the exchange to the TLS channel; a client that
//    says "y" (it could bind but thinks we cannot) is refused whenever we
//    have binding data, since that means a man in the middle stripped the
//    -PLUS mechanism from our list (RFC 5802 6).
//
// RFCs: 4422 (SASL), 4616 (PLAIN), draft-murchison-sasl-login-00 (LOGIN),
// 5802 (SCRAM), 7677 (SCRAM-SHA-256), 5929 and 9266 (channel bindings).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::sasl {

// The longest client response any mechanism accepts (decoded octets).
inline constexpr std::size_t kMaxResponse = 4096;
// RFC 4616 2: a server must accept identities and passwords of at least 255
// octets. Identities stop there; passwords get more room for passphrases.
inline constexpr std::size_t kMaxIdentity = 255;
inline constexpr std::size_t kMaxPassword = 1024;

// What the store keeps per user for SCRAM-SHA-256 (RFC 5802 3).
struct ScramCredentials {
  std::string salt;                  // raw bytes
  std::uint32_t iterations = 4096;
  std::string stored_key;            // raw 32 bytes: H(ClientKey)
  std::string server_key;            // raw 32 bytes: HMAC(SaltedPassword, "Server Key")
};

// The connection's channel binding, from the TLS layer. type is one of
// "tls-exporter" (RFC 9266, TLS 1.3), "tls-server-end-point" (RFC 5929 4)
// or "tls-unique" (RFC 5929 3, TLS 1.2 only); empty type or data = none.
struct ChannelBinding {
  std::string type;
  std::string data;
};

enum class Status {
  challenge,         // send server_data as a challenge, feed the answer to step()
  verify_password,   // check authcid()/password() (and authzid()), then password_checked()
  need_credentials,  // look up authcid()'s ScramCredentials, then credentials()
  success,           // authenticated as authcid(); server_data = additional data, maybe empty
  failure,           // authentication failed; reason is for the log
};

struct Step {
  Status status = Status::failure;
  // Challenge, or additional data with success (SCRAM's "v=..."), raw. On a
  // SCRAM failure it may hold the "e=..." server-error (RFC 5802 7), which
  // SMTP, POP3 and IMAP have no way to send: they answer with their plain
  // failure reply.
  std::string server_data;
  std::string reason;  // for the log on failure, never sent to the client
  // On failure: the client's message could not be parsed (bad syntax, NUL
  // or CR/LF where none may be), as opposed to refused credentials. The
  // protocols answer it differently (SMTP 501 5.5.2, RFC 4954 4).
  bool malformed = false;
};

// Options the driver sets once per server (not per connection).
struct MechanismOptions {
  // A server-wide secret (random, kept across restarts) from which the fake
  // SCRAM salt of an unknown user is derived: the same name then always
  // gets the same salt, as a real user does, and nobody without the secret
  // can tell it from a real one. Empty: a fixed key, stable but public.
  std::string fake_salt_secret;
  // Announced for unknown users: set it to the iteration count used when
  // creating credentials, so unknown users look like real ones.
  std::uint32_t fake_iterations = 4096;
};

class ServerMechanism {
 public:
  ServerMechanism() = default;
  ServerMechanism(const ServerMechanism&) = delete;
  ServerMechanism& operator=(const ServerMechanism&) = delete;
  virtual ~ServerMechanism();  // wipes a password never checked

  virtual std::string_view name() const = 0;

  // start - begin, with the client's initial response if it sent one
  // (nullopt = none; "" = an empty one, RFC 4954's "=").
  virtual Step start(std::optional<std::string_view> initial_response) = 0;
  // step - the client's answer to the last challenge.
  virtual Step step(std::string_view client_response) = 0;

  // The authentication identity (username), once known.
  const std::string& authcid() const { return authcid_; }
  // The requested authorization identity ("" = the same as authcid()). The
  // driver decides whether authcid() may act as it.
  const std::string& authzid() const { return authzid_; }
  // The password to check after Status::verify_password ("" otherwise).
  const std::string& password() const { return password_; }

  // password_checked - after Status::verify_password: ok = the password is
  // right AND authcid() may act as authzid(). The password is wiped.
  virtual Step password_checked(bool ok);
  // credentials - after Status::need_credentials: authcid()'s stored
  // credentials, nullopt if there is no such user (the exchange then goes on
  // with fake ones and fails at the end, like a wrong password).
  virtual Step credentials(std::optional<ScramCredentials> creds);

 protected:
  static Step fail(std::string reason, std::string server_data = {});
  static Step malformed(std::string reason, std::string server_data = {});
  void wipe_password();

  std::string authcid_;
  std::string authzid_;
  std::string password_;
};

// mechanisms - what to offer on a connection, strongest first:
// SCRAM-SHA-256-PLUS (only with binding data, RFC 5802 6), SCRAM-SHA-256,
// and PLAIN and LOGIN only if plaintext_allowed (i.e. under TLS). The driver
// may filter the list, but must then also pass an empty ChannelBinding to
// make_mechanism() if it drops -PLUS (see the downgrade rule above).
std::vector<std::string> mechanisms(bool plaintext_allowed, const ChannelBinding& binding);

// make_mechanism - a new exchange for a mechanism name (case-insensitive);
// nullptr if unknown, or -PLUS without binding data.
std::unique_ptr<ServerMechanism> make_mechanism(std::string_view name, const ChannelBinding& binding,
                                                const MechanismOptions& options = {});

// usable_binding - binding has a known type and data (so -PLUS is offered).
bool usable_binding(const ChannelBinding& binding);

// valid_utf8_text - well-formed UTF-8 (RFC 3629) without ASCII controls.
bool valid_utf8_text(std::string_view s);

}  // namespace herald::sasl

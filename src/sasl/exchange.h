// sasl/exchange.h - a SASL exchange as SMTP and POP3 carry it on the wire.
//
// Wraps a ServerMechanism with what RFC 4954 4 (SMTP AUTH) and RFC 5034 4
// (POP3 AUTH) share, so neither protocol repeats it: responses arrive in
// base64, "*" cancels, an initial response of "=" is an empty one, and
// additional data with success (SCRAM's server-final) goes out as one more
// challenge which the client acknowledges with an empty response (RFC 4422
// 3.6 for protocols without success data). The protocol prefixes challenges
// with "334 " or "+ " and turns each Kind into its own reply.
//
// Security notes: proxy authorization is not supported: an authzid other
// than "" or the authcid itself fails before any check, so the driver only
// ever checks authcid's own secret and identity() is always authcid.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sasl/mechanism.h"

namespace herald::sasl {

class Exchange {
 public:
  enum class Kind {
    challenge,  // send data ("334 data" / "+ data") and feed the next line to respond()
    check,      // the driver checks: needs_password_check() ? password_checked() : credentials()
    success,    // authenticated as identity()
    malformed,  // not base64 (SMTP 501 5.5.2)
    cancelled,  // the client sent "*" (SMTP 501 5.0.0)
    failed,     // authentication failed: the same reply for every cause
    // The check could not be made (the store failed): not the client's
    // failure, so not counted as one (SMTP 454 4.7.0, RFC 4954 6; POP3
    // -ERR [SYS/TEMP], RFC 3206 4).
    temp_failed,
  };
  struct Outcome {
    Kind kind = Kind::failed;
    std::string data;    // challenge: base64 text, possibly empty
    std::string reason;  // malformed / failed / temp_failed: for the log only
  };

  // create - an exchange for a mechanism name (case-insensitive); nullptr if
  // unknown or -PLUS without binding. options: see MechanismOptions.
  static std::unique_ptr<Exchange> create(std::string_view mechanism, const ChannelBinding& binding,
                                          const MechanismOptions& options = {});
  // REQUIRES: mechanism != nullptr. Tests use it to inject a fixed nonce.
  explicit Exchange(std::unique_ptr<ServerMechanism> mechanism);

  std::string_view mechanism_name() const { return mechanism_->name(); }

  // start - the initial response as sent after the mechanism name (base64,
  // "=" for an empty one), or nullopt if there was none.
  Outcome start(std::optional<std::string_view> initial_response);
  // respond - one line from the client: base64, or "*" to cancel.
  Outcome respond(std::string_view line);

  // After Kind::check. needs_password_check(): check authcid()/password()
  // and call password_checked(); otherwise look up authcid()'s SCRAM
  // credentials and call credentials().
  bool needs_password_check() const { return state_ == State::wait_password; }
  const std::string& authcid() const { return mechanism_->authcid(); }
  const std::string& password() const { return mechanism_->password(); }
  Outcome password_checked(bool ok);
  Outcome credentials(std::optional<ScramCredentials> creds);
  // temp_failure - instead of password_checked() or credentials(): the
  // check could not be made; the exchange ends with Kind::temp_failed.
  Outcome temp_failure(std::string reason);

  // identity - after Kind::success: the authenticated user.
  const std::string& identity() const { return mechanism_->authcid(); }

 private:
  enum class State { fresh, running, wait_password, wait_credentials, wait_ack, done };

  Outcome outcome(Step step);
  Outcome fail(std::string reason);
  Outcome decode_and_step(std::string_view text, bool initial);

  std::unique_ptr<ServerMechanism> mechanism_;
  State state_ = State::fresh;
};

}  // namespace herald::sasl

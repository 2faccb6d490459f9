// sasl/protocol.h - what SMTP AUTH (RFC 4954), POP3 AUTH (RFC 5034) and,
// later, IMAP AUTHENTICATE (RFC 9051 6.2.2) share around an Exchange, so
// that no protocol repeats it: what a connection offers, which exchange a
// client's choice of mechanism starts, and the event an ended attempt
// leaves for the driver (journal, log, lockout).
//
// Security notes: nothing is offered in clear unless the operator allows
// it (RFC 4954 4, RFC 8314); a mechanism not offered is refused even if it
// exists, and -PLUS only with the channel's binding data (RFC 5802 6).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sasl/exchange.h"
#include "sasl/mechanism.h"

namespace herald::sasl {

// AuthOptions - what a connection offers now; a protocol's own options
// (smtp::AuthOptions, pop3::Pop3AuthOptions) add their rules to these.
struct AuthOptions {
  bool tls_active = false;
  bool starttls_available = false;      // a TLS context exists and TLS is not on yet
  std::vector<std::string> mechanisms;  // offered now; empty = no AUTH
  MechanismOptions mechanism_options;
  ChannelBinding channel_binding;       // the TLS channel's, for SCRAM-*-PLUS
};

// offered_mechanisms - what to offer on a connection: nothing in clear
// unless allow_plaintext (RFC 4954 4, RFC 8314 5.1); then SCRAM, -PLUS
// only with binding data, PLAIN and LOGIN.
std::vector<std::string> offered_mechanisms(bool tls_active, bool allow_plaintext, const ChannelBinding& binding);

// start_exchange - the exchange for the mechanism the client named
// (case-insensitive), or nullptr when it is not offered on this connection.
std::unique_ptr<Exchange> start_exchange(const AuthOptions& options, std::string_view mechanism);

// AuthEvent - an authentication attempt ended; the driver journals it and
// counts failures for the lockout and the growing delay.
struct AuthEvent {
  bool success = false;
  std::string user;       // authcid as given ("" when it never got that far)
  std::string mechanism;
  std::string reason;     // for the log
  // The check could not be made (Exchange::Kind::temp_failed): neither
  // success nor the client's failure, so nothing the lockout may count.
  bool temporary = false;
};

}  // namespace herald::sasl

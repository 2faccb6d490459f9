// server/auth_driver.h - the socket side of SASL, shared by every protocol
// driver: what to offer on a connection, the credential checks an exchange
// asks for (off the I/O thread), and the bookkeeping of every attempt
// (journal, Postfix-shaped log line, lockout, growing delay).
//
// Security notes: a store that cannot be read ends an exchange as a
// temporary failure, never as an unknown user; a temporary failure is not
// counted by the lockout, not delayed and not logged in the shape fail2ban
// bans for (the client did nothing wrong).
#pragma once

#include <cstdint>
#include <string>

#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>

#include "auth/authenticator.h"
#include "net/connection.h"
#include "sasl/exchange.h"
#include "sasl/protocol.h"
#include "store/journal.h"

namespace herald::server {

// AuthContext - what SASL needs on any listener; one per server.
struct AuthContext {
  auth::Authenticator& authenticator;
  store::Journal& journal;
  asio::thread_pool& blocking;                  // argon2 and store reads
  const sasl::MechanismOptions& mechanism_options;
  bool allow_plaintext = false;                 // auth.allow_plaintext
  bool tls_available = false;                   // a TLS context exists: STARTTLS/STLS can be offered
};

// ConnectionAuth - one connection's side of SASL, with its count of
// failures (for the growing delay).
// REQUIRES: ctx and peer outlive it; used from the connection's thread.
class ConnectionAuth {
 public:
  // protocol: "smtp", "submission" or "pop3", for the journal and the log.
  ConnectionAuth(const AuthContext& ctx, const net::Peer& peer, std::string protocol)
      : ctx_(ctx), peer_(peer), protocol_(std::move(protocol)) {}

  const AuthContext& context() const { return ctx_; }

  // offer - fill options for the connection as it is now: TLS state,
  // STARTTLS/STLS, the mechanisms (nothing in clear unless
  // auth.allow_plaintext, RFC 4954 4, RFC 8314) and the channel binding
  // for -PLUS (RFC 5929, RFC 9266).
  void offer(net::Connection& conn, sasl::AuthOptions& options) const;

  // check - answer the exchange's Kind::check (password or SCRAM
  // credentials) on the blocking pool; Kind::temp_failed when the store
  // could not be read.
  asio::awaitable<sasl::Exchange::Outcome> check(sasl::Exchange& exchange);

  // note - one ended attempt: journal, log, lockout counters; after a
  // failure it waits the growing delay before the caller answers, and for
  // a user under attack (auth/authenticator.h) auth.user_penalty more,
  // success or not. A temporary one is journalled and logged only.
  asio::awaitable<void> note(const sasl::AuthEvent& event);

 private:
  const AuthContext& ctx_;
  const net::Peer& peer_;
  std::string protocol_;
  std::uint32_t failures_ = 0;
};

}  // namespace herald::server

// server/auth_driver.h - the socket side of SASL, shared by the SMTP and
// POP3 drivers: what to offer on a connection, the credential checks an
// exchange asks for (off the I/O thread), and the bookkeeping of every
// attempt (journal, Postfix-shaped log line, lockout, growing delay).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>

#include "sasl/exchange.h"
#include "sasl/protocol.h"
#include "net/connection.h"
#include "server/context.h"

namespace herald::server {

// offer_auth - what AUTH offers on this connection now: TLS state,
// STARTTLS/STLS, the mechanisms (sasl::offered_mechanisms) and the
// channel binding for -PLUS.
void offer_auth(const ServerContext& ctx, Connection& conn, sasl::AuthOptions& options);
sasl::ChannelBinding channel_binding_of(Connection& conn);

// check_exchange - answer the exchange's Kind::check (password or SCRAM
// credentials); argon2 runs on the blocking pool. A store that cannot be
// read ends the exchange with Kind::temp_failed, never as an unknown user.
asio::awaitable<sasl::Exchange::Outcome> check_exchange(ServerContext& ctx, sasl::Exchange& exchange,
                                                        const Peer& peer);

// note_auth - one ended attempt: journal, log, lockout counters; after a
// failure it waits the growing delay before the caller answers. A
// temporary one (the check could not be made) is journalled and logged only.
asio::awaitable<void> note_auth(ServerContext& ctx, const Peer& peer, const char* protocol, bool success,
                                const std::string& user, const std::string& mechanism,
                                const std::string& reason, std::uint32_t& session_failures,
                                bool temporary = false);

}  // namespace herald::server

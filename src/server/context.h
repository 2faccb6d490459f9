// server/context.h - what the protocol drivers share: config, store, intake,
// limits and the few process-wide tables (connection counts, maildrop locks).
// Passed by reference to every connection; no globals.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include <asio/thread_pool.hpp>

#include "auth/authenticator.h"
#include "config/config.h"
#include "net/connection.h"
#include "net/listener.h"
#include "net/tls.h"
#include "pop3/session.h"
#include "queue/intake.h"
#include "queue/alias_expander.h"
#include "smtp/session.h"
#include "store/store.h"

namespace herald::server {

using asio::ip::tcp;
using net::Connection;
using net::Peer;

// Listener - which door a connection came through; it decides TLS and AUTH.
enum class Listener {
  smtp,        // port 25: STARTTLS offered, AUTH per smtp.require_auth
  submission,  // port 587 (RFC 6409): STARTTLS, AUTH before MAIL
  smtps,       // port 465 (RFC 8314): implicit TLS, AUTH before MAIL
  pop3,        // port 110: STLS offered
  pop3s,       // port 995 (RFC 8314): implicit TLS
};

struct ServerContext {
  // REQUIRES: fake_salt_secret from load_sasl_secret.
  ServerContext(const config::Config& config, store::Store& store, std::unique_ptr<net::TlsServer> tls,
                std::string fake_salt_secret);

  const config::Config& config;
  store::Store& store;
  queue::Intake intake;
  queue::AliasExpander expander;
  smtp::SmtpLimits smtp_limits;
  pop3::Pop3Limits pop3_limits;
  net::NetworkList relay_networks;
  // One per Listener, from that section's max_connections keys.
  std::array<std::unique_ptr<net::ConnectionLimiter>, 5> limiters;
  net::ConnectionLimiter& connections(Listener l) { return *limiters[static_cast<std::size_t>(l)]; }
  std::unique_ptr<net::TlsServer> tls;  // null: no TLS anywhere
  auth::Authenticator authenticator;
  sasl::MechanismOptions sasl_options;  // fake-salt secret from data_dir/sasl.secret
  // Blocking work (store reads, password hashing) runs here, never on an
  // I/O thread (server/offload.h); server.blocking_threads of them.
  asio::thread_pool blocking;
};

}  // namespace herald::server

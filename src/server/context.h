// server/context.h - what each protocol driver is given: references to
// exactly the parts of the server it uses, no more (the server, in
// server.cpp, owns them). Passed by reference to every connection; no
// globals.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <asio/thread_pool.hpp>

#include "config/config.h"
#include "net/listener.h"
#include "net/tls.h"
#include "imap/session.h"
#include "pop3/session.h"
#include "queue/intake.h"
#include "server/auth_driver.h"
#include "server/free_space.h"
#include "server/mailbox_watch.h"
#include "server/user_sessions.h"
#include "server/recipients.h"
#include "smtp/session.h"
#include "store/journal.h"
#include "store/mailboxes.h"
#include "store/queue.h"

namespace herald::server {

// TlsSetup - the server's TLS context (null: no STARTTLS/STLS, and
// implicit-TLS listeners refuse connections) and how long a handshake may
// take.
struct TlsSetup {
  net::TlsServer* server = nullptr;
  std::chrono::milliseconds handshake_timeout{0};
};

// SmtpDriverContext - smtpd and submission (RFC 5321, RFC 6409, RFC 8314).
struct SmtpDriverContext {
  const config::SmtpConfig& config;  // [smtp]: timeouts, pregreet, require_auth, require_tls
  const smtp::SmtpLimits& limits;
  const std::string& hostname;
  const net::NetworkList& relay_networks;
  const net::NetworkList& etrn_networks;  // who may ask for ETRN
  RecipientDirectory recipients;  // RCPT and sender checks (blocking)
  queue::Intake& intake;
  store::Queue& queue;            // ETRN: the mail of a domain made due
  // ETRN: the delivery agent looks now, its suspended next hops too (set
  // once at start, before any session; empty: nothing to wake).
  const std::function<void()>& flush_outbound;
  store::Journal& journal;        // refused connections and commands
  const FreeSpace& free_space;    // MAIL is refused while data_dir is short of room
  asio::thread_pool& blocking;
  TlsSetup tls;
  const AuthContext& auth;
};

// Pop3DriverContext - pop3d (RFC 1939, RFC 2449, RFC 8314).
struct Pop3DriverContext {
  const config::Pop3Config& config;  // [pop3]: idle_timeout
  const pop3::Pop3Limits& limits;
  const std::string& hostname;
  store::Directory& directory;    // the user record after a SASL login
  store::Mailboxes& mailboxes;    // maildrop lock, messages, expunge
  asio::thread_pool& blocking;
  TlsSetup tls;
  const AuthContext& auth;        // its authenticator checks USER/PASS too
};

// ImapDriverContext - imapd (RFC 9051, RFC 3501, RFC 8314).
struct ImapDriverContext {
  const config::ImapConfig& config;  // [imap]: timeouts
  const imap::ImapLimits& limits;
  const std::string& hostname;
  store::Directory& directory;    // the user record after AUTHENTICATE
  store::Mailboxes& mailboxes;
  MailboxWatch& watch;            // changes of selected mailboxes, IDLE's wake-ups
  UserSessions& sessions;         // imap.max_sessions_per_user
  LiteralMemory& literals;        // imap.literal_memory
  asio::thread_pool& blocking;
  TlsSetup tls;
  const AuthContext& auth;
};

// Drivers - every driver's context, from which a listener's entry picks
// its own (server/listeners.h).
struct Drivers {
  SmtpDriverContext smtp;
  Pop3DriverContext pop3;
  ImapDriverContext imap;
};

}  // namespace herald::server

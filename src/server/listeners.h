// server/listeners.h - the kinds of listener Herald serves, as one table:
// serving one more is one entry here (imap and imaps wait with no driver),
// naming its config section and its driver. The server opens every configured address of every entry, gives
// each entry its own connection limits, and hands each accepted socket to
// the entry's driver with its context.
#pragma once

#include <span>
#include <string_view>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "config/config.h"
#include "net/listener.h"
#include "server/context.h"

namespace herald::server {

// Role - what a door is for; it decides what AUTH and MAIL demand.
enum class Role {
  smtp,        // port 25 (RFC 5321): STARTTLS offered, AUTH per smtp.require_auth
  submission,  // 587 / 465 (RFC 6409): AUTH before MAIL, authenticated users relay
  access,      // POP3 (IMAP): a user's own mail
};

struct ListenerKind;

// Accepted - one connection, as its listener took it.
struct Accepted {
  asio::ip::tcp::socket socket;
  asio::ip::tcp::endpoint peer;       // as accept() reported it
  const ListenerKind& kind;
  net::ConnectionLimiter& limiter;    // this listener's connection limits
};

// Serve - a protocol driver, given every driver's context (it picks its own).
using Serve = asio::awaitable<void> (*)(const Drivers& drivers, Accepted accepted);

struct ListenerKind {
  std::string_view name;  // "smtp": the start-up banner, the journal, the log
  const config::ListenerConfig& (*section)(const config::Config& config);  // listen, max_connections
  Serve serve;            // null: a section the config knows but no driver serves yet
  bool implicit_tls;      // RFC 8314 3.3: TLS from the first octet
  Role role;
};

// listener_kinds - the table, in the order listeners are opened.
std::span<const ListenerKind> listener_kinds();

}  // namespace herald::server

// server/driver.h - the one loop every protocol driver runs (SMTP and POP3
// now, IMAP next): read within the session's deadline, feed the session,
// step it, write its replies within theirs, and carry out what it asks -
// STARTTLS/STLS, a SASL check, a lookup, a protocol action - until it
// closes or the peer goes.
//
// A protocol joins it with an adapter around its session (the Protocol
// concept below): the adapter turns the session's own actions into Turns
// and carries out the protocol's actions itself (SMTP's submit, POP3's
// login, retrieve and update). What every protocol shares - the
// connection, TLS, SASL checks and their bookkeeping, the write batching -
// is here once.
//
// GCC 12: an object with a destructor made inside a co_await expression
// (a temporary argument, a lambda's captures) may be destroyed twice, so
// every such value here and in the adapters is named first.
//
// Invariants: replies leave in the order of the commands (the session
// produces them in order; the loop only appends); lookups leave the I/O
// thread (Lookups below); replies gathered across lookups go out in one
// write, so a pipelined group (RFC 2920 3.1, RFC 2449 6.6) costs one write,
// not one per command; every other action first writes what came before
// it (STARTTLS's go-ahead must reach the client in clear before the
// handshake, RFC 3207 4); an AUTH attempt's bookkeeping (and its growing
// delay) comes before the reply that ends it.
//
// Deadlines (net/pace.h, docs/ARCHITECTURE.md): every read and write waits
// within the protocol's rules, kept here once for every protocol. A line
// must be complete within its deadline from its first octet and a body
// keep a minimum data rate (Postfix's smtpd_per_record_deadline and
// smtpd_min_data_rate); a peer that does not take our replies is cut off
// by the write deadline. Output never piles up: each batch of replies is
// written, within that deadline, before the next read, and a session whose
// replies pass a bound asks for a flush (Turn::flush) before it answers
// more, so a peer that pipelines without reading stalls its own input.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>
#include <asio/thread_pool.hpp>

#include "net/connection.h"
#include "net/pace.h"
#include "sasl/exchange.h"
#include "sasl/protocol.h"
#include "server/auth_driver.h"
#include "server/context.h"
#include "server/listeners.h"
#include "server/offload.h"

namespace herald::server {

// Turn - what a session asks of the loop after a step.
enum class Turn {
  read,        // nothing to do until the client sends more
  close,       // the session is over
  starttls,    // discard_input(), handshake, on_tls_started() (RFC 3207, RFC 2595)
  sasl_check,  // answer auth_exchange()'s check with on_auth_checked()
  lookup,      // a store read (RCPT, sender): lookups(); replies keep gathering
  act,         // a protocol action: act(), after writing what came before
  flush,       // write what came, then step again before reading (a bound on held output)
};

struct DriverStep {
  std::string output;
  Turn turn = Turn::read;
};

// Protocol - a session adapter the loop can run.
template <typename P>
concept Protocol = requires(P& p, std::string_view bytes, sasl::Exchange::Outcome outcome) {
  { P::kReadBuffer } -> std::convertible_to<std::size_t>;  // octets per read: bounds one step's input
  { p.read_rules() } -> std::convertible_to<net::ReadRules>;    // in the session's current state
  { p.write_rules() } -> std::convertible_to<net::WriteRules>;
  { p.on_timeout() } -> std::convertible_to<std::string>;  // the reply before hanging up
  p.feed(bytes);
  { p.step() } -> std::same_as<DriverStep>;
  { p.take_auth_event() } -> std::same_as<std::optional<sasl::AuthEvent>>;
  { p.auth_exchange() } -> std::same_as<sasl::Exchange&>;
  { p.on_auth_checked(std::move(outcome)) } -> std::same_as<std::string>;  // more output, maybe empty
  p.discard_input();
  p.on_tls_started();
  { p.act() } -> std::same_as<asio::awaitable<std::string>>;  // more output, maybe empty
};

// Lookups - a Protocol whose session asks lookups (Turn::lookup), answered
// by lookups(): blocking, it answers the pending one and steps the session
// on while it asks more, and returns the step that asks something else,
// with the output gathered. The loop runs it on the blocking pool while
// the connection's coroutine waits, so the session has one user at a time
// (the hand-over is a post either way: no locks), and a pipelined group of
// RCPTs costs one trip off the I/O thread and back, not one per command.
template <typename P>
concept Lookups = Protocol<P> && requires(P& p) {
  { p.lookups() } -> std::same_as<DriverStep>;
};

// Ending - why run_session returned, for the driver's log.
// write_timed_out: the peer stopped taking our replies (or took them too
// slowly); nothing more could be said to it.
enum class Ending { closed, peer_gone, timed_out, write_timed_out, tls_failed };

// admit - what the access drivers (POP3, IMAP) do first: take a slot of
// the listener's connection limits (else write `busy` and refuse) and, on
// an implicit-TLS listener, the handshake (RFC 8314 3.3). An empty ticket:
// the connection is over; the log (log_name) has said why.
asio::awaitable<net::ConnectionLimiter::Ticket> admit(net::Connection& conn, Accepted& accepted, const TlsSetup& tls,
                                                      std::string_view busy, const char* log_name);

// start_implicit_tls - RFC 8314 3.3: TLS from the first octet (smtps,
// pop3s); false when there is no TLS context or the handshake failed.
asio::awaitable<bool> start_implicit_tls(net::Connection& conn, const TlsSetup& tls);

namespace detail {

// note_events - an ended AUTH attempt, journalled (and delayed) before the
// reply that ends it is written.
template <Protocol P>
asio::awaitable<void> note_events(P& protocol, ConnectionAuth& auth) {
  if (auto ev = protocol.take_auth_event()) co_await auth.note(*ev);
}

// run_turns - step the session over what was fed until it waits for input
// (true) or the connection ends (false, with why).
template <Protocol P>
asio::awaitable<bool> run_turns(net::Connection& conn, P& protocol, ConnectionAuth& auth, const TlsSetup& tls,
                                asio::thread_pool& blocking, Ending& ending) {
  std::string out;
  std::optional<DriverStep> carried;  // the step that ended a run of lookups
  for (;;) {
    DriverStep step = carried ? std::move(*std::exchange(carried, std::nullopt)) : protocol.step();
    out += step.output;
    co_await note_events(protocol, auth);
    if constexpr (Lookups<P>) {
      if (step.turn == Turn::lookup) {
        auto run = [&protocol] { return protocol.lookups(); };
        carried = co_await offload(blocking, run);
        continue;
      }
    }
    if (!out.empty() && !co_await conn.write_all(out, protocol.write_rules())) {
      ending = conn.timed_out() ? Ending::write_timed_out : Ending::peer_gone;
      co_return false;
    }
    out.clear();
    switch (step.turn) {
      case Turn::read:
        co_return true;
      case Turn::close:
        ending = Ending::closed;
        co_return false;
      case Turn::starttls:
        // RFC 3207 4.2 / RFC 2595 4 (CVE-2011-0411): commands pipelined
        // behind STARTTLS/STLS arrived in clear; dropped, never run in TLS.
        protocol.discard_input();
        if (!tls.server || !co_await conn.start_tls(tls.server->context(), tls.handshake_timeout)) {
          ending = Ending::tls_failed;
          co_return false;
        }
        protocol.on_tls_started();
        co_return true;  // nothing buffered remains; read the client's next command
      case Turn::flush:
        break;  // written above; the session has more input to answer
      case Turn::sasl_check: {
        sasl::Exchange::Outcome checked = co_await auth.check(protocol.auth_exchange());
        out += protocol.on_auth_checked(std::move(checked));
        break;
      }
      case Turn::lookup:  // only from a Protocol without Lookups: a bug
      case Turn::act: {
        std::string more = co_await protocol.act();
        out += more;
        break;
      }
    }
  }
}

}  // namespace detail

// run_session - the loop, from after the greeting until the session or
// the connection ends.
template <Protocol P>
asio::awaitable<Ending> run_session(net::Connection& conn, P& protocol, ConnectionAuth& auth, const TlsSetup& tls,
                                    asio::thread_pool& blocking) {
  using Clock = std::chrono::steady_clock;
  char buffer[P::kReadBuffer];
  Ending ending = Ending::closed;
  net::ReadPace pace(protocol.read_rules());
  for (;;) {
    auto start = Clock::now();
    std::size_t n = co_await conn.read_some(buffer, sizeof buffer, pace.timeout());
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (n == 0) {
      if (!conn.timed_out()) co_return Ending::peer_gone;
      // RFC 5321 4.5.3.2: the server may close after a timeout, with 421.
      std::string bye = protocol.on_timeout();
      co_await conn.write_all(bye, protocol.write_rules());
      co_return Ending::timed_out;
    }
    std::string_view got(buffer, n);
    protocol.feed(got);
    if (!co_await detail::run_turns(conn, protocol, auth, tls, blocking, ending)) co_return ending;
    // The rules after the session took the octets: it may be in DATA now.
    pace.on_read(got, waited, protocol.read_rules());
  }
}

}  // namespace herald::server

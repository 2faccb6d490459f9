// net/pace.h - how long a connection's next read or write may wait: the
// arithmetic of Postfix's per-record deadline and minimum data rate
// (smtpd_per_record_deadline, smtpd_min_data_rate), kept apart from
// sockets and clocks so it is tested alone. Connection arms its Deadline
// with what these say; the driver loop (server/driver.h) feeds them.
//
// Invariants: no budget is ever above its cap; a peer that moves octets
// slower than the minimum rate runs its budget down to zero whatever the
// size of its blocks; a command line never gets more than `line` from its
// first octet, however it is sliced.
//
// Security notes: against slowloris peers. A timeout that restarts on
// every read lets one octet every few seconds hold a connection (and one
// of max_connections) for ever; here the time a line or a body may take is
// bounded by its length, not by the peer's patience. Writes are bounded
// the same way, so a peer that stops reading is cut off (and a POP3 one
// lets go of its maildrop lock).
//
// RFCs: 5321 4.5.3.2 (the timeouts these refine), 1939 3 (autologout).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace herald::net {

using std::chrono::milliseconds;

// RateBudget - the time left to a transfer that must keep a minimum rate.
// It starts at cap; each transfer spends the time it waited and earns
// octets / min_rate, never above cap (Postfix's smtpd_min_data_rate).
// min_rate 0: a transfer that moved octets earns the whole cap back - a
// timeout per block, as RFC 5321 4.5.3.2.6 words it.
class RateBudget {
 public:
  RateBudget(milliseconds cap, std::uint32_t min_rate) : cap_(cap), left_(cap), min_rate_(min_rate) {}

  // left - how long the next transfer may wait; zero once spent.
  milliseconds left() const { return left_ > milliseconds(0) ? left_ : milliseconds(0); }
  // spend - a transfer waited `waited` and moved `octets`.
  void spend(milliseconds waited, std::size_t octets);

 private:
  milliseconds cap_;
  milliseconds left_;
  std::uint32_t min_rate_;
};

// Phase - what a peer is sending: lines (commands, SASL responses) or a
// message body (DATA, a BDAT chunk).
enum class Phase { lines, data };

// ReadRules - the bounds on the next read, as the session's state sets them.
struct ReadRules {
  Phase phase = Phase::lines;
  milliseconds idle{0};         // lines: waiting for a line's first octet (RFC 5321 4.5.3.2.7)
  milliseconds line{0};         // lines: from a line's first octet to its LF (smtpd_per_record_deadline)
  milliseconds data{0};         // data: the body's time budget and its cap (RFC 5321 4.5.3.2.6)
  std::uint32_t min_rate = 0;   // data: octets per second that earn time back; 0 = per block
};

// ReadPace - how long each read of one session may wait. Waiting for a
// line is bounded by `idle`; once its first octet arrives the line must be
// complete within `line`, however many reads it takes; a body runs on a
// RateBudget of `data` at `min_rate`. Only the time spent waiting in reads
// counts, never the server's own work between them.
//
// Lines are told apart by their LF: a read whose octets end in LF left no
// line open. A body chunk that ends a read without one (BDAT is binary)
// errs strict: the next command gets `line`, not `idle`.
class ReadPace {
 public:
  explicit ReadPace(const ReadRules& first) : budget_(first.idle, 0) {}

  // timeout - how long the next read may wait.
  milliseconds timeout() const { return budget_.left(); }
  // on_read - a read waited `waited` and brought `octets`; the session
  // took them and now reads by `rules`.
  void on_read(std::string_view octets, milliseconds waited, const ReadRules& rules);

 private:
  RateBudget budget_;
  Phase phase_ = Phase::lines;
  bool in_line_ = false;  // a line's first octet came, its LF has not
};

// WriteRules - the bounds on writing to a peer: a RateBudget of `timeout`
// at `min_rate` over the octets it takes.
struct WriteRules {
  milliseconds timeout{0};
  std::uint32_t min_rate = 0;
};

}  // namespace herald::net

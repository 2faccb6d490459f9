// delivery/targets.h - what the outbound agent has seen of each server it
// sends to, for `herald targets` (CSSMTP's D,TARGET view; docs/
// ARCHITECTURE.md "Operator control"): per target address its state, what
// it offered (ESMTP, SIZE, TLS), the mail tried and sent there, the
// connections that failed and its last reply; and totals since start.
//
// Pure and single-threaded: the agent updates it on its executor, the
// control socket reads it there. Bounded: past `capacity` targets, the one
// used least recently is forgotten.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace herald::delivery {

enum class TargetState {
  unknown,         // not reached yet
  ready,           // the last session went well
  connect_failed,  // the last connection could not be made
  refused,         // the last session ended with the server refusing (greeting, EHLO, TLS, AUTH)
};

struct TargetStats {
  std::string target;  // "name[ip]:port", as the log's relay=
  TargetState state = TargetState::unknown;
  bool esmtp = false;
  std::uint64_t size_limit = 0;  // its SIZE (RFC 1870); 0: none announced or unlimited
  bool tls = false;              // the last session ran over TLS
  std::uint64_t mail_attempts = 0;     // messages offered (MAIL)
  std::uint64_t mail_sent = 0;         // messages it took (for one recipient or more)
  std::uint64_t connect_failures = 0;
  std::string last_reply;        // its last reply, or why the last connection failed
  std::int64_t last_used_s = 0;  // unix seconds
};

// TargetTotals - since the agent started, counted per recipient.
struct TargetTotals {
  std::int64_t since_s = 0;
  std::uint64_t sent = 0;          // delivered to another server
  std::uint64_t retried = 0;       // deferred attempts (the "total retry")
  std::uint64_t undeliverable = 0; // bounced
  std::uint64_t dead_letters = 0;  // reports that became dead letters
};

class TargetBoard {
 public:
  explicit TargetBoard(std::size_t capacity = 10000, std::int64_t now_s = 0) : capacity_(capacity) {
    totals_.since_s = now_s;
  }

  void connect_failed(const std::string& target, const std::string& why, std::int64_t now_s);
  // connected - a session opened: what the server offered.
  void connected(const std::string& target, bool esmtp, std::uint64_t size_limit, bool tls, std::int64_t now_s);
  // message - a message offered there; taken by the server or not, and its reply.
  void message(const std::string& target, bool taken, const std::string& reply, std::int64_t now_s);
  // session_failed - the server refused to go on (greeting, EHLO, STARTTLS, AUTH).
  void session_failed(const std::string& target, const std::string& reply, std::int64_t now_s);

  TargetTotals& totals() { return totals_; }
  const TargetTotals& totals() const { return totals_; }
  // list - every target, by name.
  std::vector<TargetStats> list() const;

 private:
  TargetStats& at(const std::string& target, std::int64_t now_s);

  std::size_t capacity_;
  std::map<std::string, TargetStats> targets_;
  TargetTotals totals_;
};

std::string_view to_string(TargetState state);

}  // namespace herald::delivery

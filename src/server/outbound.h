// server/outbound.h - the outbound delivery agent: it claims due remote
// recipients from the store's queue, sends them to their next hop with the
// SMTP client (smtp/client.h) over net::Connection, and commits each
// recipient's outcome (docs/ARCHITECTURE.md "Outbound delivery").
//
// Invariants:
//   - A recipient is claimed with a lease before it is tried, and its outcome
//     is committed after the attempt: a crash between the two leaves it
//     leased, and the next start (or the lease's end) tries it again, so
//     every recipient is delivered at least once.
//   - At most delivery.concurrency connections in all and
//     destination_concurrency per next hop; a next hop that fails (no
//     connection, a refused greeting) defers everything waiting for it, not
//     one message at a time.
//   - A temporary failure is retried on the two-level schedule
//     (delivery/retry.h) until delivery.max_queue_lifetime, then bounced.
//
//   - Mail its next hop could not take goes on, in the same attempt, to
//     delivery.fallback_relay when one is set (delivery::takes_fallback).
//
//   - A report (null sender) that fails for good is a dead letter
//     (RecipientState::dead): kept with its message for `herald
//     deadletter`, and written to data_dir/deadletter/ as
//     delivery.dead_letter_action says.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ssl/context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>

#include "base/result.h"
#include "config/config.h"
#include "delivery/dsn.h"
#include "delivery/retry.h"
#include "delivery/route.h"
#include "delivery/targets.h"
#include "queue/alias_expander.h"
#include "queue/intake.h"
#include "queue/local_retry.h"
#include "smtp/client.h"
#include "store/journal.h"
#include "store/queue.h"

#include "net/tls.h"

namespace herald::net {
class Connection;
class Resolver;
}

namespace herald::server {

// make_router - the transport table and smarthost of the configuration;
// an error (naming the key's file:line) for a target that is not
// "[IP address]:port". config check runs it too (check_environment).
Result<delivery::Router> make_router(const config::Config& config);
// client_tls_options - delivery.tls_ca_file, tls_cert and tls_key.
net::ClientTlsOptions client_tls_options(const config::Config& config);

class Outbound {
 public:
  // How long a claim holds its recipients: longer than any one attempt
  // (the timeouts of a connection, a body and its reply) may take.
  static constexpr std::int64_t kLeaseSeconds = 30 * 60;
  // A body is read and sent in pieces of this size; one that fits is read once.
  static constexpr std::uint64_t kBodyPiece = 1 << 20;
  // DeadLetter - a recipient of a report that failed for good.
  struct DeadLetter {
    std::string recipient;
    std::string original;  // the address given, before aliases
    std::string reason;
  };


  // intake and expander: a DSN to the sender of a failed recipient goes in
  // through intake, addressed as any message is.
  // executor: where the scheduler, its connections and its reports run.
  // It sends intake's DeliveredNotices from now until it is destroyed.
  // journal: the reports sent (dsn_sent); the rest is journaled with the
  // queue's changes.
  Outbound(const config::Config& config, store::Queue& queue, store::Journal& journal, asio::thread_pool& blocking,
           delivery::Router router, queue::Intake& intake, queue::AliasExpander& expander,
           asio::any_io_executor executor);
  ~Outbound();

  // run - the scheduler, spawned on the executor.
  asio::awaitable<void> run();
  // expire_local - local recipients deferred past the queue lifetime
  // (queue::LocalRetry): bounced and reported as a remote one would be. On
  // the executor.
  void expire_local(std::vector<queue::LocalRetry::Expired> expired);
  // report_local_delivered - local copies LocalRetry delivered whose sender
  // asked for it (NOTIFY=SUCCESS): "delivered" reports, as at commit.
  void report_local_delivered(std::vector<store::DueDelivery> delivered);

  // flush - every suspended next hop tried again, and the queue looked at
  // now (herald queue flush, ETRN). Thread-safe: posts to the executor.
  void flush();

  // targets - what it has seen of each server (herald targets); read on
  // the executor.
  const delivery::TargetBoard& targets() const { return targets_; }
  // targets_json - the same as the control socket answers it.
  std::string targets_json() const;

  // shutdown - after the io_context stopped, before it is destroyed: no
  // more notices are posted there, and the resolver ends its pending
  // lookups, whose answers it posts there.
  void shutdown();

 private:
  // Job - one message with those of its recipients that go to one next hop.
  struct Job {
    store::ClaimedMessage message;
    bool fallback = false;  // on its way to the fallback relay: its outcome is final for this attempt
  };
  static constexpr const char* kFallback = "fallback:";  // its destination's key
  struct Destination {
    std::string key;        // in destinations_
    delivery::NextHop hop;  // a route's, the smarthost's, or an MX domain's (hop.mx)
    std::deque<Job> jobs;
    unsigned active = 0;    // connections open to it
    // Connections with nothing to send, waiting (connection_cache_time)
    // for more: a job for them cancels one's wait.
    std::vector<asio::steady_timer*> idle;
  };
  // PreparedBody - what MAIL needs to know of a body (BODY=8BITMIME), and
  // the body itself when it is one piece.
  struct PreparedBody {
    bool eight_bit = false;
    std::optional<std::string> whole;
  };
  // MxResolution - the targets of an MX domain, or why there are none.
  struct MxResolution {
    std::vector<delivery::Target> targets;
    smtp::Verdict failure;  // when targets is empty: deferred, or bounced for good
  };

  asio::awaitable<std::size_t> claim();
  // wake - look for due mail now rather than at the next tick.
  void wake();
  // suspend - the next hop behind key could not be reached: what waits for
  // it, and what comes for it before delivery.retry_interval has passed,
  // is deferred without a connection (Postfix's "delivery temporarily
  // suspended"), until flush() or a session that works.
  void suspend(const std::string& key, const smtp::Verdict& why);
  void start_connections();
  // reuse - a job came for d: one of its idle connections takes it.
  void reuse(Destination& d);
  // busy - connections open and not idle in the cache.
  unsigned busy() const;
  asio::awaitable<void> connection(Destination& d);
  // connect - a TCP connection to target, from source when it is not "".
  asio::awaitable<std::unique_ptr<net::Connection>> connect(const delivery::Target& target, const std::string& source,
                                                            std::string& why);
  smtp::ClientOptions client_options(const delivery::NextHop& hop) const;
  // finish - the verdicts of a job's recipients: logged, committed, released;
  // recipients that failed for good are reported to the sender first
  // (body: the message, when the caller has it in memory).
  // (peer_dsn: the server that took them offers DSN, so a NOTIFY=SUCCESS
  // went on with them; otherwise the sender is told "relayed").
  void finish(const Job& job, const std::vector<smtp::Verdict>& verdicts, const std::string& relay,
              const std::string* body = nullptr, bool peer_dsn = false);
  // report - the DSNs for failed, delayed and relayed recipients (as their
  // NOTIFY asks: RFC 3461 4.1), committed before
  // outcomes are (so that the message is not collected before it is
  // returned); a report that cannot be queued leaves its failed recipients
  // deferred, to fail and report again, and a warning to be tried again.
  // Reports - what one attempt tells a message's sender, by kind.
  struct Reports {
    std::vector<delivery::DsnRecipient> failed, delayed, relayed, delivered;
    bool empty() const { return failed.empty() && delayed.empty() && relayed.empty() && delivered.empty(); }
  };
  asio::awaitable<void> report(store::ClaimedMessage message, Reports reports,
                               std::vector<store::AttemptOutcome> outcomes, std::optional<std::string> body);
  void record(const std::string& queue_id, std::vector<store::AttemptOutcome> outcomes);
  // note_message - a message's outcome at relay, for the targets view.
  void note_message(const std::string& relay, const smtp::MessageResult& r);
  // keep_dead_letters - logged; told to delivery.mail_administrators; with
  // dead_letter_action "store", written to data_dir/deadletter/ on the
  // blocking pool.
  void keep_dead_letters(const store::ClaimedMessage& m, std::vector<DeadLetter> letters);
  asio::awaitable<void> tell_administrators(store::ClaimedMessage m, std::vector<DeadLetter> letters);
  // where_to - an address resolved as a recipient is (a local user, an
  // alias, another domain); nullopt when it cannot be (unknown, a loop).
  asio::awaitable<std::optional<std::vector<queue::Target>>> where_to(std::string address);
  // prepare_body - a body of one piece read (and kept); for a larger one
  // whose 8-bitness intake did not record (older messages), its 8-bit
  // octets looked for a piece at a time. Blocking (store reads): on the
  // blocking pool.
  Result<PreparedBody> prepare_body(std::int64_t message, std::uint64_t size, std::optional<bool> eight_bit);
  // fail_waiting - the jobs waiting for d get why (the next hop failed).
  void fail_waiting(Destination& d, const smtp::Verdict& why, const std::string& relay);
  // resolve_mx - RFC 5321 5.1 and RFC 7505 for domain: its MX hosts (or the
  // domain itself when it has none) by preference, their addresses on port.
  asio::awaitable<MxResolution> resolve_mx(std::string domain, std::uint16_t port);
  // resolve_names - configured targets with the host names among them
  // looked up (A and AAAA); a name not found defers.
  asio::awaitable<MxResolution> resolve_names(std::vector<delivery::Target> configured);

  const config::Config& config_;
  store::Queue& queue_;
  store::Journal& journal_;
  asio::thread_pool& blocking_;
  queue::Intake& intake_;
  queue::AliasExpander& expander_;
  const delivery::Router router_;
  const delivery::RetryPolicy retry_;
  const std::string owner_;
  std::unique_ptr<asio::ssl::context> tls_;  // null: STARTTLS fails (logged at start)
  std::unique_ptr<net::Resolver> resolver_;  // run()'s; null: MX mail is deferred (logged)
  asio::any_io_executor executor_;            // where run(), connections and reports run
  // By next hop name ("mx:" and the domain for MX); one is erased once
  // nothing waits for it and no connection holds it (start_connections).
  std::map<std::string, Destination> destinations_;
  // Suspension - a next hop not tried again before until_s.
  struct Suspension {
    std::int64_t until_s = 0;
    smtp::Verdict why;
  };
  std::map<std::string, Suspension> suspended_;  // by destinations_'s key
  std::unordered_set<std::int64_t> held_;            // queue rows claimed and not finished
  unsigned active_ = 0;                              // connections open
  std::unordered_map<std::int64_t, std::int64_t> expiring_;  // local rows handed to expire_local, until when
  unsigned idle_ = 0;                                // of them, waiting in the cache (Destination::idle)
  std::unique_ptr<asio::steady_timer> tick_;         // run()'s wait between claims
  delivery::TargetBoard targets_;
  bool woken_ = false;
};

}  // namespace herald::server

// queue/intake.h - the one door every message comes through.
//
// Every entry point (SMTP, submission, spool, sendmail, HTTP) hands intake an
// envelope and a body; intake adds the trace header (RFC 5321 4.4 Received),
// assigns the queue id, commits the message and its recipients durably (local
// recipients are delivered in the same transaction) and only then calls back,
// so the entry point's "yes" always follows stable storage.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/ids.h"
#include "base/result.h"
#include "queue/alias_expander.h"
#include "queue/incoming.h"
#include "queue/local_delivery.h"
#include "store/queue.h"

namespace herald::queue {

struct EnvelopeRecipient {
  std::string address;          // as the client gave it
  std::vector<Target> targets;  // where it resolved to
  std::string notify;           // RFC 3461 NOTIFY as SMTP wrote it ("SUCCESS,FAILURE"); "" = none given
  std::string orcpt;            // RFC 3461 ORCPT, "rfc822;addr" decoded; "" = none
};

struct Envelope {
  std::string sender;  // "" = null reverse-path
  std::vector<EnvelopeRecipient> recipients;
  std::string ret;     // RFC 3461 RET: "FULL", "HDRS", "" = unspecified
  std::string envid;   // RFC 3461 ENVID, decoded
  // Where it came from, for Received and the journal; client_ip "" for a
  // message Herald made itself (a DSN): Received then has no "from".
  std::string client_ip;
  std::string client_name;  // reverse DNS or "unknown"
  std::string helo;
  std::string protocol;     // Received "with": SMTP, ESMTP, ESMTPSA, UTF8SMTP, ... (RFC 3848)
  std::string tls;          // "(using TLSv1.3 with cipher ...)" or ""
  bool submission = false;  // a submission (RFC 6409): a listener's, a spool's, sendmail's
  std::string auth_user;    // the authenticated user, for the log and journal only (never in Received)
  // Pickup - a message a local program handed over (a spool file, later
  // sendmail): Received says "from userid N" as Postfix's pickup does.
  struct Pickup {
    std::uint32_t uid = 0;
    std::string login;  // uid's name
    std::string spool;  // the [[spool]]'s name ("sendmail": the maildrop)
    std::string file;   // the file's name in it
    std::string broadcast;  // herald send's: "--to-all example.org", "--to-list F"
  };
  std::optional<Pickup> pickup;
  // Taken from a spool file: the checkpoint its commit writes.
  std::optional<store::SpoolCheckpoint> checkpoint;
  std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now();
};

struct Accepted {
  std::string queue_id;
};

// door_of - the door a message came through, for its accounting record:
// smtp, submission, spool, sendmail, send (herald send, through the
// maildrop) or local (made here: a report).
std::string door_of(const Envelope& envelope);
// identity_of - who submitted it: "alice@example.org" (AUTH), "uid=1000(bob)"
// (a local user), with "spool=NAME file=F" for a spool file, else the
// client's "host[ip]".
std::string identity_of(const Envelope& envelope);

// DeliveredNotice - local recipients delivered whose sender asked to hear
// of it (RFC 3461 NOTIFY=SUCCESS): what a "delivered" report needs.
struct DeliveredNotice {
  std::string queue_id;
  std::string sender;
  std::string envid;
  std::int64_t arrival_s = 0;
  std::uint64_t size = 0;
  std::string head;  // the message's header section (what the report returns)
  struct Recipient {
    std::string recipient, original, orcpt;
  };
  std::vector<Recipient> recipients;
};

// Arrival - a message whose body is being received (DATA or BDAT has
// begun), so that the store's group commit can wait for it when busy
// (store::Queue::note_arrivals). It ends when handed to Intake::submit or
// destroyed.
class Arrival {
 public:
  Arrival() = default;
  explicit Arrival(store::Queue& queue) : queue_(&queue) { queue_->note_arrivals(+1); }
  Arrival(Arrival&& other) noexcept : queue_(std::exchange(other.queue_, nullptr)) {}
  Arrival& operator=(Arrival&& other) noexcept {
    if (this != &other) {
      reset();
      queue_ = std::exchange(other.queue_, nullptr);
    }
    return *this;
  }
  ~Arrival() { reset(); }
  explicit operator bool() const { return queue_ != nullptr; }
  void reset() {
    if (queue_) std::exchange(queue_, nullptr)->note_arrivals(-1);
  }

 private:
  store::Queue* queue_ = nullptr;
};

// BodyLimits - how much of the bodies being received stays in memory
// (incoming.h): smtp.body_memory_max and smtp.memory_budget.
struct BodyLimits {
  std::uint64_t memory_max = 256 * 1024;        // of one message
  std::uint64_t memory_budget = 256ull << 20;   // of all of them together
};

class Intake {
 public:
  Intake(std::string hostname, store::Queue& queue, LocalDelivery local = LocalDelivery(), BodyLimits limits = {});

  // arriving - an Arrival for a body that has begun to come in.
  Arrival arriving() { return Arrival(queue_); }

  // begin - a message for envelope whose body is about to come: its queue
  // id and trace header now (the recipients are known: RFC 5321 4.4).
  Incoming begin(Envelope envelope);
  // submit - commit the message; done runs on the store's writer thread
  // after the commit (the caller moves back to its own thread), or at once
  // if the body could not be kept. The message's arrival, if any, ends
  // once the commit request is queued.
  void submit(Incoming message, std::function<void(Result<Accepted>)> done, Arrival arrival = {});
  // submit - the same for a body that is already whole.
  void submit(Envelope envelope, std::string_view body, std::function<void(Result<Accepted>)> done,
              Arrival arrival = {});

  // on_delivered - who sends the DeliveredNotices (the outbound agent); it
  // runs on the store's writer thread and must only hand the notice over.
  // nullptr: none are sent (the agent is going away).
  void on_delivered(std::function<void(DeliveredNotice)> notify);

  // local_delivery - the policy this intake delivers local copies by.
  const LocalDelivery& local_delivery() const { return local_; }

  // received_header - the trace header for this envelope (RFC 5321 4.4).
  std::string received_header(const Envelope& envelope, const std::string& queue_id) const;

  // budget - the memory all bodies being received hold together.
  const BodyBudget& budget() const { return *budget_; }

 private:
  friend class Incoming;
  struct Logs;  // the loggers of the lines intake writes, looked up once
  struct NoticeHook;  // on_delivered's, shared with commits in flight

  std::string hostname_;
  store::Queue& queue_;
  LocalDelivery local_;
  BodyLimits limits_;
  std::shared_ptr<BodyBudget> budget_;  // shared with the bodies' shares, which may outlive a commit
  QueueIdGenerator ids_;
  std::shared_ptr<const Logs> logs_;
  std::shared_ptr<NoticeHook> notice_;
};

// header_value - the first header field "name" of a message (unfolded,
// trimmed), searching the header section only; "" when absent.
std::string header_value(std::string_view message, std::string_view name);

}  // namespace herald::queue

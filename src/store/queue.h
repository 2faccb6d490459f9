// store/queue.h - messages on their way: the durable commit of an incoming
// message with its recipients, and the queue rows of those not done yet.
//
// One of the store's interfaces (see store.h); a backend implements it.
// Invariants: a commit reported successful is on stable storage, body and
// rows alike; local recipients are delivered in the same transaction that
// queues the message, so a crash never leaves a message half delivered.
// Mail policy (the quota decision, trace lines, reply texts, retry times)
// is not the store's: it comes with the message (LocalDeliveryRules).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "store/body_spool.h"
#include "store/byte_range.h"
#include "store/recipient_state.h"

namespace herald::store {

// MailboxUsage - the space a local recipient has, read inside the commit.
struct MailboxUsage {
  std::uint64_t quota_bytes = 0;  // 0 = unlimited
  std::uint64_t used_bytes = 0;
};

// LocalVerdict - what becomes of one local recipient.
struct LocalVerdict {
  RecipientState state = RecipientState::delivered;  // delivered, deferred or bounced
  std::string reply;                                 // "250 2.0.0 ...", "452 4.2.2 Mailbox full"
  std::chrono::seconds retry_after{0};               // deferred: when to try again
};

// LocalDeliveryRules - the policy a commit consults for each local copy,
// inside its transaction (queue/local_delivery implements it). Must not
// block or touch the store: it runs on the writer thread.
class LocalDeliveryRules {
 public:
  virtual ~LocalDeliveryRules() = default;
  // decide - for a copy of `size` octets (its trace prefix included);
  // usage is nullopt when the recipient has no such user or mailbox.
  virtual LocalVerdict decide(const std::optional<MailboxUsage>& usage, std::uint64_t size) const = 0;
};

// One final recipient of an incoming message.
struct Delivery {
  std::string recipient;  // final address, after alias expansion
  std::string original;   // the address the client gave (ORCPT)
  bool local = false;
  // Local only: the mailbox to deliver into, and the trace lines that head
  // this copy (Return-Path, Delivered-To), kept apart from the shared body.
  std::string mailbox;
  std::string prefix;
  // RFC 3461's NOTIFY and ORCPT, as SMTP wrote them (decoded): "" = none.
  std::string notify;
  std::string orcpt;
};

// SpoolFile - a file in a spool directory as the kernel knows it: a name
// can be reused, a (device, inode, size, mtime) for the same content hardly.
struct SpoolFile {
  std::string spool;  // the [[spool]]'s name
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const SpoolFile&) const = default;
};

// SpoolCheckpoint - the units of a spool file taken so far: transactions
// 0..next-1 (and its error report, counted as one more) are committed.
struct SpoolCheckpoint {
  SpoolFile file;
  std::uint64_t next = 0;
};

struct IncomingMessage {
  std::string queue_id;
  std::string sender;      // "" = null reverse-path
  std::string client;      // "host[ip]"
  std::string message_id;  // Message-ID header, for the journal
  // The whole message as it will be delivered: in body, or, for a large
  // one, in spool (from this store's spool_body; body is then empty).
  std::string body;
  std::unique_ptr<BodySpool> spool;
  bool eight_bit = false;  // the body holds octets over 127
  std::string ret;    // RFC 3461 RET: "FULL", "HDRS" or ""
  std::string envid;  // RFC 3461 ENVID, decoded; "" = none
  std::vector<Delivery> deliveries;
  const LocalDeliveryRules* rules = nullptr;  // REQUIRES: set when any delivery is local
  // Taken from a spool file: its checkpoint, written in the same commit.
  std::optional<SpoolCheckpoint> checkpoint;
  // The accounting record its received journal row carries (JournalEntry).
  std::string door, identity, subject, recipients;
  std::uint32_t attachments = 0;
  std::vector<std::string> attachment_names;
  // Its MIME structure (mime::encode), kept with the body for IMAP: "" = none.
  std::string structure;
  // What the full-text index keeps of it (mime::indexable_text), written
  // with the message when a delivery is local: "" = not indexed.
  std::string text;

  std::uint64_t size() const { return spool ? spool->size() : body.size(); }
};

struct DeliveryOutcome {
  RecipientState state = RecipientState::pending;
  std::string reply;  // e.g. "452 4.2.2 Mailbox full"
};

struct CommitResult {
  std::vector<DeliveryOutcome> outcomes;  // one per IncomingMessage::deliveries
};

struct QueueRow {
  std::int64_t row = 0;  // the row's key: queue rows list in this order (arrival)
  std::string queue_id;
  std::string sender;
  std::string recipient;
  std::string original_recipient;
  RecipientState state = RecipientState::pending;  // pending, deferred, held or dead
  std::int64_t attempts = 0;
  std::int64_t created = 0;       // unix seconds
  std::int64_t next_attempt = 0;  // unix seconds
  std::uint64_t size = 0;
  std::string last_reply;
  std::int64_t message = 0;  // its message, for Queue::read_body
};

// DueDelivery - a deferred local recipient whose next attempt is due.
struct DueDelivery {
  std::int64_t row = 0;  // the queue row
  std::string queue_id;
  std::string sender;
  std::string recipient;
  std::string original;   // ORCPT, for the log
  std::int64_t created = 0;  // unix seconds: when the message came
  std::int64_t attempts = 0;
  // What a report of its expiry needs (Queue::read_body, RFC 3461).
  std::int64_t message = 0;
  std::uint64_t size = 0;
  std::string notify, orcpt, ret, envid;
};

// Retry - one more attempt at a due local recipient, addressed anew by
// local delivery (its mailbox and trace prefix).
struct Retry {
  std::int64_t row = 0;
  Delivery delivery;
};

// Claim - remote recipients due for an attempt, taken for one delivery
// agent: none is handed to another until lease_until passes (so a node that
// dies leaves its mail to the others once its leases run out).
struct Claim {
  std::int64_t now_s = 0;          // due: next_attempt <= now_s
  std::size_t limit = 100;         // at most this many recipients
  std::string owner;               // who holds the lease ("host:pid")
  std::int64_t lease_until_s = 0;  // until when
};

// ClaimedRecipient - one remote recipient of a claimed message.
struct ClaimedRecipient {
  std::int64_t row = 0;   // the queue row
  std::string recipient;
  std::string original;   // ORCPT, for the log
  std::int64_t attempts = 0;
  bool warned = false;    // the sender had the delay warning
  std::int64_t queued = 0;  // unix seconds: its queue lifetime counts from here (a resent dead letter's is new)
  std::string notify;       // as Delivery's
  std::string orcpt;
};

// ClaimedMessage - a message with its claimed recipients, in row order.
struct ClaimedMessage {
  std::int64_t message = 0;  // for read_body
  std::string queue_id;
  std::string sender;
  std::string message_id;
  std::string client;
  std::int64_t created = 0;   // unix seconds: when it came
  std::uint64_t size = 0;
  std::optional<bool> eight_bit;  // octets over 127; nullopt: not known (older messages)
  std::vector<ClaimedRecipient> recipients;
  std::string ret;    // as IncomingMessage's
  std::string envid;
};

// AttemptOutcome - what became of one claimed recipient: delivered and
// bounced take its row away; deferred sets its next attempt and frees it.
struct AttemptOutcome {
  std::int64_t row = 0;
  RecipientState state = RecipientState::deferred;
  std::string reply;             // the diagnostic, for the row, the journal and a bounce
  std::string relay;             // "host[ip]:port", for the journal
  std::int64_t next_attempt_s = 0;  // deferred: when to try again
  bool warned = false;              // deferred: the delay warning went with this attempt
  bool expired = false;             // bounced at the end of the queue lifetime (journal: expired)
};

// QueueAction - what the operator does to queued recipients (Postfix's
// postsuper -h/-H/-d and postqueue -f/-i).
enum class QueueAction {
  hold,     // pending or deferred -> held: never tried until released
  release,  // held -> deferred, due now
  retry,    // pending or deferred -> due now
  remove,   // out of the queue, whatever its state, without a report
  resend,   // dead -> pending, due now, with a fresh queue lifetime
};

// QueueSelection - the rows an action applies to: those matching every
// field given; all set to take every row.
struct QueueSelection {
  std::vector<std::string> queue_ids;  // any of these
  std::optional<std::string> sender;   // "" = the null sender; any case
  std::optional<std::string> domain;   // the recipient's domain, any case
  bool subdomains = false;             // and the domains below it (ETRN @domain)
  std::optional<RecipientState> state;  // only rows in this state (and in those the action applies to)
  std::optional<std::int64_t> queued_before;  // only rows queued at or before (unix seconds)
  bool all = false;
  bool empty() const { return queue_ids.empty() && !sender && !domain && !state && !queued_before && !all; }
};

// QueueQuery - one page of queue rows in row order, after the row `after`.
struct QueueQuery {
  std::int64_t after = 0;                 // only rows after this one (0 = from the first)
  std::optional<std::string> sender;      // only messages from this sender, any case ("" = null sender)
  std::optional<std::string> recipient;   // only this recipient, any case
  std::optional<RecipientState> state;    // only rows in this state
  std::optional<std::int64_t> queued_before;  // only rows queued at or before (unix seconds)
  std::size_t limit = 100;                // at most this many rows
};

class Queue {
 public:
  virtual ~Queue() = default;

  // commit_message - durably queue a message and deliver its local
  // recipients in the same transaction; done runs on the store's writer
  // thread once the commit is on stable storage (or failed).
  virtual void commit_message(IncomingMessage message, std::function<void(Result<CommitResult>)> done) = 0;
  // spool_body - a body to write as it arrives, for IncomingMessage::spool.
  // Callable from any thread; it creates a file, and its appends write.
  virtual Result<std::unique_ptr<BodySpool>> spool_body() = 0;

  // note_arrivals - messages whose body is being received now: +1 when one
  // begins, -1 when it has been handed to commit_message or abandoned. Under
  // load (requests queued while the last commit ran) the writer holds the
  // next commit back, up to commit_wait, until those already on their way
  // have joined it: one sync for all of them instead of one each.
  virtual void note_arrivals(int delta) = 0;

  // Local recipients that were deferred (a full mailbox): due_local lists
  // those whose next attempt has come, oldest first; retry_local tries them
  // again in one transaction, each delivered, deferred again (attempts + 1,
  // next attempt as the rules say) or bounced; done gets one outcome per
  // retry (a row gone meanwhile counts as delivered by someone else).
  virtual Result<std::vector<DueDelivery>> due_local(std::int64_t now_s, std::size_t limit) = 0;
  virtual void retry_local(std::vector<Retry> retries, const LocalDeliveryRules& rules,
                           std::function<void(Result<std::vector<DeliveryOutcome>>)> done) = 0;

  // Outbound delivery. claim_remote leases due remote recipients (a write,
  // so two agents never claim the same row), grouped by message, oldest
  // due first; record_attempts commits their outcomes, each with its
  // journal row, and collects a message once no recipient needs it;
  // read_body is a claimed message's body, or the range of it (a read:
  // blocking), so that a large body is sent a piece at a time.
  virtual void claim_remote(Claim claim, std::function<void(Result<std::vector<ClaimedMessage>>)> done) = 0;
  virtual void record_attempts(std::vector<AttemptOutcome> outcomes, std::function<void(Status)> done) = 0;
  virtual Result<std::string> read_body(std::int64_t message, ByteRange range) = 0;

  // change - action on the rows selection names (REQUIRES: not empty), each
  // changed row journalled (held, released, deleted); done gets how many
  // changed. A row under delivery keeps its lease: a removed one is not
  // recorded after, a held one stays held.
  virtual void change(QueueAction action, QueueSelection selection, std::function<void(Result<std::size_t>)> done) = 0;

  // Inspection: a page of the rows not done yet, read by their key (a
  // sender or recipient filter is checked on the rows read past), or
  // every row of one queue id.
  virtual Result<std::vector<QueueRow>> list(const QueueQuery& query) = 0;
  virtual Result<std::vector<QueueRow>> show(const std::string& queue_id) = 0;
  // counts - how many queue rows are in each state (those with none absent).
  virtual Result<std::map<RecipientState, std::uint64_t>> counts() = 0;

  // Spool checkpoints (IncomingMessage::checkpoint writes them).
  // spool_checkpoints - every row of one spool (a read: blocking).
  virtual Result<std::vector<SpoolCheckpoint>> spool_checkpoints(const std::string& spool) = 0;
  // forget_spool_files - the rows of these files go (they are gone); a
  // row rewritten meanwhile for another size or mtime stays.
  virtual void forget_spool_files(std::vector<SpoolFile> files, std::function<void(Status)> done) = 0;
};

}  // namespace herald::store

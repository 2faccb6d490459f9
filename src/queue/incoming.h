// queue/incoming.h - a message being received: its queue id, the trace
// header intake puts on top, and its body so far; in memory while it is
// small, else in the store's spool (store::BodySpool) as it arrives.
//
// Memory is bounded twice: one message holds at most memory_max octets of
// its body in memory, and the messages of the whole process together at
// most their BodyBudget's limit; past either bound the body goes to the
// spool, so the memory held for bodies grows neither with their size nor
// with their number (docs/ARCHITECTURE.md "Message bodies"). Only the
// header section of a message that has not ended yet (at most
// kHeaderScan octets) is held whatever the budget: what intake adds on
// top depends on it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "mime/attachments.h"
#include "mime/structure.h"
#include "store/queue.h"

namespace herald::queue {

// BodyBudget - the octets of bodies held in memory by all the messages
// being received; thread-safe (sessions on every I/O thread share one).
class BodyBudget {
 public:
  explicit BodyBudget(std::uint64_t limit) : limit_(limit) {}
  // take - n octets more if they fit under the limit; false (nothing
  // taken) if not.
  bool take(std::uint64_t n);
  // force - n octets more, over the limit if need be (a header section).
  void force(std::uint64_t n) { held_.fetch_add(n, std::memory_order_relaxed); }
  void give(std::uint64_t n) { held_.fetch_sub(n, std::memory_order_relaxed); }
  std::uint64_t held() const { return held_.load(std::memory_order_relaxed); }
  std::uint64_t limit() const { return limit_; }

 private:
  const std::uint64_t limit_;
  std::atomic<std::uint64_t> held_{0};
};

// BodyShare - octets of a budget held by one body; given back when the
// share goes (the body moved to the spool, committed, or dropped).
class BodyShare {
 public:
  BodyShare() = default;
  explicit BodyShare(std::shared_ptr<BodyBudget> budget) : budget_(std::move(budget)) {}
  BodyShare(BodyShare&& other) noexcept
      : budget_(std::move(other.budget_)), octets_(std::exchange(other.octets_, 0)) {}
  BodyShare& operator=(BodyShare&& other) noexcept {
    if (this != &other) {
      release();
      budget_ = std::move(other.budget_);
      octets_ = std::exchange(other.octets_, 0);
    }
    return *this;
  }
  ~BodyShare() { release(); }

  bool take(std::uint64_t n);
  void force(std::uint64_t n);
  void release();
  std::uint64_t octets() const { return octets_; }

 private:
  std::shared_ptr<BodyBudget> budget_;
  std::uint64_t octets_ = 0;
};

class Intake;
struct Envelope;

// Incoming - from Intake::begin; its octets come through append(), and
// Intake::submit commits it. Dropped unsubmitted, it leaves nothing.
class Incoming {
 public:
  // The header section is looked at within this many octets (the log's
  // message-id, submission's added Date and Message-ID).
  static constexpr std::size_t kHeaderScan = 64 * 1024;

  Incoming(Incoming&&) noexcept = default;
  Incoming& operator=(Incoming&&) noexcept = default;
  Incoming(const Incoming&) = delete;
  Incoming& operator=(const Incoming&) = delete;
  ~Incoming() = default;

  // append - the next octets of the message (CRLF lines, dot-unstuffed).
  // A spool that fails is remembered: submit() then fails, so a message
  // with a hole is never committed.
  void append(std::string_view octets);

  const std::string& queue_id() const { return queue_id_; }
  const Envelope& envelope() const { return *envelope_; }
  // replace_sender - a new envelope sender before submit (a spool's sender
  // exit answered "replace"); the trace header never names it.
  void replace_sender(std::string sender);
  // size - the octets appended so far.
  std::uint64_t size() const { return size_; }
  // eight_bit - an octet over 127 came (BODY=8BITMIME when sent on).
  bool eight_bit() const { return eight_bit_; }
  // spooled - the body went to the store's spool.
  bool spooled() const { return spool_ != nullptr; }
  // held - the octets of the message in memory, its trace header included.
  std::size_t held() const { return held_.size(); }

 private:
  friend class Intake;
  Incoming(const Intake& intake, std::unique_ptr<Envelope> envelope, std::string queue_id, std::string head);

  // settle - the header section is known (it ended, or kHeaderScan octets
  // came, or the message ended): the message-id is read and submission's
  // missing headers are added under the trace header.
  void settle();
  // spill - the body from memory to the spool, and every octet after it.
  void spill();

  const Intake* intake_;
  std::unique_ptr<Envelope> envelope_;  // a pointer: Envelope is intake.h's
  std::string queue_id_;
  std::string held_;            // in memory: the trace header, then the message
  std::string head_copy_;       // spilled with NOTIFY=SUCCESS: the header section, for the report
  std::size_t head_size_ = 0;   // the octets of held_ intake put on top
  std::size_t scanned_ = 0;     // client octets searched for the header section's end
  bool settled_ = false;
  std::string message_id_;
  std::string subject_;         // for the accounting record
  mime::AttachmentScan attachments_;  // the accounting record's attachments, as the octets pass
  mime::StructureParser structure_;   // the MIME structure IMAP reads (stored with the message)
  std::size_t inserted_at_ = 0;       // where submission's added headers went, and what they were
  std::string inserted_, inserted_date_;
  std::uint64_t size_ = 0;
  bool eight_bit_ = false;
  BodyShare share_;             // held_'s octets in the budget
  std::unique_ptr<store::BodySpool> spool_;
  Status error_;
};

}  // namespace herald::queue

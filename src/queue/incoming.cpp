#include "queue/incoming.h"

#include <fmt/format.h>

#include "base/ids.h"
#include "base/text.h"
#include "queue/intake.h"
#include "smtp/address.h"

namespace herald::queue {

bool BodyBudget::take(std::uint64_t n) {
  std::uint64_t held = held_.load(std::memory_order_relaxed);
  do {
    if (n > limit_ || held > limit_ - n) return false;
  } while (!held_.compare_exchange_weak(held, held + n, std::memory_order_relaxed));
  return true;
}

bool BodyShare::take(std::uint64_t n) {
  if (!budget_ || !budget_->take(n)) return false;
  octets_ += n;
  return true;
}

void BodyShare::force(std::uint64_t n) {
  if (!budget_) return;
  budget_->force(n);
  octets_ += n;
}

void BodyShare::release() {
  if (budget_ && octets_ > 0) budget_->give(octets_);
  octets_ = 0;
}

Incoming::Incoming(const Intake& intake, std::unique_ptr<Envelope> envelope, std::string queue_id, std::string head)
    : intake_(&intake),
      envelope_(std::move(envelope)),
      queue_id_(std::move(queue_id)),
      held_(std::move(head)),
      head_size_(held_.size()),
      share_(intake.budget_) {
  share_.force(held_.size());
  structure_.feed(held_);  // the trace header is the stored message's first line
}

void Incoming::append(std::string_view octets) {
  if (octets.empty()) return;
  size_ += octets.size();
  eight_bit_ = eight_bit_ || smtp::has_8bit(octets);
  attachments_.feed(octets);
  structure_.feed(octets);
  if (!error_) return;  // the spool failed: submit() says so
  if (spool_) {
    error_ = spool_->append(octets);
    return;
  }
  held_.append(octets);
  if (!settled_) {
    // The header section is held whatever the budget (at most kHeaderScan).
    share_.force(octets.size());
    std::string_view message = std::string_view(held_).substr(head_size_);
    if (message.starts_with("\r\n")) {
      settle();  // no header fields at all
    } else {
      std::size_t from = scanned_ >= 3 ? scanned_ - 3 : 0;  // "\r\n\r\n" may straddle two appends
      scanned_ = message.size();
      if (message.find("\r\n\r\n", from) != std::string_view::npos || message.size() >= kHeaderScan) settle();
    }
    if (!settled_) return;
  } else if (!share_.take(octets.size())) {
    spill();  // the budget of all bodies is spent
    return;
  }
  if (held_.size() > intake_->limits_.memory_max) spill();
}

namespace {

// trace_block_size - the octets of the trace fields (Return-Path, Received,
// with their folded lines) that start message.
std::size_t trace_block_size(std::string_view message) {
  std::size_t at = 0;
  bool in_trace = false;
  while (at < message.size()) {
    std::size_t end = message.find("\r\n", at);
    if (end == std::string_view::npos) break;  // a line not ended yet: not a whole field
    std::string_view line = message.substr(at, end - at);
    const bool folded = !line.empty() && (line[0] == ' ' || line[0] == '\t');
    if (folded ? !in_trace : !(istarts_with(line, "Received:") || istarts_with(line, "Return-Path:"))) break;
    in_trace = true;
    at = end + 2;
  }
  return at;
}

}  // namespace

void Incoming::replace_sender(std::string sender) { envelope_->sender = std::move(sender); }

void Incoming::settle() {
  settled_ = true;
  std::string_view message = std::string_view(held_).substr(head_size_);
  message_id_ = header_value(message, "Message-ID");
  if (message_id_.size() > 998) message_id_.resize(998);
  subject_ = header_value(message, "Subject");
  if (subject_.size() > 998) subject_.resize(998);
  if (!envelope_->submission) return;
  // RFC 6409 8.2, 8.3: a submission server adds what the client left out.
  std::string added;
  if (header_value(message, "Date").empty()) {
    inserted_date_ = rfc5322_date(std::chrono::system_clock::now());
    added += fmt::format("Date: {}\r\n", inserted_date_);
  }
  if (message_id_.empty()) {
    message_id_ = fmt::format("<{}@{}>", queue_id_, intake_->hostname_);
    added += fmt::format("Message-ID: {}\r\n", message_id_);
  }
  // Below the message's own trace fields, never between them: RFC 5322
  // 3.6.7 keeps trace blocks whole at the top (a relayed message comes
  // with Received lines of its own).
  inserted_at_ = head_size_ + trace_block_size(message);
  held_.insert(inserted_at_, added);
  inserted_ = added;
  head_size_ += added.size();
  share_.force(added.size());
}

void Incoming::spill() {
  auto spool = intake_->queue_.spool_body();
  if (!spool) {
    error_ = spool.error();
  } else {
    spool_ = std::move(*spool);
    error_ = spool_->append(held_);
  }
  // A sender who asked to hear of deliveries gets the header section back
  // (RFC 3461 NOTIFY=SUCCESS): kept, at most kHeaderScan octets.
  for (const auto& r : envelope_->recipients)
    if (r.notify.find("SUCCESS") != std::string::npos) {
      head_copy_ = held_.substr(0, kHeaderScan);
      break;
    }
  std::string().swap(held_);  // its memory too
  share_.release();
}

}  // namespace herald::queue

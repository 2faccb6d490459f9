// store/body_spool.h - a message body written to the store's files as it
// arrives, so that a large message is never held whole in memory
// (docs/ARCHITECTURE.md "Message bodies").
//
// Queue::spool_body creates one; the receiver appends the octets as they
// come, and hands it to Queue::commit_message in IncomingMessage::spool,
// which makes it durable (synced, named by its content) before the
// transaction that references it commits. Destroyed uncommitted (the
// client went away, the message was refused), its file goes with it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace herald::store {

class BodySpool {
 public:
  virtual ~BodySpool() = default;
  // append - the next octets. After a failure every append and the commit
  // fail with the first error: a body with a hole is never committed.
  virtual Status append(std::string_view octets) = 0;
  virtual std::uint64_t size() const = 0;
  // read - octets [offset, offset + length) of what was appended (fewer
  // past its end), appended to out: what the receiver reads back of a
  // spooled message (its text parts, for the full-text index).
  virtual Status read(std::uint64_t offset, std::uint64_t length, std::string& out) = 0;
};

}  // namespace herald::store

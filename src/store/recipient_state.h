// store/recipient_state.h - the one vocabulary for where a recipient of a
// queued message stands. The store keeps it, the journal records its
// changes, the log lines and the CLI print it: all through to_string here.
#pragma once

#include <optional>
#include <string_view>

namespace herald::store {

// RecipientState - a recipient is the unit of work of the queue.
enum class RecipientState {
  pending,    // waiting for its first attempt (remote) or due now
  deferred,   // an attempt failed temporarily; retried at next_attempt
  delivered,  // done: in a local mailbox, or accepted by the next hop
  bounced,    // failed permanently; a DSN goes to the sender
  held,       // kept aside by the operator; never attempted until released
  dead,       // a dead letter: failed for good with no one to report to (the
              // null sender: a report itself), kept for the operator
};

std::string_view to_string(RecipientState state);
std::optional<RecipientState> parse_recipient_state(std::string_view text);

}  // namespace herald::store

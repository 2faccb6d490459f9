// store/journal.h - the append-only record of every event: messages
// received, queued, delivered, deferred, bounced; logins; refusals.
//
// One of the store's interfaces (see store.h); a backend implements it.
// Appends are batched with the next group commit; a failed append is
// counted and logged, never silent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/recipient_state.h"

namespace herald::store {

enum class JournalEvent {
  received,            // a message was committed (sender, size, nrcpt)
  queued,              // a recipient waits for outbound delivery
  delivered,
  deferred,
  bounced,
  held,
  login,               // a successful POP3/IMAP/SMTP AUTH login
  login_failed,
  connection_refused,  // too many connections, pregreet, ...
  rejected,            // a command refused (detail: the command; reply: ours)
  released,            // a held recipient given back to the queue by the operator
  deleted,             // a recipient taken out of the queue by the operator
  dead_letter,         // a report that could not be delivered, kept (RecipientState::dead)
  resent,              // a dead letter given back to the queue by the operator
  expired,             // a recipient given up at the end of the queue lifetime (bounced)
  dsn_sent,            // a report went to the sender (detail: its kind and queue id)
  quarantined,         // a spool file that is not mail, moved aside (client: spool, file, uid; detail: why)
};

std::string_view to_string(JournalEvent event);
std::optional<JournalEvent> parse_journal_event(std::string_view text);
// event_for - the event that records a recipient reaching this state.
JournalEvent event_for(RecipientState state);

struct JournalEntry {
  std::int64_t time_ms = 0;  // unix milliseconds; 0 = now
  JournalEvent event = JournalEvent::received;
  std::string queue_id;
  std::string message_id;
  std::string sender;
  std::string recipient;
  std::string client;
  std::uint64_t size = 0;
  std::string reply;
  std::string detail;
  // The accounting record of a received row (who sent what, issue 13 5):
  // the door (smtp, submission, spool, sendmail, send, local), the
  // submitter (the authenticated user, the local user, the spool and
  // file), the envelope recipients, Subject, the attachments' number and
  // names. Empty on other rows.
  std::string door;
  std::string identity;
  std::string subject;
  std::string recipients;  // ", "-joined, as the client gave them
  std::uint32_t attachments = 0;
  std::vector<std::string> attachment_names;  // the first 32
  std::int64_t key = 0;  // read: the row's key, in time order; ignored by append
};

struct JournalQuery {
  std::int64_t since_ms = 0;
  std::string queue_id;
  std::string message_id;
  std::string address;  // sender or recipient
  std::optional<JournalEvent> event;  // only rows of this event
  // The accounting filters: received rows only, whose door is door, and
  // whose identity, Subject or an attachment's name holds the text (any
  // case). "" = no filter.
  std::string door, identity, subject, attachment;
  bool accounting() const { return !door.empty() || !identity.empty() || !subject.empty() || !attachment.empty(); }
  std::size_t limit = 1000;
  // nullopt: the newest `limit` rows. A key: the first `limit` rows after it
  // (0 = from the oldest), so a reader continues where it stopped.
  std::optional<std::int64_t> after;
};

class Journal {
 public:
  virtual ~Journal() = default;
  // append - written with the next group commit; a failure is logged and
  // counted (failed_appends), since nobody waits for it.
  virtual void append(JournalEntry entry) = 0;
  // query - the rows the query names, oldest first.
  virtual Result<std::vector<JournalEntry>> query(const JournalQuery& query) = 0;
  // newest_start - the key after which the newest `limit` rows matching the
  // query begin (0 when no more rows match), so that they can be read
  // forward, a page at a time (query with `after`). query.after is ignored.
  virtual Result<std::int64_t> newest_start(const JournalQuery& query) = 0;
  // prune - remove up to `limit` of the oldest rows older than before_ms;
  // how many went. Small batches, so that a large backlog never holds the
  // writer for long (journal.keep, pruned by the server).
  virtual Result<std::size_t> prune(std::int64_t before_ms, std::size_t limit) = 0;
  virtual std::uint64_t failed_appends() const = 0;
};

}  // namespace herald::store

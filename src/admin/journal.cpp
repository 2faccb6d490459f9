// admin/journal.cpp - herald journal: events oldest first, the newest N of
// them or those after a key, read forward a page at a time either way.
#include "admin/commands.h"
#include "admin/paging.h"
#include "admin/validate.h"

#include <algorithm>
#include <chrono>
#include <cstdint>

#include <fmt/format.h>

#include "base/duration.h"

namespace herald::admin {

Result<ListEnd> journal(store::Store& store, const JournalRequest& request, const Sink<store::JournalEntry>& row) {
  store::JournalQuery q;
  if (!request.since.empty()) {
    auto d = parse_duration(request.since);
    if (!d) return make_error(Errc::invalid, fmt::format("since {}: not a duration such as 30m or 2h", request.since));
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    q.since_ms = (now - *d).count();
  }
  std::int64_t until_ms = INT64_MAX;
  if (!request.until.empty()) {
    auto d = parse_duration(request.until);
    if (!d) return make_error(Errc::invalid, fmt::format("until {}: not a duration such as 30m or 2h", request.until));
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    until_ms = (now - *d).count();
  }
  q.message_id = request.message_id;
  q.queue_id = request.queue_id;
  q.address = request.address;
  if (!request.event.empty()) {
    q.event = store::parse_journal_event(request.event);
    if (!q.event) return make_error(Errc::invalid, fmt::format("event {}: no such event", request.event));
  }
  static constexpr std::string_view kDoors[] = {"smtp", "submission", "spool", "sendmail", "send", "local"};
  if (!request.door.empty() && std::find(std::begin(kDoors), std::end(kDoors), request.door) == std::end(kDoors))
    return make_error(Errc::invalid, fmt::format("door {}: one of smtp, submission, spool, sendmail, send, local",
                                                 request.door));
  q.door = request.door;
  q.identity = request.identity;
  q.subject = request.subject;
  q.attachment = request.attachment;
  auto after = parse_key(request.after);
  if (!after) return after.error();
  if (request.after.empty() && request.limit > 0) {
    // The newest N: found from the newest end (an index read of N entries,
    // nothing kept), then read forward like any other page.
    q.limit = request.limit;
    after = store.journal().newest_start(q);
    if (!after) return after.error();
  }
  auto read = [&](std::int64_t from, std::size_t n) {
    q.after = from;
    q.limit = n;
    return store.journal().query(q);
  };
  auto key = [](const store::JournalEntry& e) { return e.key; };
  if (until_ms == INT64_MAX) return stream<store::JournalEntry>(request.limit, *after, read, key, row);
  // Rows come in key order, nearly time order: the newer ones are skipped.
  Sink<store::JournalEntry> older = [&row, until_ms](const store::JournalEntry& e) {
    return e.time_ms >= until_ms || row(e);
  };
  return stream<store::JournalEntry>(request.limit, *after, read, key, older);
}

}  // namespace herald::admin

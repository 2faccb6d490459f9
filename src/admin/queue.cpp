// admin/queue.cpp - herald queue list | show.
#include "admin/commands.h"
#include "admin/paging.h"
#include "admin/validate.h"

#include <fmt/format.h>

namespace herald::admin {

Result<ListEnd> queue_list(store::Store& store, const QueueListRequest& request, const Sink<store::QueueRow>& row) {
  auto after = parse_key(request.after);
  if (!after) return after.error();
  store::QueueQuery q;
  if (!request.sender.empty()) q.sender = request.sender == "<>" ? "" : request.sender;
  if (!request.recipient.empty()) q.recipient = request.recipient;
  auto read = [&](std::int64_t from, std::size_t n) {
    q.after = from;
    q.limit = n;
    return store.queue().list(q);
  };
  auto key = [](const store::QueueRow& r) { return r.row; };
  return stream<store::QueueRow>(request.limit, *after, read, key, row);
}

Result<std::vector<store::QueueRow>> queue_show(store::Store& store, const std::string& queue_id) {
  auto rows = store.queue().show(queue_id);
  if (rows && rows->empty()) return make_error(Errc::not_found, fmt::format("{}: not in the queue", queue_id));
  return rows;
}

}  // namespace herald::admin

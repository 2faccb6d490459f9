// admin/queue.cpp - herald queue list | show | hold | release | retry | flush | delete.
#include "admin/commands.h"
#include "admin/paging.h"
#include "admin/validate.h"

#include <fmt/format.h>

#include <future>

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

Result<std::size_t> queue_change(store::Store& store, store::QueueAction action, const QueueChange& request) {
  store::QueueSelection selection;
  selection.queue_ids = request.queue_ids;
  if (!request.sender.empty()) selection.sender = request.sender == "<>" ? "" : request.sender;
  if (!request.domain.empty()) selection.domain = request.domain;
  selection.all = request.all;
  if (selection.empty())
    return make_error(Errc::invalid, "name the queue ids, or select with --sender, --domain or --all");
  std::promise<Result<std::size_t>> changed;
  store.queue().change(action, std::move(selection), [&changed](Result<std::size_t> n) { changed.set_value(std::move(n)); });
  return changed.get_future().get();
}

}  // namespace herald::admin

// admin/queue.cpp - herald queue list | show | hold | release | retry | flush | delete.
#include "admin/commands.h"
#include "admin/paging.h"
#include "admin/validate.h"
#include "base/duration.h"
#include "base/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <future>

namespace herald::admin {

namespace {

// selectors - --state and --older-than as the store's filters.
Status selectors(const std::string& state_name, const std::string& older_than,
                 std::optional<store::RecipientState>& state, std::optional<std::int64_t>& queued_before) {
  if (!state_name.empty()) {
    auto s = store::parse_recipient_state(state_name);
    if (!s || *s == store::RecipientState::delivered || *s == store::RecipientState::bounced)
      return make_error(Errc::invalid,
                        fmt::format("--state {}: one of pending, deferred, held, dead", printable(state_name, 40)));
    state = *s;
  }
  if (!older_than.empty()) {
    auto d = parse_duration(older_than);
    if (!d) return make_error(Errc::invalid, fmt::format("--older-than {}: not a duration such as 30m or 2d", older_than));
    queued_before = std::chrono::duration_cast<std::chrono::seconds>(
                        (std::chrono::system_clock::now() - *d).time_since_epoch()).count();
  }
  return {};
}

}  // namespace

Result<ListEnd> queue_list(store::Store& store, const QueueListRequest& request, const Sink<store::QueueRow>& row) {
  auto after = parse_key(request.after);
  if (!after) return after.error();
  store::QueueQuery q;
  if (!request.sender.empty()) q.sender = request.sender == "<>" ? "" : request.sender;
  if (!request.recipient.empty()) q.recipient = request.recipient;
  q.state = request.state;
  if (auto st = selectors(request.state_name, request.older_than, q.state, q.queued_before); !st) return st.error();
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
  selection.state = request.state;
  if (auto st = selectors(request.state_name, request.older_than, selection.state, selection.queued_before); !st)
    return st.error();
  if (selection.empty())
    return make_error(Errc::invalid,
                      "name the queue ids, or select with --sender, --domain, --state, --older-than or --all");
  std::promise<Result<std::size_t>> changed;
  store.queue().change(action, std::move(selection), [&changed](Result<std::size_t> n) { changed.set_value(std::move(n)); });
  return changed.get_future().get();
}

Result<DeadLetter> deadletter_show(store::Store& store, const std::string& queue_id) {
  auto rows = store.queue().show(queue_id);
  if (!rows) return rows.error();
  DeadLetter out;
  for (auto& r : *rows)
    if (r.state == store::RecipientState::dead) out.rows.push_back(std::move(r));
  if (out.rows.empty()) return make_error(Errc::not_found, fmt::format("{}: no such dead letter", queue_id));
  // A report is small (delivery.bounce_size_limit): read whole.
  auto body = store.queue().read_body(out.rows.front().message, {0, out.rows.front().size});
  if (!body) return body.error();
  out.message = std::move(*body);
  return out;
}

Result<std::size_t> deadletter_change(store::Store& store, store::QueueAction action, QueueChange request,
                                      const std::filesystem::path& dir) {
  // The state below is the command's, not a selection: one is still needed.
  if (request.queue_ids.empty() && !request.all)
    return make_error(Errc::invalid, "name the dead letters' queue ids, or --all");
  request.state = store::RecipientState::dead;
  auto changed = queue_change(store, action, request);
  if (!changed || action != store::QueueAction::remove) return changed;
  // The files are copies of what the store kept: those whose queue id has
  // no dead letter left go with it.
  std::error_code ec;
  std::vector<std::filesystem::path> gone;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(".eml")) continue;
    const std::string id = name.substr(0, std::min(name.find('-'), name.find('.')));
    auto rows = store.queue().show(id);
    if (!rows) continue;
    if (std::none_of(rows->begin(), rows->end(),
                     [](const store::QueueRow& r) { return r.state == store::RecipientState::dead; }))
      gone.push_back(entry.path());
  }
  for (const auto& path : gone) std::filesystem::remove(path, ec);
  return changed;
}

}  // namespace herald::admin

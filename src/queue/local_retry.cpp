#include "queue/local_retry.h"

#include <future>

namespace herald::queue {

Result<LocalRetry::Pass> LocalRetry::run(std::int64_t now_s) {
  auto due = queue_.due_local(now_s, batch_);
  if (!due) return due.error();
  Pass pass;
  if (due->empty()) return pass;
  std::vector<store::Retry> retries;
  for (const auto& d : *due) {
    store::Delivery delivery{d.recipient, d.original, true, "", "", d.notify, d.orcpt};
    local_.address(delivery, d.sender);
    retries.push_back({d.row, std::move(delivery)});
  }
  std::promise<Result<std::vector<store::DeliveryOutcome>>> done;
  auto outcome = done.get_future();
  queue_.retry_local(std::move(retries), local_,
                     [&done](Result<std::vector<store::DeliveryOutcome>> r) { done.set_value(std::move(r)); });
  auto outcomes = outcome.get();
  if (!outcomes) return outcomes.error();
  for (std::size_t i = 0; i < due->size(); ++i) {
    const auto& d = (*due)[i];
    const auto& o = (*outcomes)[i];
    if (o.reply.empty()) continue;  // done meanwhile by someone else
    log_local(d.queue_id, d.recipient, d.original, static_cast<double>(now_s - d.created), o);
    if (o.state == store::RecipientState::delivered && !d.sender.empty() &&
        d.notify.find("SUCCESS") != std::string::npos)
      pass.notify_delivered.push_back(d);
    if (o.state == store::RecipientState::delivered) ++pass.delivered;
    else if (o.state == store::RecipientState::deferred) ++pass.deferred;
    else ++pass.bounced;
    if (o.state == store::RecipientState::deferred && lifetime_s_ > 0 && now_s - d.created >= lifetime_s_)
      pass.expired.push_back({d, o.reply});
  }
  return pass;
}

}  // namespace herald::queue

// queue/local_delivery.h - the policy of delivering into local mailboxes:
// which mailbox, the trace lines of each copy, the quota decision, the
// replies and when a deferred copy is tried again. The store applies it
// inside the commit (store::LocalDeliveryRules) and keeps no policy itself.
#pragma once

#include <chrono>
#include <string>

#include "store/queue.h"

namespace spdlog {
class logger;
}

namespace herald::queue {

class LocalDelivery final : public store::LocalDeliveryRules {
 public:
  explicit LocalDelivery(std::chrono::seconds retry_after = std::chrono::minutes(5)) : retry_after_(retry_after) {}

  // address - make d a copy for its recipient's INBOX from sender.
  void address(store::Delivery& d, const std::string& sender) const;

  store::LocalVerdict decide(const std::optional<store::MailboxUsage>& usage, std::uint64_t size) const override;

  std::chrono::seconds retry_after() const { return retry_after_; }

 private:
  std::chrono::seconds retry_after_;
};

// reply_status - the enhanced status code of a reply ("452 4.2.2 Mailbox
// full" -> "4.2.2", RFC 3463); "" when it has none.
std::string_view reply_status(std::string_view reply);

// log_delivery - the Postfix line of one delivery attempt, which pflogsumm
// counts, on the logger of the agent ("local", "smtp": log::get, looked up
// once by the caller):
// "QUEUEID: to=<r>, relay=local, delay=0.12, dsn=2.0.0, status=sent (250
// 2.0.0 ...)". relay is "local" or "host[ip]:port"; dsn is the reply's
// enhanced status code when "" is given.
void log_delivery(spdlog::logger& agent, const std::string& queue_id, const std::string& recipient,
                  const std::string& original, const std::string& relay, double delay, std::string_view dsn,
                  const store::DeliveryOutcome& outcome);
// log_local - log_delivery of a local delivery attempt.
void log_local(const std::string& queue_id, const std::string& recipient, const std::string& original, double delay,
               const store::DeliveryOutcome& outcome);

}  // namespace herald::queue

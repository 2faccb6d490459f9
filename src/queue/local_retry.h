// queue/local_retry.h - another attempt at local recipients deferred for a
// full mailbox, once their retry time has come, so none stays deferred
// for good with nothing retrying it. One still deferred past the queue
// lifetime is handed back as expired: the outbound agent bounces it and
// reports it like any other (Outbound::expire_local).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "queue/local_delivery.h"
#include "store/queue.h"

namespace herald::queue {

class LocalRetry {
 public:
  // REQUIRES: queue and local outlive this and every pass.
  // lifetime: delivery.max_queue_lifetime; 0 = never expires.
  LocalRetry(store::Queue& queue, const LocalDelivery& local, std::int64_t lifetime_s = 0, std::size_t batch = 500)
      : queue_(queue), local_(local), lifetime_s_(lifetime_s), batch_(batch) {}

  // Expired - a recipient still deferred after its last attempt, past the
  // lifetime, and that attempt's reply.
  struct Expired {
    store::DueDelivery due;
    std::string reply;
  };
  struct Pass {
    std::size_t delivered = 0, deferred = 0, bounced = 0;
    std::vector<Expired> expired;  // among the deferred
    // Among the delivered, those whose sender asked to hear of it (RFC
    // 3461 NOTIFY=SUCCESS): the agent reports them.
    std::vector<store::DueDelivery> notify_delivered;
  };
  // run - one pass over what is due at now_s (at most `batch` recipients,
  // one transaction). Blocking: run it off the I/O threads.
  Result<Pass> run(std::int64_t now_s);

 private:
  store::Queue& queue_;
  const LocalDelivery& local_;
  std::int64_t lifetime_s_;
  std::size_t batch_;
};

}  // namespace herald::queue

// queue/local_retry.h - another attempt at local recipients deferred for a
// full mailbox, once their retry time has come, so none stays deferred
// for good with nothing retrying it. The outbound scheduler will take this
// over with the rest of the queue (its lifetime, bounces).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/result.h"
#include "queue/local_delivery.h"
#include "store/queue.h"

namespace herald::queue {

class LocalRetry {
 public:
  // REQUIRES: queue and local outlive this and every pass.
  LocalRetry(store::Queue& queue, const LocalDelivery& local, std::size_t batch = 500)
      : queue_(queue), local_(local), batch_(batch) {}

  struct Pass {
    std::size_t delivered = 0, deferred = 0, bounced = 0;
  };
  // run - one pass over what is due at now_s (at most `batch` recipients,
  // one transaction). Blocking: run it off the I/O threads.
  Result<Pass> run(std::int64_t now_s);

 private:
  store::Queue& queue_;
  const LocalDelivery& local_;
  std::size_t batch_;
};

}  // namespace herald::queue

#include "store/group_commit.h"

#include <algorithm>

namespace herald::store {

GroupCommit::GroupCommit(TransactionControl& control, std::chrono::milliseconds commit_wait)
    : control_(control), commit_wait_(commit_wait) {}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

void GroupCommit::start() {
  writer_ = std::thread([this] { writer_loop(); });
}

// Producers wake the writer only when it waits for what they bring (a
// futex wake and two context switches each): the first request when it is
// idle, a full batch, or the last of the arrivals a commit is held for.
// Everything else is picked up when the writer next takes its batch.
void GroupCommit::submit(WriteJob job) {
  bool wake;
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(job));
    wake = queue_.size() >= wake_at_queued_;
  }
  if (wake) cv_.notify_one();
}

void GroupCommit::note_arrivals(int delta) {
  bool wake = false;
  {
    std::lock_guard lk(mu_);
    arriving_ += delta;
    if (delta < 0) {
      arrivals_ended_ += static_cast<std::uint64_t>(-delta);
      wake = arrivals_ended_ >= wake_at_ended_;
    }
  }
  if (wake) cv_.notify_one();
}

void GroupCommit::writer_loop() {
  std::vector<WriteJob> batch;
  bool committed_before = false;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      // Requests that came while the last batch committed: the server is
      // busy, and a commit held back a little syncs for many messages.
      bool busy = committed_before && !queue_.empty();
      wake_at_queued_ = 1;
      cv_.wait(lk, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      if (busy && arriving_ > 0 && commit_wait_.count() > 0 && queue_.size() < kMaxBatch) {
        // Wait for the messages being received now, not for later ones:
        // the wait stays as short as their transfer. An arrival ends when
        // its request is queued, or when it is abandoned.
        auto awaited = std::min(static_cast<std::size_t>(arriving_), kMaxBatch - queue_.size());
        wake_at_ended_ = arrivals_ended_ + awaited;
        wake_at_queued_ = kMaxBatch;
        cv_.wait_for(lk, commit_wait_, [&] {
          return stopping_ || arrivals_ended_ >= wake_at_ended_ || queue_.size() >= kMaxBatch;
        });
        wake_at_ended_ = kNever;
      }
      wake_at_queued_ = kNever;  // busy: what comes now waits for the next batch
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_batch(batch);
    batch.clear();
    committed_before = true;
  }
}

// run_batch - the whole batch in one transaction, one sync. Jobs run back
// to back without a SAVEPOINT each (a savepoint copies every page it
// touches into SQLite's statement journal, a cost bench/RESULTS.md
// records). When a job throws, the transaction is rolled back, that job
// alone is failed, and the batch runs again without it; so an apply() may
// run more than once and must produce its outputs afresh.
void GroupCommit::run_batch(std::vector<WriteJob>& batch) {
  std::vector<Status> results(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].prepare) continue;
    try {
      batch[i].prepare();
    } catch (const std::exception& e) {
      results[i] = control_.error_of(e);
    }
  }
  auto fail_all = [&](const std::exception& e) {
    Error err = control_.error_of(e);
    for (auto& r : results)
      if (r) r = err;
  };
  for (bool committed = false; !committed;) {
    try {
      control_.begin();
    } catch (const std::exception& e) {
      control_.rollback();  // in case the transaction began after all
      fail_all(e);
      break;
    }
    bool job_failed = false;
    for (std::size_t i = 0; i < batch.size() && !job_failed; ++i) {
      if (!results[i]) continue;
      try {
        batch[i].apply();
      } catch (const std::exception& e) {
        results[i] = control_.error_of(e);
        job_failed = true;
      }
    }
    if (job_failed) {
      control_.rollback();
      continue;  // the failed job is skipped from now on: at most batch.size() rounds
    }
    try {
      control_.commit();
      committed = true;
    } catch (const std::exception& e) {
      control_.rollback();
      fail_all(e);
      break;
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i)
    if (batch[i].done) batch[i].done(results[i]);
}

}  // namespace herald::store

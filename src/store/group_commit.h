// store/group_commit.h - the store's writer: one thread that batches the
// write requests waiting for it into one transaction and one sync.
//
// Backend-neutral: the backend says how a transaction begins, commits and
// rolls back (TransactionControl); each request brings what it does inside
// it. With synchronous commits, a batch of N requests costs one sync
// instead of N. docs/ARCHITECTURE.md "Group commit".
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include "base/result.h"

namespace herald::store {

// WriteJob - one write request.
struct WriteJob {
  std::function<void()> prepare;     // outside the transaction (blob files); may throw
  std::function<void()> apply;       // inside the batch's transaction; may throw; may run twice
  std::function<void(Status)> done;  // after COMMIT (or the failure), on the writer thread
};

// TransactionControl - the backend's side of a batch. Called on the writer
// thread only, which alone uses the backend's write connection.
class TransactionControl {
 public:
  virtual ~TransactionControl() = default;
  virtual void begin() = 0;   // may throw
  virtual void commit() = 0;  // may throw; durable when it returns
  virtual void rollback() noexcept = 0;
  virtual Error error_of(const std::exception& e) const = 0;
};

class GroupCommit {
 public:
  static constexpr std::size_t kMaxBatch = 512;  // requests per transaction, so one stays short

  GroupCommit(TransactionControl& control, std::chrono::milliseconds commit_wait);
  ~GroupCommit();  // runs what was submitted, then stops the thread
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  void start();
  void submit(WriteJob job);
  // note_arrivals - see Queue::note_arrivals.
  void note_arrivals(int delta);

 private:
  void writer_loop();
  void run_batch(std::vector<WriteJob>& batch);

  TransactionControl& control_;
  const std::chrono::milliseconds commit_wait_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WriteJob> queue_;
  std::int64_t arriving_ = 0;  // messages being received (note_arrivals)
  // When producers notify the writer (see submit): at this many queued
  // requests, or at this many ended arrivals (a counter that only grows).
  static constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t wake_at_queued_ = 1;
  std::uint64_t arrivals_ended_ = 0;
  std::uint64_t wake_at_ended_ = kNever;
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace herald::store

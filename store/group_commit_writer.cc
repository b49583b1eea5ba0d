#include "store/group_commit_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>

#include "common/log.h"
#include "common/metrics.h"

namespace signerd::store {
namespace {

using Clock = std::chrono::steady_clock;

spdlog::logger& store_log() { return signerd::log(LogComponent::kStore); }

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

GroupCommitWriter::GroupCommitWriter(Connection connection, unsigned max_batch)
    : connection_(std::move(connection)), max_batch_(std::max(1u, max_batch)), thread_([this] { run_thread(); }) {}

GroupCommitWriter::~GroupCommitWriter() { stop(); }

void GroupCommitWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_one();
  if (thread_.joinable()) thread_.join();
}

StoreStats GroupCommitWriter::stats() const {
  return StoreStats{.commits = commits_.load(std::memory_order_relaxed),
                    .writes = writes_.load(std::memory_order_relaxed)};
}

std::vector<Result<void>> GroupCommitWriter::write_together(
    std::vector<std::function<Result<void>(Connection&)>> writes) {
  std::vector<std::optional<Result<void>>> results(writes.size());
  std::vector<Pending> pending(writes.size());
  std::vector<Pending*> queued;
  for (std::size_t i = 0; i < writes.size(); ++i) {
    pending[i].run = [&, i](Connection& connection) -> const Error* {
      results[i].emplace(writes[i](connection));
      return results[i]->has_value() ? nullptr : &results[i]->error();
    };
    pending[i].fail = [&, i](Error error) { results[i].emplace(std::unexpected(std::move(error))); };
    queued.push_back(&pending[i]);
  }
  submit(queued);
  std::vector<Result<void>> out;
  for (auto& result : results) out.push_back(std::move(*result));
  return out;
}

Result<void> GroupCommitWriter::probe() {
  std::optional<Result<void>> result;
  Pending pending;
  pending.counted = false;
  pending.run = [&](Connection&) -> const Error* {
    result.emplace();
    return nullptr;
  };
  pending.fail = [&](Error error) { result.emplace(std::unexpected(std::move(error))); };
  Pending* const queued[] = {&pending};
  submit(queued);
  return std::move(*result);
}

void GroupCommitWriter::submit(std::span<Pending* const> writes) {
  std::unique_lock lock(mutex_);
  if (stopping_) {
    for (Pending* pending : writes) pending->fail(Error{ErrorCode::kUnavailable, "store: the store is closing", {}});
    return;
  }
  queue_.insert(queue_.end(), writes.begin(), writes.end());
  queued_.notify_one();
  for (Pending* pending : writes) pending->completed.wait(lock, [pending] { return pending->done; });
}

void GroupCommitWriter::submit_async(std::unique_ptr<Pending> write) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(write.release());
      queued_.notify_one();
      return;
    }
  }
  write->fail(Error{ErrorCode::kUnavailable, "store: the store is closing", {}});
  write->notify();
}

void GroupCommitWriter::run_thread() {
  std::vector<Pending*> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has been committed
      const auto n = static_cast<std::ptrdiff_t>(std::min(queue_.size(), max_batch_));
      batch.assign(queue_.begin(), queue_.begin() + n);
      queue_.erase(queue_.begin(), queue_.begin() + n);
    }
    commit_batch(batch);
    std::vector<std::unique_ptr<Pending>> finished_async;
    {
      // Notified under the lock: a caller can only see `done` and leave (destroying its Pending) after we unlock.
      std::lock_guard lock(mutex_);
      for (Pending* pending : batch) {
        if (pending->notify) {
          finished_async.emplace_back(pending);
        } else {
          pending->done = true;
          pending->completed.notify_one();
        }
      }
    }
    for (auto& pending : finished_async) pending->notify();
  }
}

void GroupCommitWriter::commit_batch(std::span<Pending* const> batch) {
  auto fail_all = [batch](const std::string& why) {
    for (Pending* pending : batch) pending->fail(Error{ErrorCode::kUnavailable, why, {}});
  };
  const auto started = Clock::now();
  auto transaction = Transaction::begin_immediate(connection_);
  const auto locked = Clock::now();
  if (!transaction) {
    store_log().error("store batch failed stage=begin writes_failed={} lock_wait_ms={:.0f} error=\"{}\"", batch.size(),
                      ms_between(started, locked), transaction.error().message);
    return fail_all(transaction.error().message);
  }
  if (locked - started >= kLockWaitWarning) {
    store_log().warn("store write lock was busy waited_ms={:.0f} writes={}", ms_between(started, locked), batch.size());
  }

  std::uint64_t succeeded = 0;
  for (Pending* pending : batch) {
    bool ok = false;
    std::string failure;  // why this write failed, for the log
    if (auto savepoint = Savepoint::begin(connection_); !savepoint) {
      failure = savepoint.error().message;
      pending->fail(std::move(savepoint.error()));
    } else {
      try {
        const Error* error = pending->run(connection_);
        ok = error == nullptr;
        if (!ok) failure = error->message;
      } catch (const std::exception& e) {
        failure = std::string("store: a write threw: ") + e.what();
        pending->fail(Error{ErrorCode::kInternal, failure, {}});
      }
      if (ok) {
        if (auto released = savepoint->release(); !released) {
          failure = released.error().message;
          pending->fail(std::move(released.error()));
          ok = false;
        }
      }
    }  // a savepoint not released rolls this write back here
    // SQLite rolls the whole transaction back by itself on some errors (disk full, I/O): the writes before this one
    // are gone too, so none of the batch may report success.
    if (!connection_.in_transaction()) {
      store_log().error("store batch rolled back by SQLite writes_failed={} error=\"{}\"", batch.size(),
                        failure.empty() ? "a write ended the transaction" : failure);
      return fail_all("store: the batch's transaction was rolled back by SQLite; nothing of it was written");
    }
    if (!ok) store_log().debug("store write undone, the rest of its batch goes on error=\"{}\"", failure);
    if (ok && pending->counted) ++succeeded;
  }
  // Every write failed and was undone, or the batch held only probes: the transaction rolls back empty.
  if (succeeded == 0) return;

  if (auto committed = transaction->commit(); !committed) {
    store_log().error("store commit failed writes_failed={} error=\"{}\"", batch.size(), committed.error().message);
    return fail_all(committed.error().message + "; nothing of the batch was written");
  }
  commits_.fetch_add(1, std::memory_order_relaxed);
  writes_.fetch_add(succeeded, std::memory_order_relaxed);
  const auto finished = Clock::now();
  const std::chrono::duration<double> took = finished - started;
  metrics::registry().observe("signerd_store_commit_duration_seconds", {}, took.count());
  metrics::registry().observe("signerd_store_commit_batch_size", {}, static_cast<double>(succeeded));
  if (finished - started >= kSlowCommit) {
    store_log().warn("store slow commit ms={:.0f} writes={} batch={} lock_wait_ms={:.0f}",
                     ms_between(started, finished), succeeded, batch.size(), ms_between(started, locked));
  } else {
    store_log().trace("store batch committed ms={:.1f} writes={} batch={}", ms_between(started, finished), succeeded,
                      batch.size());
  }
}

}  // namespace signerd::store

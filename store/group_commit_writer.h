#pragma once
// GroupCommitWriter owns the store's only read-write connection and the one thread that uses it. Callers queue a
// write (a function of the connection) and block until the batch holding it has committed. The thread takes
// everything queued (up to max_batch), runs it in one BEGIN IMMEDIATE ... COMMIT, each write inside its own
// SAVEPOINT, so the batch costs one fsync and a failing write is undone without touching its neighbours.
//
// Thread-safety: write() and write_together() are safe from any number of threads; the writes themselves run on
// the writer thread, one at a time. Errors: a write's own result, or kUnavailable for every write of a batch that
// could not commit (nothing of that batch is kept), or after stop().
//
// Logs (the store component, common/log.h): a batch that could not begin or commit, or that SQLite rolled back, at
// error with SQLite's message and the number of writes lost; a wait of kLockWaitWarning or more for the write lock
// and a batch slower than kSlowCommit at warn; a single write undone at debug; every commit at trace.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/error.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace signerd::store {

class GroupCommitWriter {
 public:
  // BEGIN IMMEDIATE takes microseconds unless another connection (another process) holds the write lock.
  static constexpr std::chrono::milliseconds kLockWaitWarning{20};
  // From BEGIN to the end of COMMIT (its fsync included).
  static constexpr std::chrono::milliseconds kSlowCommit{100};

  GroupCommitWriter(Connection connection, unsigned max_batch);
  ~GroupCommitWriter();  // stop()

  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Runs `fn(connection)` on the writer thread and returns its Result once the batch holding it has committed.
  // `fn` must only touch the connection through statements it leases and releases before returning, must not
  // begin, commit or roll back transactions itself, and must not call write() (that would wait on itself).
  template <class Fn>
  auto write(Fn&& fn) -> std::invoke_result_t<Fn&, Connection&>;

  // Like write(), without blocking: `done(result)` runs on the writer thread once the batch holding the write has
  // committed (or failed). `done` must be quick and must not call write() or write_async()'s blocking relatives.
  template <class Fn, class Done>
  void write_async(Fn fn, Done done);

  // Queues all `writes` at once, so they share a batch when max_batch allows; results in the same order.
  std::vector<Result<void>> write_together(std::vector<std::function<Result<void>(Connection&)>> writes);

  // Succeeds when the writer's next batch could take the database's write lock (BEGIN IMMEDIATE). Writes nothing,
  // and is not counted in stats() nor in the commit metrics, so readiness probes do not skew them.
  Result<void> probe();

  // Commits everything already queued, then stops the thread. Later writes fail with kUnavailable. Idempotent;
  // not to be called concurrently with itself.
  void stop();

  StoreStats stats() const;

 private:
  // One queued write. A blocking write's Pending lives on the caller's stack and the writer thread stops touching it
  // once `done` is set; an asynchronous one (`notify` set) is owned by the queue and deleted after `notify` ran.
  struct Pending {
    // Runs the write and stores its result; returns the stored error when it failed (valid until `fail` or the
    // result is handed back), nullptr when it succeeded.
    std::function<const Error*(Connection&)> run;
    std::function<void(Error)> fail;       // replaces the stored result with an error
    std::function<void()> notify;          // asynchronous writes: reports the stored result
    bool counted = true;                   // false for probe(): not a write in stats() or the metrics
    std::condition_variable completed;
    bool done = false;  // guarded by mutex_
  };

  void submit(std::span<Pending* const> writes);  // returns when every write is done
  void submit_async(std::unique_ptr<Pending> write);
  void run_thread();
  void commit_batch(std::span<Pending* const> batch);

  Connection connection_;  // used by thread_ only
  const std::size_t max_batch_;

  mutable std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<Pending*> queue_;  // guarded by mutex_
  bool stopping_ = false;       // guarded by mutex_

  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> writes_{0};

  std::thread thread_;  // last: started once everything above is constructed
};

template <class Fn>
auto GroupCommitWriter::write(Fn&& fn) -> std::invoke_result_t<Fn&, Connection&> {
  using R = std::invoke_result_t<Fn&, Connection&>;
  std::optional<R> result;
  Pending pending;
  pending.run = [&](Connection& connection) -> const Error* {
    result.emplace(fn(connection));
    return result->has_value() ? nullptr : &result->error();
  };
  pending.fail = [&](Error error) { result.emplace(std::unexpected(std::move(error))); };
  Pending* const queued[] = {&pending};
  submit(queued);
  return std::move(*result);
}

template <class Fn, class Done>
void GroupCommitWriter::write_async(Fn fn, Done done) {
  using R = std::invoke_result_t<Fn&, Connection&>;
  auto result = std::make_shared<std::optional<R>>();
  auto pending = std::make_unique<Pending>();
  pending->run = [result, fn = std::move(fn)](Connection& connection) mutable -> const Error* {
    result->emplace(fn(connection));
    return (*result)->has_value() ? nullptr : &(*result)->error();
  };
  pending->fail = [result](Error error) { result->emplace(std::unexpected(std::move(error))); };
  pending->notify = [result, done = std::move(done)]() mutable { done(std::move(**result)); };
  submit_async(std::move(pending));
}

}  // namespace signerd::store

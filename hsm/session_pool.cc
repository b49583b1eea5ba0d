#include "hsm/session_pool.h"

#include <cassert>
#include <utility>

namespace signerd::hsm {

SessionPool::Acquired SessionPool::acquire(std::chrono::steady_clock::time_point deadline,
                                           const std::atomic<bool>& stop, CK_SESSION_HANDLE& session) {
  std::unique_lock lock(mutex_);
  const bool woken = free_cv_.wait_until(lock, deadline, [&] { return stop.load() || !free_.empty(); });
  if (stop.load()) return Acquired::kStopped;
  if (!woken) return Acquired::kTimedOut;
  session = free_.back();
  free_.pop_back();
  ++in_use_;
  return Acquired::kSession;
}

void SessionPool::release(CK_SESSION_HANDLE session) {
  {
    std::lock_guard lock(mutex_);
    assert(in_use_ > 0);
    --in_use_;
    free_.push_back(session);
  }
  free_cv_.notify_one();
}

void SessionPool::drop_leased() {
  std::lock_guard lock(mutex_);
  assert(in_use_ > 0);
  --in_use_;
}

void SessionPool::add(CK_SESSION_HANDLE session) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(session);
  }
  free_cv_.notify_one();
}

std::vector<CK_SESSION_HANDLE> SessionPool::take_free() {
  std::lock_guard lock(mutex_);
  return std::exchange(free_, {});
}

void SessionPool::wake_all() {
  // Taking the mutex orders this after any waiter's predicate check, so a waiter cannot miss the wake-up.
  { std::lock_guard lock(mutex_); }
  free_cv_.notify_all();
}

unsigned SessionPool::total() const {
  std::lock_guard lock(mutex_);
  return static_cast<unsigned>(free_.size()) + in_use_;
}

unsigned SessionPool::in_use() const {
  std::lock_guard lock(mutex_);
  return in_use_;
}

}  // namespace signerd::hsm

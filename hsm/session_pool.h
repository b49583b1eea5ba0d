#pragma once
// The operation sessions of an Hsm: the free ones and how many are leased. Internal to hsm/.
#include <p11-kit/pkcs11.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace signerd::hsm {

// Bookkeeping only: Hsm opens and closes the sessions. Thread-safe.
class SessionPool {
 public:
  enum class Acquired { kSession, kTimedOut, kStopped };

  // Waits until a session is free (kSession, stored in `session`), `stop` is true (kStopped; callers set it and
  // then call wake_all()), or `deadline` passes.
  Acquired acquire(std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& stop,
                   CK_SESSION_HANDLE& session);

  void release(CK_SESSION_HANDLE session);     // a leased session goes back to the free list
  void drop_leased();                          // a leased session was closed instead
  void add(CK_SESSION_HANDLE session);         // a newly opened session joins the free list
  std::vector<CK_SESSION_HANDLE> take_free();  // removes the free sessions (for closing them)
  void wake_all();

  unsigned total() const;
  unsigned in_use() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable free_cv_;
  std::vector<CK_SESSION_HANDLE> free_;  // guarded by mutex_
  unsigned in_use_ = 0;                  // guarded by mutex_
};

}  // namespace signerd::hsm

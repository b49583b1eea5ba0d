#pragma once
// A fixed set of read-only connections, leased one caller at a time.
//
// Thread-safety: acquire() is safe from any thread; it blocks while every connection is leased. A Lease gives its
// holder sole use of the connection until the Lease is destroyed, which must happen before the pool's.
#include <condition_variable>
#include <mutex>
#include <vector>

#include "store/sqlite.h"

namespace signerd::store {

class ReadPool {
 public:
  explicit ReadPool(std::vector<Connection> connections);  // at least one
  ReadPool(const ReadPool&) = delete;
  ReadPool& operator=(const ReadPool&) = delete;

  class Lease {
   public:
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_; }

   private:
    friend class ReadPool;
    Lease(ReadPool* pool, Connection* connection) : pool_(pool), connection_(connection) {}
    ReadPool* pool_;
    Connection* connection_;
  };

  Lease acquire();

 private:
  void give_back(Connection* connection);

  std::vector<Connection> connections_;  // never resized after construction
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<Connection*> free_;  // guarded by mutex_
};

}  // namespace signerd::store

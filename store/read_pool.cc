#include "store/read_pool.h"

#include <cassert>

namespace signerd::store {

ReadPool::ReadPool(std::vector<Connection> connections) : connections_(std::move(connections)) {
  assert(!connections_.empty());
  for (auto& connection : connections_) free_.push_back(&connection);
}

ReadPool::Lease ReadPool::acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [this] { return !free_.empty(); });
  Connection* connection = free_.back();
  free_.pop_back();
  return Lease(this, connection);
}

void ReadPool::give_back(Connection* connection) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(connection);
  }
  available_.notify_one();
}

ReadPool::Lease::~Lease() { pool_->give_back(connection_); }

}  // namespace signerd::store

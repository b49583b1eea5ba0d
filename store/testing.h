#pragma once
// Test-only access to a Store's internals, for tests/unit/store_test.cc. Production code does not use it.
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace signerd::store {

struct StoreTestPeer {
  // `PRAGMA <name>` as the writer connection sees it (run as a write on the writer thread) and as a read connection
  // sees it: per-connection settings such as synchronous cannot be observed from a fresh connection.
  static Result<std::string> writer_pragma(Store& store, const std::string& name);
  static Result<std::string> reader_pragma(Store& store, const std::string& name);

  // The store's audit append (store_impl.h), for writes queued with write_together: appends `entry` after the
  // chain's head inside the running write and returns its seq.
  static Result<std::int64_t> append_audit(Connection& connection, const AuditEntry& entry);

  // Queues `writes` at once, so they commit (or fail) as one batch; results in order.
  static std::vector<Result<void>> write_together(Store& store,
                                                  std::vector<std::function<Result<void>(Connection&)>> writes);
};

}  // namespace signerd::store

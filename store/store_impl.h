#pragma once
// Private to store/: the state behind Store, the helpers its .cc files share to read rows, and the audit append that
// every audited write runs inside its own savepoint. Not installed, not included outside store/ (and its tests).
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/audit_chain.h"
#include "common/error.h"
#include "store/group_commit_writer.h"
#include "store/read_pool.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace signerd::store {

struct Store::Impl {
  Impl(Connection writer_connection, std::vector<Connection> read_connections, unsigned max_batch)
      : writer(std::move(writer_connection), max_batch), readers(std::move(read_connections)) {}
  // Drain the writes first; then the readers close (reverse declaration order) before the writer's connection, so
  // the last connection to close is the read-write one, which checkpoints the WAL into the database file.
  ~Impl() { writer.stop(); }

  template <class Fn>
  auto read(Fn&& fn) {
    auto lease = readers.acquire();
    return fn(*lease);
  }

  GroupCommitWriter writer;
  ReadPool readers;
};

// Appends `entry` to the audit chain as the record after the current head, on the writer's connection inside the
// running write: it reads the head from the database each time (nothing is kept in memory), so when the write's
// savepoint rolls back the record goes with it and the next append links to the record before. Returns the new
// record's seq. Only for functions run by GroupCommitWriter.
Result<std::int64_t> append_audit_in(Connection& connection, const AuditEntry& entry);

// A row of SIGNERD_KEY_COLUMNS (store.cc).
Result<KeyRecord> read_key(const Statement& row);

// Tags as the JSON array of strings the tables keep (store.cc).
std::string tags_json(const std::vector<std::string>& tags);

// Appends `audit` when there is one (audit.cc); for the writes whose audit record is optional.
Result<void> append_audit_if(Connection& connection, const AuditEntry* audit);

// Reads at most one row with `read_row`.
template <class ReadRow>
auto read_one(Statement& statement, ReadRow read_row)
    -> Result<std::optional<typename std::invoke_result_t<ReadRow, const Statement&>::value_type>> {
  auto row = statement.step();
  if (!row) return std::unexpected(std::move(row.error()));
  if (!*row) return std::nullopt;
  auto item = read_row(statement);
  if (!item) return std::unexpected(std::move(item.error()));
  return std::move(*item);
}

// Reads every row with `read_row`.
template <class ReadRow>
auto read_all(Statement& statement, ReadRow read_row)
    -> Result<std::vector<typename std::invoke_result_t<ReadRow, const Statement&>::value_type>> {
  std::vector<typename std::invoke_result_t<ReadRow, const Statement&>::value_type> items;
  for (;;) {
    auto item = read_one(statement, read_row);
    if (!item) return std::unexpected(std::move(item.error()));
    if (!*item) return items;
    items.push_back(std::move(**item));
  }
}

// The statement was bound with LIMIT limit + 1: a row beyond `limit` only tells that more follow.
template <class T, class ReadRow>
Result<Page<T>> read_page(Statement& statement, int limit, ReadRow read_row) {
  Page<T> page;
  for (;;) {
    auto row = statement.step();
    if (!row) return std::unexpected(std::move(row.error()));
    if (!*row) break;
    if (page.items.size() == static_cast<std::size_t>(limit)) {
      page.next_cursor = page.items.back().seq;
      break;
    }
    auto item = read_row(statement);
    if (!item) return std::unexpected(std::move(item.error()));
    page.items.push_back(std::move(*item));
  }
  return page;
}

inline Result<void> check_limit(int limit) {
  if (limit < 1) return fail(ErrorCode::kInvalidArgument, "limit must be at least 1");
  return {};
}

inline std::int64_t cursor_or_start(std::optional<std::int64_t> before) {
  return before.value_or(std::numeric_limits<std::int64_t>::max());
}

}  // namespace signerd::store

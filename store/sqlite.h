#pragma once
// Thin RAII over the SQLite C API for store/: a connection with a cache of prepared statements, statement leases,
// transactions (rolled back unless committed) and savepoints (rolled back unless released). The SQLite handles are
// forward-declared so that sqlite3.h stays inside store/*.cc.
//
// Thread-safety: none. A Connection and the statements leased from it are used by one thread at a time; the store
// guarantees it (the writer connection belongs to the writer thread, a read connection to the holder of its lease),
// so connections are opened with SQLITE_OPEN_NOMUTEX. A Statement, Transaction or Savepoint must not outlive its
// Connection.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace signerd::store {

inline constexpr std::chrono::milliseconds kBusyTimeout{5000};

// Maps a SQLite result code to an Error. Busy, locked, I/O, disk full, cannot open and locking-protocol failures are
// kUnavailable; constraint violations kConflict; anything else kInternal. The message is "store: <operation>:
// <SQLite's message>"; SQLite's messages name tables and columns, never bound values.
Error sqlite_error(sqlite3* db, int rc, std::string_view operation);

// A prepared statement leased from a Connection's cache. Destruction resets it and clears its bindings, so the next
// lease starts clean. Bind failures are remembered and reported by the next step().
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based (?1, ?2, ...).
  Statement& bind_text(int index, std::string_view value);
  Statement& bind_int(int index, std::int64_t value);
  Statement& bind_optional_text(int index, const std::optional<std::string>& value);
  Statement& bind_optional_int(int index, std::optional<std::int64_t> value);

  // Advances to the next row: true when a row is available, false when the statement is done.
  Result<bool> step();
  // Runs the statement to completion, ignoring any rows.
  Result<void> run();
  // The extended result code of the last failed step() (SQLITE_CONSTRAINT_UNIQUE, ...), 0 when none failed.
  int last_error() const { return last_error_; }

  // Columns of the current row are 0-based. NULL reads as "" / 0 in the non-optional accessors.
  std::string text(int column) const;
  std::optional<std::string> optional_text(int column) const;
  std::int64_t int64(int column) const;
  std::optional<std::int64_t> optional_int64(int column) const;

 private:
  friend class Connection;
  Statement(sqlite3* db, sqlite3_stmt* stmt, bool* leased, std::string_view operation);
  void check_bind(int rc);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool* leased_;  // the cache entry's "in use" flag; nullptr for an uncached statement, which is finalized instead
  std::string_view operation_;
  std::optional<Error> bind_error_;
  int last_error_ = 0;
};

enum class OpenMode { kReadWrite, kReadOnly };

class Connection {
 public:
  // Opens an existing database file (it is never created here: Store creates it with mode 0600 first). Sets
  // extended result codes and a busy timeout of kBusyTimeout.
  static Result<Connection> open(const std::filesystem::path& path, OpenMode mode);

  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&& other) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();  // finalizes cached statements, then closes

  // Runs one or more statements that return no rows (a migration script, a BEGIN, a PRAGMA assignment).
  Result<void> exec(const std::string& sql, std::string_view operation);

  // Leases the cached prepared statement for `sql` (one statement), preparing it on first use. When that statement
  // is already leased (a nested use), the lease is a fresh statement of its own. `operation` names the statement in
  // error messages and must outlive the lease (pass a literal).
  Result<Statement> prepare(std::string_view sql, std::string_view operation);

  // The first column of the first row of `sql` as text ("" for no row): for PRAGMA queries.
  Result<std::string> query_text(std::string_view sql, std::string_view operation);

  // False outside a transaction, including after SQLite rolled one back on its own (on SQLITE_FULL, IOERR, ...).
  bool in_transaction() const;

 private:
  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool leased = false;
  };
  struct State {
    sqlite3* db = nullptr;
    std::map<std::string, CachedStatement, std::less<>> cache;  // node-based: `leased` flags keep their address
    ~State();
  };
  explicit Connection(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

// BEGIN IMMEDIATE ... COMMIT. The destructor rolls back a transaction that was not committed (including one whose
// COMMIT failed); it does nothing when SQLite has already rolled the transaction back itself.
class Transaction {
 public:
  static Result<Transaction> begin_immediate(Connection& connection);
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Result<void> commit();

 private:
  explicit Transaction(Connection* connection) : connection_(connection) {}
  Connection* connection_;  // nullptr once committed or moved from
};

// SAVEPOINT inside a transaction. The destructor undoes everything since the savepoint (ROLLBACK TO + RELEASE)
// unless release() succeeded.
class Savepoint {
 public:
  static Result<Savepoint> begin(Connection& connection);
  Savepoint(Savepoint&& other) noexcept;
  Savepoint& operator=(Savepoint&&) = delete;
  ~Savepoint();
  Result<void> release();

 private:
  explicit Savepoint(Connection* connection) : connection_(connection) {}
  Connection* connection_;  // nullptr once released or moved from
};

}  // namespace signerd::store

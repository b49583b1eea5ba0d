#include "store/sqlite.h"

#include <sqlite3.h>

#include <cassert>
#include <utility>

namespace signerd::store {

Error sqlite_error(sqlite3* db, int rc, std::string_view operation) {
  ErrorCode code = ErrorCode::kInternal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL: code = ErrorCode::kUnavailable; break;
    case SQLITE_CONSTRAINT: code = ErrorCode::kConflict; break;
    default: break;
  }
  // sqlite3_errmsg describes the connection's most recent failure, which is this one when called straight after.
  const char* detail = db != nullptr && sqlite3_errcode(db) != SQLITE_OK ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message = "store: ";
  message += operation;
  message += ": ";
  message += detail;
  return Error{code, std::move(message), {}};
}

// --- Statement

Statement::Statement(sqlite3* db, sqlite3_stmt* stmt, bool* leased, std::string_view operation)
    : db_(db), stmt_(stmt), leased_(leased), operation_(operation) {}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      leased_(std::exchange(other.leased_, nullptr)),
      operation_(other.operation_),
      bind_error_(std::move(other.bind_error_)),
      last_error_(other.last_error_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (leased_ == nullptr) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  *leased_ = false;
}

void Statement::check_bind(int rc) {
  if (rc != SQLITE_OK && !bind_error_) bind_error_ = sqlite_error(db_, rc, operation_);
}

Statement& Statement::bind_text(int index, std::string_view value) {
  check_bind(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind_int(int index, std::int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::bind_optional_text(int index, const std::optional<std::string>& value) {
  if (value) return bind_text(index, *value);
  check_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Statement& Statement::bind_optional_int(int index, std::optional<std::int64_t> value) {
  if (value) return bind_int(index, *value);
  check_bind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Result<bool> Statement::step() {
  if (bind_error_) return std::unexpected(*bind_error_);
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  last_error_ = rc;
  return std::unexpected(sqlite_error(db_, rc, operation_));
}

Result<void> Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return std::unexpected(std::move(row.error()));
    if (!*row) return {};
  }
}

std::string Statement::text(int column) const {
  const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<std::string> Statement::optional_text(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return text(column);
}

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::optional<std::int64_t> Statement::optional_int64(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return int64(column);
}

// --- Connection

Connection::State::~State() {
  for (auto& [sql, cached] : cache) {
    assert(!cached.leased && "a Statement outlived its Connection");
    sqlite3_finalize(cached.stmt);
  }
  sqlite3_close_v2(db);
}

Connection::Connection(std::unique_ptr<State> state) : state_(std::move(state)) {}
Connection::Connection(Connection&& other) noexcept = default;
Connection& Connection::operator=(Connection&& other) noexcept = default;
Connection::~Connection() = default;

Result<Connection> Connection::open(const std::filesystem::path& path, OpenMode mode) {
  // This libsqlite3 is built with URI filenames on: keep a relative "file:..." path a plain file name.
  const std::string name = path.is_absolute() ? path.string() : (std::filesystem::path(".") / path).string();
  const int flags = (mode == OpenMode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  auto state = std::make_unique<State>();
  const int rc = sqlite3_open_v2(name.c_str(), &state->db, flags, nullptr);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(state->db, rc, "open " + path.string()));
  sqlite3_extended_result_codes(state->db, 1);
  sqlite3_busy_timeout(state->db, static_cast<int>(kBusyTimeout.count()));
  return Connection(std::move(state));
}

Result<void> Connection::exec(const std::string& sql, std::string_view operation) {
  const int rc = sqlite3_exec(state_->db, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(state_->db, rc, operation));
  return {};
}

Result<Statement> Connection::prepare(std::string_view sql, std::string_view operation) {
  auto it = state_->cache.find(sql);
  if (it != state_->cache.end() && !it->second.leased) {
    it->second.leased = true;
    return Statement(state_->db, it->second.stmt, &it->second.leased, operation);
  }
  const bool cache = it == state_->cache.end();
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int rc = sqlite3_prepare_v3(state_->db, sql.data(), static_cast<int>(sql.size()),
                                    cache ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, &tail);
  if (rc != SQLITE_OK) return std::unexpected(sqlite_error(state_->db, rc, operation));
  assert(stmt != nullptr && tail == sql.data() + sql.size() && "prepare() takes exactly one statement");
  if (!cache) return Statement(state_->db, stmt, nullptr, operation);
  auto [inserted, _] = state_->cache.emplace(std::string(sql), CachedStatement{stmt, true});
  return Statement(state_->db, stmt, &inserted->second.leased, operation);
}

Result<std::string> Connection::query_text(std::string_view sql, std::string_view operation) {
  auto statement = prepare(sql, operation);
  if (!statement) return std::unexpected(std::move(statement.error()));
  auto row = statement->step();
  if (!row) return std::unexpected(std::move(row.error()));
  if (!*row) return std::string();
  return statement->text(0);
}

bool Connection::in_transaction() const { return sqlite3_get_autocommit(state_->db) == 0; }

// --- Transaction

namespace {

Result<void> run_cached(Connection& connection, std::string_view sql, std::string_view operation) {
  auto statement = connection.prepare(sql, operation);
  if (!statement) return std::unexpected(std::move(statement.error()));
  return statement->run();
}

}  // namespace

Result<Transaction> Transaction::begin_immediate(Connection& connection) {
  if (auto begun = run_cached(connection, "BEGIN IMMEDIATE", "begin transaction"); !begun) {
    return std::unexpected(std::move(begun.error()));
  }
  return Transaction(&connection);
}

Transaction::Transaction(Transaction&& other) noexcept : connection_(std::exchange(other.connection_, nullptr)) {}

Transaction::~Transaction() {
  if (connection_ != nullptr && connection_->in_transaction()) {
    (void)run_cached(*connection_, "ROLLBACK", "roll back transaction");
  }
}

Result<void> Transaction::commit() {
  assert(connection_ != nullptr);
  auto committed = run_cached(*connection_, "COMMIT", "commit");
  if (committed) connection_ = nullptr;
  return committed;
}

// --- Savepoint

Result<Savepoint> Savepoint::begin(Connection& connection) {
  if (auto begun = run_cached(connection, "SAVEPOINT write", "begin savepoint"); !begun) {
    return std::unexpected(std::move(begun.error()));
  }
  return Savepoint(&connection);
}

Savepoint::Savepoint(Savepoint&& other) noexcept : connection_(std::exchange(other.connection_, nullptr)) {}

Savepoint::~Savepoint() {
  if (connection_ == nullptr || !connection_->in_transaction()) return;
  (void)run_cached(*connection_, "ROLLBACK TO write", "roll back savepoint");
  (void)run_cached(*connection_, "RELEASE write", "release savepoint");
}

Result<void> Savepoint::release() {
  assert(connection_ != nullptr);
  auto released = run_cached(*connection_, "RELEASE write", "release savepoint");
  if (released) connection_ = nullptr;
  return released;
}

}  // namespace signerd::store

#include "store/store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "common/log.h"
#include "store/schema.h"
#include "store/sqlite.h"
#include "store/store_impl.h"
#include "store/testing.h"

namespace signerd::store {

const char* to_string(KeyStatus status) {
  switch (status) {
    case KeyStatus::kCreating: return "Creating";
    case KeyStatus::kActive: return "Active";
    case KeyStatus::kArchived: return "Archived";
    case KeyStatus::kFailed: return "Failed";
  }
  return "Unknown";
}

namespace {

std::optional<KeyStatus> parse_key_status(std::string_view text) {
  for (KeyStatus status : {KeyStatus::kCreating, KeyStatus::kActive, KeyStatus::kArchived, KeyStatus::kFailed}) {
    if (text == to_string(status)) return status;
  }
  return std::nullopt;
}

// The database file is created here, not by SQLite, so that it is 0600 from its first moment whatever the umask
// (SQLite gives the -wal and -shm files the main file's permissions). True when it did not exist.
Result<bool> create_private_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  if (errno == EEXIST) return false;
  return fail(ErrorCode::kUnavailable, "store: cannot create " + path.string() + ": " + std::strerror(errno));
}

Result<void> configure_writer(Connection& connection) {
  // journal_mode is stored in the file; the other settings are per connection.
  auto mode = connection.query_text("PRAGMA journal_mode = WAL", "enable WAL");
  if (!mode) return std::unexpected(std::move(mode.error()));
  if (*mode != "wal") {
    return fail(ErrorCode::kInternal, "store: the database refused WAL mode (journal_mode is " + *mode + ")");
  }
  return connection.exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", "configure connection");
}

Result<SignatureRecord> read_signature(const Statement& row) {
  SignatureRecord sig;
  sig.seq = row.int64(0);
  sig.id = row.text(1);
  sig.key_id = row.text(2);
  sig.requester_user_id = row.text(3);
  sig.requester_token_id = row.optional_text(4);
  sig.request_body = row.text(5);
  sig.request_digest = row.text(6);
  sig.status = row.text(7);
  sig.reason = row.optional_text(8);
  sig.r = row.optional_text(9);
  sig.s = row.optional_text(10);
  if (auto recid = row.optional_int64(11)) sig.recid = static_cast<int>(*recid);
  sig.encoded = row.optional_text(12);
  sig.network = row.optional_text(13);
  sig.external_id = row.optional_text(14);
  sig.date_requested_ms = row.int64(15);
  sig.date_signed_ms = row.optional_int64(16);
  sig.signed_data = row.optional_text(17);
  sig.tx_hash = row.optional_text(18);
  return sig;
}

Result<WalletRecord> read_wallet(const Statement& row) {
  WalletRecord w;
  w.seq = row.int64(0);
  w.id = row.text(1);
  w.network = row.text(2);
  w.address = row.optional_text(3);
  w.key_id = row.text(4);
  w.name = row.optional_text(5);
  w.status = row.text(6);
  w.custodial = row.int64(7) != 0;
  w.external_id = row.optional_text(8);
  boost::system::error_code ec;
  const auto tags = boost::json::parse(row.text(9), ec);
  if (ec || !tags.is_array()) return fail(ErrorCode::kInternal, "store: wallet " + w.id + " has malformed tags");
  for (const auto& t : tags.as_array()) {
    if (!t.is_string()) return fail(ErrorCode::kInternal, "store: wallet " + w.id + " has malformed tags");
    w.tags.emplace_back(t.as_string());
  }
  w.owner_id = row.text(10);
  w.date_created_ms = row.int64(11);
  return w;
}

Result<CustodyRecord> read_custody(const Statement& row) {
  CustodyRecord c;
  c.seq = row.int64(0);
  c.key_id = row.text(1);
  c.custody.event = row.text(2);
  c.custody.delegated_to = row.optional_text(3);
  c.principal_id = row.text(4);
  c.token_id = row.optional_text(5);
  c.audit_seq = row.int64(6);
  c.date_ms = row.int64(7);
  return c;
}

// Appends `audit`, then `custody` as the key's custody record caused by it: who and when come from the audit entry.
Result<void> append_audit_and_custody(Connection& connection, std::string_view key_id, const AuditEntry& audit,
                                      const CustodyEvent& custody) {
  auto audit_seq = append_audit_in(connection, audit);
  if (!audit_seq) return std::unexpected(std::move(audit_seq.error()));
  auto insert = connection.prepare(sql::kInsertCustody, "append custody record");
  if (!insert) return std::unexpected(std::move(insert.error()));
  insert->bind_text(1, key_id)
      .bind_text(2, custody.event)
      .bind_optional_text(3, custody.delegated_to)
      .bind_text(4, audit.principal_id)
      .bind_optional_text(5, audit.token_id)
      .bind_int(6, *audit_seq)
      .bind_int(7, audit.time_ms);
  return insert->run();
}

// Looks a key up on the writer's connection, inside the write that is about to change it.
Result<std::optional<KeyRecord>> key_in_write(Connection& connection, std::string_view id, const char* operation) {
  auto select = connection.prepare(sql::kGetKey, operation);
  if (!select) return std::unexpected(std::move(select.error()));
  select->bind_text(1, id);
  return read_one(*select, read_key);
}

}  // namespace

Result<KeyRecord> read_key(const Statement& row) {
  KeyRecord key;
  key.seq = row.int64(0);
  key.id = row.text(1);
  key.scheme = row.text(2);
  key.curve = row.text(3);
  key.public_key = row.text(4);
  key.name = row.optional_text(5);
  const auto status = parse_key_status(row.text(6));
  if (!status) return fail(ErrorCode::kInternal, "store: key " + key.id + " has an unknown status");
  key.status = *status;
  key.custodial = row.int64(7) != 0;
  key.owner_id = row.text(8);
  key.date_created_ms = row.int64(9);
  key.date_deleted_ms = row.optional_int64(10);
  key.failure_reason = row.optional_text(11);
  key.delegated_to = row.optional_text(12);
  key.delay_delegation = row.int64(13) != 0;
  key.public_key_id = row.optional_text(14);
  return key;
}

std::string tags_json(const std::vector<std::string>& tags) {
  boost::json::array a;
  for (const auto& t : tags) a.emplace_back(t);
  return boost::json::serialize(a);
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& path, StoreOptions options) {
  const auto started = std::chrono::steady_clock::now();
  auto created = create_private_file(path);
  if (!created) return std::unexpected(std::move(created.error()));
  auto writer = Connection::open(path, OpenMode::kReadWrite);
  if (!writer) return std::unexpected(std::move(writer.error()));
  if (auto configured = configure_writer(*writer); !configured) return std::unexpected(configured.error());
  if (auto migrated = migrate(*writer); !migrated) return std::unexpected(std::move(migrated.error()));
  // Read back rather than assumed: what the file says now is what an operator needs to know.
  auto version = writer->query_text("PRAGMA user_version", "read schema version");
  if (!version) return std::unexpected(std::move(version.error()));
  auto journal_mode = writer->query_text("PRAGMA journal_mode", "read journal mode");
  if (!journal_mode) return std::unexpected(std::move(journal_mode.error()));

  // Read connections are opened after the schema exists (a read-only connection cannot create it).
  std::vector<Connection> readers;
  for (unsigned i = 0; i < std::max(1u, options.read_connections); ++i) {
    auto reader = Connection::open(path, OpenMode::kReadOnly);
    if (!reader) return std::unexpected(std::move(reader.error()));
    readers.push_back(std::move(*reader));
  }
  signerd::log(LogComponent::kStore)
      .info(
          "store opened path={} created={} schema_version={} journal_mode={} read_connections={} max_batch={} "
          "ms={:.1f}",
          path.string(), *created, *version, *journal_mode, readers.size(), options.max_batch,
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
  return std::unique_ptr<Store>(
      new Store(std::make_unique<Impl>(std::move(*writer), std::move(readers), options.max_batch)));
}

StoreStats Store::stats() const { return impl_->writer.stats(); }

// --- keys

Result<void> Store::insert_key(const KeyRecord& key) {
  return impl_->writer.write([&](Connection& connection) -> Result<void> {
    auto insert = connection.prepare(sql::kInsertKey, "insert key");
    if (!insert) return std::unexpected(std::move(insert.error()));
    insert->bind_text(1, key.id)
        .bind_text(2, key.scheme)
        .bind_text(3, key.curve)
        .bind_text(4, key.public_key)
        .bind_optional_text(5, key.name)
        .bind_text(6, to_string(key.status))
        .bind_int(7, key.custodial ? 1 : 0)
        .bind_text(8, key.owner_id)
        .bind_int(9, key.date_created_ms)
        .bind_optional_int(10, key.date_deleted_ms)
        .bind_optional_text(11, key.failure_reason)
        .bind_optional_text(12, key.delegated_to)
        .bind_int(13, key.delay_delegation ? 1 : 0)
        .bind_optional_text(14, key.public_key_id);
    auto inserted = insert->run();
    if (!inserted && (insert->last_error() == SQLITE_CONSTRAINT_UNIQUE ||
                      insert->last_error() == SQLITE_CONSTRAINT_PRIMARYKEY)) {
      // The id or the public key id.
      return fail(ErrorCode::kConflict, "key " + key.id + " already exists");
    }
    return inserted;
  });
}

Result<std::optional<KeyRecord>> Store::get_key(std::string_view id) {
  return impl_->read([&](Connection& connection) -> Result<std::optional<KeyRecord>> {
    auto select = connection.prepare(sql::kGetKey, "get key");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, id);
    return read_one(*select, read_key);
  });
}

Result<Page<KeyRecord>> Store::list_keys(std::optional<std::int64_t> before, int limit,
                                         std::optional<std::string_view> delegated_to) {
  if (auto valid = check_limit(limit); !valid) return std::unexpected(std::move(valid.error()));
  return impl_->read([&](Connection& connection) -> Result<Page<KeyRecord>> {
    if (delegated_to) {
      auto select = connection.prepare(sql::kListDelegatedKeys, "list delegated keys");
      if (!select) return std::unexpected(std::move(select.error()));
      select->bind_text(1, *delegated_to).bind_int(2, cursor_or_start(before)).bind_int(3, std::int64_t{limit} + 1);
      return read_page<KeyRecord>(*select, limit, read_key);
    }
    auto select = connection.prepare(sql::kListKeys, "list keys");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_int(1, cursor_or_start(before)).bind_int(2, std::int64_t{limit} + 1);
    return read_page<KeyRecord>(*select, limit, read_key);
  });
}

Result<std::vector<KeyRecord>> Store::keys_with_status(KeyStatus status) {
  return impl_->read([&](Connection& connection) -> Result<std::vector<KeyRecord>> {
    auto select = connection.prepare(sql::kKeysWithStatus, "list keys by status");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, to_string(status));
    return read_all(*select, read_key);
  });
}

Result<KeyRecord> Store::transition_key(std::string_view id, const KeyTransition& t, const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<KeyRecord> {
    std::optional<KeyRecord> moved;
    {
      auto update = connection.prepare(sql::kTransitionKey, "transition key");
      if (!update) return std::unexpected(std::move(update.error()));
      update->bind_text(1, id)
          .bind_text(2, to_string(t.from))
          .bind_text(3, to_string(t.to))
          .bind_optional_text(4, t.public_key)
          .bind_optional_int(5, t.date_deleted_ms)
          .bind_optional_text(6, t.failure_reason);
      auto updated = read_one(*update, read_key);
      if (!updated) return std::unexpected(std::move(updated.error()));
      if (*updated) {
        if (auto finished = update->run(); !finished) return std::unexpected(std::move(finished.error()));
        moved = std::move(*updated);
      }
    }
    if (moved) {
      // A custody event is recorded only with the audit record of the request behind it (custody_of_key reports
      // who and when from there); without one it is ignored.
      if (audit != nullptr && t.custody) {
        if (auto appended = append_audit_and_custody(connection, id, *audit, *t.custody); !appended) {
          return std::unexpected(std::move(appended.error()));
        }
      } else if (auto appended = append_audit_if(connection, audit); !appended) {
        return std::unexpected(std::move(appended.error()));
      }
      return std::move(*moved);
    }
    // Nothing matched: tell a missing key from one in another status.
    auto select = connection.prepare(sql::kKeyStatus, "transition key");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, id);
    auto current = read_one(*select, [](const Statement& row) -> Result<std::string> { return row.text(0); });
    if (!current) return std::unexpected(std::move(current.error()));
    if (!*current) return fail(ErrorCode::kNotFound, "key " + std::string(id) + " not found");
    return fail(ErrorCode::kConflict,
                "key " + std::string(id) + " is " + **current + ", not " + to_string(t.from));
  });
}

Result<KeyRecord> Store::rename_key(std::string_view id, std::optional<std::string> name, const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<KeyRecord> {
    auto update = connection.prepare(sql::kRenameKey, "rename key");
    if (!update) return std::unexpected(std::move(update.error()));
    update->bind_text(1, id).bind_optional_text(2, name);
    auto updated = read_one(*update, read_key);
    if (!updated) return std::unexpected(std::move(updated.error()));
    if (!*updated) return fail(ErrorCode::kNotFound, "key " + std::string(id) + " not found");
    if (auto finished = update->run(); !finished) return std::unexpected(std::move(finished.error()));
    if (auto appended = append_audit_if(connection, audit); !appended) return std::unexpected(appended.error());
    return std::move(**updated);
  });
}

Result<KeyRecord> Store::delegate_key(std::string_view id, std::string_view user_id, const AuditEntry& audit) {
  if (user_id.empty()) return fail(ErrorCode::kInvalidArgument, "delegate key: the user id is empty");
  return impl_->writer.write([&](Connection& connection) -> Result<KeyRecord> {
    // Checked inside the write: the writer is the only writer, so the answers hold until this write commits.
    const std::string key_id(id);
    auto current = key_in_write(connection, id, "delegate key");
    if (!current) return std::unexpected(std::move(current.error()));
    if (!*current) return fail(ErrorCode::kNotFound, "key " + key_id + " not found");
    const KeyRecord& key = **current;
    if (key.status != KeyStatus::kActive) {
      return fail(ErrorCode::kInvalidArgument,
                  "key " + key_id + " is " + to_string(key.status) + "; only an Active key can be delegated");
    }
    if (key.delegated_to) return fail(ErrorCode::kInvalidArgument, "key " + key_id + " is already delegated");
    if (!key.delay_delegation) {
      return fail(ErrorCode::kInvalidArgument, "key " + key_id + " was not created with delayDelegation: true");
    }
    std::optional<KeyRecord> delegated;
    {
      auto update = connection.prepare(sql::kDelegateKey, "delegate key");
      if (!update) return std::unexpected(std::move(update.error()));
      update->bind_text(1, id).bind_text(2, user_id);
      auto updated = read_one(*update, read_key);
      if (!updated) return std::unexpected(std::move(updated.error()));
      if (!*updated) return fail(ErrorCode::kInternal, "store: key " + key_id + " changed while being delegated");
      if (auto finished = update->run(); !finished) return std::unexpected(std::move(finished.error()));
      delegated = std::move(*updated);
    }
    const CustodyEvent custody{.event = "Delegated", .delegated_to = std::string(user_id)};
    if (auto appended = append_audit_and_custody(connection, id, audit, custody); !appended) {
      return std::unexpected(std::move(appended.error()));
    }
    return std::move(*delegated);
  });
}

Result<std::vector<CustodyRecord>> Store::custody_of_key(std::string_view key_id) {
  return impl_->read([&](Connection& connection) -> Result<std::vector<CustodyRecord>> {
    auto select = connection.prepare(sql::kCustodyOfKey, "read custody of key");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, key_id);
    return read_all(*select, read_custody);
  });
}

// --- signatures

namespace {

// The write behind insert_signature and insert_signature_async.
Result<void> write_signature(Connection& connection, const SignatureRecord& sig, const AuditEntry* audit) {
  {
    // The key's state is checked again inside the write that records the signature: an archive or a delegation
    // that committed while the HSM was signing wins, and the signature is never recorded (nor returned).
    auto select = connection.prepare(sql::kKeyCustody, "insert signature");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, sig.key_id);
    auto row = read_one(*select, [](const Statement& r) -> Result<std::pair<std::string, std::optional<std::string>>> {
      return std::pair{r.text(0), r.optional_text(1)};
    });
    if (!row) return std::unexpected(std::move(row.error()));
    if (!*row) return fail(ErrorCode::kNotFound, "key " + sig.key_id + " not found");
    if ((*row)->first != "Active") {
      return fail(ErrorCode::kInvalidArgument, "key " + sig.key_id + " is " + (*row)->first + " and cannot sign");
    }
    if ((*row)->second && *(*row)->second != sig.requester_user_id) {
      return fail(ErrorCode::kPermissionDenied,
                  "permission denied: key " + sig.key_id + " is delegated to an end user; only that user can sign");
    }
  }
  if (sig.external_id) {
    // Looked up inside the write: the writer is the only writer, so the answer holds until this write commits.
    auto select = connection.prepare(sql::kSignatureIdByExternalId, "insert signature");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, *sig.external_id);
    auto existing = read_one(*select, [](const Statement& row) -> Result<std::string> { return row.text(0); });
    if (!existing) return std::unexpected(std::move(existing.error()));
    if (*existing) {
      Error error{ErrorCode::kConflict, "Conflicting signature request with same externalId", {}};
      error.details["duplicate"] = boost::json::object{{"id", **existing}, {"externalId", *sig.external_id}};
      return std::unexpected(std::move(error));
    }
  }
  auto insert = connection.prepare(sql::kInsertSignature, "insert signature");
  if (!insert) return std::unexpected(std::move(insert.error()));
  insert->bind_text(1, sig.id)
      .bind_text(2, sig.key_id)
      .bind_text(3, sig.requester_user_id)
      .bind_optional_text(4, sig.requester_token_id)
      .bind_text(5, sig.request_body)
      .bind_text(6, sig.request_digest)
      .bind_text(7, sig.status)
      .bind_optional_text(8, sig.reason)
      .bind_optional_text(9, sig.r)
      .bind_optional_text(10, sig.s)
      .bind_optional_int(11, sig.recid)
      .bind_optional_text(12, sig.encoded)
      .bind_optional_text(13, sig.network)
      .bind_optional_text(14, sig.external_id)
      .bind_int(15, sig.date_requested_ms)
      .bind_optional_int(16, sig.date_signed_ms)
      .bind_optional_text(17, sig.signed_data)
      .bind_optional_text(18, sig.tx_hash);
  auto inserted = insert->run();
  if (inserted) return append_audit_if(connection, audit);
  switch (insert->last_error()) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return fail(ErrorCode::kConflict, "signature " + sig.id + " already exists");
    case SQLITE_CONSTRAINT_FOREIGNKEY: return fail(ErrorCode::kNotFound, "key " + sig.key_id + " not found");
    default: return inserted;
  }
}

}  // namespace

Result<void> Store::insert_signature(const SignatureRecord& sig, const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) { return write_signature(connection, sig, audit); });
}

Result<void> Store::check_writable() {
  return impl_->writer.probe();
}

void Store::insert_signature_async(SignatureRecord sig, std::function<void(Result<void>)> done,
                                   std::optional<AuditEntry> audit) {
  impl_->writer.write_async(
      [sig = std::move(sig), audit = std::move(audit)](Connection& connection) {
        return write_signature(connection, sig, audit ? &*audit : nullptr);
      },
      std::move(done));
}

Result<std::optional<SignatureRecord>> Store::get_signature(std::string_view key_id, std::string_view signature_id) {
  return impl_->read([&](Connection& connection) -> Result<std::optional<SignatureRecord>> {
    auto select = connection.prepare(sql::kGetSignature, "get signature");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, signature_id).bind_text(2, key_id);
    return read_one(*select, read_signature);
  });
}

Result<std::optional<SignatureRecord>> Store::find_signature_by_external_id(std::string_view external_id) {
  return impl_->read([&](Connection& connection) -> Result<std::optional<SignatureRecord>> {
    auto select = connection.prepare(sql::kFindSignatureByExternalId, "find signature by externalId");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, external_id);
    return read_one(*select, read_signature);
  });
}

Result<Page<SignatureRecord>> Store::list_signatures(std::string_view key_id, std::optional<std::int64_t> before,
                                                     int limit) {
  if (auto valid = check_limit(limit); !valid) return std::unexpected(std::move(valid.error()));
  return impl_->read([&](Connection& connection) -> Result<Page<SignatureRecord>> {
    auto select = connection.prepare(sql::kListSignatures, "list signatures");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, key_id).bind_int(2, cursor_or_start(before)).bind_int(3, std::int64_t{limit} + 1);
    return read_page<SignatureRecord>(*select, limit, read_signature);
  });
}

// --- wallets

Result<void> Store::insert_wallet(const WalletRecord& wallet, const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<void> {
    auto insert = connection.prepare(sql::kInsertWallet, "insert wallet");
    if (!insert) return std::unexpected(std::move(insert.error()));
    insert->bind_text(1, wallet.id)
        .bind_text(2, wallet.network)
        .bind_optional_text(3, wallet.address)
        .bind_text(4, wallet.key_id)
        .bind_optional_text(5, wallet.name)
        .bind_text(6, wallet.status)
        .bind_int(7, wallet.custodial ? 1 : 0)
        .bind_optional_text(8, wallet.external_id)
        .bind_text(9, tags_json(wallet.tags))
        .bind_text(10, wallet.owner_id)
        .bind_int(11, wallet.date_created_ms);
    auto inserted = insert->run();
    if (inserted) return append_audit_if(connection, audit);
    switch (insert->last_error()) {
      case SQLITE_CONSTRAINT_UNIQUE:
      case SQLITE_CONSTRAINT_PRIMARYKEY: return fail(ErrorCode::kConflict, "wallet " + wallet.id + " already exists");
      case SQLITE_CONSTRAINT_FOREIGNKEY: return fail(ErrorCode::kNotFound, "key " + wallet.key_id + " not found");
      default: return inserted;
    }
  });
}

Result<std::optional<WalletRecord>> Store::get_wallet(std::string_view id) {
  return impl_->read([&](Connection& connection) -> Result<std::optional<WalletRecord>> {
    auto select = connection.prepare(sql::kGetWallet, "get wallet");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, id);
    return read_one(*select, read_wallet);
  });
}

Result<Page<WalletRecord>> Store::list_wallets(std::optional<std::int64_t> before, int limit,
                                               std::optional<std::string_view> delegated_to) {
  if (auto valid = check_limit(limit); !valid) return std::unexpected(std::move(valid.error()));
  return impl_->read([&](Connection& connection) -> Result<Page<WalletRecord>> {
    if (delegated_to) {
      auto select = connection.prepare(sql::kListDelegatedWallets, "list delegated wallets");
      if (!select) return std::unexpected(std::move(select.error()));
      select->bind_text(1, *delegated_to).bind_int(2, cursor_or_start(before)).bind_int(3, std::int64_t{limit} + 1);
      return read_page<WalletRecord>(*select, limit, read_wallet);
    }
    auto select = connection.prepare(sql::kListWallets, "list wallets");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_int(1, cursor_or_start(before)).bind_int(2, std::int64_t{limit} + 1);
    return read_page<WalletRecord>(*select, limit, read_wallet);
  });
}

Result<std::vector<WalletRecord>> Store::list_wallets_for_key(std::string_view key_id) {
  return impl_->read([&](Connection& connection) -> Result<std::vector<WalletRecord>> {
    auto select = connection.prepare(sql::kListWalletsForKey, "list wallets of key");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, key_id);
    return read_all(*select, read_wallet);
  });
}

namespace {

// Runs an UPDATE … RETURNING on one wallet, then appends `audit` when given. kNotFound when no row matched.
Result<WalletRecord> update_one_wallet(Connection& connection, Statement& update, std::string_view id,
                                       const AuditEntry* audit) {
  auto updated = read_one(update, read_wallet);
  if (!updated) return std::unexpected(std::move(updated.error()));
  if (!*updated) return fail(ErrorCode::kNotFound, "wallet " + std::string(id) + " not found");
  if (auto finished = update.run(); !finished) return std::unexpected(std::move(finished.error()));
  if (auto appended = append_audit_if(connection, audit); !appended) return std::unexpected(appended.error());
  return std::move(**updated);
}

}  // namespace

Result<WalletRecord> Store::update_wallet(std::string_view id, const WalletUpdate& u, const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<WalletRecord> {
    auto update = connection.prepare(sql::kUpdateWallet, "update wallet");
    if (!update) return std::unexpected(std::move(update.error()));
    update->bind_text(1, id)
        .bind_int(2, u.name ? 1 : 0)
        .bind_optional_text(3, u.name.value_or(std::nullopt))
        .bind_int(4, u.external_id ? 1 : 0)
        .bind_optional_text(5, u.external_id.value_or(std::nullopt));
    return update_one_wallet(connection, *update, id, audit);
  });
}

Result<WalletRecord> Store::set_wallet_tags(std::string_view id, const std::vector<std::string>& tags,
                                            const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<WalletRecord> {
    auto update = connection.prepare(sql::kSetWalletTags, "set wallet tags");
    if (!update) return std::unexpected(std::move(update.error()));
    update->bind_text(1, id).bind_text(2, tags_json(tags));
    return update_one_wallet(connection, *update, id, audit);
  });
}

// --- test hooks

Result<std::string> StoreTestPeer::writer_pragma(Store& store, const std::string& name) {
  return store.impl_->writer.write(
      [&](Connection& connection) { return connection.query_text("PRAGMA " + name, "read pragma"); });
}

Result<std::string> StoreTestPeer::reader_pragma(Store& store, const std::string& name) {
  return store.impl_->read(
      [&](Connection& connection) { return connection.query_text("PRAGMA " + name, "read pragma"); });
}

Result<std::int64_t> StoreTestPeer::append_audit(Connection& connection, const AuditEntry& entry) {
  return append_audit_in(connection, entry);
}

std::vector<Result<void>> StoreTestPeer::write_together(
    Store& store, std::vector<std::function<Result<void>(Connection&)>> writes) {
  return store.impl_->writer.write_together(std::move(writes));
}

}  // namespace signerd::store

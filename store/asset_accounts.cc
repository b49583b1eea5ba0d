// Legacy asset accounts and public keys (store.h, AssetAccountRecord and KeyRecord::public_key_id).
#include <sqlite3.h>

#include <boost/json/parse.hpp>
#include <string>

#include "store/schema.h"
#include "store/store_impl.h"

namespace signerd::store {

const char* to_string(AssetAccountStatus status) {
  switch (status) {
    case AssetAccountStatus::kCreating: return "Creating";
    case AssetAccountStatus::kEnabled: return "Enabled";
    case AssetAccountStatus::kFailed: return "Failed";
  }
  return "Unknown";
}

std::optional<AssetAccountStatus> parse_asset_account_status(std::string_view text) {
  for (auto status : {AssetAccountStatus::kCreating, AssetAccountStatus::kEnabled, AssetAccountStatus::kFailed}) {
    if (text == to_string(status)) return status;
  }
  return std::nullopt;
}

namespace {

Result<AssetAccountRecord> read_asset_account(const Statement& row) {
  AssetAccountRecord a;
  a.seq = row.int64(0);
  a.id = row.text(1);
  a.asset_symbol = row.text(2);
  a.network = row.text(3);
  a.name = row.optional_text(4);
  const auto status = parse_asset_account_status(row.text(5));
  if (!status) return fail(ErrorCode::kInternal, "store: asset account " + a.id + " has an unknown status");
  a.status = *status;
  a.reason = row.optional_text(6);
  a.key_id = row.optional_text(7);
  a.public_key_id = row.optional_text(8);
  a.address = row.optional_text(9);
  a.external_id = row.optional_text(10);
  boost::system::error_code ec;
  const auto tags = boost::json::parse(row.text(11), ec);
  if (ec || !tags.is_array()) return fail(ErrorCode::kInternal, "store: asset account " + a.id + " has malformed tags");
  for (const auto& t : tags.as_array()) {
    if (!t.is_string()) return fail(ErrorCode::kInternal, "store: asset account " + a.id + " has malformed tags");
    a.tags.emplace_back(t.as_string());
  }
  a.owner_id = row.text(12);
  a.date_created_ms = row.int64(13);
  a.date_updated_ms = row.int64(14);
  return a;
}

// Runs an UPDATE … RETURNING on one Creating account, then appends `audit`. When nothing matched: kNotFound for a
// missing account, kConflict (naming its status) for one that is no longer Creating or `conflict` says why not.
Result<AssetAccountRecord> update_creating_account(Connection& connection, Statement& update, std::string_view id,
                                                   const AuditEntry* audit, const char* operation,
                                                   std::string_view conflict) {
  std::optional<AssetAccountRecord> updated;
  {
    auto row = read_one(update, read_asset_account);
    if (!row) {
      if (update.last_error() == SQLITE_CONSTRAINT_FOREIGNKEY) {
        return fail(ErrorCode::kNotFound, "asset account " + std::string(id) + ": its key does not exist");
      }
      return std::unexpected(std::move(row.error()));
    }
    if (*row) {
      if (auto finished = update.run(); !finished) return std::unexpected(std::move(finished.error()));
      updated = std::move(**row);
    }
  }
  if (updated) {
    if (auto appended = append_audit_if(connection, audit); !appended) return std::unexpected(appended.error());
    return std::move(*updated);
  }
  auto select = connection.prepare(sql::kAssetAccountStatus, operation);
  if (!select) return std::unexpected(std::move(select.error()));
  select->bind_text(1, id);
  auto current = read_one(*select, [](const Statement& r) -> Result<std::string> { return r.text(0); });
  if (!current) return std::unexpected(std::move(current.error()));
  if (!*current) return fail(ErrorCode::kNotFound, "asset account " + std::string(id) + " not found");
  if (**current != "Creating") {
    return fail(ErrorCode::kConflict, "asset account " + std::string(id) + " is " + **current + ", not Creating");
  }
  return fail(ErrorCode::kConflict, "asset account " + std::string(id) + " " + std::string(conflict));
}

}  // namespace

Result<std::optional<KeyRecord>> Store::get_key_by_public_key_id(std::string_view public_key_id) {
  return impl_->read([&](Connection& connection) -> Result<std::optional<KeyRecord>> {
    auto select = connection.prepare(sql::kGetKeyByPublicKeyId, "get key by public key id");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, public_key_id);
    return read_one(*select, read_key);
  });
}

Result<Page<KeyRecord>> Store::list_public_keys(std::optional<std::int64_t> before, int limit) {
  if (auto valid = check_limit(limit); !valid) return std::unexpected(std::move(valid.error()));
  return impl_->read([&](Connection& connection) -> Result<Page<KeyRecord>> {
    auto select = connection.prepare(sql::kListPublicKeys, "list public keys");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_int(1, cursor_or_start(before)).bind_int(2, std::int64_t{limit} + 1);
    return read_page<KeyRecord>(*select, limit, read_key);
  });
}

Result<void> Store::insert_asset_account(const AssetAccountRecord& account, const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<void> {
    auto insert = connection.prepare(sql::kInsertAssetAccount, "insert asset account");
    if (!insert) return std::unexpected(std::move(insert.error()));
    insert->bind_text(1, account.id)
        .bind_text(2, account.asset_symbol)
        .bind_text(3, account.network)
        .bind_optional_text(4, account.name)
        .bind_text(5, to_string(account.status))
        .bind_optional_text(6, account.reason)
        .bind_optional_text(7, account.key_id)
        .bind_optional_text(8, account.public_key_id)
        .bind_optional_text(9, account.address)
        .bind_optional_text(10, account.external_id)
        .bind_text(11, tags_json(account.tags))
        .bind_text(12, account.owner_id)
        .bind_int(13, account.date_created_ms)
        .bind_int(14, account.date_updated_ms);
    auto inserted = insert->run();
    if (inserted) return append_audit_if(connection, audit);
    switch (insert->last_error()) {
      case SQLITE_CONSTRAINT_UNIQUE:
      case SQLITE_CONSTRAINT_PRIMARYKEY:
        return fail(ErrorCode::kConflict, "asset account " + account.id + " already exists");
      case SQLITE_CONSTRAINT_FOREIGNKEY:
        return fail(ErrorCode::kNotFound, "key " + account.key_id.value_or("") + " not found");
      default: return inserted;
    }
  });
}

Result<std::optional<AssetAccountRecord>> Store::get_asset_account(std::string_view id) {
  return impl_->read([&](Connection& connection) -> Result<std::optional<AssetAccountRecord>> {
    auto select = connection.prepare(sql::kGetAssetAccount, "get asset account");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, id);
    return read_one(*select, read_asset_account);
  });
}

Result<Page<AssetAccountRecord>> Store::list_asset_accounts(std::optional<AssetAccountStatus> status,
                                                            std::optional<std::int64_t> before, int limit) {
  if (auto valid = check_limit(limit); !valid) return std::unexpected(std::move(valid.error()));
  return impl_->read([&](Connection& connection) -> Result<Page<AssetAccountRecord>> {
    if (status) {
      auto select = connection.prepare(sql::kListAssetAccountsWithStatus, "list asset accounts");
      if (!select) return std::unexpected(std::move(select.error()));
      select->bind_text(1, to_string(*status))
          .bind_int(2, cursor_or_start(before))
          .bind_int(3, std::int64_t{limit} + 1);
      return read_page<AssetAccountRecord>(*select, limit, read_asset_account);
    }
    auto select = connection.prepare(sql::kListAssetAccounts, "list asset accounts");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_int(1, cursor_or_start(before)).bind_int(2, std::int64_t{limit} + 1);
    return read_page<AssetAccountRecord>(*select, limit, read_asset_account);
  });
}

Result<std::vector<AssetAccountRecord>> Store::asset_accounts_with_status(AssetAccountStatus status) {
  return impl_->read([&](Connection& connection) -> Result<std::vector<AssetAccountRecord>> {
    auto select = connection.prepare(sql::kAssetAccountsWithStatus, "list asset accounts by status");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, to_string(status));
    return read_all(*select, read_asset_account);
  });
}

Result<AssetAccountRecord> Store::finish_asset_account(std::string_view id, const AssetAccountOutcome& outcome,
                                                       const AuditEntry* audit) {
  if (outcome.status == AssetAccountStatus::kCreating) {
    return fail(ErrorCode::kInvalidArgument, "finish asset account: the outcome must be Enabled or Failed");
  }
  return impl_->writer.write([&](Connection& connection) -> Result<AssetAccountRecord> {
    auto update = connection.prepare(sql::kFinishAssetAccount, "finish asset account");
    if (!update) return std::unexpected(std::move(update.error()));
    update->bind_text(1, id)
        .bind_text(2, to_string(outcome.status))
        .bind_optional_text(3, outcome.reason)
        .bind_optional_text(4, outcome.key_id)
        .bind_optional_text(5, outcome.public_key_id)
        .bind_optional_text(6, outcome.address)
        .bind_int(7, outcome.date_updated_ms);
    return update_creating_account(connection, *update, id, audit, "finish asset account", "did not change");
  });
}

Result<AssetAccountRecord> Store::replan_asset_account_key(std::string_view id, std::string_view public_key_id,
                                                           std::int64_t date_updated_ms, const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<AssetAccountRecord> {
    auto update = connection.prepare(sql::kReplanAssetAccountKey, "replan asset account key");
    if (!update) return std::unexpected(std::move(update.error()));
    update->bind_text(1, id).bind_text(2, public_key_id).bind_int(3, date_updated_ms);
    return update_creating_account(connection, *update, id, audit, "replan asset account key", "already has its key");
  });
}

}  // namespace signerd::store

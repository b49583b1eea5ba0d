// Smart accounts (store.h, SmartAppRecord and after): applications, records, their networks and gas-tank ledgers.
#include <sqlite3.h>

#include <set>
#include <string>

#include "store/schema.h"
#include "store/store_impl.h"

namespace signerd::store {
namespace {

Result<SmartAppRecord> read_smart_app(const Statement& row) {
  SmartAppRecord a;
  a.seq = row.int64(0);
  a.id = row.text(1);
  a.client_id = row.text(2);
  a.name = row.text(3);
  a.hmac_key_id = row.text(4);
  a.created_by = row.text(5);
  a.date_created_ns = row.int64(6);
  return a;
}

Result<SmartAccountRecord> read_smart_account(const Statement& row) {
  SmartAccountRecord a;
  a.seq = row.int64(0);
  a.id = row.text(1);
  a.app_id = row.text(2);
  a.owner = row.text(3);
  a.owner_id = row.text(4);
  a.provider = row.text(5);
  a.gas_tank_id = row.text(6);
  a.gas_tank_token = row.text(7);
  a.gas_tank_decimals = static_cast<int>(row.int64(8));
  a.date_created_ns = row.int64(9);
  a.date_updated_ns = row.optional_int64(10);
  return a;
}

Result<SmartAccountNetworkRecord> read_smart_network(const Statement& row) {
  SmartAccountNetworkRecord n;
  n.seq = row.int64(0);
  n.id = row.text(1);
  n.smart_account_id = row.text(2);
  n.network = row.text(3);
  n.chain_id = row.int64(4);
  n.version = row.text(5);
  n.aa_address = row.text(6);
  n.status = row.text(7);
  n.tx_hash = row.optional_text(8);
  n.failure_reason = row.optional_text(9);
  n.date_created_ns = row.int64(10);
  n.date_updated_ns = row.optional_int64(11);
  return n;
}

Result<GasTankEntry> read_gas_tank_entry(const Statement& row) {
  GasTankEntry e;
  e.seq = row.int64(0);
  e.id = row.text(1);
  e.gas_tank_id = row.text(2);
  e.kind = row.text(3);
  e.amount = row.text(4);
  e.balance_after = row.text(5);
  e.account_network_id = row.optional_text(6);
  e.date_ns = row.int64(7);
  return e;
}

bool unique_violation(const Statement& statement) {
  return statement.last_error() == SQLITE_CONSTRAINT_UNIQUE || statement.last_error() == SQLITE_CONSTRAINT_PRIMARYKEY;
}

Result<std::optional<SmartAccountRecord>> find_by_owner(Connection& connection, std::string_view app_id,
                                                       std::string_view owner) {
  auto select = connection.prepare(sql::kFindSmartAccountByOwner, "find smart account");
  if (!select) return std::unexpected(std::move(select.error()));
  select->bind_text(1, app_id).bind_text(2, owner);
  return read_one(*select, read_smart_account);
}

}  // namespace

Result<void> Store::insert_smart_app(const SmartAppRecord& app, const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<void> {
    auto insert = connection.prepare(sql::kInsertSmartApp, "insert smart-account app");
    if (!insert) return std::unexpected(std::move(insert.error()));
    insert->bind_text(1, app.id)
        .bind_text(2, app.client_id)
        .bind_text(3, app.name)
        .bind_text(4, app.hmac_key_id)
        .bind_text(5, app.created_by)
        .bind_int(6, app.date_created_ns);
    auto inserted = insert->run();
    if (!inserted && unique_violation(*insert)) return fail(ErrorCode::kConflict, "app " + app.id + " already exists");
    if (!inserted) return inserted;
    if (audit != nullptr) {
      if (auto appended = append_audit_in(connection, *audit); !appended) return std::unexpected(appended.error());
    }
    return {};
  });
}

Result<std::optional<SmartAppRecord>> Store::get_smart_app(std::string_view id) {
  return impl_->read([&](Connection& connection) -> Result<std::optional<SmartAppRecord>> {
    auto select = connection.prepare(sql::kGetSmartApp, "get smart-account app");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, id);
    return read_one(*select, read_smart_app);
  });
}

Result<Store::SmartAccountCreated> Store::create_or_get_smart_account(
    const SmartAccountRecord& account, const std::vector<SmartAccountNetworkRecord>& networks,
    const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<SmartAccountCreated> {
    // Looked up inside the write: the writer is the only writer, so the answer holds until this write commits; the
    // unique index is the backstop.
    auto existing = find_by_owner(connection, account.app_id, account.owner);
    if (!existing) return std::unexpected(std::move(existing.error()));
    SmartAccountCreated out;
    bool wrote = false;
    if (*existing) {
      out.account = std::move(**existing);
    } else {
      auto insert = connection.prepare(sql::kInsertSmartAccount, "insert smart account");
      if (!insert) return std::unexpected(std::move(insert.error()));
      insert->bind_text(1, account.id)
          .bind_text(2, account.app_id)
          .bind_text(3, account.owner)
          .bind_text(4, account.owner_id)
          .bind_text(5, account.provider)
          .bind_text(6, account.gas_tank_id)
          .bind_text(7, account.gas_tank_token)
          .bind_int(8, account.gas_tank_decimals)
          .bind_int(9, account.date_created_ns)
          .bind_optional_int(10, account.date_updated_ns);
      auto inserted = insert->run();
      if (!inserted) {
        if (insert->last_error() == SQLITE_CONSTRAINT_FOREIGNKEY) {
          return fail(ErrorCode::kNotFound, "app " + account.app_id + " not found");
        }
        if (unique_violation(*insert)) return fail(ErrorCode::kConflict, "smart account " + account.id + " exists");
        return std::unexpected(std::move(inserted.error()));
      }
      out.account = account;
      out.created = true;
      wrote = true;
    }
    std::set<std::string> present;
    if (!out.created) {
      auto select = connection.prepare(sql::kSmartNetworksOfAccount, "insert smart account network");
      if (!select) return std::unexpected(std::move(select.error()));
      select->bind_text(1, out.account.id);
      auto rows = read_all(*select, read_smart_network);
      if (!rows) return std::unexpected(std::move(rows.error()));
      for (const auto& row : *rows) present.insert(row.network);
    }
    for (const auto& n : networks) {
      if (present.contains(n.network)) continue;
      auto insert = connection.prepare(sql::kInsertSmartNetwork, "insert smart account network");
      if (!insert) return std::unexpected(std::move(insert.error()));
      insert->bind_text(1, n.id)
          .bind_text(2, out.account.id)
          .bind_text(3, n.network)
          .bind_int(4, n.chain_id)
          .bind_text(5, n.version)
          .bind_text(6, n.aa_address)
          .bind_text(7, n.status)
          .bind_optional_text(8, n.tx_hash)
          .bind_optional_text(9, n.failure_reason)
          .bind_int(10, n.date_created_ns)
          .bind_optional_int(11, n.date_updated_ns);
      if (auto inserted = insert->run(); !inserted) return std::unexpected(std::move(inserted.error()));
      wrote = true;
    }
    if (out.created) {
      auto reread = find_by_owner(connection, account.app_id, account.owner);
      if (!reread) return std::unexpected(std::move(reread.error()));
      if (!*reread) return fail(ErrorCode::kInternal, "store: smart account " + account.id + " vanished");
      out.account = std::move(**reread);
    }
    if (wrote && audit != nullptr) {
      if (auto appended = append_audit_in(connection, *audit); !appended) return std::unexpected(appended.error());
    }
    return out;
  });
}

Result<std::optional<SmartAccountRecord>> Store::get_smart_account(std::string_view id) {
  return impl_->read([&](Connection& connection) -> Result<std::optional<SmartAccountRecord>> {
    auto select = connection.prepare(sql::kGetSmartAccount, "get smart account");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, id);
    return read_one(*select, read_smart_account);
  });
}

Result<Page<SmartAccountRecord>> Store::list_smart_accounts(std::string_view app_id,
                                                            std::optional<std::string_view> owner,
                                                            std::optional<std::int64_t> before, int limit) {
  if (auto valid = check_limit(limit); !valid) return std::unexpected(std::move(valid.error()));
  return impl_->read([&](Connection& connection) -> Result<Page<SmartAccountRecord>> {
    if (owner) {
      auto select = connection.prepare(sql::kListSmartAccountsOfOwner, "list smart accounts of owner");
      if (!select) return std::unexpected(std::move(select.error()));
      select->bind_text(1, app_id).bind_text(2, *owner).bind_int(3, cursor_or_start(before)).bind_int(4, limit + 1);
      return read_page<SmartAccountRecord>(*select, limit, read_smart_account);
    }
    auto select = connection.prepare(sql::kListSmartAccounts, "list smart accounts");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, app_id).bind_int(2, cursor_or_start(before)).bind_int(3, std::int64_t{limit} + 1);
    return read_page<SmartAccountRecord>(*select, limit, read_smart_account);
  });
}

Result<std::vector<SmartAccountNetworkRecord>> Store::smart_account_networks(std::string_view smart_account_id) {
  return impl_->read([&](Connection& connection) -> Result<std::vector<SmartAccountNetworkRecord>> {
    auto select = connection.prepare(sql::kSmartNetworksOfAccount, "read smart account networks");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, smart_account_id);
    return read_all(*select, read_smart_network);
  });
}

Result<std::optional<GasTankEntry>> Store::last_gas_tank_entry(std::string_view gas_tank_id) {
  return impl_->read([&](Connection& connection) -> Result<std::optional<GasTankEntry>> {
    auto select = connection.prepare(sql::kLastGasTankEntry, "read gas tank balance");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, gas_tank_id);
    return read_one(*select, read_gas_tank_entry);
  });
}

Result<GasTankEntry> Store::append_gas_tank_entry(
    GasTankEntry entry, const std::function<Result<std::string>(const std::string& balance_before)>& next_balance,
    const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<GasTankEntry> {
    std::string before = "0";
    {
      auto select = connection.prepare(sql::kLastGasTankEntry, "append to gas tank");
      if (!select) return std::unexpected(std::move(select.error()));
      select->bind_text(1, entry.gas_tank_id);
      auto last = read_one(*select, read_gas_tank_entry);
      if (!last) return std::unexpected(std::move(last.error()));
      if (*last) before = (*last)->balance_after;
    }
    auto after = next_balance(before);
    if (!after) return std::unexpected(std::move(after.error()));
    GasTankEntry written = entry;
    written.balance_after = std::move(*after);
    auto insert = connection.prepare(sql::kInsertGasTankEntry, "append to gas tank");
    if (!insert) return std::unexpected(std::move(insert.error()));
    insert->bind_text(1, written.id)
        .bind_text(2, written.gas_tank_id)
        .bind_text(3, written.kind)
        .bind_text(4, written.amount)
        .bind_text(5, written.balance_after)
        .bind_optional_text(6, written.account_network_id)
        .bind_int(7, written.date_ns);
    auto inserted = insert->run();
    if (!inserted) {
      if (insert->last_error() == SQLITE_CONSTRAINT_FOREIGNKEY) {
        return fail(ErrorCode::kNotFound, "gas tank " + written.gas_tank_id + " not found");
      }
      return std::unexpected(std::move(inserted.error()));
    }
    if (audit != nullptr) {
      if (auto appended = append_audit_in(connection, *audit); !appended) return std::unexpected(appended.error());
    }
    return written;
  });
}

Result<Page<GasTankEntry>> Store::list_gas_tank_entries(std::string_view gas_tank_id,
                                                        std::optional<std::int64_t> before, int limit) {
  if (auto valid = check_limit(limit); !valid) return std::unexpected(std::move(valid.error()));
  return impl_->read([&](Connection& connection) -> Result<Page<GasTankEntry>> {
    auto select = connection.prepare(sql::kListGasTankEntries, "list gas tank entries");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, gas_tank_id).bind_int(2, cursor_or_start(before)).bind_int(3, std::int64_t{limit} + 1);
    return read_page<GasTankEntry>(*select, limit, read_gas_tank_entry);
  });
}

}  // namespace signerd::store

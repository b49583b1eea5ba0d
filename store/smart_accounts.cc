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
  a.date_revoked_ns = row.optional_int64(7);
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
  n.deploy_tx = row.optional_text(12);
  n.deploy_from = row.optional_text(13);
  n.deploy_nonce = row.optional_int64(14);
  n.deploy_fee = row.optional_text(15);
  n.deployed_block = row.optional_int64(16);
  n.date_deployed_ns = row.optional_int64(17);
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

Result<std::optional<SmartAccountNetworkRecord>> network_by_id(Connection& connection, std::string_view id) {
  auto select = connection.prepare(sql::kGetSmartNetwork, "read smart account network");
  if (!select) return std::unexpected(std::move(select.error()));
  select->bind_text(1, id);
  return read_one(*select, read_smart_network);
}

// The account, which must exist: kNotFound otherwise.
Result<SmartAccountNetworkRecord> existing_network(Connection& connection, std::string_view id) {
  auto found = network_by_id(connection, id);
  if (!found) return std::unexpected(std::move(found.error()));
  if (!*found) return fail(ErrorCode::kNotFound, "account " + std::string(id) + " not found");
  return std::move(**found);
}

// Appends `entry` to its tank (entry.gas_tank_id) with balance_after = next(the balance before, "0" for the first).
Result<GasTankEntry> append_to_tank(Connection& connection, GasTankEntry entry,
                                    const std::function<Result<std::string>(const std::string&)>& next) {
  std::string before = "0";
  {
    auto select = connection.prepare(sql::kLastGasTankEntry, "append to gas tank");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, entry.gas_tank_id);
    auto last = read_one(*select, read_gas_tank_entry);
    if (!last) return std::unexpected(std::move(last.error()));
    if (*last) before = (*last)->balance_after;
  }
  auto after = next(before);
  if (!after) return std::unexpected(std::move(after.error()));
  entry.balance_after = std::move(*after);
  auto insert = connection.prepare(sql::kInsertGasTankEntry, "append to gas tank");
  if (!insert) return std::unexpected(std::move(insert.error()));
  insert->bind_text(1, entry.id)
      .bind_text(2, entry.gas_tank_id)
      .bind_text(3, entry.kind)
      .bind_text(4, entry.amount)
      .bind_text(5, entry.balance_after)
      .bind_optional_text(6, entry.account_network_id)
      .bind_int(7, entry.date_ns);
  auto inserted = insert->run();
  if (!inserted) {
    if (insert->last_error() == SQLITE_CONSTRAINT_FOREIGNKEY) {
      return fail(ErrorCode::kNotFound, "gas tank " + entry.gas_tank_id + " not found");
    }
    return std::unexpected(std::move(inserted.error()));
  }
  return entry;
}

// The same for an activation's entry: the tank of the record `account` belongs to.
Result<void> append_for_account(Connection& connection, const SmartAccountNetworkRecord& account, GasTankEntry entry,
                                const std::function<Result<std::string>(const std::string&)>& next) {
  auto select = connection.prepare(sql::kGasTankOfSmartAccount, "read gas tank");
  if (!select) return std::unexpected(std::move(select.error()));
  select->bind_text(1, account.smart_account_id);
  auto row = select->step();
  if (!row) return std::unexpected(std::move(row.error()));
  if (!*row) return fail(ErrorCode::kInternal, "store: smart account " + account.smart_account_id + " vanished");
  entry.gas_tank_id = select->text(0);
  entry.account_network_id = account.id;
  auto appended = append_to_tank(connection, std::move(entry), next);
  if (!appended) return std::unexpected(std::move(appended.error()));
  return {};
}

Result<void> audit_in(Connection& connection, const AuditEntry* audit) {
  if (audit == nullptr) return {};
  if (auto appended = append_audit_in(connection, *audit); !appended) return std::unexpected(appended.error());
  return {};
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

Result<Page<SmartAppRecord>> Store::list_smart_apps(std::optional<std::int64_t> before, int limit) {
  if (auto valid = check_limit(limit); !valid) return std::unexpected(std::move(valid.error()));
  return impl_->read([&](Connection& connection) -> Result<Page<SmartAppRecord>> {
    auto select = connection.prepare(sql::kListSmartApps, "list smart-account apps");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_int(1, cursor_or_start(before)).bind_int(2, std::int64_t{limit} + 1);
    return read_page<SmartAppRecord>(*select, limit, read_smart_app);
  });
}

Result<SmartAppRecord> Store::revoke_smart_app(std::string_view id, std::int64_t date_ns, const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<SmartAppRecord> {
    auto update = connection.prepare(sql::kRevokeSmartApp, "revoke smart-account app");
    if (!update) return std::unexpected(std::move(update.error()));
    update->bind_text(1, id).bind_int(2, date_ns);
    auto revoked = read_one(*update, read_smart_app);
    if (!revoked) return std::unexpected(std::move(revoked.error()));
    if (!*revoked) {
      // Nothing changed: tell an unknown app from a revoked one. The writer is the only writer, so the answer holds.
      auto select = connection.prepare(sql::kGetSmartApp, "revoke smart-account app");
      if (!select) return std::unexpected(std::move(select.error()));
      select->bind_text(1, id);
      auto existing = read_one(*select, read_smart_app);
      if (!existing) return std::unexpected(std::move(existing.error()));
      if (!*existing) return fail(ErrorCode::kNotFound, "smart-account app " + std::string(id) + " not found");
      return fail(ErrorCode::kConflict, "smart-account app " + std::string(id) + " is already revoked");
    }
    if (auto finished = update->run(); !finished) return std::unexpected(std::move(finished.error()));
    if (auto appended = audit_in(connection, audit); !appended) return std::unexpected(appended.error());
    return std::move(**revoked);
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
    auto written = append_to_tank(connection, entry, next_balance);
    if (!written) return std::unexpected(std::move(written.error()));
    if (auto appended = audit_in(connection, audit); !appended) return std::unexpected(appended.error());
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

Result<SmartAccountNetworkRecord> Store::begin_smart_deployment(
    const SmartDeployment& deployment, const std::function<Result<std::string>(const std::string& balance)>& reserve,
    const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<SmartAccountNetworkRecord> {
    auto account = existing_network(connection, deployment.account_network_id);
    if (!account) return std::unexpected(std::move(account.error()));
    if (account->status != "not_deployed") {
      return fail(ErrorCode::kConflict, "account " + account->id + " on " + account->network + " is " +
                                            account->status + ", not not_deployed");
    }
    GasTankEntry entry;
    entry.id = deployment.reserve_entry_id;
    entry.kind = "reserve";
    entry.amount = deployment.fee;
    entry.date_ns = deployment.date_ns;
    if (auto appended = append_for_account(connection, *account, entry, reserve); !appended) {
      return std::unexpected(std::move(appended.error()));
    }
    auto update = connection.prepare(sql::kBeginSmartDeployment, "begin smart account deployment");
    if (!update) return std::unexpected(std::move(update.error()));
    update->bind_text(1, deployment.account_network_id)
        .bind_text(2, deployment.tx_hash)
        .bind_text(3, deployment.signed_tx)
        .bind_text(4, deployment.from)
        .bind_int(5, deployment.nonce)
        .bind_text(6, deployment.fee)
        .bind_int(7, deployment.date_ns);
    if (auto updated = update->run(); !updated) return std::unexpected(std::move(updated.error()));
    if (auto appended = audit_in(connection, audit); !appended) return std::unexpected(appended.error());
    return existing_network(connection, deployment.account_network_id);
  });
}

Result<SmartAccountNetworkRecord> Store::finish_smart_deployment(
    std::string_view account_network_id, std::string_view tx_hash, const SmartDeploymentOutcome& outcome,
    const std::function<Result<std::string>(const std::string& balance, const std::string& fee)>& release,
    const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<SmartAccountNetworkRecord> {
    auto account = existing_network(connection, account_network_id);
    if (!account) return std::unexpected(std::move(account.error()));
    if (account->status != "deploying" || account->tx_hash != std::optional<std::string>(std::string(tx_hash))) {
      return fail(ErrorCode::kConflict, "account " + account->id + " is no longer deploying transaction " +
                                            std::string(tx_hash));
    }
    if (outcome.deployed) {
      auto update = connection.prepare(sql::kSmartDeployed, "finish smart account deployment");
      if (!update) return std::unexpected(std::move(update.error()));
      update->bind_text(1, account_network_id)
          .bind_optional_text(2, account->tx_hash)
          .bind_optional_int(3, outcome.block)
          .bind_int(4, outcome.date_ns);
      if (auto updated = update->run(); !updated) return std::unexpected(std::move(updated.error()));
    } else {
      const std::string fee = account->deploy_fee.value_or("0");
      GasTankEntry entry;
      entry.id = outcome.release_entry_id;
      entry.kind = "release";
      entry.amount = fee;
      entry.date_ns = outcome.date_ns;
      auto appended = append_for_account(connection, *account, entry,
                                       [&](const std::string& balance) { return release(balance, fee); });
      if (!appended) return std::unexpected(std::move(appended.error()));
      auto update = connection.prepare(sql::kSmartDeploymentFailed, "finish smart account deployment");
      if (!update) return std::unexpected(std::move(update.error()));
      update->bind_text(1, account_network_id).bind_text(2, outcome.reason).bind_int(3, outcome.date_ns);
      if (auto updated = update->run(); !updated) return std::unexpected(std::move(updated.error()));
    }
    if (auto appended = audit_in(connection, audit); !appended) return std::unexpected(appended.error());
    return existing_network(connection, account_network_id);
  });
}

Result<SmartAccountNetworkRecord> Store::mark_smart_account_deployed(std::string_view account_network_id,
                                                                     std::int64_t date_ns, const AuditEntry* audit) {
  return impl_->writer.write([&](Connection& connection) -> Result<SmartAccountNetworkRecord> {
    auto account = existing_network(connection, account_network_id);
    if (!account) return std::unexpected(std::move(account.error()));
    if (account->status != "not_deployed") {
      return fail(ErrorCode::kConflict, "account " + account->id + " is " + account->status + ", not not_deployed");
    }
    auto update = connection.prepare(sql::kSmartDeployed, "mark smart account deployed");
    if (!update) return std::unexpected(std::move(update.error()));
    update->bind_text(1, account_network_id)
        .bind_optional_text(2, std::nullopt)
        .bind_optional_int(3, std::nullopt)
        .bind_int(4, date_ns);
    if (auto updated = update->run(); !updated) return std::unexpected(std::move(updated.error()));
    if (auto appended = audit_in(connection, audit); !appended) return std::unexpected(appended.error());
    return existing_network(connection, account_network_id);
  });
}

Result<bool> Store::remember_smart_request(std::string_view app_id, std::string_view signature,
                                          std::int64_t forget_after_ns, std::int64_t now_ns) {
  return impl_->writer.write([&](Connection& connection) -> Result<bool> {
    auto forget = connection.prepare(sql::kForgetSmartRequests, "forget old app request signatures");
    if (!forget) return std::unexpected(std::move(forget.error()));
    forget->bind_int(1, now_ns);
    if (auto done = forget->run(); !done) return std::unexpected(std::move(done.error()));
    auto insert = connection.prepare(sql::kRememberSmartRequest, "remember app request signature");
    if (!insert) return std::unexpected(std::move(insert.error()));
    insert->bind_text(1, app_id).bind_text(2, signature).bind_int(3, forget_after_ns);
    auto inserted = insert->run();
    if (!inserted && unique_violation(*insert)) return false;
    if (!inserted) return std::unexpected(std::move(inserted.error()));
    return true;
  });
}

Result<std::optional<SmartAccountNetworkRecord>> Store::get_smart_account_network(std::string_view account_network_id) {
  return impl_->read([&](Connection& connection) { return network_by_id(connection, account_network_id); });
}

Result<std::vector<SmartAccountNetworkRecord>> Store::smart_accounts_in_status(std::string_view status) {
  return impl_->read([&](Connection& connection) -> Result<std::vector<SmartAccountNetworkRecord>> {
    auto select = connection.prepare(sql::kSmartNetworksInStatus, "list smart accounts by status");
    if (!select) return std::unexpected(std::move(select.error()));
    select->bind_text(1, status);
    return read_all(*select, read_smart_network);
  });
}

}  // namespace signerd::store

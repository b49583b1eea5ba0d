#include "core/smart_account_service.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <stdexcept>

#include "chains/evm.h"
#include "core/smart_deployer.h"
#include "smart/amount.h"
#include "smart/user_operation.h"

namespace signerd::core {
namespace {

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    throw std::runtime_error("the system random number generator failed");
  }
  return out;
}


// A random (version 4) UUID.
std::string uuid4() {
  Bytes b = random_bytes(16);
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  const std::string h = to_hex(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

// Apps are managed by the local administrator (a trusted uid on the Unix socket) only: `action` says what was refused.
Result<void> require_local_admin(const Principal& who, std::string_view action) {
  if (who.kind == PrincipalKind::kLocalAdmin) return {};
  return fail(ErrorCode::kPermissionDenied,
              "permission denied: the local administrator (a trusted uid on the Unix socket) is required to " +
                  std::string(action));
}

Result<chains::EvmAddress> parse_owner(std::string_view owner) {
  auto parsed = chains::parse_evm_address(owner);
  if (!parsed) return fail(ErrorCode::kInvalidArgument, "owner.id: " + parsed.error().message);
  return *parsed;
}

}  // namespace

std::string new_smart_record_id() { return to_hex(random_bytes(12)); }

std::int64_t now_unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<CreatedSmartApp> SmartAccountService::create_app(const Principal& who, std::string_view name) {
  if (auto allowed = require_local_admin(who, "create smart-account applications"); !allowed) {
    return std::unexpected(allowed.error());
  }
  if (name.empty() || name.size() > 128) return fail(ErrorCode::kInvalidArgument, "name must be 1 to 128 characters");
  CreatedSmartApp out;
  out.app.id = uuid4();
  out.app.client_id = uuid4();
  out.app.name = std::string(name);
  out.app.hmac_key_id = "smart-app-" + out.app.id;
  out.app.created_by = who.id;
  out.app.date_created_ns = now_unix_ns();
  Bytes secret = random_bytes(32);
  out.secret_hex = to_hex(secret);
  auto imported = hsm_.import_hmac_key(out.app.hmac_key_id, secret);
  OPENSSL_cleanse(secret.data(), secret.size());
  if (!imported) {
    OPENSSL_cleanse(out.secret_hex.data(), out.secret_hex.size());
    return std::unexpected(imported.error());
  }
  const auto audit = audit_entry(who, {out.app.id});
  if (auto inserted = store_.insert_smart_app(out.app, &audit); !inserted) {
    OPENSSL_cleanse(out.secret_hex.data(), out.secret_hex.size());
    (void)hsm_.destroy_key(out.app.hmac_key_id);
    return std::unexpected(inserted.error());
  }
  return out;
}

Result<store::Page<store::SmartAppRecord>> SmartAccountService::list_apps(const Principal& who,
                                                                          std::optional<std::int64_t> before,
                                                                          int limit) {
  if (auto allowed = require_local_admin(who, "list smart-account applications"); !allowed) {
    return std::unexpected(allowed.error());
  }
  return store_.list_smart_apps(before, limit);
}

Result<store::SmartAppRecord> SmartAccountService::revoke_app(const Principal& who, std::string_view id) {
  if (auto allowed = require_local_admin(who, "revoke smart-account applications"); !allowed) {
    return std::unexpected(allowed.error());
  }
  // The record first, the HSM key after. authenticate() refuses the app from the moment the record is written, so a
  // crash (or an HSM error) between the two leaves a revoked app whose HSM object is merely unused, and the next
  // revoke_app removes it. Destroying first would, on a crash before the record, leave an app the store still calls
  // in use, with no revocation date and no audit record of who revoked it: the one state a revocation must not end in.
  const auto audit = audit_entry(who, {std::string(id)});
  auto revoked = store_.revoke_smart_app(id, now_unix_ns(), &audit);
  if (!revoked) {
    if (revoked.error().code == ErrorCode::kConflict) {
      auto existing = store_.get_smart_app(id);
      if (existing && *existing) {
        if (auto destroyed = hsm_.destroy_key((*existing)->hmac_key_id); !destroyed) {
          spdlog::warn("smart accounts: app {} is revoked but its HSM key {} is still there: {}", (*existing)->id,
                       (*existing)->hmac_key_id, destroyed.error().message);
        }
      }
    }
    return std::unexpected(revoked.error());
  }
  if (auto destroyed = hsm_.destroy_key(revoked->hmac_key_id); !destroyed) {
    spdlog::warn(
        "smart accounts: app {} is revoked but destroying its HSM key {} failed ({}); revoking it again "
        "retries",
        revoked->id, revoked->hmac_key_id, destroyed.error().message);
  }
  return revoked;
}

Result<store::SmartAppRecord> SmartAccountService::authenticate(const smart::AppRequest& request) {
  std::optional<store::SmartAppRecord> app;
  auto mac = [&](std::string_view app_id, std::span<const std::uint8_t> message) -> Result<Bytes> {
    auto found = store_.get_smart_app(app_id);
    if (!found) return std::unexpected(found.error());
    // A revoked app is no application: the same 401, whether or not its HSM key is gone yet.
    if (!*found || (*found)->date_revoked_ns) return fail(ErrorCode::kNotFound, "no app");
    app = std::move(**found);
    return hsm_.hmac_sha256(app->hmac_key_id, message);
  };
  const std::int64_t now = now_unix_ns();
  auto remember = [&](std::string_view app_id, std::string_view signature, std::int64_t forget_after) {
    return store_.remember_smart_request(app_id, signature, forget_after, now);
  };
  if (auto verified = verifier_.verify(request, now, mac, remember); !verified) {
    return std::unexpected(verified.error());
  }
  return std::move(*app);
}

Result<SmartAccount> SmartAccountService::complete(store::SmartAccountRecord record, std::string client_id) {
  SmartAccount out;
  auto accounts = store_.smart_account_networks(record.id);
  if (!accounts) return std::unexpected(accounts.error());
  auto last = store_.last_gas_tank_entry(record.gas_tank_id);
  if (!last) return std::unexpected(last.error());
  out.record = std::move(record);
  out.client_id = std::move(client_id);
  out.accounts = std::move(*accounts);
  if (*last) {
    out.balance = (*last)->balance_after;
    out.gas_tank_updated_ns = (*last)->date_ns;
  }
  return out;
}

Result<SmartAccountService::Created> SmartAccountService::create_account(const store::SmartAppRecord& app,
                                                                         const Principal& who, std::string_view owner,
                                                                         std::string_view provider) {
  auto address = parse_owner(owner);
  if (!address) return std::unexpected(address.error());
  if (provider != "wallet") {
    return fail(ErrorCode::kInvalidArgument,
                "owner.provider '" + std::string(provider) + "' is not supported; supported providers: wallet");
  }
  const auto in_force = deployer_.networks();
  if (in_force->configured.empty()) {
    return fail(ErrorCode::kUnavailable, "no smart-account network is configured ([[smart_accounts.networks]])");
  }
  const std::int64_t now = now_unix_ns();
  store::SmartAccountRecord record;
  record.id = new_smart_record_id();
  record.app_id = app.id;
  record.owner = chains::evm_address_lower(*address);
  record.owner_id = chains::eip55_encode(*address);
  record.provider = std::string(provider);
  record.gas_tank_id = new_smart_record_id();
  record.gas_tank_token = token_.name;
  record.gas_tank_decimals = token_.decimals;
  record.date_created_ns = now;
  std::vector<store::SmartAccountNetworkRecord> accounts;
  for (const auto& n : in_force->configured) {
    store::SmartAccountNetworkRecord a;
    a.id = new_smart_record_id();
    a.network = n.name;
    a.chain_id = static_cast<std::int64_t>(n.chain_id);
    a.version = smart::to_string(n.version);
    a.aa_address = chains::eip55_encode(n.account_address(*address));
    a.date_created_ns = now;
    accounts.push_back(std::move(a));
  }
  const auto audit = audit_entry(who, {record.id});
  auto written = store_.create_or_get_smart_account(record, accounts, &audit);
  if (!written) return std::unexpected(written.error());
  auto full = complete(std::move(written->account), app.client_id);
  if (!full) return std::unexpected(full.error());
  return Created{std::move(*full), written->created};
}

Result<SmartAccount> SmartAccountService::owned(const store::SmartAppRecord& app, std::string_view id) {
  auto record = store_.get_smart_account(id);
  if (!record) return std::unexpected(record.error());
  if (!*record || (*record)->app_id != app.id) {
    return fail(ErrorCode::kNotFound, "smart account " + std::string(id) + " not found");
  }
  return complete(std::move(**record), app.client_id);
}

Result<SmartAccount> SmartAccountService::get_account(const store::SmartAppRecord& app, std::string_view id) {
  return owned(app, id);
}

Result<store::Page<SmartAccount>> SmartAccountService::list_accounts(const store::SmartAppRecord& app,
                                                                     std::optional<std::string_view> owner,
                                                                     std::optional<std::int64_t> before, int limit) {
  std::optional<std::string> owner_key;
  if (owner) {
    auto address = chains::parse_evm_address(*owner);
    if (!address) return fail(ErrorCode::kInvalidArgument, "owner: " + address.error().message);
    owner_key = chains::evm_address_lower(*address);
  }
  auto page = store_.list_smart_accounts(app.id, owner_key ? std::optional<std::string_view>(*owner_key) : std::nullopt,
                                         before, limit);
  if (!page) return std::unexpected(page.error());
  store::Page<SmartAccount> out;
  out.next_cursor = page->next_cursor;
  for (auto& record : page->items) {
    auto full = complete(std::move(record), app.client_id);
    if (!full) return std::unexpected(full.error());
    out.items.push_back(std::move(*full));
  }
  return out;
}

Result<SmartAccountService::Deposit> SmartAccountService::deposit(const store::SmartAppRecord& app,
                                                                  const Principal& who, std::string_view id,
                                                                  std::string_view gas_tank_id,
                                                                  std::string_view amount) {
  auto parsed = smart::parse_amount(amount);
  if (!parsed) return std::unexpected(parsed.error());
  if (*parsed == "0") return fail(ErrorCode::kInvalidArgument, "amount must be greater than 0");
  auto account = owned(app, id);
  if (!account) return std::unexpected(account.error());
  if (account->record.gas_tank_id != gas_tank_id) {
    return fail(ErrorCode::kNotFound,
                "gas tank " + std::string(gas_tank_id) + " not found in smart account " + std::string(id));
  }
  store::GasTankEntry entry;
  entry.id = new_smart_record_id();
  entry.gas_tank_id = account->record.gas_tank_id;
  entry.kind = "deposit";
  entry.amount = *parsed;
  entry.date_ns = now_unix_ns();
  const auto audit = audit_entry(who, {account->record.id, entry.gas_tank_id, entry.id});
  auto written = store_.append_gas_tank_entry(
      entry,
      [&](const std::string& before) -> Result<std::string> {
        auto sum = smart::add_amounts(before, *parsed);
        if (!sum) return fail(ErrorCode::kInvalidArgument, "the gas tank's balance would exceed 2^256 - 1");
        return sum;
      },
      &audit);
  if (!written) return std::unexpected(written.error());
  account->balance = written->balance_after;
  account->gas_tank_updated_ns = written->date_ns;
  return Deposit{std::move(*written), std::move(*account)};
}

Result<SmartAccountService::Activation> SmartAccountService::activate(const store::SmartAppRecord& app,
                                                                    const Principal& who, std::string_view id,
                                                                    std::string_view account_id,
                                                                    std::optional<std::string_view> signature) {
  auto account = owned(app, id);
  if (!account) return std::unexpected(account.error());
  const store::SmartAccountNetworkRecord* target = nullptr;
  for (const auto& a : account->accounts) {
    if (a.id == account_id) target = &a;
  }
  if (!target) {
    return fail(ErrorCode::kNotFound,
                "account " + std::string(account_id) + " not found in smart account " + std::string(id));
  }
  if (target->status != "not_deployed") {
    Error e{ErrorCode::kInvalidArgument,
            "account " + target->id + " on " + target->network + " is already " + target->status +
                (target->tx_hash ? " (transaction " + *target->tx_hash + ")" : std::string()),
            {}};
    e.details = {{"status", target->status}, {"network", target->network}};
    return std::unexpected(std::move(e));
  }
  // One set for the whole activation: a reload meanwhile does not change the network under it.
  const auto in_force = deployer_.networks();
  const smart::Network* network = in_force->configured_network(target->network);
  if (!network) {
    return fail(ErrorCode::kUnavailable,
                "network " + target->network + " is no longer configured; its account cannot be activated");
  }
  auto owner = chains::parse_evm_address(account->record.owner);
  auto address = chains::parse_evm_address(target->aa_address);
  if (!owner || !address) return fail(ErrorCode::kInternal, "store: malformed smart account addresses");
  // A reload never changes this under a record; a restart with another chain_id, version, factory, ... for the same
  // name would, and deploying there would put the account elsewhere than the address the record gave.
  if (static_cast<std::int64_t>(network->chain_id) != target->chain_id ||
      smart::to_string(network->version) != target->version || network->account_address(*owner) != *address) {
    Error e{ErrorCode::kUnavailable,
            "network " + target->network +
                " is configured now with another chain, account version or address "
                "derivation than account " +
                target->id + " was made with (chain " + std::to_string(target->chain_id) + ", version " +
                target->version + ", address " + target->aa_address + "); it cannot be activated",
            {}};
    e.details = {{"network", target->network}};
    return std::unexpected(std::move(e));
  }
  if (smart::compare_amounts(account->balance, network->activation_fee) < 0) {
    return std::unexpected(SmartDeployer::fee_not_covered(*network, account->record, account->balance));
  }
  if (auto ready = SmartDeployer::can_deploy(*network); !ready) return std::unexpected(ready.error());

  Activation out;
  out.account_id = target->id;
  Bytes owner_signature;
  if (network->version == smart::AccountVersion::kV0_8) {
    SmartDeployerUserOp to_sign;
    to_sign.op = smart::activation_user_op(network->factory, *owner, *address);
    to_sign.hash = smart::user_op_hash_v08(to_sign.op, network->entry_point, network->chain_id);
    to_sign.entry_point = network->entry_point;
    to_sign.chain_id = network->chain_id;
    if (!signature) {
      out.to_sign = std::move(to_sign);
      out.account = std::move(*account);
      return out;
    }
    auto bytes = from_hex(*signature);
    if (!bytes) {
      return fail(ErrorCode::kInvalidArgument, "signature must be \"0x\" and 130 hex digits (r || s || v)");
    }
    auto recovered = smart::recover_signer(to_sign.hash, *bytes);
    if (!recovered) return fail(ErrorCode::kInvalidArgument, "signature: " + recovered.error().message);
    if (recovered->signer != *owner) {
      Error e{ErrorCode::kInvalidArgument,
              "signature: it was made by " + chains::eip55_encode(recovered->signer) + ", not by the owner " +
                  account->record.owner_id + "; the owner signs userOpHash " + to_hex_0x(to_sign.hash) +
                  " as is (no message prefix)",
              {}};
      e.details = {{"userOpHash", to_hex_0x(to_sign.hash)}, {"signer", chains::eip55_encode(recovered->signer)}};
      return std::unexpected(std::move(e));
    }
    owner_signature = std::move(recovered->signature);
  } else if (signature) {
    return fail(ErrorCode::kInvalidArgument, "signature: " + network->name + " uses account version " +
                                                 smart::to_string(network->version) +
                                                 ", whose activation the relayer sends without an owner signature; "
                                                 "omit it");
  }
  // The deployment waits on the node (all above is local, v0.8's first call included): hold one of the
  // max_activations_ slots for it, or refuse at once.
  if (activations_.fetch_add(1, std::memory_order_acq_rel) >= max_activations_) {
    activations_.fetch_sub(1, std::memory_order_acq_rel);
    Error busy{ErrorCode::kUnavailable,
               fmt::format("{} activations are already in progress, the most this signerd runs at once; retry later",
                           max_activations_),
               {}};
    busy.details = {{"maxConcurrentActivations", max_activations_}};
    return std::unexpected(std::move(busy));
  }
  struct Slot {
    std::atomic<unsigned>& held;
    ~Slot() { held.fetch_sub(1, std::memory_order_acq_rel); }
  } slot{activations_};
  auto started = deployer_.deploy(*in_force, account->record, *target, *network, owner_signature, who);
  if (!started) return std::unexpected(started.error());
  out.started = !started->on_chain;
  out.sent = started->sent;
  out.on_chain = started->on_chain;
  auto refreshed = owned(app, id);
  if (!refreshed) return std::unexpected(refreshed.error());
  out.account = std::move(*refreshed);
  return out;
}

}  // namespace signerd::core

#pragma once
// The store's schema as an ordered list of migrations, and the SQL of every statement the store runs (in one place,
// so tests can check that each list is served by an index).
#include <cstdint>
#include <span>
#include <string_view>

#include "common/error.h"

namespace signerd::store {

class Connection;

// Migration i (0-based) takes a database from schema version i to i + 1; PRAGMA user_version holds the version.
// Released entries are never edited: a schema change is a new entry at the end.
std::span<const std::string_view> migrations();
inline std::int64_t schema_version() { return static_cast<std::int64_t>(migrations().size()); }

// Applies pending migrations, each in its own transaction together with its user_version bump. kInternal, naming
// both versions, when the database is newer than this code.
Result<void> migrate(Connection& connection);

namespace sql {

// Column lists, in the order the store reads them.
#define SIGNERD_KEY_COLUMNS                                                                                   \
  "seq, id, scheme, curve, public_key, name, status, custodial, owner_id, date_created_ms, date_deleted_ms, " \
  "failure_reason, delegated_to, delay_delegation, public_key_id"
#define SIGNERD_SIGNATURE_COLUMNS                                                                                 \
  "seq, id, key_id, requester_user_id, requester_token_id, request_body, request_digest, status, reason, r, s, " \
  "recid, encoded, network, external_id, date_requested_ms, date_signed_ms, signed_data, tx_hash"

inline constexpr std::string_view kInsertKey =
    "INSERT INTO keys (id, scheme, curve, public_key, name, status, custodial, owner_id, date_created_ms, "
    "date_deleted_ms, failure_reason, delegated_to, delay_delegation, public_key_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
inline constexpr std::string_view kGetKey = "SELECT " SIGNERD_KEY_COLUMNS " FROM keys WHERE id = ?1";
// ?1 = before (exclusive), ?2 = limit + 1. INDEXED BY asserts the partial index keys_listed (the statement fails
// to prepare if it cannot be used): left alone, the planner prefers keys_by_status and sorts every listed key.
inline constexpr std::string_view kListKeys =
    "SELECT " SIGNERD_KEY_COLUMNS
    " FROM keys INDEXED BY keys_listed WHERE status IN ('Active', 'Archived') AND seq < ?1 ORDER BY seq DESC "
    "LIMIT ?2";
// ?1 = user, ?2 = before (exclusive), ?3 = limit + 1. INDEXED BY asserts the partial index keys_delegated, for the
// same reason as above.
inline constexpr std::string_view kListDelegatedKeys =
    "SELECT " SIGNERD_KEY_COLUMNS
    " FROM keys INDEXED BY keys_delegated WHERE delegated_to = ?1 AND status IN ('Active', 'Archived') AND seq < ?2 "
    "ORDER BY seq DESC LIMIT ?3";
inline constexpr std::string_view kKeysWithStatus =
    "SELECT " SIGNERD_KEY_COLUMNS " FROM keys WHERE status = ?1 ORDER BY seq";
inline constexpr std::string_view kKeyStatus = "SELECT status FROM keys WHERE id = ?1";
// ?1 = id, ?2 = from, ?3 = to, ?4 = public_key, ?5 = date_deleted_ms, ?6 = failure_reason (NULL keeps the value).
inline constexpr std::string_view kTransitionKey =
    "UPDATE keys SET status = ?3, public_key = coalesce(?4, public_key), "
    "date_deleted_ms = coalesce(?5, date_deleted_ms), failure_reason = coalesce(?6, failure_reason) "
    "WHERE id = ?1 AND status = ?2 RETURNING " SIGNERD_KEY_COLUMNS;
inline constexpr std::string_view kRenameKey =
    "UPDATE keys SET name = ?2 WHERE id = ?1 RETURNING " SIGNERD_KEY_COLUMNS;
// ?1 = id, ?2 = user. Repeats delegate_key's checks so that the statement alone can never delegate twice.
inline constexpr std::string_view kDelegateKey =
    "UPDATE keys SET delegated_to = ?2, custodial = 0 WHERE id = ?1 AND status = 'Active' AND delay_delegation = 1 "
    "AND delegated_to IS NULL RETURNING " SIGNERD_KEY_COLUMNS;

#define SIGNERD_CUSTODY_COLUMNS "seq, key_id, event, delegated_to, principal_id, token_id, audit_seq, date_ms"
inline constexpr std::string_view kInsertCustody =
    "INSERT INTO custody (key_id, event, delegated_to, principal_id, token_id, audit_seq, date_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
// Served by the index custody_by_key.
inline constexpr std::string_view kCustodyOfKey =
    "SELECT " SIGNERD_CUSTODY_COLUMNS " FROM custody WHERE key_id = ?1 ORDER BY seq";

inline constexpr std::string_view kInsertSignature =
    "INSERT INTO signatures (id, key_id, requester_user_id, requester_token_id, request_body, request_digest, "
    "status, reason, r, s, recid, encoded, network, external_id, date_requested_ms, date_signed_ms, signed_data, "
    "tx_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";
inline constexpr std::string_view kGetSignature =
    "SELECT " SIGNERD_SIGNATURE_COLUMNS " FROM signatures WHERE id = ?1 AND key_id = ?2";
inline constexpr std::string_view kFindSignatureByExternalId =
    "SELECT " SIGNERD_SIGNATURE_COLUMNS " FROM signatures WHERE external_id = ?1";
inline constexpr std::string_view kSignatureIdByExternalId = "SELECT id FROM signatures WHERE external_id = ?1";
inline constexpr std::string_view kKeyCustody = "SELECT status, delegated_to FROM keys WHERE id = ?1";
// ?1 = key id, ?2 = before (exclusive), ?3 = limit + 1. Served by the index signatures_by_key.
inline constexpr std::string_view kListSignatures =
    "SELECT " SIGNERD_SIGNATURE_COLUMNS
    " FROM signatures WHERE key_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3";

#define SIGNERD_WALLET_COLUMNS \
  "seq, id, network, address, key_id, name, status, custodial, external_id, tags, owner_id, date_created_ms"

inline constexpr std::string_view kInsertWallet =
    "INSERT INTO wallets (id, network, address, key_id, name, status, custodial, external_id, tags, owner_id, "
    "date_created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
inline constexpr std::string_view kGetWallet = "SELECT " SIGNERD_WALLET_COLUMNS " FROM wallets WHERE id = ?1";
// ?1 = before (exclusive), ?2 = limit + 1. Served by the primary key.
inline constexpr std::string_view kListWallets =
    "SELECT " SIGNERD_WALLET_COLUMNS " FROM wallets WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2";
// ?1 = user, ?2 = before (exclusive), ?3 = limit + 1. The user's delegated keys (keys_delegated), then each key's
// wallets (wallets_by_key), sorted: the sort only ever holds that one user's wallets. CROSS JOIN fixes that order;
// the other one would walk every wallet in the store. The status term drops nothing (a wallet is only made on an
// Active key, which never goes back to Creating or Failed) and lets the partial index keys_delegated serve the join.
inline constexpr std::string_view kListDelegatedWallets =
    "SELECT w.seq, w.id, w.network, w.address, w.key_id, w.name, w.status, w.custodial, w.external_id, w.tags, "
    "w.owner_id, w.date_created_ms FROM keys AS k INDEXED BY keys_delegated CROSS JOIN wallets AS w "
    "ON w.key_id = k.id WHERE k.delegated_to = ?1 AND k.status IN ('Active', 'Archived') AND w.seq < ?2 "
    "ORDER BY w.seq DESC LIMIT ?3";
// Served by the index wallets_by_key.
inline constexpr std::string_view kListWalletsForKey =
    "SELECT " SIGNERD_WALLET_COLUMNS " FROM wallets WHERE key_id = ?1 ORDER BY seq";
// ?1 = id, ?2 = set name?, ?3 = name, ?4 = set external_id?, ?5 = external_id.
inline constexpr std::string_view kUpdateWallet =
    "UPDATE wallets SET name = CASE WHEN ?2 THEN ?3 ELSE name END, "
    "external_id = CASE WHEN ?4 THEN ?5 ELSE external_id END WHERE id = ?1 RETURNING " SIGNERD_WALLET_COLUMNS;
inline constexpr std::string_view kSetWalletTags =
    "UPDATE wallets SET tags = ?2 WHERE id = ?1 RETURNING " SIGNERD_WALLET_COLUMNS;

// --- asset accounts and public keys (the legacy API)

// Served by the partial unique index keys_by_public_key_id (the comparison implies public_key_id IS NOT NULL).
inline constexpr std::string_view kGetKeyByPublicKeyId =
    "SELECT " SIGNERD_KEY_COLUMNS " FROM keys WHERE public_key_id = ?1";
// ?1 = before (exclusive), ?2 = limit + 1. INDEXED BY asserts the partial index keys_public, as kListKeys does.
inline constexpr std::string_view kListPublicKeys =
    "SELECT " SIGNERD_KEY_COLUMNS
    " FROM keys INDEXED BY keys_public WHERE public_key_id IS NOT NULL AND status IN ('Active', 'Archived') "
    "AND seq < ?1 ORDER BY seq DESC LIMIT ?2";

#define SIGNERD_ASSET_ACCOUNT_COLUMNS                                                                         \
  "seq, id, asset_symbol, network, name, status, reason, key_id, public_key_id, address, external_id, tags, " \
  "owner_id, date_created_ms, date_updated_ms"
inline constexpr std::string_view kInsertAssetAccount =
    "INSERT INTO asset_accounts (id, asset_symbol, network, name, status, reason, key_id, public_key_id, address, "
    "external_id, tags, owner_id, date_created_ms, date_updated_ms) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
inline constexpr std::string_view kGetAssetAccount =
    "SELECT " SIGNERD_ASSET_ACCOUNT_COLUMNS " FROM asset_accounts WHERE id = ?1";
// ?1 = before (exclusive), ?2 = limit + 1. Served by the primary key.
inline constexpr std::string_view kListAssetAccounts =
    "SELECT " SIGNERD_ASSET_ACCOUNT_COLUMNS " FROM asset_accounts WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2";
// ?1 = status, ?2 = before (exclusive), ?3 = limit + 1. Served by the index asset_accounts_by_status.
inline constexpr std::string_view kListAssetAccountsWithStatus =
    "SELECT " SIGNERD_ASSET_ACCOUNT_COLUMNS
    " FROM asset_accounts WHERE status = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3";
// Oldest first, for start-up's resumption. Served by the index asset_accounts_by_status.
inline constexpr std::string_view kAssetAccountsWithStatus =
    "SELECT " SIGNERD_ASSET_ACCOUNT_COLUMNS " FROM asset_accounts WHERE status = ?1 ORDER BY seq";
// ?1 = id, ?2 = status, ?3 = reason, ?4 = key_id, ?5 = public_key_id, ?6 = address, ?7 = date_updated_ms (NULL
// keeps key_id and public_key_id). Only a Creating account finishes.
inline constexpr std::string_view kFinishAssetAccount =
    "UPDATE asset_accounts SET status = ?2, reason = ?3, key_id = coalesce(?4, key_id), "
    "public_key_id = coalesce(?5, public_key_id), address = ?6, date_updated_ms = ?7 "
    "WHERE id = ?1 AND status = 'Creating' RETURNING " SIGNERD_ASSET_ACCOUNT_COLUMNS;
// ?1 = id, ?2 = public_key_id, ?3 = date_updated_ms. Only a Creating account whose key is not known yet.
inline constexpr std::string_view kReplanAssetAccountKey =
    "UPDATE asset_accounts SET public_key_id = ?2, date_updated_ms = ?3 "
    "WHERE id = ?1 AND status = 'Creating' AND key_id IS NULL RETURNING " SIGNERD_ASSET_ACCOUNT_COLUMNS;
inline constexpr std::string_view kAssetAccountStatus = "SELECT status FROM asset_accounts WHERE id = ?1";

// --- identity objects

// Replaces the document of an existing (kind, id) and keeps its seq, so load order stays creation order.
inline constexpr std::string_view kPutIdentityObject =
    "INSERT INTO identity_objects (kind, id, json) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (kind, id) DO UPDATE SET json = excluded.json";
// Every object: a full pass over the table by its primary key is what is asked for.
inline constexpr std::string_view kLoadIdentityObjects =
    "SELECT seq, kind, id, json FROM identity_objects ORDER BY seq";

// --- audit trail

#define SIGNERD_AUDIT_COLUMNS                                                                               \
  "seq, time_ms, principal_id, token_id, credential_id, method, path, body_sha256, outcome, affected_ids, " \
  "prev_hash, hash"
// The newest record: the chain's head, read inside every write that appends (never cached across writes, so a
// rolled-back savepoint cannot leave a stale head behind). One step down the primary key.
inline constexpr std::string_view kAuditHead = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
// The number of records: seqs run from 1 without gaps. The same single step as kAuditHead.
inline constexpr std::string_view kAuditLength = "SELECT seq FROM audit ORDER BY seq DESC LIMIT 1";
inline constexpr std::string_view kInsertAudit =
    "INSERT INTO audit (" SIGNERD_AUDIT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
// ?1 = before (exclusive), ?2 = limit + 1. Served by the primary key.
inline constexpr std::string_view kListAudit =
    "SELECT " SIGNERD_AUDIT_COLUMNS " FROM audit WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2";

#undef SIGNERD_ASSET_ACCOUNT_COLUMNS
// --- smart accounts (v6)

#define SIGNERD_SMART_APP_COLUMNS \
  "seq, id, client_id, name, hmac_key_id, created_by, date_created_ns, date_revoked_ns"
#define SIGNERD_SMART_ACCOUNT_COLUMNS                                                                          \
  "seq, id, app_id, owner, owner_id, provider, gas_tank_id, gas_tank_token, gas_tank_decimals, date_created_ns, " \
  "date_updated_ns"
#define SIGNERD_SMART_NETWORK_COLUMNS                                                                             \
  "seq, id, smart_account_id, network, chain_id, version, aa_address, status, tx_hash, failure_reason, "          \
  "date_created_ns, date_updated_ns, deploy_tx, deploy_from, deploy_nonce, deploy_fee, deployed_block, "           \
  "date_deployed_ns"
#define SIGNERD_GAS_TANK_COLUMNS \
  "seq, id, gas_tank_id, kind, amount, balance_after, account_network_id, date_ns"

inline constexpr std::string_view kInsertSmartApp =
    "INSERT INTO smart_apps (id, client_id, name, hmac_key_id, created_by, date_created_ns) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr std::string_view kGetSmartApp = "SELECT " SIGNERD_SMART_APP_COLUMNS " FROM smart_apps WHERE id = ?1";
// ?1 = before (exclusive), ?2 = limit + 1. Revoked apps included. Served by the primary key.
inline constexpr std::string_view kListSmartApps =
    "SELECT " SIGNERD_SMART_APP_COLUMNS " FROM smart_apps WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2";
// ?1 = id, ?2 = date. Only an app not revoked yet: a revocation's date is never overwritten (v8).
inline constexpr std::string_view kRevokeSmartApp =
    "UPDATE smart_apps SET date_revoked_ns = ?2 WHERE id = ?1 AND date_revoked_ns IS NULL "
    "RETURNING " SIGNERD_SMART_APP_COLUMNS;
inline constexpr std::string_view kInsertSmartAccount =
    "INSERT INTO smart_accounts (id, app_id, owner, owner_id, provider, gas_tank_id, gas_tank_token, "
    "gas_tank_decimals, date_created_ns, date_updated_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
inline constexpr std::string_view kGetSmartAccount =
    "SELECT " SIGNERD_SMART_ACCOUNT_COLUMNS " FROM smart_accounts WHERE id = ?1";
// Served by the unique index on (app_id, owner).
inline constexpr std::string_view kFindSmartAccountByOwner =
    "SELECT " SIGNERD_SMART_ACCOUNT_COLUMNS " FROM smart_accounts WHERE app_id = ?1 AND owner = ?2";
// ?1 = app, ?2 = before (exclusive), ?3 = limit + 1. Served by smart_accounts_by_app.
inline constexpr std::string_view kListSmartAccounts =
    "SELECT " SIGNERD_SMART_ACCOUNT_COLUMNS
    " FROM smart_accounts WHERE app_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3";
// ?1 = app, ?2 = owner, ?3 = before (exclusive), ?4 = limit + 1. At most one row (UNIQUE (app_id, owner)).
inline constexpr std::string_view kListSmartAccountsOfOwner =
    "SELECT " SIGNERD_SMART_ACCOUNT_COLUMNS
    " FROM smart_accounts WHERE app_id = ?1 AND owner = ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4";
// A network configured after the account was made is added the next time the account is created again (the
// idempotent POST); the ones it has are kept as they are.
inline constexpr std::string_view kInsertSmartNetwork =
    "INSERT INTO smart_account_networks (id, smart_account_id, network, chain_id, version, aa_address, status, "
    "tx_hash, failure_reason, date_created_ns, date_updated_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
    "ON CONFLICT (smart_account_id, network) DO NOTHING";
// Served by the unique index on (smart_account_id, network).
inline constexpr std::string_view kSmartNetworksOfAccount =
    "SELECT " SIGNERD_SMART_NETWORK_COLUMNS " FROM smart_account_networks WHERE smart_account_id = ?1 ORDER BY seq";
inline constexpr std::string_view kInsertGasTankEntry =
    "INSERT INTO gas_tank_ledger (id, gas_tank_id, kind, amount, balance_after, account_network_id, date_ns) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
// The tank's newest entry: its balance. One step down gas_tank_ledger_by_tank.
inline constexpr std::string_view kLastGasTankEntry =
    "SELECT " SIGNERD_GAS_TANK_COLUMNS " FROM gas_tank_ledger WHERE gas_tank_id = ?1 ORDER BY seq DESC LIMIT 1";
// ?1 = tank, ?2 = before (exclusive), ?3 = limit + 1. Served by gas_tank_ledger_by_tank.
inline constexpr std::string_view kListGasTankEntries =
    "SELECT " SIGNERD_GAS_TANK_COLUMNS
    " FROM gas_tank_ledger WHERE gas_tank_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3";

inline constexpr std::string_view kGetSmartNetwork =
    "SELECT " SIGNERD_SMART_NETWORK_COLUMNS " FROM smart_account_networks WHERE id = ?1";
// Served by smart_account_networks_by_status (v7).
inline constexpr std::string_view kSmartNetworksInStatus =
    "SELECT " SIGNERD_SMART_NETWORK_COLUMNS " FROM smart_account_networks WHERE status = ?1 ORDER BY seq";
// The gas tank of the record an account belongs to.
inline constexpr std::string_view kGasTankOfSmartAccount = "SELECT gas_tank_id FROM smart_accounts WHERE id = ?1";
// ?1 = id; ?2 = tx_hash, ?3 = deploy_tx, ?4 = deploy_from, ?5 = deploy_nonce, ?6 = deploy_fee, ?7 = date.
inline constexpr std::string_view kBeginSmartDeployment =
    "UPDATE smart_account_networks SET status = 'deploying', tx_hash = ?2, failure_reason = NULL, deploy_tx = ?3, "
    "deploy_from = ?4, deploy_nonce = ?5, deploy_fee = ?6, date_updated_ns = ?7 "
    "WHERE id = ?1 AND status = 'not_deployed'";
// ?1 = id, ?2 = tx_hash (NULL when none), ?3 = block, ?4 = date.
inline constexpr std::string_view kSmartDeployed =
    "UPDATE smart_account_networks SET status = 'deployed', tx_hash = ?2, deployed_block = ?3, "
    "date_deployed_ns = ?4, date_updated_ns = ?4, failure_reason = NULL WHERE id = ?1";
// ?1 = id, ?2 = reason, ?3 = date. The failed attempt's tx_hash stays, for the reason to refer to.
inline constexpr std::string_view kSmartDeploymentFailed =
    "UPDATE smart_account_networks SET status = 'not_deployed', failure_reason = ?2, deploy_tx = NULL, "
    "deploy_from = NULL, deploy_nonce = NULL, deploy_fee = NULL, date_updated_ns = ?3 WHERE id = ?1";

// ?1 = now: signatures whose timestamps left the window. Served by smart_request_signatures_by_expiry.
inline constexpr std::string_view kForgetSmartRequests = "DELETE FROM smart_request_signatures WHERE forget_after_ns < ?1";
// A duplicate (app_id, signature) fails with SQLITE_CONSTRAINT_PRIMARYKEY: a replay.
inline constexpr std::string_view kRememberSmartRequest =
    "INSERT INTO smart_request_signatures (app_id, signature, forget_after_ns) VALUES (?1, ?2, ?3)";

#undef SIGNERD_SMART_APP_COLUMNS
#undef SIGNERD_SMART_ACCOUNT_COLUMNS
#undef SIGNERD_SMART_NETWORK_COLUMNS
#undef SIGNERD_GAS_TANK_COLUMNS

#undef SIGNERD_AUDIT_COLUMNS
#undef SIGNERD_CUSTODY_COLUMNS
#undef SIGNERD_WALLET_COLUMNS
#undef SIGNERD_KEY_COLUMNS
#undef SIGNERD_SIGNATURE_COLUMNS

}  // namespace sql
}  // namespace signerd::store

#include "store/schema.h"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <string>

#include "common/log.h"
#include "store/sqlite.h"

namespace signerd::store {
namespace {

// Version 1. `seq` orders every list (AUTOINCREMENT: never reused, so a cursor stays valid after deletes).
constexpr std::string_view kV1 = R"sql(
CREATE TABLE keys (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  scheme TEXT NOT NULL,
  curve TEXT NOT NULL,
  public_key TEXT NOT NULL,
  name TEXT,
  status TEXT NOT NULL CHECK (status IN ('Creating', 'Active', 'Archived', 'Failed')),
  custodial INTEGER NOT NULL CHECK (custodial IN (0, 1)),
  owner_id TEXT NOT NULL,
  date_created_ms INTEGER NOT NULL,
  date_deleted_ms INTEGER,
  failure_reason TEXT
);
CREATE INDEX keys_by_status ON keys (status, seq);
-- list_keys pages through listed keys only, so Creating and Failed rows never cost it a step.
CREATE INDEX keys_listed ON keys (seq) WHERE status IN ('Active', 'Archived');

CREATE TABLE signatures (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  key_id TEXT NOT NULL REFERENCES keys (id),
  requester_user_id TEXT NOT NULL,
  requester_token_id TEXT,
  request_body TEXT NOT NULL,
  request_digest TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  r TEXT,
  s TEXT,
  recid INTEGER,
  encoded TEXT,
  network TEXT,
  external_id TEXT,
  date_requested_ms INTEGER NOT NULL,
  date_signed_ms INTEGER
);
CREATE INDEX signatures_by_key ON signatures (key_id, seq);
-- Partial: most requests carry no externalId, and SQLite would otherwise index every NULL, one more page written
-- per signature.
CREATE UNIQUE INDEX signatures_by_external_id ON signatures (external_id) WHERE external_id IS NOT NULL;
)sql";

// v2: transaction signatures return the signed transaction and its hash.
constexpr std::string_view kV2 = R"sql(
ALTER TABLE signatures ADD COLUMN signed_data TEXT;
ALTER TABLE signatures ADD COLUMN tx_hash TEXT;
)sql";

// v3: wallets (dfns-api.md §3). A wallet is a key's address on one network; a key may have several wallets.
// `tags` is a JSON array of strings.
constexpr std::string_view kV3 = R"sql(
CREATE TABLE wallets (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  network TEXT NOT NULL,
  address TEXT,
  key_id TEXT NOT NULL REFERENCES keys (id),
  name TEXT,
  status TEXT NOT NULL,
  custodial INTEGER NOT NULL CHECK (custodial IN (0, 1)),
  external_id TEXT,
  tags TEXT NOT NULL DEFAULT '[]',
  owner_id TEXT NOT NULL,
  date_created_ms INTEGER NOT NULL
);
CREATE INDEX wallets_by_key ON wallets (key_id, seq);
)sql";

// v4: identity (delegation, custody history, identity objects) and the audit trail.
// - keys.delegated_to: the end user a key is delegated to. keys_delegated lists one user's keys newest first; it is
//   partial like keys_listed, so custodial keys and unlisted statuses cost it nothing.
// - custody: each key's custody history, append-only; audit_seq links the audit record of the request behind it.
//   `event` has no CHECK: SQLite cannot change one without rebuilding the table, and the store writes what core says.
// - identity_objects: core's identity entities as JSON documents; seq keeps creation order across updates.
// - audit: the hash chain of common/audit_chain.h. seq is assigned by the store as the last seq + 1 (a plain INTEGER
//   PRIMARY KEY, not AUTOINCREMENT), so the chain has no gaps; affected_ids is a JSON array of strings.
constexpr std::string_view kV4 = R"sql(
ALTER TABLE keys ADD COLUMN delegated_to TEXT;
ALTER TABLE keys ADD COLUMN delay_delegation INTEGER NOT NULL DEFAULT 0 CHECK (delay_delegation IN (0, 1));
CREATE INDEX keys_delegated ON keys (delegated_to, seq)
  WHERE delegated_to IS NOT NULL AND status IN ('Active', 'Archived');

CREATE TABLE audit (
  seq INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  principal_id TEXT NOT NULL,
  token_id TEXT,
  credential_id TEXT,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  body_sha256 TEXT NOT NULL,
  outcome TEXT NOT NULL,
  affected_ids TEXT NOT NULL DEFAULT '[]',
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);

CREATE TABLE custody (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key_id TEXT NOT NULL REFERENCES keys (id),
  event TEXT NOT NULL,
  delegated_to TEXT,
  principal_id TEXT NOT NULL,
  token_id TEXT,
  audit_seq INTEGER NOT NULL REFERENCES audit (seq),
  date_ms INTEGER NOT NULL
);
CREATE INDEX custody_by_key ON custody (key_id, seq);

CREATE TABLE identity_objects (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  json TEXT NOT NULL,
  UNIQUE (kind, id)
);
)sql";

// v5: Dfns's legacy asset accounts and public keys (dfns-api.md §4).
// - keys.public_key_id: the "pk-…" id under which the legacy API shows a key. A public key and a key are two views
//   of one HSM key; the id is given when the key is created through POST /public-keys or an asset account (set in
//   the key's first, Creating row, so a crash never leaves a key without it), and is NULL for every other key.
//   keys_public lists the public keys newest first, partial like keys_listed.
// - asset_accounts: one address of one key on one network. An account is Creating until its job has the key and the
//   address (Enabled) or gave up (Failed, with reason). key_id is NULL until the key is known; public_key_id is set
//   from the start (a reused key's, or the one the job will create its key under). `tags` is a JSON array of
//   strings. asset_accounts_by_status serves the status filter and start-up's resumption of Creating accounts.
constexpr std::string_view kV5 = R"sql(
ALTER TABLE keys ADD COLUMN public_key_id TEXT;
CREATE UNIQUE INDEX keys_by_public_key_id ON keys (public_key_id) WHERE public_key_id IS NOT NULL;
CREATE INDEX keys_public ON keys (seq) WHERE public_key_id IS NOT NULL AND status IN ('Active', 'Archived');

CREATE TABLE asset_accounts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  asset_symbol TEXT NOT NULL,
  network TEXT NOT NULL,
  name TEXT,
  status TEXT NOT NULL CHECK (status IN ('Creating', 'Enabled', 'Failed')),
  reason TEXT,
  key_id TEXT REFERENCES keys (id),
  public_key_id TEXT,
  address TEXT,
  external_id TEXT,
  tags TEXT NOT NULL DEFAULT '[]',
  owner_id TEXT NOT NULL,
  date_created_ms INTEGER NOT NULL,
  date_updated_ms INTEGER NOT NULL
);
CREATE INDEX asset_accounts_by_status ON asset_accounts (status, seq);
)sql";

// v6: smart accounts (ERC-4337, ../shared/reference/smart-accounts.md). Times are Unix nanoseconds (the API shows
// RFC 3339 with nanoseconds).
// - smart_apps: applications that sign requests (X-APP-ID). The secret lives only in the HSM, as the HMAC key
//   hmac_key_id; the table never holds it.
// - smart_accounts: one per (app, owner); UNIQUE (app_id, owner) settles concurrent duplicates. owner is the lowercase
//   address (the key), owner_id its EIP-55 form (as shown). Each has one gas tank (gas_tank_id), whose token is fixed
//   at creation. smart_accounts_by_app pages an app's accounts.
// - smart_account_networks: the account on each configured network, UNIQUE (smart_account_id, network).
// - gas_tank_ledger: append-only; amount and balance_after are decimal strings (uint256, no floating point), and
//   balance_after is the previous row's balance_after plus this row's signed amount, computed inside the write that
//   appends it, so a tank's balance is its newest row (gas_tank_ledger_by_tank) and always the sum of its ledger.
constexpr std::string_view kV6 = R"sql(
CREATE TABLE smart_apps (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  client_id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  hmac_key_id TEXT NOT NULL UNIQUE,
  created_by TEXT NOT NULL,
  date_created_ns INTEGER NOT NULL
);

CREATE TABLE smart_accounts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  app_id TEXT NOT NULL REFERENCES smart_apps (id),
  owner TEXT NOT NULL,
  owner_id TEXT NOT NULL,
  provider TEXT NOT NULL,
  gas_tank_id TEXT NOT NULL UNIQUE,
  gas_tank_token TEXT NOT NULL,
  gas_tank_decimals INTEGER NOT NULL,
  date_created_ns INTEGER NOT NULL,
  date_updated_ns INTEGER,
  UNIQUE (app_id, owner)
);
CREATE INDEX smart_accounts_by_app ON smart_accounts (app_id, seq);

CREATE TABLE smart_account_networks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  smart_account_id TEXT NOT NULL REFERENCES smart_accounts (id),
  network TEXT NOT NULL,
  chain_id INTEGER NOT NULL,
  version TEXT NOT NULL,
  aa_address TEXT NOT NULL,
  status TEXT NOT NULL,
  tx_hash TEXT,
  failure_reason TEXT,
  date_created_ns INTEGER NOT NULL,
  date_updated_ns INTEGER,
  UNIQUE (smart_account_id, network)
);

CREATE TABLE gas_tank_ledger (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  gas_tank_id TEXT NOT NULL REFERENCES smart_accounts (gas_tank_id),
  kind TEXT NOT NULL,
  amount TEXT NOT NULL,
  balance_after TEXT NOT NULL,
  account_network_id TEXT,
  date_ns INTEGER NOT NULL
);
CREATE INDEX gas_tank_ledger_by_tank ON gas_tank_ledger (gas_tank_id, seq);
)sql";

// v7: smart-account activation. A deployment is recorded before its transaction is sent, so a crash at any point
// leaves either nothing (not_deployed) or a deploying account with the exact signed transaction to rebroadcast:
// - deploy_tx: the signed transaction ("0x" hex) and tx_hash its hash; deploy_from / deploy_nonce: the relayer
//   address (lowercase) and the nonce the transaction uses, so the next one on that relayer never reuses it;
//   deploy_fee: the amount reserved from the gas tank (a "reserve" ledger entry) for this attempt.
// - deployed_block / date_deployed_ns once the receipt confirms and the code is there.
// - gas_tank_ledger.kind gains "reserve" (amount taken from the balance) and "release" (given back when the attempt
//   fails). smart_account_networks_by_status finds what a restart must watch.
// - smart_request_signatures: the (app, X-SIGNATURE) of every accepted app-signed request until its timestamp leaves
//   the 300 s window, so a restart does not reopen replays; rows past forget_after_ns are deleted as new ones come.
constexpr std::string_view kV7 = R"sql(
ALTER TABLE smart_account_networks ADD COLUMN deploy_tx TEXT;
ALTER TABLE smart_account_networks ADD COLUMN deploy_from TEXT;
ALTER TABLE smart_account_networks ADD COLUMN deploy_nonce INTEGER;
ALTER TABLE smart_account_networks ADD COLUMN deploy_fee TEXT;
ALTER TABLE smart_account_networks ADD COLUMN deployed_block INTEGER;
ALTER TABLE smart_account_networks ADD COLUMN date_deployed_ns INTEGER;
CREATE INDEX smart_account_networks_by_status ON smart_account_networks (status, seq);

CREATE TABLE smart_request_signatures (
  app_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  forget_after_ns INTEGER NOT NULL,
  PRIMARY KEY (app_id, signature)
) WITHOUT ROWID;
CREATE INDEX smart_request_signatures_by_expiry ON smart_request_signatures (forget_after_ns);
)sql";

// v8: revoking smart-account applications. date_revoked_ns is set once, when the app is revoked (NULL: in use), and
// never cleared: a revoked app's requests are refused as an unknown app's, and its HMAC key is destroyed in the HSM
// only after this column says so (core/smart_account_service.h). Apps are listed newest first by seq, the primary
// key: no index is needed.
constexpr std::string_view kV8 = R"sql(
ALTER TABLE smart_apps ADD COLUMN date_revoked_ns INTEGER;
)sql";

constexpr std::array<std::string_view, 8> kMigrations = {kV1, kV2, kV3, kV4, kV5, kV6, kV7, kV8};

Result<std::int64_t> user_version(Connection& connection) {
  auto text = connection.query_text("PRAGMA user_version", "read schema version");
  if (!text) return std::unexpected(std::move(text.error()));
  return std::stoll(*text);
}

}  // namespace

std::span<const std::string_view> migrations() { return kMigrations; }

Result<void> migrate(Connection& connection) {
  for (;;) {
    // The version is read inside the transaction, so two processes migrating at once cannot both apply a step.
    auto transaction = Transaction::begin_immediate(connection);
    if (!transaction) return std::unexpected(std::move(transaction.error()));
    auto version = user_version(connection);
    if (!version) return std::unexpected(std::move(version.error()));
    if (*version > schema_version()) {
      return fail(ErrorCode::kInternal, "store: the database has schema version " + std::to_string(*version) +
                                            ", newer than this signerd supports (" +
                                            std::to_string(schema_version()) +
                                            "); run a newer signerd or restore a matching backup");
    }
    if (*version == schema_version()) return transaction->commit();
    const auto started = std::chrono::steady_clock::now();
    const std::string operation = "migrate to schema version " + std::to_string(*version + 1);
    if (auto applied = connection.exec(std::string(kMigrations[*version]), operation); !applied) return applied;
    if (auto bumped = connection.exec("PRAGMA user_version = " + std::to_string(*version + 1), operation); !bumped) {
      return bumped;
    }
    if (auto committed = transaction->commit(); !committed) return committed;
    signerd::log(LogComponent::kStore)
        .info("store migration applied from={} to={} ms={:.1f}", *version, *version + 1,
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
  }
}

}  // namespace signerd::store

#include "store/schema.h"

#include <array>
#include <string>

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

constexpr std::array<std::string_view, 4> kMigrations = {kV1, kV2, kV3, kV4};

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
    const std::string operation = "migrate to schema version " + std::to_string(*version + 1);
    if (auto applied = connection.exec(std::string(kMigrations[*version]), operation); !applied) return applied;
    if (auto bumped = connection.exec("PRAGMA user_version = " + std::to_string(*version + 1), operation); !bumped) {
      return bumped;
    }
    if (auto committed = transaction->commit(); !committed) return committed;
  }
}

}  // namespace signerd::store

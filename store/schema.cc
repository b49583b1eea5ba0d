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

constexpr std::array<std::string_view, 3> kMigrations = {kV1, kV2, kV3};

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

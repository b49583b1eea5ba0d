#include "store/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "store/schema.h"
#include "store/sqlite.h"
#include "store/testing.h"
#include "tests/support/softhsm_token.h"
#include "tests/unit/store_query_plans.h"

namespace signerd::store {
namespace {

constexpr std::int64_t kCreatedMs = 1'700'000'000'000;

KeyRecord make_key(const std::string& id, KeyStatus status = KeyStatus::kActive) {
  KeyRecord key;
  key.id = id;
  key.scheme = "ECDSA";
  key.curve = "secp256k1";
  key.public_key = status == KeyStatus::kCreating ? "" : "04" + std::string(128, 'a');
  key.status = status;
  key.owner_id = "us-owner";
  key.date_created_ms = kCreatedMs;
  return key;
}

SignatureRecord make_signature(const std::string& id, const std::string& key_id,
                               std::optional<std::string> external_id = std::nullopt) {
  SignatureRecord sig;
  sig.id = id;
  sig.key_id = key_id;
  sig.requester_user_id = "us-requester";
  sig.request_body = R"({"kind":"Hash","hash":"0x00"})";
  sig.request_digest = std::string(64, 'd');
  sig.status = "Signed";
  sig.r = "0x01";
  sig.s = "0x02";
  sig.recid = 1;
  sig.encoded = "0x0102";
  sig.external_id = std::move(external_id);
  sig.date_requested_ms = kCreatedMs;
  sig.date_signed_ms = kCreatedMs + 5;
  return sig;
}

auto fields(const KeyRecord& k) {
  return std::tie(k.id, k.scheme, k.curve, k.public_key, k.name, k.status, k.custodial, k.owner_id, k.date_created_ms,
                  k.date_deleted_ms, k.failure_reason, k.delegated_to, k.delay_delegation);
}

auto fields(const SignatureRecord& s) {
  return std::tie(s.id, s.key_id, s.requester_user_id, s.requester_token_id, s.request_body, s.request_digest,
                  s.status, s.reason, s.r, s.s, s.recid, s.encoded, s.network, s.external_id, s.date_requested_ms,
                  s.date_signed_ms);
}

// A write for StoreTestPeer::write_together that inserts a key with raw SQL (the store's own methods cannot be
// called from the writer thread).
std::function<Result<void>(Connection&)> raw_insert_key(const std::string& id) {
  return [id](Connection& connection) {
    return connection.exec("INSERT INTO keys (id, scheme, curve, public_key, status, custodial, owner_id, "
                           "date_created_ms) VALUES ('" + id + "', 'ECDSA', 'secp256k1', '', 'Active', 1, 'us-1', 1)",
                           "test insert");
  };
}

class StoreTest : public ::testing::Test {
 protected:
  std::filesystem::path db_path(const std::string& name = "signerd.db") const { return dir_.path() / name; }

  std::unique_ptr<Store> open_store(const std::string& name = "signerd.db", StoreOptions options = {}) {
    auto store = Store::open(db_path(name), options);
    if (!store) {
      ADD_FAILURE() << "Store::open: " << store.error().message;
      return nullptr;
    }
    return std::move(*store);
  }

  // Every key of every status, for comparing the table before and after a write.
  static std::vector<KeyRecord> all_keys(Store& store) {
    std::vector<KeyRecord> keys;
    for (auto status : {KeyStatus::kCreating, KeyStatus::kActive, KeyStatus::kArchived, KeyStatus::kFailed}) {
      auto some = store.keys_with_status(status);
      EXPECT_TRUE(some) << some.error().message;
      if (some) keys.insert(keys.end(), some->begin(), some->end());
    }
    return keys;
  }

  static std::vector<std::string> list_all_key_ids(Store& store, int limit) {
    std::vector<std::string> ids;
    std::optional<std::int64_t> cursor;
    do {
      auto page = store.list_keys(cursor, limit);
      EXPECT_TRUE(page) << page.error().message;
      if (!page) break;
      for (const auto& key : page->items) ids.push_back(key.id);
      cursor = page->next_cursor;
    } while (cursor);
    return ids;
  }

  signerd::testing::TempDir dir_;
};

bool same_keys(const std::vector<KeyRecord>& a, const std::vector<KeyRecord>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const auto& x, const auto& y) { return x.seq == y.seq && fields(x) == fields(y); });
}

// --- opening, migrations, pragmas

TEST_F(StoreTest, MigrationsApplyOnNewFileAndAreIdempotentOnReopen) {
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->insert_key(make_key("key-a")));
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(StoreTestPeer::writer_pragma(*store, "user_version").value(), std::to_string(schema_version()));
    auto key = store->get_key("key-a");
    ASSERT_TRUE(key && *key);
  }
  auto connection = Connection::open(db_path(), OpenMode::kReadOnly);
  ASSERT_TRUE(connection);
  EXPECT_EQ(connection->query_text("PRAGMA user_version", "test").value(), std::to_string(schema_version()));
  EXPECT_EQ(connection
                ->query_text("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE name NOT "
                             "LIKE 'sqlite%' ORDER BY name)",
                             "test")
                .value(),
            "asset_accounts,asset_accounts_by_status,audit,custody,custody_by_key,gas_tank_ledger,"
            "gas_tank_ledger_by_tank,identity_objects,keys,"
            "keys_by_public_key_id,keys_by_status,keys_delegated,keys_listed,keys_public,signatures,"
            "signatures_by_external_id,signatures_by_key,smart_account_networks,smart_account_networks_by_status,"
            "smart_accounts,smart_accounts_by_app,smart_apps,smart_request_signatures,"
            "smart_request_signatures_by_expiry,wallets,wallets_by_key");
}

TEST_F(StoreTest, AVersionOneDatabaseMigratesAndKeepsItsRows) {
  {
    // A database as the first release left it: migration 1 only, one key and one signature. (An empty file is a
    // new database to SQLite; the read-write mode does not create one.)
    std::ofstream(db_path()).close();
    auto connection = Connection::open(db_path(), OpenMode::kReadWrite);
    ASSERT_TRUE(connection);
    ASSERT_TRUE(connection->exec(std::string(migrations()[0]), "test"));
    ASSERT_TRUE(connection->exec(
        "PRAGMA user_version = 1;"
        "INSERT INTO keys (id, scheme, curve, public_key, status, custodial, owner_id, date_created_ms) "
        "VALUES ('key-v1', 'ECDSA', 'secp256k1', '02aa', 'Active', 1, 'us-1', 1);"
        "INSERT INTO signatures (id, key_id, requester_user_id, request_body, request_digest, status, r, s, "
        "date_requested_ms) VALUES ('sig-v1', 'key-v1', 'us-1', '{}', 'd', 'Signed', '0x01', '0x02', 2);",
        "test"));
  }
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(StoreTestPeer::writer_pragma(*store, "user_version").value(), std::to_string(schema_version()));
  auto sig = store->get_signature("key-v1", "sig-v1");
  ASSERT_TRUE(sig && *sig);
  EXPECT_EQ((*sig)->r, "0x01");
  EXPECT_FALSE((*sig)->signed_data.has_value());
  EXPECT_FALSE((*sig)->tx_hash.has_value());
  // The new columns work for new rows.
  SignatureRecord tx = **sig;
  tx.id = "sig-v2";
  tx.signed_data = "0x02f8";
  tx.tx_hash = "0xabcd";
  ASSERT_TRUE(store->insert_signature(tx));
  auto got = store->get_signature("key-v1", "sig-v2");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->signed_data, "0x02f8");
  EXPECT_EQ((*got)->tx_hash, "0xabcd");
}

TEST_F(StoreTest, AVersionThreeDatabaseMigratesToFourAndKeepsItsRows) {
  ASSERT_GE(schema_version(), 4);  // later migrations apply on top (their own tests check them)
  {
    // A database as the wallets release left it: migrations 1 to 3, a key with a wallet and a signature.
    std::ofstream(db_path()).close();
    auto connection = Connection::open(db_path(), OpenMode::kReadWrite);
    ASSERT_TRUE(connection);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(connection->exec(std::string(migrations()[i]), "test"));
    ASSERT_TRUE(connection->exec(
        "PRAGMA user_version = 3;"
        "INSERT INTO keys (id, scheme, curve, public_key, status, custodial, owner_id, date_created_ms) "
        "VALUES ('key-v3', 'ECDSA', 'secp256k1', '02aa', 'Active', 1, 'us-1', 1);"
        "INSERT INTO wallets (id, network, key_id, status, custodial, owner_id, date_created_ms) "
        "VALUES ('wa-v3', 'Ethereum', 'key-v3', 'Active', 1, 'us-1', 2);"
        "INSERT INTO signatures (id, key_id, requester_user_id, request_body, request_digest, status, "
        "date_requested_ms) VALUES ('sig-v3', 'key-v3', 'us-1', '{}', 'd', 'Signed', 3);",
        "test"));
  }
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(StoreTestPeer::writer_pragma(*store, "user_version").value(), std::to_string(schema_version()));
  auto key = store->get_key("key-v3");
  ASSERT_TRUE(key && *key);
  EXPECT_FALSE((*key)->delegated_to);
  EXPECT_FALSE((*key)->delay_delegation);
  EXPECT_TRUE((*key)->custodial);
  EXPECT_TRUE(store->get_wallet("wa-v3").value());
  EXPECT_TRUE(store->get_signature("key-v3", "sig-v3").value());
  EXPECT_TRUE(store->list_audit(std::nullopt, 10)->items.empty());
  EXPECT_TRUE(store->list_keys(std::nullopt, 10, "us-1")->items.empty());
  // An old key was not created with delayDelegation; new keys and the new tables work.
  AuditEntry audit{.time_ms = 5,
                   .principal_id = "us-1",
                   .method = "POST",
                   .path = "/keys/key-v3/delegate",
                   .body_sha256 = std::string(64, '0'),
                   .outcome = "ok"};
  EXPECT_EQ(store->delegate_key("key-v3", "us-2", audit).error().code, ErrorCode::kInvalidArgument);
  KeyRecord delayed = make_key("key-v4");
  delayed.delay_delegation = true;
  ASSERT_TRUE(store->insert_key(delayed));
  ASSERT_TRUE(store->delegate_key("key-v4", "us-2", audit));
  EXPECT_EQ(store->list_keys(std::nullopt, 10, "us-2")->items.size(), 1u);
  EXPECT_EQ(store->list_wallets(std::nullopt, 10)->items.size(), 1u);
  ASSERT_EQ(store->list_audit(std::nullopt, 10)->items.size(), 1u);
  EXPECT_EQ(store->custody_of_key("key-v4")->size(), 1u);
  // A CHECK constraint came with the new column.
  auto connection = Connection::open(db_path(), OpenMode::kReadWrite);
  ASSERT_TRUE(connection);
  auto bad = connection->exec("UPDATE keys SET delay_delegation = 2 WHERE id = 'key-v3'", "test");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kConflict);
}

TEST_F(StoreTest, RefusesDatabaseWithNewerSchema) {
  ASSERT_NE(open_store(), nullptr);
  {
    auto connection = Connection::open(db_path(), OpenMode::kReadWrite);
    ASSERT_TRUE(connection);
    ASSERT_TRUE(connection->exec("PRAGMA user_version = " + std::to_string(schema_version() + 1), "test"));
  }
  auto store = Store::open(db_path());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kInternal);
  EXPECT_NE(store.error().message.find("schema version " + std::to_string(schema_version() + 1)), std::string::npos)
      << store.error().message;
  EXPECT_NE(store.error().message.find("newer than this signerd supports (" + std::to_string(schema_version())),
            std::string::npos)
      << store.error().message;
}

TEST_F(StoreTest, FailsClearlyWhenTheDirectoryIsMissing) {
  auto store = Store::open(dir_.path() / "missing" / "signerd.db");
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("cannot create"), std::string::npos) << store.error().message;
}

TEST_F(StoreTest, WalFullSynchronousAndForeignKeysAreInEffect) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const struct {
    const char* pragma;
    const char* writer;
    const char* reader;  // nullptr: not checked on read connections
  } cases[] = {
      {"journal_mode", "wal", "wal"},
      {"synchronous", "2", nullptr},  // 2 = FULL; matters only where writes happen
      {"foreign_keys", "1", nullptr},
      {"busy_timeout", "5000", "5000"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pragma);
    EXPECT_EQ(StoreTestPeer::writer_pragma(*store, c.pragma).value(), c.writer);
    if (c.reader != nullptr) {
      EXPECT_EQ(StoreTestPeer::reader_pragma(*store, c.pragma).value(), c.reader);
    }
  }
  // WAL is a property of the file: a fresh connection sees it too.
  auto fresh = Connection::open(db_path(), OpenMode::kReadOnly);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->query_text("PRAGMA journal_mode", "test").value(), "wal");
}

TEST_F(StoreTest, DatabaseFilesAreOwnerOnly) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert_key(make_key("key-a")));
  for (const char* suffix : {"", "-wal", "-shm"}) {
    SCOPED_TRACE(suffix);
    struct stat st {};
    ASSERT_EQ(::stat((db_path().string() + suffix).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }
}

TEST_F(StoreTest, ListQueriesAreServedByIndexes) {
  ASSERT_NE(open_store(), nullptr);
  auto connection = Connection::open(db_path(), OpenMode::kReadOnly);
  ASSERT_TRUE(connection);
  for (auto query : {sql::kListKeys, sql::kListDelegatedKeys, sql::kListSignatures, sql::kKeysWithStatus,
                     sql::kGetSignature, sql::kFindSignatureByExternalId, sql::kSignatureIdByExternalId, sql::kGetKey,
                     sql::kKeyStatus, sql::kCustodyOfKey, sql::kListAudit}) {
    expect_served_by_one_index(*connection, query);
  }
}

// --- keys

TEST_F(StoreTest, InsertAndGetKeyRoundTripsEveryField) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  KeyRecord full = make_key("key-full", KeyStatus::kArchived);
  full.scheme = "EdDSA";
  full.curve = "ed25519";
  full.name = "treasury";
  full.custodial = false;
  full.owner_id = "os-uid-1000";
  full.date_deleted_ms = kCreatedMs + 1000;
  KeyRecord failed = make_key("key-failed", KeyStatus::kFailed);
  failed.failure_reason = "HSM refused";
  KeyRecord delegated = make_key("key-delegated");
  delegated.delegated_to = "us-end";
  delegated.custodial = false;
  KeyRecord delayed = make_key("key-delayed");
  delayed.delay_delegation = true;
  const KeyRecord cases[] = {
      make_key("key-minimal"), make_key("key-creating", KeyStatus::kCreating), full, failed, delegated, delayed};
  std::int64_t last_seq = 0;
  for (const auto& key : cases) {
    SCOPED_TRACE(key.id);
    ASSERT_TRUE(store->insert_key(key));
    auto got = store->get_key(key.id);
    ASSERT_TRUE(got && *got);
    EXPECT_EQ(fields(**got), fields(key));
    EXPECT_GT((*got)->seq, last_seq);
    last_seq = (*got)->seq;
  }
  auto missing = store->get_key("key-missing");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST_F(StoreTest, ListKeysPagesNewestFirstAndSkipsCreatingAndFailed) {
  const struct {
    int listed;
    int limit;
  } cases[] = {{7, 3}, {6, 3}, {0, 3}, {1, 1}, {3, 10}, {5, 1}};
  for (const auto& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.listed << " keys, limit " << c.limit);
    auto store = open_store("list-" + std::to_string(c.listed) + "-" + std::to_string(c.limit) + ".db");
    ASSERT_NE(store, nullptr);
    std::vector<std::string> expected;
    for (int i = 0; i < c.listed; ++i) {
      const std::string id = "key-" + std::to_string(i);
      ASSERT_TRUE(store->insert_key(make_key(id, i % 3 == 2 ? KeyStatus::kArchived : KeyStatus::kActive)));
      expected.insert(expected.begin(), id);
      // Unlisted keys interleaved with the listed ones, also at the newest end.
      ASSERT_TRUE(store->insert_key(make_key("key-creating-" + std::to_string(i), KeyStatus::kCreating)));
      ASSERT_TRUE(store->insert_key(make_key("key-failed-" + std::to_string(i), KeyStatus::kFailed)));
    }
    std::vector<std::string> seen;
    std::optional<std::int64_t> cursor;
    int pages = 0;
    for (;;) {
      auto page = store->list_keys(cursor, c.limit);
      ASSERT_TRUE(page) << page.error().message;
      ++pages;
      ASSERT_LE(page->items.size(), static_cast<std::size_t>(c.limit));
      for (const auto& key : page->items) seen.push_back(key.id);
      if (!page->next_cursor) break;
      EXPECT_EQ(page->items.size(), static_cast<std::size_t>(c.limit)) << "only the last page may be short";
      EXPECT_EQ(*page->next_cursor, page->items.back().seq);
      cursor = page->next_cursor;
    }
    EXPECT_EQ(seen, expected);
    EXPECT_EQ(pages, std::max(1, (c.listed + c.limit - 1) / c.limit));
  }
}

TEST_F(StoreTest, ListRejectsNonPositiveLimit) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  for (int limit : {0, -1}) {
    EXPECT_EQ(store->list_keys(std::nullopt, limit).error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(store->list_signatures("key-a", std::nullopt, limit).error().code, ErrorCode::kInvalidArgument);
  }
}

TEST_F(StoreTest, KeysWithStatusReturnsOnlyThatStatusOldestFirst) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const std::pair<const char*, KeyStatus> keys[] = {
      {"key-c1", KeyStatus::kCreating}, {"key-a1", KeyStatus::kActive}, {"key-c2", KeyStatus::kCreating},
      {"key-f1", KeyStatus::kFailed},   {"key-r1", KeyStatus::kArchived}};
  for (const auto& [id, status] : keys) ASSERT_TRUE(store->insert_key(make_key(id, status)));
  const std::pair<KeyStatus, std::vector<std::string>> cases[] = {
      {KeyStatus::kCreating, {"key-c1", "key-c2"}},
      {KeyStatus::kActive, {"key-a1"}},
      {KeyStatus::kArchived, {"key-r1"}},
      {KeyStatus::kFailed, {"key-f1"}},
  };
  for (const auto& [status, expected] : cases) {
    SCOPED_TRACE(to_string(status));
    auto got = store->keys_with_status(status);
    ASSERT_TRUE(got);
    std::vector<std::string> ids;
    for (const auto& key : *got) ids.push_back(key.id);
    EXPECT_EQ(ids, expected);
  }
}

TEST_F(StoreTest, TransitionKeyMovesStatusAndSetsFields) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert_key(make_key("key-a", KeyStatus::kCreating)));
  ASSERT_TRUE(store->insert_key(make_key("key-f", KeyStatus::kCreating)));

  auto active = store->transition_key(
      "key-a", {.from = KeyStatus::kCreating, .to = KeyStatus::kActive, .public_key = "04beef"});
  ASSERT_TRUE(active) << active.error().message;
  EXPECT_EQ(active->status, KeyStatus::kActive);
  EXPECT_EQ(active->public_key, "04beef");
  EXPECT_FALSE(active->date_deleted_ms);

  auto archived = store->transition_key(
      "key-a", {.from = KeyStatus::kActive, .to = KeyStatus::kArchived, .date_deleted_ms = kCreatedMs + 9});
  ASSERT_TRUE(archived) << archived.error().message;
  EXPECT_EQ(archived->status, KeyStatus::kArchived);
  EXPECT_EQ(archived->public_key, "04beef");  // kept when not given
  EXPECT_EQ(archived->date_deleted_ms, kCreatedMs + 9);

  auto failed = store->transition_key(
      "key-f", {.from = KeyStatus::kCreating, .to = KeyStatus::kFailed, .failure_reason = "HSM unavailable"});
  ASSERT_TRUE(failed) << failed.error().message;
  EXPECT_EQ(failed->failure_reason, "HSM unavailable");

  for (const auto& returned : {*archived, *failed}) {
    auto stored = store->get_key(returned.id);
    ASSERT_TRUE(stored && *stored);
    EXPECT_EQ(fields(**stored), fields(returned));
    EXPECT_EQ((*stored)->seq, returned.seq);
  }
}

TEST_F(StoreTest, TransitionKeyRefusesMissingOrWrongStatusAndChangesNothing) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert_key(make_key("key-a", KeyStatus::kActive)));
  const struct {
    const char* id;
    KeyStatus from;
    ErrorCode code;
    const char* message;
  } cases[] = {
      {"key-missing", KeyStatus::kCreating, ErrorCode::kNotFound, "key key-missing not found"},
      {"key-a", KeyStatus::kCreating, ErrorCode::kConflict, "key key-a is Active, not Creating"},
      {"key-a", KeyStatus::kArchived, ErrorCode::kConflict, "key key-a is Active, not Archived"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    const auto before = all_keys(*store);
    auto moved = store->transition_key(
        c.id, {.from = c.from, .to = KeyStatus::kFailed, .public_key = "04ff", .failure_reason = "x"});
    ASSERT_FALSE(moved);
    EXPECT_EQ(moved.error().code, c.code);
    EXPECT_EQ(moved.error().message, c.message);
    EXPECT_TRUE(same_keys(all_keys(*store), before));
  }
}

TEST_F(StoreTest, RenameKeySetsAndClearsName) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert_key(make_key("key-a")));
  for (const std::optional<std::string>& name : {std::optional<std::string>("ops"), std::optional<std::string>()}) {
    auto renamed = store->rename_key("key-a", name);
    ASSERT_TRUE(renamed) << renamed.error().message;
    EXPECT_EQ(renamed->name, name);
    EXPECT_EQ(store->get_key("key-a").value()->name, name);
  }
  auto missing = store->rename_key("key-missing", "x");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(StoreTest, DuplicateKeyIdIsConflictAndKeepsTheFirst) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert_key(make_key("key-a")));
  KeyRecord again = make_key("key-a", KeyStatus::kCreating);
  again.name = "other";
  auto inserted = store->insert_key(again);
  ASSERT_FALSE(inserted);
  EXPECT_EQ(inserted.error().code, ErrorCode::kConflict);
  EXPECT_EQ(inserted.error().message, "key key-a already exists");
  EXPECT_EQ(fields(*store->get_key("key-a").value()), fields(make_key("key-a")));
}

// --- signatures

TEST_F(StoreTest, InsertGetAndFindSignatureRoundTripEveryField) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert_key(make_key("key-a")));
  SignatureRecord full = make_signature("sig-full", "key-a", "ext-1");
  full.requester_token_id = "to-1";
  full.network = "Ethereum";
  SignatureRecord failed = make_signature("sig-failed", "key-a");
  failed.status = "Failed";
  failed.reason = "HSM unavailable";
  failed.r = failed.s = failed.encoded = std::nullopt;
  failed.recid = std::nullopt;
  failed.date_signed_ms = std::nullopt;
  for (const auto& sig : {full, failed}) {
    SCOPED_TRACE(sig.id);
    ASSERT_TRUE(store->insert_signature(sig));
    auto got = store->get_signature("key-a", sig.id);
    ASSERT_TRUE(got && *got);
    EXPECT_EQ(fields(**got), fields(sig));
    auto wrong_key = store->get_signature("key-b", sig.id);
    ASSERT_TRUE(wrong_key);
    EXPECT_FALSE(*wrong_key);
  }
  auto found = store->find_signature_by_external_id("ext-1");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->id, "sig-full");
  EXPECT_FALSE(store->find_signature_by_external_id("ext-2").value());
}

TEST_F(StoreTest, ListSignaturesPagesPerKeyNewestFirst) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert_key(make_key("key-a")));
  ASSERT_TRUE(store->insert_key(make_key("key-b")));
  std::vector<std::string> expected_a;
  for (int i = 0; i < 8; ++i) {
    const std::string id = "sig-" + std::to_string(i);
    ASSERT_TRUE(store->insert_signature(make_signature(id + "-a", "key-a")));
    ASSERT_TRUE(store->insert_signature(make_signature(id + "-b", "key-b")));
    expected_a.insert(expected_a.begin(), id + "-a");
  }
  std::vector<std::string> seen;
  std::vector<std::size_t> sizes;
  std::optional<std::int64_t> cursor;
  do {
    auto page = store->list_signatures("key-a", cursor, 3);
    ASSERT_TRUE(page) << page.error().message;
    for (const auto& sig : page->items) seen.push_back(sig.id);
    sizes.push_back(page->items.size());
    cursor = page->next_cursor;
  } while (cursor);
  EXPECT_EQ(seen, expected_a);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 2}));
  auto none = store->list_signatures("key-missing", std::nullopt, 3);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->items.empty());
  EXPECT_FALSE(none->next_cursor);
}

TEST_F(StoreTest, ReusedExternalIdIsConflictNamingTheFirstSignature) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert_key(make_key("key-a")));
  ASSERT_TRUE(store->insert_signature(make_signature("sig-first", "key-a", "ext-1")));
  auto second = store->insert_signature(make_signature("sig-second", "key-a", "ext-1"));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  EXPECT_EQ(second.error().message, "Conflicting signature request with same externalId");
  EXPECT_EQ(boost::json::value(second.error().details),
            boost::json::parse(R"({"duplicate":{"id":"sig-first","externalId":"ext-1"}})"));
  EXPECT_FALSE(store->get_signature("key-a", "sig-second").value());
}

TEST_F(StoreTest, SignatureErrors) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert_key(make_key("key-a")));
  ASSERT_TRUE(store->insert_signature(make_signature("sig-1", "key-a")));
  const struct {
    SignatureRecord sig;
    ErrorCode code;
    const char* message;
  } cases[] = {
      {make_signature("sig-1", "key-a"), ErrorCode::kConflict, "signature sig-1 already exists"},
      {make_signature("sig-2", "key-missing"), ErrorCode::kNotFound, "key key-missing not found"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    auto inserted = store->insert_signature(c.sig);
    ASSERT_FALSE(inserted);
    EXPECT_EQ(inserted.error().code, c.code);
    EXPECT_EQ(inserted.error().message, c.message);
  }
}

// --- group commit

TEST_F(StoreTest, FailingWriteInABatchDoesNotFailItsNeighbours) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert_key(make_key("key-dup")));
  const auto before = store->stats();
  auto results = StoreTestPeer::write_together(
      *store, {raw_insert_key("key-1"), raw_insert_key("key-dup"), raw_insert_key("key-2"),
               [](Connection& c) { return c.exec("INSERT INTO keys (id) VALUES ('key-null')", "test insert"); }});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0]);
  EXPECT_EQ(results[1].error().code, ErrorCode::kConflict);
  EXPECT_TRUE(results[2]);
  EXPECT_EQ(results[3].error().code, ErrorCode::kConflict);  // NOT NULL
  EXPECT_TRUE(store->get_key("key-1").value());
  EXPECT_TRUE(store->get_key("key-2").value());
  EXPECT_FALSE(store->get_key("key-null").value());
  EXPECT_EQ(store->stats().commits, before.commits + 1);
  EXPECT_EQ(store->stats().writes, before.writes + 2);
}

TEST_F(StoreTest, FailedCommitFailsTheWholeBatchAndWritesNothing) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const auto before = store->stats();
  // A deferred foreign-key violation passes every statement and fails only at COMMIT.
  auto results = StoreTestPeer::write_together(
      *store, {raw_insert_key("key-1"),
               [](Connection& c) {
                 return c.exec(
                     "PRAGMA defer_foreign_keys = ON; INSERT INTO signatures (id, key_id, requester_user_id, "
                     "request_body, request_digest, status, date_requested_ms) VALUES ('sig-x', 'key-missing', 'u', "
                     "'{}', 'd', 'Signed', 1)",
                     "test insert");
               },
               raw_insert_key("key-2")});
  for (const auto& result : results) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kUnavailable) << result.error().message;
  }
  EXPECT_FALSE(store->get_key("key-1").value());
  EXPECT_FALSE(store->get_key("key-2").value());
  EXPECT_EQ(store->stats().commits, before.commits);
  EXPECT_EQ(store->stats().writes, before.writes);
  ASSERT_TRUE(store->insert_key(make_key("key-3")));  // the writer carries on
}

TEST_F(StoreTest, CheckWritableTakesTheWriteLockAndIsNotCountedAsAWrite) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert_key(make_key("key-1")));
  const auto before = store->stats();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->check_writable());
  EXPECT_EQ(store->stats().commits, before.commits);
  EXPECT_EQ(store->stats().writes, before.writes);

  // Another connection holds the write lock: the probe fails (after the busy timeout) and says why.
  auto other = Connection::open(db_path(), OpenMode::kReadWrite);
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_TRUE(other->exec("BEGIN IMMEDIATE", "hold the write lock"));
  auto locked = store->check_writable();
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code, ErrorCode::kUnavailable) << locked.error().message;
  ASSERT_TRUE(other->exec("ROLLBACK", "release the write lock"));
  EXPECT_TRUE(store->check_writable());
  EXPECT_EQ(store->stats().writes, before.writes);
  ASSERT_TRUE(store->insert_key(make_key("key-2")));  // and real writes still count
  EXPECT_EQ(store->stats().writes, before.writes + 1);
}

TEST_F(StoreTest, TransactionLostMidBatchFailsTheWholeBatch) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  auto results = StoreTestPeer::write_together(
      *store, {raw_insert_key("key-1"), [](Connection& c) { return c.exec("ROLLBACK", "test rollback"); },
               raw_insert_key("key-2")});
  for (const auto& result : results) {
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kUnavailable) << result.error().message;
  }
  EXPECT_FALSE(store->get_key("key-1").value());
  EXPECT_FALSE(store->get_key("key-2").value());
  ASSERT_TRUE(store->insert_key(make_key("key-3")));
}

TEST_F(StoreTest, ConcurrentDuplicatesFailAloneAndGoodWritesLand) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->insert_key(make_key("key-a")));
  ASSERT_TRUE(store->insert_signature(make_signature("sig-taken", "key-a", "ext-taken")));
  constexpr int kThreads = 8, kPerThread = 50;
  std::atomic<int> good_ok{0}, dup_conflict{0}, unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "sig-" + std::to_string(t) + "-" + std::to_string(i);
        const bool duplicate = i % 3 == 0;
        auto result = store->insert_signature(make_signature(id, "key-a", duplicate ? "ext-taken" : "ext-" + id));
        if (!duplicate && result) {
          ++good_ok;
        } else if (duplicate && !result && result.error().code == ErrorCode::kConflict &&
                   result.error().details.at("duplicate").as_object().at("id").as_string() == "sig-taken") {
          ++dup_conflict;
        } else {
          ++unexpected;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  constexpr int kDuplicates = kThreads * ((kPerThread + 2) / 3);
  EXPECT_EQ(unexpected, 0);
  EXPECT_EQ(dup_conflict, kDuplicates);
  EXPECT_EQ(good_ok, kThreads * kPerThread - kDuplicates);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string id = "sig-" + std::to_string(t) + "-" + std::to_string(i);
      EXPECT_EQ(store->get_signature("key-a", id).value().has_value(), i % 3 != 0) << id;
    }
  }
}

TEST_F(StoreTest, ConcurrentWritersAllLandInFewerCommitsThanWrites) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 16, kPerThread = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!store->insert_key(make_key("key-" + std::to_string(t) + "-" + std::to_string(i)))) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  const auto ids = list_all_key_ids(*store, 500);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  const auto stats = store->stats();
  EXPECT_EQ(stats.writes, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_LT(stats.commits, stats.writes);
  RecordProperty("commits", static_cast<int>(stats.commits));
}

TEST_F(StoreTest, ReturnedWritesSurviveCloseAndReopen) {
  {
    auto store = open_store();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->insert_key(make_key("key-a", KeyStatus::kCreating)));
    ASSERT_TRUE(store->transition_key("key-a", {.from = KeyStatus::kCreating, .to = KeyStatus::kActive,
                                                .public_key = "04aa"}));
    ASSERT_TRUE(store->rename_key("key-a", "kept"));
    ASSERT_TRUE(store->insert_signature(make_signature("sig-1", "key-a", "ext-1")));
  }
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  auto key = store->get_key("key-a");
  ASSERT_TRUE(key && *key);
  EXPECT_EQ((*key)->status, KeyStatus::kActive);
  EXPECT_EQ((*key)->public_key, "04aa");
  EXPECT_EQ((*key)->name, "kept");
  EXPECT_TRUE(store->get_signature("key-a", "sig-1").value());
  EXPECT_TRUE(store->find_signature_by_external_id("ext-1").value());
  // A signature inserted after reopening gets a higher seq than any before it.
  ASSERT_TRUE(store->insert_signature(make_signature("sig-2", "key-a")));
  auto page = store->list_signatures("key-a", std::nullopt, 10);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].id, "sig-2");
}

}  // namespace
}  // namespace signerd::store

// The store's legacy asset accounts and public keys (schema v5): keys.public_key_id, the asset_accounts table, the
// transitions a Creating account takes (each with its audit record), and the migration from a v4 database.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "store/schema.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "store/testing.h"
#include "tests/support/softhsm_token.h"
#include "tests/unit/store_query_plans.h"

namespace signerd::store {
namespace {

constexpr std::int64_t kCreatedMs = 1'700'000'000'000;

KeyRecord make_key(const std::string& id, std::optional<std::string> public_key_id = std::nullopt,
                   KeyStatus status = KeyStatus::kActive) {
  KeyRecord key;
  key.id = id;
  key.scheme = "ECDSA";
  key.curve = "secp256k1";
  key.public_key = "02" + std::string(64, 'a');
  key.status = status;
  key.owner_id = "us-owner";
  key.date_created_ms = kCreatedMs;
  key.public_key_id = std::move(public_key_id);
  return key;
}

AssetAccountRecord make_account(const std::string& id, const std::string& public_key_id) {
  AssetAccountRecord a;
  a.id = id;
  a.asset_symbol = "ETH";
  a.network = "Ethereum";
  a.public_key_id = public_key_id;
  a.owner_id = "us-owner";
  a.date_created_ms = kCreatedMs;
  a.date_updated_ms = kCreatedMs;
  return a;
}

AuditEntry audit(const std::string& path) {
  return AuditEntry{.time_ms = kCreatedMs,
                    .principal_id = "us-owner",
                    .method = "POST",
                    .path = path,
                    .body_sha256 = std::string(64, '0'),
                    .outcome = "ok"};
}

class StoreAssetAccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Store::open(dir_.path() / "signerd.db");
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
  }
  std::size_t audit_records() { return store_->list_audit(std::nullopt, 1000)->items.size(); }

  signerd::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreAssetAccountsTest, AKeysPublicKeyIdIsStoredUniqueAndFindsTheKey) {
  ASSERT_TRUE(store_->insert_key(make_key("key-plain")));
  ASSERT_TRUE(store_->insert_key(make_key("key-pk", "pk-1")));
  EXPECT_FALSE(store_->get_key("key-plain").value()->public_key_id);
  EXPECT_EQ(store_->get_key("key-pk").value()->public_key_id, "pk-1");
  auto found = store_->get_key_by_public_key_id("pk-1");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->id, "key-pk");
  EXPECT_FALSE(store_->get_key_by_public_key_id("pk-none").value());
  // Two keys never share a public key id.
  auto twin = store_->insert_key(make_key("key-twin", "pk-1"));
  ASSERT_FALSE(twin);
  EXPECT_EQ(twin.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(store_->get_key("key-twin").value());
}

TEST_F(StoreAssetAccountsTest, PublicKeysListOnlyListedKeysWithAPublicKeyIdNewestFirst) {
  std::vector<std::string> expected;
  for (int i = 0; i < 5; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_TRUE(store_->insert_key(make_key("key-plain" + n)));
    ASSERT_TRUE(store_->insert_key(make_key("key-creating" + n, "pk-creating" + n, KeyStatus::kCreating)));
    ASSERT_TRUE(store_->insert_key(make_key("key-failed" + n, "pk-failed" + n, KeyStatus::kFailed)));
    ASSERT_TRUE(store_->insert_key(make_key("key-pk" + n, "pk-" + n)));
    expected.insert(expected.begin(), "pk-" + n);
  }
  ASSERT_TRUE(store_->transition_key(
      "key-pk0", {.from = KeyStatus::kActive, .to = KeyStatus::kArchived, .date_deleted_ms = kCreatedMs + 1}));
  for (int limit : {1, 2, 5, 10}) {
    SCOPED_TRACE(limit);
    std::vector<std::string> ids;
    std::optional<std::int64_t> cursor;
    do {
      auto page = store_->list_public_keys(cursor, limit);
      ASSERT_TRUE(page) << page.error().message;
      EXPECT_LE(page->items.size(), static_cast<std::size_t>(limit));
      for (const auto& k : page->items) ids.push_back(*k.public_key_id);
      cursor = page->next_cursor;
    } while (cursor);
    EXPECT_EQ(ids, expected);  // the archived one too
  }
}

TEST_F(StoreAssetAccountsTest, InsertAndGetRoundTripEveryFieldWithItsAuditRecord) {
  ASSERT_TRUE(store_->insert_key(make_key("key-1", "pk-1")));
  AssetAccountRecord full = make_account("aa-full", "pk-1");
  full.asset_symbol = "USDC.MATIC";
  full.network = "Polygon";
  full.name = "treasury";
  full.key_id = "key-1";
  full.external_id = "ext-1";
  full.tags = {"a", "b \"quoted\""};
  full.date_updated_ms = kCreatedMs + 5;
  const auto entry = audit("/assets/asset-accounts");
  ASSERT_TRUE(store_->insert_asset_account(full, &entry));
  EXPECT_EQ(audit_records(), 1u);
  auto got = store_->get_asset_account("aa-full");
  ASSERT_TRUE(got && *got);
  const auto& a = **got;
  EXPECT_GT(a.seq, 0);
  EXPECT_EQ(a.id, "aa-full");
  EXPECT_EQ(a.asset_symbol, "USDC.MATIC");
  EXPECT_EQ(a.network, "Polygon");
  EXPECT_EQ(a.name, "treasury");
  EXPECT_EQ(a.status, AssetAccountStatus::kCreating);
  EXPECT_FALSE(a.reason);
  EXPECT_EQ(a.key_id, "key-1");
  EXPECT_EQ(a.public_key_id, "pk-1");
  EXPECT_FALSE(a.address);
  EXPECT_EQ(a.external_id, "ext-1");
  EXPECT_EQ(a.tags, full.tags);
  EXPECT_EQ(a.owner_id, "us-owner");
  EXPECT_EQ(a.date_created_ms, kCreatedMs);
  EXPECT_EQ(a.date_updated_ms, kCreatedMs + 5);
  EXPECT_FALSE(store_->get_asset_account("aa-none").value());

  // The same id again, or a key that does not exist: nothing written, no audit record.
  EXPECT_EQ(store_->insert_asset_account(full, &entry).error().code, ErrorCode::kConflict);
  AssetAccountRecord orphan = make_account("aa-orphan", "pk-2");
  orphan.key_id = "key-missing";
  EXPECT_EQ(store_->insert_asset_account(orphan, &entry).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(store_->get_asset_account("aa-orphan").value());
  EXPECT_EQ(audit_records(), 1u);
}

TEST_F(StoreAssetAccountsTest, ACreatingAccountFinishesOnceEnabledOrFailed) {
  ASSERT_TRUE(store_->insert_key(make_key("key-1", "pk-1")));
  ASSERT_TRUE(store_->insert_asset_account(make_account("aa-1", "pk-1")));
  ASSERT_TRUE(store_->insert_asset_account(make_account("aa-2", "pk-2")));
  const auto entry = audit("/assets/asset-accounts/aa-1");

  Store::AssetAccountOutcome enabled{.status = AssetAccountStatus::kEnabled,
                                     .key_id = "key-1",
                                     .address = "0xAbC",
                                     .date_updated_ms = kCreatedMs + 10};
  auto done = store_->finish_asset_account("aa-1", enabled, &entry);
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->status, AssetAccountStatus::kEnabled);
  EXPECT_EQ(done->key_id, "key-1");
  EXPECT_EQ(done->public_key_id, "pk-1");  // kept
  EXPECT_EQ(done->address, "0xAbC");
  EXPECT_EQ(done->date_updated_ms, kCreatedMs + 10);
  EXPECT_EQ(audit_records(), 1u);

  // Once finished, never again; unknown ids and unknown keys change nothing.
  auto again = store_->finish_asset_account("aa-1", enabled, &entry);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_NE(again.error().message.find("is Enabled"), std::string::npos) << again.error().message;
  EXPECT_EQ(store_->finish_asset_account("aa-none", enabled, &entry).error().code, ErrorCode::kNotFound);
  Store::AssetAccountOutcome bad_key = enabled;
  bad_key.key_id = "key-missing";
  EXPECT_EQ(store_->finish_asset_account("aa-2", bad_key, &entry).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->get_asset_account("aa-2").value()->status, AssetAccountStatus::kCreating);
  EXPECT_EQ(audit_records(), 1u);

  Store::AssetAccountOutcome failed{.status = AssetAccountStatus::kFailed,
                                    .reason = "key creation failed: HSM unavailable",
                                    .date_updated_ms = kCreatedMs + 20};
  auto gave_up = store_->finish_asset_account("aa-2", failed, &entry);
  ASSERT_TRUE(gave_up);
  EXPECT_EQ(gave_up->status, AssetAccountStatus::kFailed);
  EXPECT_EQ(gave_up->reason, "key creation failed: HSM unavailable");
  EXPECT_FALSE(gave_up->key_id);
  EXPECT_FALSE(gave_up->address);
  EXPECT_EQ(audit_records(), 2u);
  Store::AssetAccountOutcome creating{.status = AssetAccountStatus::kCreating};
  EXPECT_EQ(store_->finish_asset_account("aa-2", creating).error().code, ErrorCode::kInvalidArgument);
}

TEST_F(StoreAssetAccountsTest, ReplanningGivesOnlyAnAccountWithoutItsKeyANewPublicKeyId) {
  ASSERT_TRUE(store_->insert_key(make_key("key-1", "pk-1")));
  ASSERT_TRUE(store_->insert_asset_account(make_account("aa-new", "pk-old")));
  AssetAccountRecord reused = make_account("aa-reused", "pk-1");
  reused.key_id = "key-1";
  ASSERT_TRUE(store_->insert_asset_account(reused));
  const auto entry = audit("/assets/asset-accounts/aa-new");
  auto replanned = store_->replan_asset_account_key("aa-new", "pk-new", kCreatedMs + 1, &entry);
  ASSERT_TRUE(replanned) << replanned.error().message;
  EXPECT_EQ(replanned->public_key_id, "pk-new");
  EXPECT_EQ(replanned->status, AssetAccountStatus::kCreating);
  EXPECT_EQ(audit_records(), 1u);
  auto refused = store_->replan_asset_account_key("aa-reused", "pk-other", kCreatedMs + 1, &entry);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_EQ(store_->replan_asset_account_key("aa-none", "pk-x", kCreatedMs, &entry).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(audit_records(), 1u);
}

TEST_F(StoreAssetAccountsTest, ListsFilterByStatusNewestFirstAndResumptionIsOldestFirst) {
  std::vector<std::string> all, creating, failed;
  for (int i = 0; i < 6; ++i) {
    const std::string id = "aa-" + std::to_string(i);
    ASSERT_TRUE(store_->insert_asset_account(make_account(id, "pk-" + std::to_string(i))));
    all.insert(all.begin(), id);
    if (i % 2 == 0) {
      ASSERT_TRUE(store_->finish_asset_account(
          id, {.status = AssetAccountStatus::kFailed, .reason = "no", .date_updated_ms = kCreatedMs}));
      failed.insert(failed.begin(), id);
    } else {
      creating.push_back(id);
    }
  }
  auto ids = [&](std::optional<AssetAccountStatus> status, int limit) {
    std::vector<std::string> out;
    std::optional<std::int64_t> cursor;
    do {
      auto page = store_->list_asset_accounts(status, cursor, limit);
      EXPECT_TRUE(page) << page.error().message;
      if (!page) break;
      for (const auto& a : page->items) out.push_back(a.id);
      cursor = page->next_cursor;
    } while (cursor);
    return out;
  };
  for (int limit : {1, 4, 100}) {
    SCOPED_TRACE(limit);
    EXPECT_EQ(ids(std::nullopt, limit), all);
    EXPECT_EQ(ids(AssetAccountStatus::kFailed, limit), failed);
    EXPECT_TRUE(ids(AssetAccountStatus::kEnabled, limit).empty());
  }
  auto creating_now = store_->asset_accounts_with_status(AssetAccountStatus::kCreating);
  ASSERT_TRUE(creating_now);
  std::vector<std::string> resumed;
  for (const auto& a : *creating_now) resumed.push_back(a.id);
  EXPECT_EQ(resumed, creating);
}

TEST_F(StoreAssetAccountsTest, QueriesAreServedByIndexes) {
  auto connection = Connection::open(dir_.path() / "signerd.db", OpenMode::kReadOnly);
  ASSERT_TRUE(connection);
  for (auto query : {sql::kGetKeyByPublicKeyId, sql::kListPublicKeys, sql::kGetAssetAccount, sql::kListAssetAccounts,
                     sql::kListAssetAccountsWithStatus, sql::kAssetAccountsWithStatus, sql::kAssetAccountStatus}) {
    expect_served_by_one_index(*connection, query);
  }
}

TEST_F(StoreAssetAccountsTest, AVersionFourDatabaseMigratesAndKeepsItsKeys) {
  const auto path = dir_.path() / "v4.db";
  {
    std::ofstream(path).close();
    auto connection = Connection::open(path, OpenMode::kReadWrite);
    ASSERT_TRUE(connection);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(connection->exec(std::string(migrations()[i]), "test"));
    ASSERT_TRUE(connection->exec(
        "PRAGMA user_version = 4;"
        "INSERT INTO keys (id, scheme, curve, public_key, status, custodial, owner_id, date_created_ms) "
        "VALUES ('key-v4', 'ECDSA', 'secp256k1', '02aa', 'Active', 1, 'us-1', 1);",
        "test"));
  }
  auto store = Store::open(path);
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ(StoreTestPeer::writer_pragma(**store, "user_version").value(), std::to_string(schema_version()));
  auto key = (*store)->get_key("key-v4");
  ASSERT_TRUE(key && *key);
  EXPECT_FALSE((*key)->public_key_id);
  EXPECT_TRUE((*store)->list_public_keys(std::nullopt, 10)->items.empty());
  ASSERT_TRUE((*store)->insert_asset_account(make_account("aa-v5", "pk-v5")));
  EXPECT_EQ((*store)->list_asset_accounts(std::nullopt, std::nullopt, 10)->items.size(), 1u);
}

}  // namespace
}  // namespace signerd::store

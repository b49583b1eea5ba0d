// The store's wallets (schema v3): insert, read, list by page and by key, update, tags.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/schema.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "tests/support/softhsm_token.h"
#include "tests/unit/store_query_plans.h"

namespace signerd::store {
namespace {

KeyRecord make_key(const std::string& id) {
  KeyRecord key;
  key.id = id;
  key.scheme = "ECDSA";
  key.curve = "secp256k1";
  key.public_key = "02" + std::string(64, 'a');
  key.status = KeyStatus::kActive;
  key.owner_id = "us-owner";
  key.date_created_ms = 1'700'000'000'000;
  return key;
}

WalletRecord make_wallet(const std::string& id, const std::string& key_id, const std::string& network = "Ethereum") {
  WalletRecord w;
  w.id = id;
  w.network = network;
  w.address = "0x" + std::string(40, '1');
  w.key_id = key_id;
  w.owner_id = "us-owner";
  w.date_created_ms = 1'700'000'000'123;
  return w;
}

class StoreWalletsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Store::open(dir_.path() / "signerd.db");
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    ASSERT_TRUE(store_->insert_key(make_key("key-1")));
    ASSERT_TRUE(store_->insert_key(make_key("key-2")));
  }
  signerd::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreWalletsTest, InsertAndGetRoundTripEveryField) {
  WalletRecord full = make_wallet("wa-full", "key-1", "Bitcoin");
  full.address = "bc1qexample";
  full.name = "treasury";
  full.external_id = "ext-1";
  full.tags = {"a", "b \"quoted\""};
  full.custodial = false;
  ASSERT_TRUE(store_->insert_wallet(full));
  auto got = store_->get_wallet("wa-full");
  ASSERT_TRUE(got && *got) << (got ? "missing" : got.error().message);
  const auto& w = **got;
  EXPECT_GT(w.seq, 0);
  EXPECT_EQ(w.id, full.id);
  EXPECT_EQ(w.network, "Bitcoin");
  EXPECT_EQ(w.address, full.address);
  EXPECT_EQ(w.key_id, "key-1");
  EXPECT_EQ(w.name, full.name);
  EXPECT_EQ(w.status, "Active");
  EXPECT_FALSE(w.custodial);
  EXPECT_EQ(w.external_id, full.external_id);
  EXPECT_EQ(w.tags, full.tags);
  EXPECT_EQ(w.owner_id, "us-owner");
  EXPECT_EQ(w.date_created_ms, full.date_created_ms);

  auto missing = store_->get_wallet("wa-none");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
}

TEST_F(StoreWalletsTest, InsertRefusesDuplicateIdsAndUnknownKeys) {
  ASSERT_TRUE(store_->insert_wallet(make_wallet("wa-1", "key-1")));
  auto dup = store_->insert_wallet(make_wallet("wa-1", "key-2"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  auto orphan = store_->insert_wallet(make_wallet("wa-2", "key-none"));
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(*store_->get_wallet("wa-2"));
}

TEST_F(StoreWalletsTest, ListsNewestFirstByPageAndByKey) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->insert_wallet(make_wallet("wa-" + std::to_string(i), i % 2 ? "key-2" : "key-1")));
  }
  std::vector<std::string> ids;
  std::optional<std::int64_t> cursor;
  int pages = 0;
  do {
    auto page = store_->list_wallets(cursor, 2);
    ASSERT_TRUE(page) << page.error().message;
    for (const auto& w : page->items) ids.push_back(w.id);
    cursor = page->next_cursor;
    ++pages;
  } while (cursor);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(ids, (std::vector<std::string>{"wa-4", "wa-3", "wa-2", "wa-1", "wa-0"}));
  EXPECT_FALSE(store_->list_wallets(std::nullopt, 0));

  auto of_key1 = store_->list_wallets_for_key("key-1");
  ASSERT_TRUE(of_key1);
  std::vector<std::string> key1_ids;
  for (const auto& w : *of_key1) key1_ids.push_back(w.id);
  EXPECT_EQ(key1_ids, (std::vector<std::string>{"wa-0", "wa-2", "wa-4"}));
  EXPECT_TRUE(store_->list_wallets_for_key("key-none")->empty());
}

TEST_F(StoreWalletsTest, UpdateSetsClearsOrKeepsEachField) {
  WalletRecord w = make_wallet("wa-1", "key-1");
  w.name = "old";
  w.external_id = "ext";
  ASSERT_TRUE(store_->insert_wallet(w));
  auto renamed = store_->update_wallet("wa-1", {.name = std::optional<std::string>("new"), .external_id = {}});
  ASSERT_TRUE(renamed) << renamed.error().message;
  EXPECT_EQ(renamed->name, "new");
  EXPECT_EQ(renamed->external_id, "ext");
  auto cleared = store_->update_wallet("wa-1", {.name = {}, .external_id = std::optional<std::string>()});
  ASSERT_TRUE(cleared);
  EXPECT_EQ(cleared->name, "new");
  EXPECT_FALSE(cleared->external_id);
  EXPECT_EQ((*store_->get_wallet("wa-1"))->name, "new");
  auto missing = store_->update_wallet("wa-none", {.name = std::optional<std::string>("x"), .external_id = {}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(StoreWalletsTest, SetTagsReplacesTheList) {
  ASSERT_TRUE(store_->insert_wallet(make_wallet("wa-1", "key-1")));
  EXPECT_TRUE((*store_->get_wallet("wa-1"))->tags.empty());
  auto tagged = store_->set_wallet_tags("wa-1", {"x", "y"});
  ASSERT_TRUE(tagged);
  EXPECT_EQ(tagged->tags, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ((*store_->get_wallet("wa-1"))->tags, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(store_->set_wallet_tags("wa-none", {}).error().code, ErrorCode::kNotFound);
}

TEST_F(StoreWalletsTest, ListFilteredByDelegatedUserFollowsTheKeys) {
  // us-1 has two keys with wallets made in turns (the list merges them by wallet seq), another user and a custodial
  // key have wallets in between, and a key made with delayDelegation joins us-1 later.
  KeyRecord k1 = make_key("key-us1-a"), k2 = make_key("key-us1-b"), other = make_key("key-us2"),
            later = make_key("key-later");
  k1.delegated_to = k2.delegated_to = "us-1";
  other.delegated_to = "us-2";
  later.delay_delegation = true;
  for (const auto& k : {k1, k2, other, later}) ASSERT_TRUE(store_->insert_key(k));
  std::vector<std::string> expected;
  for (int i = 0; i < 4; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_TRUE(store_->insert_wallet(make_wallet("wa-a" + n, "key-us1-a")));
    ASSERT_TRUE(store_->insert_wallet(make_wallet("wa-other" + n, "key-us2")));
    ASSERT_TRUE(store_->insert_wallet(make_wallet("wa-b" + n, "key-us1-b")));
    ASSERT_TRUE(store_->insert_wallet(make_wallet("wa-custodial" + n, "key-1")));
    ASSERT_TRUE(store_->insert_wallet(make_wallet("wa-later" + n, "key-later")));
    expected.insert(expected.begin(), {"wa-later" + n, "wa-b" + n, "wa-a" + n});
  }
  auto list = [&](int limit) {
    std::vector<std::string> ids;
    std::optional<std::int64_t> cursor;
    do {
      auto page = store_->list_wallets(cursor, limit, "us-1");
      EXPECT_TRUE(page) << page.error().message;
      if (!page) break;
      EXPECT_LE(page->items.size(), static_cast<std::size_t>(limit));
      for (const auto& w : page->items) ids.push_back(w.id);
      cursor = page->next_cursor;
    } while (cursor);
    return ids;
  };
  std::vector<std::string> before_delegation;
  for (const auto& id : expected) {
    if (!id.starts_with("wa-later")) before_delegation.push_back(id);
  }
  EXPECT_EQ(list(3), before_delegation);
  const AuditEntry audit{.time_ms = 1,
                         .principal_id = "us-admin",
                         .method = "POST",
                         .path = "/keys/key-later/delegate",
                         .body_sha256 = std::string(64, '0'),
                         .outcome = "ok"};
  ASSERT_TRUE(store_->delegate_key("key-later", "us-1", audit));
  for (int limit : {1, 2, 5, 12, 100}) {
    SCOPED_TRACE(limit);
    EXPECT_EQ(list(limit), expected);
  }
  EXPECT_TRUE(store_->list_wallets(std::nullopt, 10, "us-none")->items.empty());
  EXPECT_EQ(store_->list_wallets(std::nullopt, 100)->items.size(), 20u);  // unfiltered: every wallet
}

TEST_F(StoreWalletsTest, WalletQueriesAreServedByIndexes) {
  auto connection = Connection::open(dir_.path() / "signerd.db", OpenMode::kReadOnly);
  ASSERT_TRUE(connection);
  for (auto query : {sql::kGetWallet, sql::kListWallets, sql::kListWalletsForKey}) {
    expect_served_by_one_index(*connection, query);
  }
  // The user's delegated keys drive the join; the sort holds only that user's wallets (see the statement).
  expect_join_served_by_indexes(*connection, sql::kListDelegatedWallets, {"keys_delegated", "wallets_by_key"},
                                /*sorts_its_rows=*/true);
}

}  // namespace
}  // namespace signerd::store

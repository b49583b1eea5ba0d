// The store's smart-account activation (schema v7): the fee reserved and the transaction recorded in one write,
// the outcome (deployed, or released with the reason), what a restart reads back, and refusals that write nothing.
// Also the apps' listing and revocation (schema v8).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "store/schema.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "tests/support/softhsm_token.h"
#include "tests/unit/store_query_plans.h"

namespace signerd::store {
namespace {

// Plain decimal arithmetic for small test amounts (the service uses smart/amount.h).
Result<std::string> minus(const std::string& a, const std::string& b) {
  const long long x = std::stoll(a), y = std::stoll(b);
  if (x < y) return fail(ErrorCode::kInvalidArgument, "balance " + a + " below " + b);
  return std::to_string(x - y);
}
Result<std::string> plus(const std::string& a, const std::string& b) { return std::to_string(std::stoll(a) + std::stoll(b)); }

class StoreSmartTest : public ::testing::Test {
 protected:
  void SetUp() override { open(); }
  void open() {
    store_.reset();
    auto opened = Store::open(dir_.path() / "signerd.db");
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    if (created_) return;
    created_ = true;
    SmartAppRecord app;
    app.id = "app-1";
    app.client_id = "client-1";
    app.name = "test";
    app.hmac_key_id = "smart-app-app-1";
    app.created_by = "os-uid-0";
    app.date_created_ns = 1;
    ASSERT_TRUE(store_->insert_smart_app(app));
    SmartAccountRecord record;
    record.id = "rec-1";
    record.app_id = "app-1";
    record.owner = "0x" + std::string(40, 'a');
    record.owner_id = record.owner;
    record.provider = "wallet";
    record.gas_tank_id = "tank-1";
    record.gas_tank_token = "USDT";
    record.gas_tank_decimals = 6;
    record.date_created_ns = 2;
    std::vector<SmartAccountNetworkRecord> networks;
    for (const char* name : {"Base", "Ethereum"}) {
      SmartAccountNetworkRecord n;
      n.id = std::string("acc-") + name;
      n.network = name;
      n.chain_id = 1;
      n.version = "0.7";
      n.aa_address = "0x" + std::string(40, 'b');
      n.date_created_ns = 3;
      networks.push_back(n);
    }
    ASSERT_TRUE(store_->create_or_get_smart_account(record, networks));
    GasTankEntry deposit;
    deposit.id = "dep-1";
    deposit.gas_tank_id = "tank-1";
    deposit.kind = "deposit";
    deposit.amount = "100";
    deposit.date_ns = 4;
    ASSERT_TRUE(store_->append_gas_tank_entry(deposit, [](const std::string& b) { return plus(b, "100"); }));
  }

  SmartDeployment deployment(const std::string& account, const std::string& fee, int n = 1) {
    SmartDeployment d;
    d.account_network_id = account;
    d.tx_hash = "0x" + std::string(63, '0') + std::to_string(n);
    d.signed_tx = "0x02f8";
    d.from = "0x" + std::string(40, 'c');
    d.nonce = 7 + n;
    d.fee = fee;
    d.reserve_entry_id = "res-" + std::to_string(n);
    d.date_ns = 10 + n;
    return d;
  }
  Result<SmartAccountNetworkRecord> begin(const SmartDeployment& d) {
    return store_->begin_smart_deployment(d, [&](const std::string& b) { return minus(b, d.fee); });
  }
  Result<SmartAccountNetworkRecord> finish(const std::string& account, const std::string& tx, bool ok,
                                           const std::string& reason = "") {
    SmartDeploymentOutcome o;
    o.deployed = ok;
    if (ok) o.block = 42;
    o.reason = reason;
    o.release_entry_id = "rel-" + tx.substr(tx.size() - 1);
    o.date_ns = 99;
    return store_->finish_smart_deployment(account, tx, o, plus);
  }
  std::string balance() {
    auto last = store_->last_gas_tank_entry("tank-1");
    EXPECT_TRUE(last && *last);
    return (last && *last) ? (*last)->balance_after : "?";
  }
  std::vector<std::string> ledger_kinds() {
    auto page = store_->list_gas_tank_entries("tank-1", std::nullopt, 100);
    std::vector<std::string> out;
    if (page) {
      for (auto it = page->items.rbegin(); it != page->items.rend(); ++it) out.push_back(it->kind + ":" + it->amount);
    }
    return out;
  }

  signerd::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  bool created_ = false;
};

TEST_F(StoreSmartTest, BeginReservesTheFeeAndRecordsTheTransactionDurably) {
  auto begun = begin(deployment("acc-Base", "30"));
  ASSERT_TRUE(begun) << begun.error().message;
  EXPECT_EQ(begun->status, "deploying");
  EXPECT_EQ(begun->tx_hash, deployment("acc-Base", "30").tx_hash);
  EXPECT_EQ(begun->deploy_tx, "0x02f8");
  EXPECT_EQ(begun->deploy_nonce, 8);
  EXPECT_EQ(begun->deploy_fee, "30");
  EXPECT_EQ(balance(), "70");
  // What a restart finds: the same deploying account with its exact transaction.
  open();
  auto deploying = store_->smart_accounts_in_status("deploying");
  ASSERT_TRUE(deploying);
  ASSERT_EQ(deploying->size(), 1u);
  EXPECT_EQ(deploying->front().id, "acc-Base");
  EXPECT_EQ(deploying->front().deploy_tx, "0x02f8");
  EXPECT_EQ(deploying->front().deploy_from, "0x" + std::string(40, 'c'));
  EXPECT_EQ(balance(), "70");
}

TEST_F(StoreSmartTest, BeginWritesNothingWhenTheBalanceIsShortOrTheAccountIsNotIdle) {
  auto short_of = begin(deployment("acc-Base", "101"));
  ASSERT_FALSE(short_of);
  EXPECT_EQ(short_of.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(balance(), "100");
  EXPECT_EQ(ledger_kinds(), (std::vector<std::string>{"deposit:100"}));
  auto account = store_->get_smart_account_network("acc-Base");
  ASSERT_TRUE(account && *account);
  EXPECT_EQ((*account)->status, "not_deployed");
  EXPECT_FALSE((*account)->deploy_tx);

  ASSERT_TRUE(begin(deployment("acc-Base", "10", 1)));
  auto twice = begin(deployment("acc-Base", "10", 2));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, ErrorCode::kConflict);
  EXPECT_EQ(balance(), "90");  // one reservation, not two
  auto unknown = begin(deployment("acc-none", "10", 3));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
}

TEST_F(StoreSmartTest, ADeployedAttemptKeepsTheChargeAndRecordsTheBlock) {
  const auto d = deployment("acc-Base", "30");
  ASSERT_TRUE(begin(d));
  auto done = finish("acc-Base", d.tx_hash, true);
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->status, "deployed");
  EXPECT_EQ(done->deployed_block, 42);
  EXPECT_EQ(done->date_deployed_ns, 99);
  EXPECT_EQ(done->tx_hash, d.tx_hash);
  EXPECT_EQ(balance(), "70");
  EXPECT_EQ(ledger_kinds(), (std::vector<std::string>{"deposit:100", "reserve:30"}));
  EXPECT_TRUE(store_->smart_accounts_in_status("deploying")->empty());
  // Finishing again (a second watcher pass, a racing request) changes nothing.
  auto again = finish("acc-Base", d.tx_hash, false, "late");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_EQ(balance(), "70");
}

TEST_F(StoreSmartTest, AFailedAttemptReleasesTheFeeAndKeepsTheReason) {
  const auto d = deployment("acc-Ethereum", "25");
  ASSERT_TRUE(begin(d));
  auto wrong_tx = finish("acc-Ethereum", "0x" + std::string(64, 'f'), false, "x");
  ASSERT_FALSE(wrong_tx);
  EXPECT_EQ(wrong_tx.error().code, ErrorCode::kConflict);
  auto done = finish("acc-Ethereum", d.tx_hash, false, "reverted in block 5");
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->status, "not_deployed");
  EXPECT_EQ(done->failure_reason, "reverted in block 5");
  EXPECT_EQ(done->tx_hash, d.tx_hash);
  EXPECT_FALSE(done->deploy_tx);
  EXPECT_FALSE(done->deploy_fee);
  EXPECT_EQ(balance(), "100");
  EXPECT_EQ(ledger_kinds(), (std::vector<std::string>{"deposit:100", "reserve:25", "release:25"}));
  // A later attempt starts clean.
  auto retry = begin(deployment("acc-Ethereum", "25", 2));
  ASSERT_TRUE(retry);
  EXPECT_FALSE(retry->failure_reason);
}

TEST_F(StoreSmartTest, MarkDeployedChargesNothingAndOnlyFromNotDeployed) {
  auto marked = store_->mark_smart_account_deployed("acc-Base", 50);
  ASSERT_TRUE(marked) << marked.error().message;
  EXPECT_EQ(marked->status, "deployed");
  EXPECT_FALSE(marked->tx_hash);
  EXPECT_FALSE(marked->deployed_block);
  EXPECT_EQ(balance(), "100");
  auto again = store_->mark_smart_account_deployed("acc-Base", 51);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST_F(StoreSmartTest, RememberedRequestSignaturesSurviveAReopenUntilTheyExpire) {
  EXPECT_EQ(store_->remember_smart_request("app-1", "ab", 1000, 10).value(), true);
  EXPECT_EQ(store_->remember_smart_request("app-1", "ab", 1000, 11).value(), false);
  EXPECT_EQ(store_->remember_smart_request("app-2", "ab", 1000, 12).value(), true) << "per app";
  open();
  EXPECT_EQ(store_->remember_smart_request("app-1", "ab", 1000, 13).value(), false) << "durable";
  // Past its forget_after, the row is dropped by the next write, and the signature is new again (the timestamp
  // check refuses such a request before it gets here).
  EXPECT_EQ(store_->remember_smart_request("app-1", "cd", 5000, 1001).value(), true);
  EXPECT_EQ(store_->remember_smart_request("app-1", "ab", 5000, 1002).value(), true);
}

TEST_F(StoreSmartTest, ActivationQueriesAreServedByIndexes) {
  auto connection = Connection::open(dir_.path() / "signerd.db", OpenMode::kReadOnly);
  ASSERT_TRUE(connection);
  for (auto query : {sql::kGetSmartNetwork, sql::kSmartNetworksInStatus, sql::kGasTankOfSmartAccount,
                     sql::kBeginSmartDeployment, sql::kSmartDeployed, sql::kSmartDeploymentFailed,
                     sql::kForgetSmartRequests}) {
    expect_served_by_one_index(*connection, query);
  }
}

// --- apps: listing and revocation (schema v8)

SmartAppRecord make_app(const std::string& id, std::int64_t date_ns) {
  SmartAppRecord app;
  app.id = id;
  app.client_id = "client-" + id;
  app.name = "name of " + id;
  app.hmac_key_id = "smart-app-" + id;
  app.created_by = "os-uid-0";
  app.date_created_ns = date_ns;
  return app;
}

AuditEntry revoke_audit(const std::string& id) {
  return AuditEntry{.time_ms = 7,
                    .principal_id = "os-uid-0",
                    .method = "DELETE",
                    .path = "/smart-account-apps/" + id,
                    .body_sha256 = std::string(64, '0'),
                    .outcome = "ok",
                    .affected_ids = {id}};
}

std::vector<std::string> ids_of(const Page<SmartAppRecord>& page) {
  std::vector<std::string> out;
  for (const auto& app : page.items) out.push_back(app.id);
  return out;
}

TEST_F(StoreSmartTest, AppsAreListedNewestFirstInPagesRevokedOnesIncluded) {
  ASSERT_TRUE(store_->insert_smart_app(make_app("app-2", 20)));
  ASSERT_TRUE(store_->insert_smart_app(make_app("app-3", 30)));
  ASSERT_TRUE(store_->revoke_smart_app("app-2", 25));

  auto first = store_->list_smart_apps(std::nullopt, 2);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(ids_of(*first), (std::vector<std::string>{"app-3", "app-2"}));
  ASSERT_TRUE(first->next_cursor);
  EXPECT_FALSE(first->items[0].date_revoked_ns);
  EXPECT_EQ(first->items[1].date_revoked_ns, 25);
  EXPECT_EQ(first->items[1].client_id, "client-app-2");
  EXPECT_EQ(first->items[1].hmac_key_id, "smart-app-app-2");
  EXPECT_EQ(first->items[1].date_created_ns, 20);
  auto second = store_->list_smart_apps(first->next_cursor, 2);
  ASSERT_TRUE(second);
  EXPECT_EQ(ids_of(*second), (std::vector<std::string>{"app-1"}));
  EXPECT_FALSE(second->next_cursor);
  auto bad = store_->list_smart_apps(std::nullopt, 0);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(StoreSmartTest, RevokingAnAppRecordsItsDateOnceWithItsAuditRecord) {
  auto length = [&] { return store_->audit_length().value(); };
  const auto before = length();
  const auto audit = revoke_audit("app-1");
  auto revoked = store_->revoke_smart_app("app-1", 50, &audit);
  ASSERT_TRUE(revoked) << revoked.error().message;
  EXPECT_EQ(revoked->id, "app-1");
  EXPECT_EQ(revoked->date_revoked_ns, 50);
  EXPECT_EQ(revoked->hmac_key_id, "smart-app-app-1");
  EXPECT_EQ(length(), before + 1);
  auto trail = store_->list_audit(std::nullopt, 1);
  ASSERT_TRUE(trail);
  ASSERT_EQ(trail->items.size(), 1u);
  EXPECT_EQ(trail->items[0].entry.affected_ids, (std::vector<std::string>{"app-1"}));
  EXPECT_EQ(trail->items[0].entry.method, "DELETE");

  // Again: kConflict, the first date stays and no audit record is written.
  const auto again_audit = revoke_audit("app-1");
  auto again = store_->revoke_smart_app("app-1", 60, &again_audit);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_NE(again.error().message.find("already revoked"), std::string::npos) << again.error().message;
  const auto unknown_audit = revoke_audit("app-none");
  auto unknown = store_->revoke_smart_app("app-none", 60, &unknown_audit);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(length(), before + 1);

  // Durable, and the app's records stay readable.
  open();
  auto app = store_->get_smart_app("app-1");
  ASSERT_TRUE(app && *app);
  EXPECT_EQ((*app)->date_revoked_ns, 50);
  auto record = store_->get_smart_account("rec-1");
  ASSERT_TRUE(record && *record);
  EXPECT_EQ((*record)->app_id, "app-1");
}

TEST_F(StoreSmartTest, AVersionSevenDatabaseMigratesWithItsAppsInUse) {
  const auto path = dir_.path() / "v7.db";
  {
    std::ofstream(path).close();  // an empty file: a new database, which read-write mode does not create
    auto connection = Connection::open(path, OpenMode::kReadWrite);
    ASSERT_TRUE(connection);
    for (std::size_t i = 0; i < 7; ++i) ASSERT_TRUE(connection->exec(std::string(migrations()[i]), "test"));
    ASSERT_TRUE(
        connection->exec("PRAGMA user_version = 7;"
                         "INSERT INTO smart_apps (id, client_id, name, hmac_key_id, created_by, date_created_ns) "
                         "VALUES ('app-v7', 'client-v7', 'old', 'smart-app-app-v7', 'os-uid-0', 1);",
                         "test"));
  }
  auto store = Store::open(path);
  ASSERT_TRUE(store) << store.error().message;
  auto app = (*store)->get_smart_app("app-v7");
  ASSERT_TRUE(app && *app);
  EXPECT_FALSE((*app)->date_revoked_ns);
  EXPECT_EQ((*app)->name, "old");
  auto revoked = (*store)->revoke_smart_app("app-v7", 9);
  ASSERT_TRUE(revoked) << revoked.error().message;
  EXPECT_EQ(revoked->date_revoked_ns, 9);
}

TEST_F(StoreSmartTest, AppQueriesAreServedByIndexes) {
  auto connection = Connection::open(dir_.path() / "signerd.db", OpenMode::kReadOnly);
  ASSERT_TRUE(connection);
  for (auto query : {sql::kGetSmartApp, sql::kListSmartApps, sql::kRevokeSmartApp}) {
    expect_served_by_one_index(*connection, query);
  }
}

}  // namespace
}  // namespace signerd::store

// The store's smart-account activation (schema v7): the fee reserved and the transaction recorded in one write,
// the outcome (deployed, or released with the reason), what a restart reads back, and refusals that write nothing.
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

}  // namespace
}  // namespace signerd::store

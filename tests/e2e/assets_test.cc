// The legacy asset accounts and public keys (dfns-api.md §4) end to end, against the built daemon over its real
// sockets with a real SoftHSM token: the asynchronous Creating → Enabled flow, reused public keys, bad input, the
// status filter, the pending limit (a slow HSM from tests/fault), restarts while accounts are Creating, public-key
// signatures and addresses, and the permissions that keep end users out.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/support/daemon_fixture.h"
#include "tests/support/dfns_client.h"

namespace signerd::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::regex kAccountId("^aa-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{14,16}$");
const std::regex kPublicKeyId("^pk-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{14,16}$");
const std::regex kEvmAddress("^0x[0-9a-fA-F]{40}$");
const std::regex kCompressedKey("^0[23][0-9a-f]{64}$");
const std::string kHash = "0x" + std::string(64, 'a');

bool has(const json::value& v, std::string_view key) { return v.is_object() && v.as_object().contains(key); }

class AssetsTest : public DaemonFixture {
 protected:
  // A daemon whose PKCS#11 calls go through tests/fault: `control_` says which to slow down or fail.
  void start_with_fault_module(std::string extra_config = "") {
    start({.module = SIGNERD_P11FAULT_MODULE,
           .extra_config = std::move(extra_config),
           .env = {{"P11FAULT_REAL_MODULE", SoftHsmToken::module_path()}, {"P11FAULT_CONTROL", control_.string()}}});
  }
  void set_fault(const std::string& line) { std::ofstream(control_, std::ios::trunc) << line << "\n"; }
  void clear_fault() { std::filesystem::remove(control_); }

  json::value create(HttpClient& c, const std::string& body) {
    auto r = c.request("POST", "/assets/asset-accounts", body);
    EXPECT_EQ(r.status, 200) << body << " -> " << r.body;
    const auto v = r.json();
    EXPECT_EQ(str(v, "status"), "Creating") << r.body;
    EXPECT_FALSE(has(v, "address")) << "the reply comes before the address: " << r.body;
    return v;
  }
  // Polls the account until it is no longer Creating.
  json::value settled(HttpClient& c, const std::string& id, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto r = c.request("GET", "/assets/asset-accounts/" + id);
      EXPECT_EQ(r.status, 200) << r.body;
      if (str(r.json(), "status") != "Creating" || std::chrono::steady_clock::now() > deadline) return r.json();
      std::this_thread::sleep_for(50ms);
    }
  }
  std::size_t count(HttpClient& c, const std::string& target) {
    auto r = c.request("GET", target);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().at("items").as_array().size();
  }

  TempDir scratch_;
  std::filesystem::path control_ = scratch_.path() / "fault-control";
};

TEST_F(AssetsTest, AnAccountIsCreatingThenEnabledWithItsAddressAndPublicKey) {
  start();
  auto c = daemon_->unix_client();
  const auto created = create(c, R"({"assetSymbol":"ETH","name":"hot","externalId":"ext-1","tags":["a","b","a"]})");
  const std::string id = str(created, "id");
  EXPECT_TRUE(std::regex_match(id, kAccountId)) << created;
  EXPECT_EQ(str(created, "assetSymbol"), "ETH");
  EXPECT_EQ(str(created, "name"), "hot");
  EXPECT_EQ(str(created, "externalId"), "ext-1");
  EXPECT_EQ(created.at("tags"), json::parse(R"(["a","b"])"));
  EXPECT_TRUE(str(created, "orgId").starts_with("or-")) << created;
  EXPECT_FALSE(str(created, "dateCreated").empty());
  EXPECT_FALSE(str(created, "dateUpdate").empty());

  const auto enabled = settled(c, id);
  ASSERT_EQ(str(enabled, "status"), "Enabled") << enabled;
  const std::string address = str(enabled, "address");
  EXPECT_TRUE(std::regex_match(address, kEvmAddress)) << enabled;
  EXPECT_NE(address.substr(2), [&] {
    std::string lower = address.substr(2);
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(ch));
    return lower;
  }()) << "legacy EVM addresses are EIP-55 checksummed (mixed case)";
  EXPECT_TRUE(std::regex_match(str(enabled, "publicKey"), kCompressedKey)) << enabled;
  const std::string pk = str(enabled, "publicKeyId");
  EXPECT_TRUE(std::regex_match(pk, kPublicKeyId)) << enabled;
  EXPECT_EQ(str(enabled, "dateCreated"), str(created, "dateCreated"));
  EXPECT_EQ(str(enabled, "name"), "hot");

  // The public key is a view of an ordinary key: the same public key, and the same address from it.
  auto public_key = c.request("GET", "/public-keys/" + pk);
  ASSERT_EQ(public_key.status, 200) << public_key.body;
  EXPECT_EQ(str(public_key.json(), "publicKey"), str(enabled, "publicKey"));
  EXPECT_FALSE(public_key.json().at("isEddsa").as_bool());
  auto key = c.request("GET", "/keys/" + str(public_key.json(), "keyId"));
  ASSERT_EQ(key.status, 200) << key.body;
  EXPECT_EQ(str(key.json(), "publicKey"), str(enabled, "publicKey"));
  auto lookup = c.request("GET", "/public-keys/" + pk + "/address?network=ETH");
  ASSERT_EQ(lookup.status, 200) << lookup.body;
  EXPECT_EQ(lookup.json(),
            json::parse(R"({"publicKeyId":")" + pk + R"(","network":"ETH","address":")" + address + "\"}"));

  // Other chains: Bitcoin P2WPKH, an ed25519 Solana key, a token with its network's (checksummed) address.
  const auto btc = settled(c, str(create(c, R"({"assetSymbol":"BTC"})"), "id"));
  EXPECT_TRUE(std::regex_match(str(btc, "address"), std::regex("^bc1q[02-9ac-hj-np-z]{38}$"))) << btc;
  EXPECT_EQ(str(btc, "name"), "");
  const auto sol = settled(c, str(create(c, R"({"assetSymbol":"SOL"})"), "id"));
  EXPECT_TRUE(std::regex_match(str(sol, "address"), std::regex("^[1-9A-HJ-NP-Za-km-z]{32,44}$"))) << sol;
  EXPECT_TRUE(c.request("GET", "/public-keys/" + str(sol, "publicKeyId")).json().at("isEddsa").as_bool());
  const auto usdc = settled(c, str(create(c, R"({"assetSymbol":"USDC.MATIC"})"), "id"));
  EXPECT_TRUE(std::regex_match(str(usdc, "address"), kEvmAddress)) << usdc;
  EXPECT_EQ(str(usdc, "assetSymbol"), "USDC.MATIC");

  EXPECT_EQ(count(c, "/assets/asset-accounts"), 4u);
  EXPECT_EQ(count(c, "/public-keys"), 4u);
  EXPECT_EQ(count(c, "/keys"), 4u);
  expect_error_body(c.request("GET", "/assets/asset-accounts/aa-unknown"), 404);
}

TEST_F(AssetsTest, AnAccountReusesAPublicKeyOfAFittingCurve) {
  start();
  auto c = daemon_->unix_client();
  auto made = c.request("POST", "/public-keys", "{}");
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string pk = str(made.json(), "id");
  EXPECT_TRUE(std::regex_match(pk, kPublicKeyId));
  EXPECT_TRUE(std::regex_match(str(made.json(), "publicKey"), kCompressedKey));
  const auto keys_before = count(c, "/keys");

  const auto created = create(c, R"({"assetSymbol":"ETH","publicKey":")" + pk + "\"}");
  EXPECT_EQ(str(created, "publicKeyId"), pk) << "a reused key is known from the start";
  const auto eth = settled(c, str(created, "id"));
  ASSERT_EQ(str(eth, "status"), "Enabled") << eth;
  EXPECT_EQ(str(eth, "publicKeyId"), pk);
  EXPECT_EQ(str(eth, "publicKey"), str(made.json(), "publicKey"));
  EXPECT_EQ(str(eth, "address"),
            str(c.request("GET", "/public-keys/" + pk + "/address?network=ETH").json(), "address"));
  // The same key on another EVM network has the same address; on Bitcoin its P2WPKH address.
  const auto matic = settled(c, str(create(c, R"({"assetSymbol":"MATIC","publicKey":")" + pk + "\"}"), "id"));
  EXPECT_EQ(str(matic, "address"), str(eth, "address"));
  const auto btc = settled(c, str(create(c, R"({"assetSymbol":"BTC","publicKey":")" + pk + "\"}"), "id"));
  EXPECT_EQ(str(btc, "address"),
            str(c.request("GET", "/public-keys/" + pk + "/address?network=BTC").json(), "address"));
  EXPECT_EQ(count(c, "/keys"), keys_before) << "no key was created";
}

TEST_F(AssetsTest, AnUnknownOrUnfitPublicKeyIs404Or400AndCreatesNothing) {
  start();
  auto c = daemon_->unix_client();
  const std::string ed_pk = str(c.request("POST", "/public-keys", R"({"isEddsa":true})").json(), "id");
  const std::string k1_pk = str(c.request("POST", "/public-keys", R"({"isEddsa":false})").json(), "id");
  const std::string plain_key =
      str(c.request("POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256k1"})").json(), "id");
  ASSERT_FALSE(ed_pk.empty() || k1_pk.empty() || plain_key.empty());

  auto unknown = c.request("POST", "/assets/asset-accounts", R"({"assetSymbol":"ETH","publicKey":"pk-nope"})");
  expect_error_body(unknown, 404);
  EXPECT_NE(error_message(unknown).find("pk-nope"), std::string::npos);
  // A key made through /keys has no public key id: its key id is no public key.
  expect_error_body(
      c.request("POST", "/assets/asset-accounts", R"({"assetSymbol":"ETH","publicKey":")" + plain_key + "\"}"), 404);
  auto unfit = c.request("POST", "/assets/asset-accounts", R"({"assetSymbol":"ETH","publicKey":")" + ed_pk + "\"}");
  expect_error_body(unfit, 400);
  EXPECT_NE(error_message(unfit).find("ed25519"), std::string::npos) << unfit.body;
  expect_error_body(
      c.request("POST", "/assets/asset-accounts", R"({"assetSymbol":"SOL","publicKey":")" + k1_pk + "\"}"), 400);
  // An archived key's public key is disabled.
  const std::string k1_key = str(c.request("GET", "/public-keys/" + k1_pk).json(), "keyId");
  ASSERT_EQ(c.request("DELETE", "/keys/" + k1_key, "{}").status, 200);
  EXPECT_EQ(str(c.request("GET", "/public-keys/" + k1_pk).json(), "status"), "Disabled");
  auto disabled = c.request("POST", "/assets/asset-accounts", R"({"assetSymbol":"ETH","publicKey":")" + k1_pk + "\"}");
  expect_error_body(disabled, 400);
  EXPECT_NE(error_message(disabled).find("disabled"), std::string::npos) << disabled.body;
  EXPECT_EQ(count(c, "/assets/asset-accounts"), 0u);
}

TEST_F(AssetsTest, UnknownSymbolsAndBadBodiesAre400ListingExamplesAndCreateNothing) {
  start();
  auto c = daemon_->unix_client();
  for (const char* body : {R"({"assetSymbol":"FOO"})", R"({"assetSymbol":""})", R"({})", R"({"assetSymbol":"ADA"})",
                           R"({"assetSymbol":"USDC.XTZ"})", R"({"assetSymbol":"FOO.BTC"})"}) {
    SCOPED_TRACE(body);
    auto r = c.request("POST", "/assets/asset-accounts", body);
    expect_error_body(r, 400);
    EXPECT_NE(error_message(r).find("e.g. BTC, ETH, SOL, USDC.ETH"), std::string::npos) << r.body;
  }
  for (const char* body : {R"({"assetSymbol":"ETH","groupSize":3})", R"({"assetSymbol":"ETH","unknown":1})",
                           R"({"assetSymbol":7})", R"({"assetSymbol":"ETH","tags":"a"})", "not json"}) {
    SCOPED_TRACE(body);
    expect_error_body(c.request("POST", "/assets/asset-accounts", body), 400);
  }
  EXPECT_EQ(count(c, "/assets/asset-accounts"), 0u);
  EXPECT_EQ(count(c, "/keys"), 0u);
  const auto one = create(c, R"({"assetSymbol":"ETH","groupSize":1,"groupThreshold":1})");
  EXPECT_EQ(str(settled(c, str(one, "id")), "status"), "Enabled");
  EXPECT_EQ(count(c, "/assets/asset-accounts"), 1u);
  EXPECT_EQ(count(c, "/keys"), 1u);
}

TEST_F(AssetsTest, TheStatusFilterListsEnabledAndFailedAccounts) {
  start_with_fault_module();
  auto c = daemon_->unix_client();
  set_fault("device_error C_GenerateKeyPair");
  const auto failed = settled(c, str(create(c, R"({"assetSymbol":"BTC"})"), "id"));
  ASSERT_EQ(str(failed, "status"), "Failed") << failed;
  EXPECT_NE(str(failed, "reason").find("key creation failed"), std::string::npos) << failed;
  EXPECT_FALSE(has(failed, "address"));
  EXPECT_FALSE(has(failed, "publicKeyId"));
  clear_fault();
  const auto first = settled(c, str(create(c, R"({"assetSymbol":"ETH"})"), "id"));
  const auto second = settled(c, str(create(c, R"({"assetSymbol":"TRX"})"), "id"));
  ASSERT_EQ(str(first, "status"), "Enabled");
  ASSERT_EQ(str(second, "status"), "Enabled");
  EXPECT_TRUE(str(second, "address").starts_with("T")) << second;

  auto ids = [&](const std::string& query) {
    auto r = c.request("GET", "/assets/asset-accounts" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    const auto body = r.json();
    EXPECT_FALSE(has(body, "nextPageToken")) << "legacy lists are not paginated";
    std::vector<std::string> out;
    for (const auto& a : body.at("items").as_array()) out.push_back(str(a, "id"));
    return out;
  };
  EXPECT_EQ(ids(""), (std::vector<std::string>{str(second, "id"), str(first, "id"), str(failed, "id")}));
  EXPECT_EQ(ids("?status=Enabled"), (std::vector<std::string>{str(second, "id"), str(first, "id")}));
  EXPECT_EQ(ids("?status=Failed"), (std::vector<std::string>{str(failed, "id")}));
  EXPECT_TRUE(ids("?status=Creating").empty());
  expect_error_body(c.request("GET", "/assets/asset-accounts?status=Bogus"), 400);
}

TEST_F(AssetsTest, PastThePendingLimitCreationIs429UntilTheQueueDrainsInOrder) {
  start_with_fault_module("[limits]\nmax_pending_asset_accounts = 2\n[server]\nasset_account_workers = 1\n");
  auto c = daemon_->unix_client();
  // Made before the HSM slows down: the wrapper's delay may hold up every other PKCS#11 call meanwhile.
  const std::string pk = str(c.request("POST", "/public-keys", "{}").json(), "id");
  ASSERT_FALSE(pk.empty());
  set_fault("delay 1500 C_GenerateKeyPair");
  const auto a = create(c, R"({"assetSymbol":"ETH"})");
  const auto b = create(c, R"({"assetSymbol":"BTC"})");
  auto refused = c.request("POST", "/assets/asset-accounts", R"({"assetSymbol":"SOL"})");
  expect_error_body(refused, 429);
  EXPECT_NE(error_message(refused).find("retry later"), std::string::npos) << refused.body;
  // A reused public key waits its turn too.
  expect_error_body(c.request("POST", "/assets/asset-accounts", R"({"assetSymbol":"ETH","publicKey":")" + pk + "\"}"),
                    429);
  EXPECT_EQ(count(c, "/assets/asset-accounts"), 2u) << "a refused request records nothing";
  clear_fault();

  const auto first = settled(c, str(a, "id"));
  const auto second = settled(c, str(b, "id"));
  ASSERT_EQ(str(first, "status"), "Enabled") << first;
  ASSERT_EQ(str(second, "status"), "Enabled") << second;
  EXPECT_LE(str(first, "dateUpdate"), str(second, "dateUpdate")) << "first come, first served";
  EXPECT_EQ(str(settled(c, str(create(c, R"({"assetSymbol":"SOL"})"), "id")), "status"), "Enabled");
}

// kill -9 while the job waits in the HSM: on restart, reconciliation fails the half-made key and the resumed job
// makes the account's key anew.
TEST_F(AssetsTest, AnAccountCreatingWhenTheDaemonIsKilledIsEnabledAfterTheRestart) {
  start_with_fault_module();
  std::string id;
  {
    auto c = daemon_->unix_client();
    set_fault("delay 4000 C_GenerateKeyPair");
    id = str(create(c, R"({"assetSymbol":"ETH"})"), "id");
    std::this_thread::sleep_for(500ms);  // the job is inside C_GenerateKeyPair now
    EXPECT_EQ(str(c.request("GET", "/assets/asset-accounts/" + id).json(), "status"), "Creating");
  }
  ASSERT_EQ(daemon_->stop(SIGKILL), 128 + SIGKILL);
  clear_fault();
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto c = daemon_->unix_client();
  const auto account = settled(c, id);
  ASSERT_EQ(str(account, "status"), "Enabled") << account << "\n" << daemon_->log();
  EXPECT_TRUE(std::regex_match(str(account, "address"), kEvmAddress));
  const std::string pk = str(account, "publicKeyId");
  auto public_key = c.request("GET", "/public-keys/" + pk);
  ASSERT_EQ(public_key.status, 200) << public_key.body;
  EXPECT_EQ(str(public_key.json(), "publicKey"), str(account, "publicKey"));
  EXPECT_EQ(count(c, "/public-keys"), 1u) << "the half-made key stays out of sight";
  EXPECT_EQ(count(c, "/keys"), 1u);
  EXPECT_NE(daemon_->log().find("resuming asset accounts left Creating by an earlier run: 1"), std::string::npos)
      << daemon_->log();
}

// SIGTERM with accounts queued: the running job finishes, the daemon exits 0, and the next start makes the rest.
TEST_F(AssetsTest, AccountsQueuedAtAStopAreResumedAtTheNextStart) {
  start_with_fault_module("[server]\nasset_account_workers = 1\n");
  std::vector<std::string> ids;
  {
    auto c = daemon_->unix_client();
    set_fault("delay 700 C_GenerateKeyPair");
    for (const char* symbol : {"ETH", "BTC", "SOL"}) {
      ids.push_back(str(create(c, std::string(R"({"assetSymbol":")") + symbol + "\"}"), "id"));
    }
  }
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  clear_fault();
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  EXPECT_NE(daemon_->log().find("resuming asset accounts left Creating by an earlier run: "), std::string::npos)
      << "the stop left queued accounts Creating\n"
      << daemon_->log();
  auto c = daemon_->unix_client();
  for (const auto& id : ids) {
    SCOPED_TRACE(id);
    EXPECT_EQ(str(settled(c, id), "status"), "Enabled");
  }
  EXPECT_EQ(count(c, "/keys"), 3u);
}

TEST_F(AssetsTest, PublicKeysSignHashesAndShowAddresses) {
  start();
  auto c = daemon_->unix_client();
  auto k1 = c.request("POST", "/public-keys", R"({"isEddsa":false,"groupSize":1})");
  ASSERT_EQ(k1.status, 200) << k1.body;
  const std::string pk = str(k1.json(), "id");
  EXPECT_EQ(k1.json().at("groupSize"), json::value(1));
  EXPECT_EQ(k1.json().at("signerIds"), json::array{});
  EXPECT_EQ(str(k1.json(), "status"), "Active");

  auto sig = c.request("POST", "/public-keys/" + pk + "/signatures", R"({"hash":")" + kHash + "\"}");
  ASSERT_EQ(sig.status, 200) << sig.body;
  const auto s = sig.json();
  EXPECT_EQ(str(s, "status"), "Executed");
  EXPECT_EQ(str(s, "publicKeyId"), pk);
  EXPECT_EQ(str(s, "hash"), kHash);
  EXPECT_TRUE(std::regex_match(str(s, "r"), std::regex("^0x[0-9a-f]{64}$"))) << s;
  EXPECT_TRUE(std::regex_match(str(s, "s"), std::regex("^0x[0-9a-f]{64}$"))) << s;
  EXPECT_TRUE(s.at("recid") == json::value(0) || s.at("recid") == json::value(1)) << s;
  EXPECT_TRUE(str(s, "id").starts_with("sig-"));
  auto again = c.request("GET", "/public-keys/" + pk + "/signatures/" + str(s, "id"));
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json(), s);
  // The same signature is the key's: one HSM key, two views.
  const std::string key_id = str(k1.json(), "keyId");
  auto as_key_signature = c.request("GET", "/keys/" + key_id + "/signatures/" + str(s, "id"));
  ASSERT_EQ(as_key_signature.status, 200) << as_key_signature.body;
  EXPECT_EQ(str(as_key_signature.json().at("signature"), "r"), str(s, "r"));

  for (const char* body : {R"({"hash":"0x1234"})", R"({"hash":"zz"})", R"({})", R"({"hash":"0xaa","kind":"Hash"})"}) {
    SCOPED_TRACE(body);
    expect_error_body(c.request("POST", "/public-keys/" + pk + "/signatures", body), 400);
  }
  expect_error_body(c.request("POST", "/public-keys/pk-unknown/signatures", R"({"hash":")" + kHash + "\"}"), 404);
  expect_error_body(c.request("GET", "/public-keys/" + pk + "/signatures/sig-unknown"), 404);

  // EdDSA: the hash field is the message itself, of any length.
  const std::string ed = str(c.request("POST", "/public-keys", R"({"isEddsa":true})").json(), "id");
  auto ed_sig = c.request("POST", "/public-keys/" + ed + "/signatures", R"({"hash":"0x68656c6c6f"})");
  ASSERT_EQ(ed_sig.status, 200) << ed_sig.body;
  EXPECT_FALSE(has(ed_sig.json(), "recid"));
  EXPECT_EQ(str(ed_sig.json(), "hash"), "0x68656c6c6f");

  // Addresses: legacy network codes only, and only of the key's curve.
  EXPECT_TRUE(std::regex_match(str(c.request("GET", "/public-keys/" + ed + "/address?network=SOL").json(), "address"),
                               std::regex("^[1-9A-HJ-NP-Za-km-z]{32,44}$")));
  expect_error_body(c.request("GET", "/public-keys/" + ed + "/address?network=ETH"), 400);
  expect_error_body(c.request("GET", "/public-keys/" + pk + "/address?network=Ethereum"), 400);
  expect_error_body(c.request("GET", "/public-keys/" + pk + "/address"), 400);
  expect_error_body(c.request("GET", "/public-keys/pk-unknown/address?network=ETH"), 404);

  for (const char* body : {R"({"groupSize":3})", R"({"tags":["x"]})", R"({"externalId":"e"})", R"({"isEddsa":1})"}) {
    SCOPED_TRACE(body);
    expect_error_body(c.request("POST", "/public-keys", body), 400);
  }
  auto list = c.request("GET", "/public-keys");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json().at("items").as_array().size(), 2u);
  EXPECT_EQ(str(list.json().at("items").as_array().at(0), "id"), ed) << "newest first";

  // An archived key's public key can no longer sign.
  ASSERT_EQ(c.request("DELETE", "/keys/" + key_id, "{}").status, 200);
  expect_error_body(c.request("POST", "/public-keys/" + pk + "/signatures", R"({"hash":")" + kHash + "\"}"), 400);
}

TEST_F(AssetsTest, PermissionsGuardTheLegacyApiAndKeepEndUsersOut) {
  start();
  auto admin = daemon_->unix_client();
  const std::string pk = str(admin.request("POST", "/public-keys", "{}").json(), "id");
  const std::string account = str(create(admin, R"({"assetSymbol":"ETH","publicKey":")" + pk + "\"}"), "id");
  ASSERT_FALSE(pk.empty() || account.empty());

  // An end user holds Keys:Signatures:* for its own keys, but no legacy operation: 403 everywhere.
  auto tcp = daemon_->tcp_client();
  const auto user = create_end_user(admin, tcp, "legacy@example.com");
  DfnsSession u(daemon_->tcp_client(), user.token, user.cred_id, user.credential);
  for (const std::string& target :
       std::vector<std::string>{"/assets/asset-accounts", "/assets/asset-accounts/" + account, "/public-keys",
                                "/public-keys/" + pk, "/public-keys/" + pk + "/address?network=ETH"}) {
    SCOPED_TRACE(target);
    expect_error_body(u.get(target), 403);
  }
  expect_error_body(u.mutate("POST", "/public-keys", "{}"), 403);
  expect_error_body(u.mutate("POST", "/assets/asset-accounts", R"({"assetSymbol":"ETH"})"), 403);
  auto sign = u.mutate("POST", "/public-keys/" + pk + "/signatures", R"({"hash":")" + kHash + "\"}");
  expect_error_body(sign, 403);
  EXPECT_NE(error_message(sign).find("PublicKeys:Read"), std::string::npos) << sign.body;

  // AssetAccounts:Create alone reuses public keys; a new key also needs PublicKeys:Create.
  auto pm = admin.request("POST", "/permissions",
                          R"({"name":"accounts","operations":["AssetAccounts:Create","AssetAccounts:Read"]})");
  ASSERT_EQ(pm.status, 200) << pm.body;
  const auto sa = create_service_account(admin, "accounts", false);
  ASSERT_EQ(admin
                .request("POST", "/permissions/" + str(pm.json(), "id") + "/assignments",
                         "{\"identityId\":\"" + sa.user_id + "\"}")
                .status,
            200);
  DfnsSession s(daemon_->tcp_client(), sa.token, sa.cred_id, sa.credential);
  auto needs_pk = s.mutate("POST", "/assets/asset-accounts", R"({"assetSymbol":"ETH"})");
  expect_error_body(needs_pk, 403);
  EXPECT_NE(error_message(needs_pk).find("PublicKeys:Create"), std::string::npos) << needs_pk.body;
  auto reused = s.mutate("POST", "/assets/asset-accounts", R"({"assetSymbol":"MATIC","publicKey":")" + pk + "\"}");
  ASSERT_EQ(reused.status, 200) << reused.body;
  EXPECT_EQ(str(reused.json(), "status"), "Creating");
  EXPECT_EQ(s.get("/assets/asset-accounts/" + str(reused.json(), "id")).status, 200);
  expect_error_body(s.get("/public-keys"), 403);
}

}  // namespace
}  // namespace signerd::testing

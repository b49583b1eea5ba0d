// The built daemon's Wallets API (dfns-api.md §3) over its Unix socket, with a real SoftHSM token: create (new key
// or reused key), read, list by page, update, tags, the key's wallets, and bad input that must create nothing.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <regex>
#include <set>

#include "tests/support/daemon_fixture.h"

namespace signerd::testing {
namespace {

namespace json = boost::json;

const std::regex kWalletId("^wa-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{14,16}$");

class WalletsTest : public DaemonFixture {
 protected:
  void SetUp() override { start(); }
  json::value create(HttpClient& c, const std::string& body) {
    auto r = c.request("POST", "/wallets", body);
    EXPECT_EQ(r.status, 200) << body << " -> " << r.body;
    return r.json();
  }
  std::size_t count(HttpClient& c, const std::string& what) {
    auto r = c.request("GET", "/" + what + "?limit=500");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json().at("items").as_array().size();
  }
};

TEST_F(WalletsTest, CreatesEthereumAndBitcoinWalletsWithNewKeys) {
  auto c = daemon_->unix_client();
  const auto eth = create(c, R"({"network":"Ethereum","name":"hot","externalId":"ext-1","tags":["a","b","a"]})");
  EXPECT_TRUE(std::regex_match(str(eth, "id"), kWalletId)) << eth;
  EXPECT_EQ(str(eth, "network"), "Ethereum");
  EXPECT_TRUE(std::regex_match(str(eth, "address"), std::regex("^0x[0-9a-f]{40}$"))) << eth;
  EXPECT_EQ(str(eth, "status"), "Active");
  EXPECT_EQ(str(eth, "name"), "hot");
  EXPECT_EQ(str(eth, "externalId"), "ext-1");
  EXPECT_TRUE(eth.at("custodial").as_bool());
  EXPECT_EQ(eth.at("tags"), json::parse(R"(["a","b"])"));
  EXPECT_FALSE(str(eth, "dateCreated").empty());
  const auto& sk = eth.at("signingKey");
  EXPECT_EQ(str(sk, "scheme"), "ECDSA");
  EXPECT_EQ(str(sk, "curve"), "secp256k1");
  EXPECT_TRUE(std::regex_match(str(sk, "publicKey"), std::regex("^0[23][0-9a-f]{64}$")));

  // The key exists as a key too, and lists its wallet.
  auto key = c.request("GET", "/keys/" + str(sk, "id"));
  ASSERT_EQ(key.status, 200) << key.body;
  EXPECT_EQ(str(key.json(), "publicKey"), str(sk, "publicKey"));
  EXPECT_EQ(key.json().at("wallets"), json::parse(R"([{"id":")" + str(eth, "id") + R"(","network":"Ethereum"}])"));

  const auto btc = create(c, R"({"network":"Bitcoin"})");
  EXPECT_TRUE(std::regex_match(str(btc, "address"), std::regex("^bc1q[02-9ac-hj-np-z]{38}$"))) << btc;
  EXPECT_EQ(btc.at("tags"), json::array{});
  EXPECT_FALSE(btc.as_object().contains("name"));
  EXPECT_NE(str(btc.at("signingKey"), "id"), str(sk, "id"));
  const auto test3 = create(c, R"({"network":"BitcoinTestnet3"})");
  EXPECT_TRUE(str(test3, "address").starts_with("tb1q")) << test3;

  const auto sol = create(c, R"({"network":"Solana"})");  // ed25519 by default where secp256k1 does not fit
  EXPECT_EQ(str(sol.at("signingKey"), "curve"), "ed25519");

  auto got = c.request("GET", "/wallets/" + str(eth, "id"));
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json(), eth);
  EXPECT_EQ(count(c, "keys"), 4u);
  EXPECT_EQ(count(c, "wallets"), 4u);
}

TEST_F(WalletsTest, ReusesAKeyForASecondEvmNetwork) {
  auto c = daemon_->unix_client();
  const auto eth = create(c, R"({"network":"Ethereum"})");
  const std::string key_id = str(eth.at("signingKey"), "id");
  const auto base = create(c, R"({"network":"Base","signingKey":{"id":")" + key_id + R"("}})");
  EXPECT_EQ(str(base.at("signingKey"), "id"), key_id);
  EXPECT_EQ(str(base, "address"), str(eth, "address"));
  EXPECT_NE(str(base, "id"), str(eth, "id"));
  const auto arb = create(c, R"({"network":"ArbitrumOne","signingKey":{"id":")" + key_id +
                                 R"(","scheme":"ECDSA","curve":"secp256k1"}})");
  EXPECT_EQ(str(arb, "address"), str(eth, "address"));
  EXPECT_EQ(count(c, "keys"), 1u);

  auto key = c.request("GET", "/keys/" + key_id);
  ASSERT_EQ(key.status, 200);
  const auto key_json = key.json();
  const auto& wallets = key_json.at("wallets").as_array();
  ASSERT_EQ(wallets.size(), 3u);
  EXPECT_EQ(str(wallets[0], "id"), str(eth, "id"));
  EXPECT_EQ(str(wallets[1], "network"), "Base");
  EXPECT_EQ(str(wallets[2], "network"), "ArbitrumOne");
  // A key created on its own has none until a wallet uses it.
  auto lone = c.request("POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256k1"})");
  EXPECT_EQ(lone.json().at("wallets"), json::array{});
}

TEST_F(WalletsTest, ListsNewestFirstByPage) {
  auto c = daemon_->unix_client();
  std::vector<std::string> created;
  for (int i = 0; i < 5; ++i) created.push_back(str(create(c, R"({"network":"Polygon"})"), "id"));
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  for (;;) {
    auto r = c.request("GET", "/wallets?limit=2" + (token.empty() ? "" : "&paginationToken=" + token));
    ASSERT_EQ(r.status, 200) << r.body;
    const auto page = r.json();
    for (const auto& w : page.at("items").as_array()) seen.push_back(str(w, "id"));
    ++pages;
    token = str(page, "nextPageToken");
    if (token.empty()) break;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, std::vector<std::string>(created.rbegin(), created.rend()));
  expect_error_body(c.request("GET", "/wallets?limit=0"), 400);
  expect_error_body(c.request("GET", "/wallets?paginationToken=!!"), 400);
}

TEST_F(WalletsTest, UpdatesNameExternalIdAndTags) {
  auto c = daemon_->unix_client();
  const auto w = create(c, R"({"network":"Ethereum","name":"old","externalId":"e1"})");
  const std::string path = "/wallets/" + str(w, "id");
  auto renamed = c.request("PUT", path, R"({"name":"new"})");
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(str(renamed.json(), "name"), "new");
  EXPECT_EQ(str(renamed.json(), "externalId"), "e1");
  auto cleared = c.request("PUT", path, R"({"name":null,"externalId":"e2"})");
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_FALSE(cleared.json().as_object().contains("name"));
  EXPECT_EQ(str(cleared.json(), "externalId"), "e2");
  EXPECT_EQ(c.request("GET", path).json(), cleared.json());
  expect_error_body(c.request("PUT", path, R"({"name":""})"), 400);
  expect_error_body(c.request("PUT", path, R"({"address":"0x00"})"), 400);
  expect_error_body(c.request("PUT", "/wallets/wa-none", R"({"name":"x"})"), 404);

  auto tagged = c.request("PUT", path + "/tags", R"({"tags":["x","y"]})");
  ASSERT_EQ(tagged.status, 200) << tagged.body;
  EXPECT_EQ(tagged.json(), json::object{});
  c.request("PUT", path + "/tags", R"({"tags":["y","z"]})");
  EXPECT_EQ(c.request("GET", path).json().at("tags"), json::parse(R"(["x","y","z"])"));
  ASSERT_EQ(c.request("DELETE", path + "/tags", R"({"tags":["x","q"]})").status, 200);
  EXPECT_EQ(c.request("GET", path).json().at("tags"), json::parse(R"(["y","z"])"));
  expect_error_body(c.request("PUT", path + "/tags", R"({"tags":"x"})"), 400);
  expect_error_body(c.request("PUT", path + "/tags", R"({})"), 400);
  expect_error_body(c.request("PUT", "/wallets/wa-none/tags", R"({"tags":["x"]})"), 404);
  expect_error_body(c.request("POST", path + "/tags", R"({"tags":["x"]})"), 400);
}

TEST_F(WalletsTest, BadInputCreatesNothing) {
  auto c = daemon_->unix_client();
  const auto ed = c.request("POST", "/keys", R"({"scheme":"EdDSA","curve":"ed25519"})");
  ASSERT_EQ(ed.status, 200);
  const std::string ed_id = str(ed.json(), "id");
  const std::string unknown_key = "key-aaaaa-bbbbb-cccccccccccccccc";

  struct Case {
    std::string body;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"network":"Dogecoin"})", 400, "unsupported network: Dogecoin"},
      {R"({"network":"Cardano"})", 400, "unsupported network: Cardano"},
      {R"({"network":"NoSuchNet","signingKey":{"scheme":"ECDSA","curve":"secp256k1"}})", 400,
       "unsupported network: NoSuchNet"},
      {R"({"network":"Ethereum","signingKey":{"id":")" + ed_id + R"("}})", 400, "ed25519"},
      {R"({"network":"Ethereum","signingKey":{"scheme":"EdDSA","curve":"ed25519"}})", 400, "ed25519"},
      {R"({"network":"Ethereum","signingKey":{"scheme":"ECDSA","curve":"secp256r1"}})", 400, "secp256r1"},
      {R"({"network":"Ethereum","signingKey":{"scheme":"Schnorr","curve":"secp256k1"}})", 400, "not supported"},
      {R"({"network":"Ethereum","signingKey":{"id":")" + unknown_key + R"("}})", 404, "not found"},
      {R"({"network":"Ethereum","delegateTo":"us-1"})", 400, "not an active end user"},
      {R"({"network":"Ethereum","delayDelegation":"yes"})", 400, "delayDelegation"},
      {R"({"network":"Ethereum","signingKey":{"storeId":"x"}})", 400, "not supported yet"},
      {R"({"network":"Ethereum","color":"red"})", 400, "color"},
      {R"({"network":"Ethereum","tags":[1]})", 400, "tags"},
      {R"({"network":"Ethereum","name":""})", 400, "name"},
      {R"({"network":42})", 400, "network"},
      {R"({})", 400, "network"},
      {R"({"network":"Ethereum")", 400, ""},
      {R"([1,2])", 400, ""},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.body);
    auto r = c.request("POST", "/wallets", tc.body);
    expect_error_body(r, tc.status);
    EXPECT_NE(error_message(r).find(tc.message), std::string::npos) << r.body;
  }
  EXPECT_EQ(count(c, "keys"), 1u);
  EXPECT_EQ(count(c, "wallets"), 0u);
  expect_error_body(c.request("GET", "/wallets/wa-aaaaa-bbbbb-cccccccccccccccc"), 404);
  expect_error_body(c.request("DELETE", "/wallets/wa-aaaaa-bbbbb-cccccccccccccccc"), 400);

  // An archived key cannot back a new wallet.
  auto k1 = c.request("POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256k1"})");
  const std::string k1_id = str(k1.json(), "id");
  ASSERT_EQ(c.request("DELETE", "/keys/" + k1_id).status, 200);
  auto archived = c.request("POST", "/wallets", R"({"network":"Ethereum","signingKey":{"id":")" + k1_id + R"("}})");
  expect_error_body(archived, 400);
  EXPECT_EQ(count(c, "wallets"), 0u);
}

TEST_F(WalletsTest, WalletsSurviveARestart) {
  auto c = daemon_->unix_client();
  const auto w = create(c, R"({"network":"Tron","tags":["t"]})");
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto c2 = daemon_->unix_client();
  auto got = c2.request("GET", "/wallets/" + str(w, "id"));
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json(), w);
}

}  // namespace
}  // namespace signerd::testing

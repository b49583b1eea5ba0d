// Identity end to end (issue 3): bearer tokens, user-action signing, permissions, delegation and custody, and the
// audit trail, against the built daemon over its real sockets. The client side (tests/support/dfns_client) is
// written from the Dfns protocol with OpenSSL, not with signerd's code.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "common/audit_chain.h"
#include "common/hex.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/dfns_client.h"

namespace signerd::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kSecp256k1 = R"({"scheme":"ECDSA","curve":"secp256k1"})";
const std::string kHash = "0x" + std::string(64, 'a');
const std::string kHashBody = R"({"kind":"Hash","hash":")" + kHash + "\"}";

class IdentityTest : public DaemonFixture {
 protected:
  void start_with(std::string extra = "") {
    start({.extra_config = std::move(extra)});
    admin_.emplace(daemon_->unix_client());
  }
  DfnsSession session(const ServiceAccount& sa) { return {daemon_->tcp_client(), sa.token, sa.cred_id, sa.credential}; }
  DfnsSession session(const EndUser& u) { return {daemon_->tcp_client(), u.token, u.cred_id, u.credential}; }
  EndUser end_user(const std::string& email) {
    auto c = daemon_->tcp_client();
    return create_end_user(*admin_, c, email);
  }
  // Number of items a list route returns to the local administrator.
  std::size_t count(const std::string& target) {
    auto r = admin_->request("GET", target);
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    return r.json().as_object().at("items").as_array().size();
  }
  std::optional<HttpClient> admin_;
};

json::object jwt_payload(const std::string& token) {
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  auto raw = base64url_decode(token.substr(first + 1, second - first - 1));
  EXPECT_TRUE(raw.has_value());
  return json::parse(std::string(raw->begin(), raw->end())).as_object();
}

TEST_F(IdentityTest, ServiceAccountTokensAreJwtsOfThisOrganisation) {
  start_with();
  const auto sa = create_service_account(*admin_, "jwt-check", false);
  ASSERT_EQ(std::count(sa.token.begin(), sa.token.end(), '.'), 2);
  EXPECT_EQ(sa.token.rfind("eyJ", 0), 0u);
  const auto payload = jwt_payload(sa.token);
  const auto& meta = payload.at("https://custom/app_metadata").as_object();
  EXPECT_EQ(meta.at("userId").as_string(), sa.user_id);
  EXPECT_EQ(meta.at("tokenKind").as_string(), "ServiceAccount");
  auto listed = admin_->request("GET", "/auth/service-accounts/" + sa.user_id);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(meta.at("orgId").as_string(), str(listed.json().at("userInfo"), "orgId"));
  EXPECT_EQ(meta.at("tokenId").as_string(), str(listed.json().at("accessTokens").as_array().at(0), "tokenId"));
  EXPECT_FALSE(listed.json().at("accessTokens").as_array().at(0).as_object().contains("accessToken"))
      << "the token is shown once, at creation";
  EXPECT_GT(payload.at("exp").as_int64(), payload.at("iat").as_int64());
}

TEST_F(IdentityTest, MissingGarbledExpiredRevokedAndDeactivatedBearersGet401) {
  // 3 s, not 1: a token's exp is whole seconds after its iat, so a 1 s token issued late in a second may be expired
  // before a slow (sanitizer) build's next request, and the 200 below would fail for nothing.
  start_with("[auth]\nlogin_token_ttl_s = 3\n");
  const auto sa = create_service_account(*admin_, "bearer-checks", true);
  auto tcp = daemon_->tcp_client();
  auto get = [&](const std::string& auth) {
    std::map<std::string, std::string> h;
    if (!auth.empty()) h["Authorization"] = auth;
    return tcp.request("GET", "/keys", "", h);
  };
  EXPECT_EQ(get("Bearer " + sa.token).status, 200);
  expect_error_body(get(""), 401);
  expect_error_body(get("Bearer"), 401);
  expect_error_body(get("Bearer not-a-jwt"), 401);
  expect_error_body(get("Bearer a.b.c"), 401);
  std::string forged = sa.token;
  forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';  // the signature no longer verifies
  expect_error_body(get("Bearer " + forged), 401);
  // A payload changed under the original signature.
  auto payload = jwt_payload(sa.token);
  payload["https://custom/app_metadata"].as_object()["userId"] = "us-aaaaa-aaaaa-aaaaaaaaaaaaaaaa";
  const auto dot1 = sa.token.find('.'), dot2 = sa.token.find('.', dot1 + 1);
  const std::string body = json::serialize(payload);
  const std::string swapped = sa.token.substr(0, dot1 + 1) + base64url_encode(as_bytes(body)) + sa.token.substr(dot2);
  expect_error_body(get("Bearer " + swapped), 401);

  // Expired: an end user's login token lives 3 s here (at least 2 s from when it is issued).
  const auto user = end_user("expiring@example.com");
  EXPECT_EQ(get("Bearer " + user.token).status, 200);
  std::this_thread::sleep_for(4100ms);
  expect_error_body(get("Bearer " + user.token), 401);

  // Deactivated, then active again; revoked (archived) for good.
  ASSERT_EQ(admin_->request("PUT", "/auth/service-accounts/" + sa.user_id + "/deactivate", "{}").status, 200);
  expect_error_body(get("Bearer " + sa.token), 401);
  ASSERT_EQ(admin_->request("PUT", "/auth/service-accounts/" + sa.user_id + "/activate", "{}").status, 200);
  EXPECT_EQ(get("Bearer " + sa.token).status, 200);
  ASSERT_EQ(admin_->request("DELETE", "/auth/service-accounts/" + sa.user_id, "{}").status, 200);
  expect_error_body(get("Bearer " + sa.token), 401);
  expect_error_body(admin_->request("PUT", "/auth/service-accounts/" + sa.user_id + "/activate", "{}"), 400);
}

TEST_F(IdentityTest, AUserActionIsSingleUseAndValidOnlyForItsRequest) {
  // 3 s: the first user action must outlive the six requests below even in a slow (sanitizer) build.
  start_with("[auth]\nuser_action_ttl_s = 3\n");
  const auto sa = create_service_account(*admin_, "ua-owner", true);
  const auto other = create_service_account(*admin_, "ua-thief", true);
  auto s = session(sa);
  const std::string body = R"({"scheme":"ECDSA","curve":"secp256k1","name":"signed"})";
  auto ua = s.user_action("POST", "/keys", body);
  ASSERT_TRUE(ua.token) << ua.refusal.body;
  const auto with = [&](const std::string& token) { return std::map<std::string, std::string>{{"x-dfns-useraction", token}}; };

  expect_error_body(s.raw("POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256k1","name":"other"})", with(*ua.token)),
                    403);
  expect_error_body(s.raw("POST", "/wallets", body, with(*ua.token)), 403);
  expect_error_body(s.raw("POST", "/keys", body, with("ua-made-up")), 403);
  auto o = session(other);
  expect_error_body(o.raw("POST", "/keys", body, with(*ua.token)), 403);  // another caller's user action
  EXPECT_EQ(count("/keys"), 0u);

  auto ok = s.raw("POST", "/keys", body, with(*ua.token));
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto replay = s.raw("POST", "/keys", body, with(*ua.token));
  expect_error_body(replay, 400);
  EXPECT_NE(error_message(replay).find("already been used"), std::string::npos) << replay.body;
  EXPECT_EQ(count("/keys"), 1u);

  auto late = s.user_action("POST", "/keys", body);
  ASSERT_TRUE(late.token);
  std::this_thread::sleep_for(3500ms);
  expect_error_body(s.raw("POST", "/keys", body, with(*late.token)), 403);
  EXPECT_EQ(count("/keys"), 1u);
}

TEST_F(IdentityTest, ChallengesMustBeSignedByAnAllowedCredentialWithItsOwnKey) {
  start_with();
  const auto sa = create_service_account(*admin_, "signer", true);
  const auto other = create_service_account(*admin_, "bystander", true);
  auto s = session(sa);
  // Another principal's credential is not on this caller's allow list.
  auto foreign = s.user_action("POST", "/keys", kSecp256k1, &other.credential, &other.cred_id);
  EXPECT_FALSE(foreign.token);
  expect_error_body(foreign.refusal, 403);
  // The caller's credId, signed with the wrong key.
  auto wrong_key = s.user_action("POST", "/keys", kSecp256k1, &other.credential);
  EXPECT_FALSE(wrong_key.token);
  expect_error_body(wrong_key.refusal, 403);

  // A signature in the wrong encoding; then a challenge answered twice.
  auto init = s.raw("POST", "/auth/action/init",
                    R"({"userActionPayload":"{}","userActionHttpMethod":"POST","userActionHttpPath":"/keys"})");
  ASSERT_EQ(init.status, 200) << init.body;
  const auto allow = init.json().at("allowCredentials").at("key").as_array();
  ASSERT_EQ(allow.size(), 1u);
  EXPECT_EQ(str(allow.at(0), "id"), sa.cred_id);
  const std::string client_data = R"({"type":"key.get","challenge":")" + str(init.json(), "challenge") + "\"}";
  const auto b64 = base64url_encode(as_bytes(client_data));
  auto answer = [&](const std::string& signature) {
    return s.raw("POST", "/auth/action",
                 json::serialize(json::object{
                     {"challengeIdentifier", str(init.json(), "challengeIdentifier")},
                     {"firstFactor",
                      {{"kind", "Key"},
                       {"credentialAssertion",
                        {{"credId", sa.cred_id}, {"clientData", b64}, {"signature", signature}}}}}}));
  };
  expect_error_body(answer("%%% not base64url %%%"), 403);
  // The challenge was consumed by that attempt: even a good signature is now refused.
  auto again = answer(sa.credential.sign_b64url(client_data));
  expect_error_body(again, 400);
  EXPECT_NE(error_message(again).find("Challenge token is not valid"), std::string::npos) << again.body;
  EXPECT_EQ(count("/keys"), 0u);

  // Local administrators have no credential: they need no user action and cannot open one.
  expect_error_body(admin_->request("POST", "/auth/action/init",
                                    R"({"userActionPayload":"","userActionHttpMethod":"POST","userActionHttpPath":"/keys"})"),
                    401);
}

TEST_F(IdentityTest, EndUsersCanUseEd25519CredentialsToo) {
  start_with();
  const std::string pem = TestCredential::ed25519().public_pem();
  auto r = admin_->request("POST", "/auth/service-accounts",
                           json::serialize(json::object{{"name", "ed-sa"}, {"publicKey", pem}}));
  ASSERT_EQ(r.status, 200) << r.body;
  expect_error_body(admin_->request("POST", "/auth/service-accounts",
                                    json::serialize(json::object{{"name", "bad-sa"}, {"publicKey", "not a pem"}})),
                    400);
  expect_error_body(admin_->request("POST", "/auth/service-accounts",
                                    json::serialize(json::object{{"name", "ed-sa"}, {"publicKey", pem}})),
                    409);
}

TEST_F(IdentityTest, DelegationHandsAKeyToItsEndUserAlone) {
  start_with();
  const auto org = create_service_account(*admin_, "org-admin", true);
  auto s = session(org);
  const auto alice = end_user("alice@example.com");
  const auto bob = end_user("bob@example.com");

  auto created = s.mutate("POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256k1","delayDelegation":true})");
  ASSERT_EQ(created.status, 200) << created.body;
  const auto key = str(created.json(), "id");
  EXPECT_TRUE(created.json().at("custodial").as_bool());
  auto plain = s.mutate("POST", "/keys", kSecp256k1);
  const auto plain_key = str(plain.json(), "id");

  expect_error_body(s.mutate("POST", "/keys/" + plain_key + "/delegate", "{\"delegateTo\":\"" + alice.user_id + "\"}"),
                    400);  // only keys created with delayDelegation
  expect_error_body(s.mutate("POST", "/keys/" + key + "/delegate", "{\"delegateTo\":\"" + org.user_id + "\"}"),
                    400);  // not an end user
  auto delegated = s.mutate("POST", "/keys/" + key + "/delegate", "{\"delegateTo\":\"" + alice.user_id + "\"}");
  ASSERT_EQ(delegated.status, 200) << delegated.body;
  EXPECT_EQ(str(delegated.json(), "status"), "Delegated");
  expect_error_body(s.mutate("POST", "/keys/" + key + "/delegate", "{\"delegateTo\":\"" + bob.user_id + "\"}"),
                    403);  // one-way: the org no longer controls the key

  // The org reads it but cannot sign, rename or archive it; nor can the local administrator.
  auto read = s.get("/keys/" + key);
  ASSERT_EQ(read.status, 200);
  EXPECT_FALSE(read.json().at("custodial").as_bool());
  expect_error_body(s.mutate("POST", "/keys/" + key + "/signatures", kHashBody), 403);
  expect_error_body(s.mutate("PUT", "/keys/" + key, R"({"name":"mine"})"), 403);
  expect_error_body(s.mutate("DELETE", "/keys/" + key, "{}"), 403);
  expect_error_body(admin_->request("POST", "/keys/" + key + "/signatures", kHashBody), 403);

  // Alice signs with her own token and user action; Bob reaches nothing of hers.
  auto a = session(alice);
  auto sig = a.mutate("POST", "/keys/" + key + "/signatures", kHashBody);
  ASSERT_EQ(sig.status, 200) << sig.body;
  EXPECT_EQ(str(sig.json(), "status"), "Signed");
  EXPECT_EQ(str(sig.json().at("requester"), "userId"), alice.user_id);
  auto mine = a.get("/keys");
  ASSERT_EQ(mine.status, 200);
  ASSERT_EQ(mine.json().at("items").as_array().size(), 1u) << "an end user lists only its keys";
  expect_error_body(a.get("/keys/" + plain_key), 403);
  auto b = session(bob);
  expect_error_body(b.get("/keys/" + key), 403);
  expect_error_body(b.mutate("POST", "/keys/" + key + "/signatures", kHashBody), 403);
  EXPECT_TRUE(b.get("/keys").json().at("items").as_array().empty());
  expect_error_body(a.mutate("POST", "/keys", kSecp256k1), 403);  // end users create nothing

  // Custody: pending at creation, then delegated, each under the request that did it.
  auto custody = s.get("/keys/" + key + "/custody");
  ASSERT_EQ(custody.status, 200) << custody.body;
  const auto custody_doc = custody.json();
  const auto& items = custody_doc.at("items").as_array();
  ASSERT_EQ(items.size(), 2u) << custody.body;
  EXPECT_EQ(str(items.at(0), "event"), "DelegationPending");
  EXPECT_EQ(str(items.at(1), "event"), "Delegated");
  EXPECT_EQ(str(items.at(1), "delegatedTo"), alice.user_id);
  EXPECT_EQ(str(items.at(1).at("principal"), "userId"), org.user_id);

  // delegateTo at creation: non-custodial at once.
  auto direct = s.mutate("POST", "/keys", R"({"scheme":"EdDSA","curve":"ed25519","delegateTo":")" + bob.user_id + "\"}");
  ASSERT_EQ(direct.status, 200) << direct.body;
  EXPECT_FALSE(direct.json().at("custodial").as_bool());
  auto direct_custody = s.get("/keys/" + str(direct.json(), "id") + "/custody");
  EXPECT_EQ(str(direct_custody.json().at("items").as_array().at(0), "event"), "CreatedDelegated");
  EXPECT_EQ(b.get("/keys").json().at("items").as_array().size(), 1u);

  // Dfns's owner filter: by user id or username; an end user asking for someone else's gets nothing.
  EXPECT_EQ(s.get("/keys?owner=" + alice.user_id).json().at("items").as_array().size(), 1u);
  EXPECT_EQ(s.get("/keys?owner=bob%40example.com").json().at("items").as_array().size(), 1u);
  EXPECT_TRUE(s.get("/keys?owner=nobody%40example.com").json().at("items").as_array().empty());
  EXPECT_EQ(s.get("/keys").json().at("items").as_array().size(), 3u);
  EXPECT_TRUE(b.get("/keys?owner=" + alice.user_id).json().at("items").as_array().empty());
}

TEST_F(IdentityTest, AWalletIsDelegatedWithItsKey) {
  start_with();
  const auto org = create_service_account(*admin_, "wallet-admin", true);
  auto s = session(org);
  const auto carol = end_user("carol@example.com");
  auto created = s.mutate("POST", "/wallets", R"({"network":"Ethereum","delayDelegation":true,"tags":["t1"]})");
  ASSERT_EQ(created.status, 200) << created.body;
  const auto wallet = str(created.json(), "id");
  const auto key = str(created.json().at("signingKey"), "id");
  EXPECT_TRUE(created.json().at("custodial").as_bool());
  auto delegated = s.mutate("POST", "/wallets/" + wallet + "/delegate", "{\"userId\":\"" + carol.user_id + "\"}");
  ASSERT_EQ(delegated.status, 200) << delegated.body;
  EXPECT_EQ(str(delegated.json(), "status"), "Delegated");
  auto read = s.get("/wallets/" + wallet);
  ASSERT_EQ(read.status, 200);
  EXPECT_FALSE(read.json().at("custodial").as_bool());
  EXPECT_EQ(str(read.json().at("signingKey"), "delegatedTo"), carol.user_id);
  expect_error_body(s.mutate("PUT", "/wallets/" + wallet + "/tags", R"({"tags":["t2"]})"), 403);
  expect_error_body(s.mutate("PUT", "/wallets/" + wallet, R"({"name":"org-name"})"), 403);
  auto c = session(carol);
  auto mine = c.get("/wallets");
  ASSERT_EQ(mine.status, 200);
  ASSERT_EQ(mine.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(str(mine.json().at("items").as_array().at(0), "id"), wallet);
  EXPECT_EQ(c.mutate("POST", "/keys/" + key + "/signatures", kHashBody).status, 200);
  // An end user lists only wallets of its keys; another wallet stays out of reach.
  auto other = s.mutate("POST", "/wallets", R"({"network":"Bitcoin"})");
  ASSERT_EQ(other.status, 200);
  expect_error_body(c.get("/wallets/" + str(other.json(), "id")), 403);
}

TEST_F(IdentityTest, PermissionsAreNamedWhenMissingAndCannotBeEscalated) {
  start_with();
  const auto nobody = create_service_account(*admin_, "nobody", false);
  auto n = session(nobody);
  const auto admin_pm = admin_permission_id(*admin_);
  auto denied = n.mutate("POST", "/keys", kSecp256k1);
  expect_error_body(denied, 403);
  EXPECT_NE(error_message(denied).find("Keys:Create"), std::string::npos) << denied.body;

  // Assigning oneself the Admin permission needs Permissions:Assign.
  auto escalate = n.mutate("POST", "/permissions/" + admin_pm + "/assignments",
                           "{\"identityId\":\"" + nobody.user_id + "\"}");
  expect_error_body(escalate, 403);
  EXPECT_NE(error_message(escalate).find("Permissions:Assign"), std::string::npos);
  EXPECT_EQ(count("/permissions/" + admin_pm + "/assignments"), 0u);

  // No one grants more than they hold: a holder of Permissions:Create and Permissions:Assign can neither create a
  // wider permission nor assign Admin (to itself or to a service account it creates).
  auto pm = admin_->request(
      "POST", "/permissions",
      R"({"name":"granter","operations":["Permissions:Create","Permissions:Assign","Auth:ServiceAccounts:Create"]})");
  ASSERT_EQ(pm.status, 200) << pm.body;
  ASSERT_EQ(admin_->request("POST", "/permissions/" + str(pm.json(), "id") + "/assignments",
                            "{\"identityId\":\"" + nobody.user_id + "\"}")
                .status,
            200);
  auto wider = n.mutate("POST", "/permissions", R"({"name":"wider","operations":["Keys:Create","Permissions:Assign"]})");
  expect_error_body(wider, 403);
  EXPECT_NE(error_message(wider).find("Keys:Create"), std::string::npos) << wider.body;
  expect_error_body(n.mutate("POST", "/permissions/" + admin_pm + "/assignments",
                             "{\"identityId\":\"" + nobody.user_id + "\"}"),
                    403);
  EXPECT_EQ(count("/permissions/" + admin_pm + "/assignments"), 0u);
  auto narrower = n.mutate("POST", "/permissions", R"({"name":"narrower","operations":["Permissions:Create"]})");
  EXPECT_EQ(narrower.status, 200) << narrower.body;
  const auto sa_count = count("/auth/service-accounts");
  auto helper = n.mutate("POST", "/auth/service-accounts",
                         json::serialize(json::object{{"name", "helper"},
                                                      {"publicKey", TestCredential::p256().public_pem()},
                                                      {"permissionId", admin_pm}}));
  expect_error_body(helper, 403);
  EXPECT_EQ(count("/auth/service-accounts"), sa_count);
  expect_error_body(n.mutate("POST", "/keys", kSecp256k1), 403);
  expect_error_body(admin_->request("PUT", "/permissions/" + admin_pm, R"({"name":"mine"})"), 400);  // immutable
}

// Every route of openapi.yaml, called with no credentials, with wrong ones, and by a principal without the
// route's permission: 401, 401, 403, and nothing changes.
TEST_F(IdentityTest, MatrixEveryRouteRefusesMissingWrongAndUnpermittedCallers) {
  start_with();
  std::vector<std::pair<std::string, std::string>> routes;  // method, path template
  for (const auto& [path, methods] : documented_routes(SIGNERD_OPENAPI)) {
    for (std::string method : methods) {
      for (auto& ch : method) ch = static_cast<char>(std::toupper(ch));
      routes.emplace_back(method, path);
    }
  }
  ASSERT_GE(routes.size(), 30u);
  const std::set<std::string> public_paths = {"/healthz", "/readyz", "/metrics", "/auth/login/init", "/auth/login",
                                             // app-signed (X-APP-ID/X-SIGNATURE), not bearer-authenticated:
                                             "/api/v1/smart-account", "/api/v1/smart-account/{id}",
                                             "/api/v1/smart-account/{id}/gas-tanks/{gasTankId}/deposits",
                                             "/api/v1/smart-account/{id}/accounts/{accountId}/activate"};
  const std::set<std::string> any_token_holder = {"/auth/action/init", "/auth/action"};

  // Real ids, so a refusal cannot come from a missing entity.
  const auto owner = create_service_account(*admin_, "owner", true);
  const auto nobody = create_service_account(*admin_, "nobody", false);
  auto o = session(owner);
  const auto key = str(o.mutate("POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256k1","delayDelegation":true})").json(), "id");
  const auto sig = str(o.mutate("POST", "/keys/" + key + "/signatures", kHashBody).json(), "id");
  const auto wallet = str(o.mutate("POST", "/wallets", R"({"network":"Ethereum"})").json(), "id");
  const auto user = end_user("matrix@example.com");
  const auto pm = admin_permission_id(*admin_);
  auto assignments = admin_->request("GET", "/auth/service-accounts/" + owner.user_id);
  const auto assignment =
      str(assignments.json().at("userInfo").at("permissionAssignments").as_array().at(0), "assignmentId");
  ASSERT_FALSE(key.empty() || sig.empty() || wallet.empty() || assignment.empty());

  auto snapshot = [&] {
    std::vector<std::string> s;
    for (const auto* target : {"/keys", "/wallets", "/auth/service-accounts", "/auth/users", "/permissions"}) {
      s.push_back(admin_->request("GET", target).body);
    }
    s.push_back(admin_->request("GET", "/keys/" + key + "/signatures").body);
    s.push_back(admin_->request("GET", "/permissions/" + pm + "/assignments").body);
    return s;
  };
  const auto before = snapshot();
  auto tcp = daemon_->tcp_client();
  auto n = session(nobody);
  std::size_t checked = 0;
  for (const auto& [method, path] : routes) {
    if (public_paths.contains(path)) continue;
    std::string target = std::regex_replace(path, std::regex("\\{keyId\\}"), key);
    target = std::regex_replace(target, std::regex("\\{signatureId\\}"), sig);
    target = std::regex_replace(target, std::regex("\\{walletId\\}"), wallet);
    target = std::regex_replace(target, std::regex("\\{serviceAccountId\\}"), owner.user_id);
    target = std::regex_replace(target, std::regex("\\{userId\\}"), user.user_id);
    target = std::regex_replace(target, std::regex("\\{permissionId\\}"), pm);
    target = std::regex_replace(target, std::regex("\\{assignmentId\\}"), assignment);
    // Other ids ({assetAccountId}, {publicKeyId}, ...): the permission is refused before any lookup.
    target = std::regex_replace(target, std::regex("\\{[A-Za-z]+\\}"), "unknown-id");
    const std::string body = method == "GET" ? "" : "{}";
    expect_error_body(tcp.request(method, target, body), 401);
    SCOPED_TRACE(method + " " + target);
    expect_error_body(tcp.request(method, target, body, {{"Authorization", "Bearer " + owner.token + "x"}}), 401);
    if (!any_token_holder.contains(path)) {
      auto r = method == "GET" ? n.get(target) : n.mutate(method, target, body);
      expect_error_body(r, 403);
      EXPECT_NE(error_message(r).find("is required"), std::string::npos) << r.body;
    }
    ++checked;
  }
  EXPECT_GE(checked, 30u);
  EXPECT_EQ(snapshot(), before) << "a refused request changed something";
}

TEST_F(IdentityTest, TheAuditTrailChainsEveryMutationWithItsRequest) {
  start_with();
  const auto sa = create_service_account(*admin_, "audited", true);
  auto s = session(sa);
  const std::string create_body = R"({"scheme":"ECDSA","curve":"secp256k1","name":"audited-key"})";
  auto created = s.mutate("POST", "/keys", create_body);
  ASSERT_EQ(created.status, 200);
  const auto key = str(created.json(), "id");
  auto sig = s.mutate("POST", "/keys/" + key + "/signatures", kHashBody);
  ASSERT_EQ(sig.status, 200);
  expect_error_body(s.mutate("POST", "/keys/" + key + "/signatures", R"({"kind":"Hash","hash":"0x12"})"), 400);
  ASSERT_EQ(admin_->request("PUT", "/keys/" + key, R"({"name":"renamed"})").status, 200);
  std::this_thread::sleep_for(200ms);  // failure records are appended asynchronously

  std::vector<AuditRecord> records;
  std::string token;
  for (;;) {
    auto page = admin_->request("GET", "/audit?limit=2" + (token.empty() ? "" : "&paginationToken=" + token));
    ASSERT_EQ(page.status, 200) << page.body;
    const auto doc = page.json();
    for (const auto& item : doc.at("items").as_array()) {
      AuditRecord r;
      r.seq = item.at("seq").as_int64();
      r.entry.time_ms = item.at("timeMs").as_int64();
      r.entry.principal_id = str(item, "principalId");
      if (item.at("tokenId").is_string()) r.entry.token_id = std::string(item.at("tokenId").as_string());
      if (item.at("credentialId").is_string()) r.entry.credential_id = std::string(item.at("credentialId").as_string());
      r.entry.method = str(item, "method");
      r.entry.path = str(item, "path");
      r.entry.body_sha256 = str(item, "bodySha256");
      r.entry.outcome = str(item, "outcome");
      for (const auto& id : item.at("affectedIds").as_array()) r.entry.affected_ids.emplace_back(id.as_string());
      r.prev_hash = str(item, "prevHash");
      r.hash = str(item, "hash");
      records.push_back(std::move(r));
    }
    token = str(page.json(), "nextPageToken");
    if (token.empty()) break;
  }
  std::reverse(records.begin(), records.end());
  ASSERT_GE(records.size(), 5u);
  const auto broken = verify_audit_chain(records);
  EXPECT_FALSE(broken) << broken->seq << ": " << broken->reason;

  auto find = [&](const std::string& method, const std::string& path, const std::string& outcome_prefix) {
    for (const auto& r : records) {
      if (r.entry.method == method && r.entry.path == path && r.entry.outcome.rfind(outcome_prefix, 0) == 0) return &r;
    }
    return static_cast<const AuditRecord*>(nullptr);
  };
  const auto* creation = find("POST", "/keys", "ok");
  ASSERT_TRUE(creation);
  EXPECT_EQ(creation->entry.principal_id, sa.user_id);
  EXPECT_EQ(creation->entry.credential_id, sa.cred_id);
  EXPECT_TRUE(creation->entry.token_id.has_value());
  EXPECT_EQ(creation->entry.affected_ids, std::vector<std::string>{key});
  const auto* signature = find("POST", "/keys/" + key + "/signatures", "ok");
  ASSERT_TRUE(signature);
  EXPECT_EQ(signature->entry.affected_ids.at(1), str(sig.json(), "id"));
  EXPECT_TRUE(find("POST", "/keys/" + key + "/signatures", "error 400")) << "failed mutations are audited";
  const auto* rename = find("PUT", "/keys/" + key, "ok");
  ASSERT_TRUE(rename);
  EXPECT_EQ(rename->entry.principal_id.rfind("os-uid-", 0), 0u);
  EXPECT_FALSE(rename->entry.credential_id);

  // Reading the trail needs Auth:Logs:Read.
  const auto reader = create_service_account(*admin_, "no-logs", false);
  expect_error_body(session(reader).get("/audit"), 403);
}

}  // namespace
}  // namespace signerd::testing

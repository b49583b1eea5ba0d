// The built daemon over its real sockets, with a real SoftHSM token: the Keys API, its limits and errors, restarts,
// start-up failures, HSM faults and crash reconciliation.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/daemon_fixture.h"
#include "tests/support/dfns_client.h"

namespace signerd::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kSecp256k1 = R"({"scheme":"ECDSA","curve":"secp256k1"})";
const std::string kHash = "0x" + std::string(62, '1') + "ab";

class DaemonTest : public DaemonFixture {
 protected:
  std::string create_key(HttpClient& c, const std::string& body = kSecp256k1) {
    auto r = c.request("POST", "/keys", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return str(r.json(), "id");
  }
  int count_keys() {
    auto c = daemon_->unix_client();
    auto r = c.request("GET", "/keys?limit=500");
    return static_cast<int>(r.json().at("items").as_array().size());
  }
  int daemon_pid() const { return daemon_->pid(); }
};

TEST_F(DaemonTest, CreatesReadsAndSignsOverTheUnixSocket) {
  start();
  auto c = daemon_->unix_client();
  auto created = c.request("POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256k1","name":"treasury"})");
  ASSERT_EQ(created.status, 200) << created.body;
  const auto key = created.json();
  const std::string id = str(key, "id");
  EXPECT_TRUE(std::regex_match(id, std::regex("^key-[a-z0-9]{5}-[a-z0-9]{5}-[a-z0-9]{14,16}$"))) << id;
  EXPECT_EQ(str(key, "status"), "Active");
  EXPECT_EQ(str(key, "name"), "treasury");
  EXPECT_TRUE(std::regex_match(str(key, "publicKey"), std::regex("^0[23][0-9a-f]{64}$"))) << key;
  EXPECT_TRUE(key.at("custodial").as_bool());
  EXPECT_EQ(str(key.at("store"), "kind"), "Hsm");

  auto got = c.request("GET", "/keys/" + id);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.json(), key);

  auto signed_reply = c.request("POST", "/keys/" + id + "/signatures", R"({"kind":"Hash","hash":")" + kHash + "\"}");
  ASSERT_EQ(signed_reply.status, 200) << signed_reply.body;
  const auto sig = signed_reply.json();
  EXPECT_EQ(str(sig, "status"), "Signed");
  EXPECT_EQ(str(sig, "keyId"), id);
  EXPECT_TRUE(std::regex_match(str(sig.at("signature"), "r"), std::regex("^0x[0-9a-f]{64}$")));
  EXPECT_TRUE(std::regex_match(str(sig.at("signature"), "s"), std::regex("^0x[0-9a-f]{64}$")));
  const auto recid = sig.at("signature").at("recid").to_number<int>();
  EXPECT_TRUE(recid == 0 || recid == 1);
  EXPECT_EQ(str(sig.at("requestBody"), "hash"), kHash);
  EXPECT_FALSE(str(sig, "dateSigned").empty());

  auto fetched = c.request("GET", "/keys/" + id + "/signatures/" + str(sig, "id"));
  ASSERT_EQ(fetched.status, 200);
  EXPECT_EQ(fetched.json(), sig);
  auto listed = c.request("GET", "/keys/" + id + "/signatures");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(str(listed.json(), "keyId"), id);
}

TEST_F(DaemonTest, CreatesEveryCurveAndRefusesWhatTheHsmCannotDo) {
  start();
  auto c = daemon_->unix_client();
  auto p256 = c.request("POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256r1"})");
  ASSERT_EQ(p256.status, 200) << p256.body;
  EXPECT_TRUE(std::regex_match(str(p256.json(), "publicKey"), std::regex("^0[23][0-9a-f]{64}$")));
  auto ed = c.request("POST", "/keys", R"({"scheme":"EdDSA","curve":"ed25519"})");
  ASSERT_EQ(ed.status, 200) << ed.body;
  EXPECT_TRUE(std::regex_match(str(ed.json(), "publicKey"), std::regex("^[0-9a-f]{64}$")));
  auto msg = c.request("POST", "/keys/" + str(ed.json(), "id") + "/signatures",
                       R"({"kind":"Message","message":"0x68656c6c6f"})");
  ASSERT_EQ(msg.status, 200) << msg.body;
  EXPECT_FALSE(msg.json().at("signature").as_object().contains("recid"));

  for (const char* body : {R"({"scheme":"Schnorr","curve":"secp256k1"})", R"({"scheme":"DH","curve":"ed25519"})",
                           R"({"scheme":"ECDSA","curve":"stark"})"}) {
    auto r = c.request("POST", "/keys", body);
    expect_error_body(r, 400);
    EXPECT_NE(error_message(r).find("not supported"), std::string::npos) << r.body;
  }
  EXPECT_EQ(count_keys(), 2);
}

TEST_F(DaemonTest, TcpNeedsABearerTokenAndAUserActionToMutate) {
  start();
  auto admin = daemon_->unix_client();
  const auto sa = create_service_account(admin, "tcp-client", true);
  auto c = daemon_->tcp_client();
  expect_error_body(c.request("POST", "/keys", kSecp256k1), 401);
  expect_error_body(c.request("GET", "/keys", "", {{"Authorization", "Bearer wrong"}}), 401);
  expect_error_body(c.request("GET", "/keys", "", {{"Authorization", "Basic " + sa.token}}), 401);
  DfnsSession session(daemon_->tcp_client(), sa.token, sa.cred_id, sa.credential);
  auto unsigned_post = session.raw("POST", "/keys", kSecp256k1);
  expect_error_body(unsigned_post, 403);
  EXPECT_NE(error_message(unsigned_post).find("user action"), std::string::npos) << unsigned_post.body;
  EXPECT_EQ(count_keys(), 0);
  auto ok = session.mutate("POST", "/keys", kSecp256k1);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(session.get("/keys").status, 200);
  EXPECT_EQ(count_keys(), 1);
}

TEST_F(DaemonTest, UnixPeersOutsideTheAllowListAreRefused) {
  start({.extra_config = "[auth]\nunix_allowed_uids = [" + std::to_string(::getuid() + 4242) + "]\n"});
  auto c = daemon_->unix_client();
  expect_error_body(c.request("POST", "/keys", kSecp256k1), 401);
  expect_error_body(c.request("GET", "/keys"), 401);
  // The daemon must still stop cleanly although /healthz is refused on the socket.
}

TEST_F(DaemonTest, ListsPageByPageWithNextPageToken) {
  start();
  auto c = daemon_->unix_client();
  std::set<std::string> created;
  for (int i = 0; i < 5; ++i) created.insert(create_key(c));
  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  for (;;) {
    auto r = c.request("GET", "/keys?limit=2" + (token.empty() ? "" : "&paginationToken=" + token));
    ASSERT_EQ(r.status, 200) << r.body;
    const auto v = r.json();
    for (const auto& item : v.at("items").as_array()) EXPECT_TRUE(seen.insert(str(item, "id")).second);
    ++pages;
    if (!v.as_object().contains("nextPageToken")) break;
    token = str(v, "nextPageToken");
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(seen, created);
  EXPECT_EQ(pages, 3);
  expect_error_body(c.request("GET", "/keys?limit=0"), 400);
  expect_error_body(c.request("GET", "/keys?limit=501"), 400);
  expect_error_body(c.request("GET", "/keys?limit=abc"), 400);
  expect_error_body(c.request("GET", "/keys?paginationToken=%%%"), 400);
  expect_error_body(c.request("GET", "/keys?paginationToken=bm9wZQ"), 400);
}

TEST_F(DaemonTest, RenamesAndArchivesAndArchivedKeysCannotSign) {
  start();
  auto c = daemon_->unix_client();
  const auto id = create_key(c);
  auto renamed = c.request("PUT", "/keys/" + id, R"({"name":"cold"})");
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(str(renamed.json(), "name"), "cold");
  auto cleared = c.request("PUT", "/keys/" + id, R"({"name":null})");
  ASSERT_EQ(cleared.status, 200);
  EXPECT_FALSE(cleared.json().as_object().contains("name"));
  expect_error_body(c.request("PUT", "/keys/" + id, R"({})"), 400);

  auto archived = c.request("DELETE", "/keys/" + id, "{}");  // the Dfns SDK sends "{}" on DELETE
  ASSERT_EQ(archived.status, 200) << archived.body;
  EXPECT_EQ(str(archived.json(), "status"), "Archived");
  EXPECT_FALSE(str(archived.json(), "dateDeleted").empty());

  auto sign = c.request("POST", "/keys/" + id + "/signatures", R"({"kind":"Hash","hash":")" + kHash + "\"}");
  expect_error_body(sign, 400);
  EXPECT_NE(error_message(sign).find("archived"), std::string::npos);
  expect_error_body(c.request("PUT", "/keys/" + id, R"({"name":"x"})"), 400);
  expect_error_body(c.request("DELETE", "/keys/" + id, ""), 400);
  EXPECT_EQ(str(c.request("GET", "/keys/" + id).json(), "status"), "Archived");
  EXPECT_TRUE(c.request("GET", "/keys/" + id + "/signatures").json().at("items").as_array().empty());
}

struct BadRequest {
  const char* name;
  std::string method;
  std::string path;  // "{key}" is replaced by a real key id
  std::string body;
  int status;
  const char* message_fragment;
};

void PrintTo(const BadRequest& r, std::ostream* os) { *os << r.name; }

class DaemonBadInput : public DaemonTest, public ::testing::WithParamInterface<BadRequest> {};

TEST_P(DaemonBadInput, GetsAClearErrorAndChangesNothing) {
  start();
  auto c = daemon_->unix_client();
  const auto key = create_key(c);
  const auto& p = GetParam();
  std::string path = p.path;
  if (auto pos = path.find("{key}"); pos != std::string::npos) path.replace(pos, 5, key);
  auto r = c.request(p.method, path, p.body);
  expect_error_body(r, p.status);
  EXPECT_NE(error_message(r).find(p.message_fragment), std::string::npos) << r.body;
  // Nothing changed: still one key, no signatures, name unset.
  EXPECT_EQ(count_keys(), 1);
  EXPECT_TRUE(c.request("GET", "/keys/" + key + "/signatures").json().at("items").as_array().empty());
  EXPECT_FALSE(c.request("GET", "/keys/" + key).json().as_object().contains("name"));
}

const std::string kSig = "/keys/{key}/signatures";

INSTANTIATE_TEST_SUITE_P(
    Cases, DaemonBadInput,
    ::testing::Values(
        BadRequest{"MalformedJson", "POST", "/keys", R"({"scheme":)", 400, "malformed JSON"},
        BadRequest{"NotAnObject", "POST", "/keys", R"(["ECDSA"])", 400, "must be a JSON object"},
        BadRequest{"EmptyBody", "POST", "/keys", "", 400, "must be a JSON object"},
        BadRequest{"WrongType", "POST", "/keys", R"({"scheme":1,"curve":"secp256k1"})", 400, "'scheme' must be a string"},
        BadRequest{"MissingCurve", "POST", "/keys", R"({"scheme":"ECDSA"})", 400, "'curve' is required"},
        BadRequest{"UnknownField", "POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256k1","colour":"red"})", 400,
                   "unknown field 'colour'"},
        BadRequest{"MismatchedCurve", "POST", "/keys", R"({"scheme":"ECDSA","curve":"ed25519"})", 400,
                   "does not go with"},
        BadRequest{"NameTooLong", "POST", "/keys",
                   R"({"scheme":"ECDSA","curve":"secp256k1","name":")" + std::string(300, 'n') + "\"}", 400,
                   "'name' must be 1 to 256"},
        BadRequest{"DelegateToAnUnknownUser", "POST", "/keys",
                   R"({"scheme":"ECDSA","curve":"secp256k1","delegateTo":"us-1"})", 400, "not an active end user"},
        BadRequest{"DelegateToAndDelayDelegation", "POST", "/keys",
                   R"({"scheme":"ECDSA","curve":"secp256k1","delegateTo":"us-1","delayDelegation":true})", 400,
                   "not both"},
        BadRequest{"ShortHash", "POST", kSig, R"({"kind":"Hash","hash":"0x1234"})", 400, "32 bytes"},
        BadRequest{"LongHash", "POST", kSig, R"({"kind":"Hash","hash":"0x)" + std::string(66, 'a') + "\"}", 400,
                   "32 bytes"},
        BadRequest{"BadHex", "POST", kSig, R"({"kind":"Hash","hash":"0x)" + std::string(63, 'a') + "g\"}", 400,
                   "'hash' must be hex"},
        BadRequest{"HashNotString", "POST", kSig, R"({"kind":"Hash","hash":42})", 400, "'hash' must be a string"},
        BadRequest{"UnknownKind", "POST", kSig, R"({"kind":"Psbt","psbt":"0x00"})", 400, "kind 'Psbt'"},
        BadRequest{"Eip712UnknownType", "POST", kSig,
                   R"({"kind":"Eip712","types":{"Mail":[{"name":"to","type":"Person"}]},"domain":{},"message":{"to":{}}})",
                   400, "Eip712:"},
        BadRequest{"Eip712NoTypes", "POST", kSig, R"({"kind":"Eip712","domain":{},"message":{}})", 400,
                   "'types' is required"},
        BadRequest{"TransactionBadRlp", "POST", kSig, R"({"kind":"Transaction","transaction":"0x02c0ff"})", 400,
                   "transaction:"},
        BadRequest{"TransactionNotHex", "POST", kSig, R"({"kind":"Transaction","transaction":"0xzz"})", 400,
                   "must be hex"},
        BadRequest{"TransactionWrongChainForNetwork", "POST", kSig,
                   R"({"kind":"Transaction","network":"Polygon","transaction":{"type":2,"chainId":1,"nonce":0,)"
                   R"("maxFeePerGas":"1","maxPriorityFeePerGas":"1","gasLimit":"21000","to":null,"value":"0","data":"0x"}})",
                   400, "is not Polygon's (137)"},
        BadRequest{"TransactionForBitcoin", "POST", kSig,
                   R"({"kind":"Transaction","network":"Bitcoin","transaction":"0x02c0"})", 400, "transaction:"},
        BadRequest{"MessageOnEcdsa", "POST", kSig, R"({"kind":"Message","message":"0x00"})", 400,
                   "needs an EVM network"},
        BadRequest{"MessageOnEcdsaForBitcoin", "POST", kSig,
                   R"({"kind":"Message","message":"0x00","network":"Bitcoin"})", 400, "needs an EVM network"},
        BadRequest{"SignatureUnknownField", "POST", kSig, R"({"kind":"Hash","hash":")" + kHash + R"(","x":1})", 400,
                   "unknown field 'x'"},
        BadRequest{"UnknownKey", "GET", "/keys/key-aaaaa-aaaaa-aaaaaaaaaaaaaaaa", "", 404, "not found"},
        BadRequest{"SignUnknownKey", "POST", "/keys/key-aaaaa-aaaaa-aaaaaaaaaaaaaaaa/signatures",
                   R"({"kind":"Hash","hash":")" + kHash + "\"}", 404, "not found"},
        BadRequest{"UnknownSignature", "GET", "/keys/{key}/signatures/sig-aaaaa-aaaaa-aaaaaaaaaaaaaaaa", "", 404,
                   "not found"},
        BadRequest{"UnknownRoute", "GET", "/nope", "", 404, "no route"},
        BadRequest{"WrongMethod", "PATCH", "/keys/{key}", "{}", 400, "not allowed"}),
    [](const auto& info) { return info.param.name; });

TEST_F(DaemonTest, MessagesOverTheLimitAreRefusedWhenTheBodyFits) {
  start({.extra_config = "[limits]\nmax_body_bytes = 262144\n"});
  auto c = daemon_->unix_client();
  const auto key = create_key(c);
  const std::string body = R"({"kind":"Eip191","message":"0x)" + std::string(2 * 65537, 'a') + "\"}";
  auto r = c.request("POST", "/keys/" + key + "/signatures", body);
  expect_error_body(r, 400);
  EXPECT_NE(error_message(r).find("at most 65536 bytes"), std::string::npos) << r.body;
  const std::string fits = R"({"kind":"Eip191","message":"0x)" + std::string(2 * 65536, 'a') + "\"}";
  EXPECT_EQ(c.request("POST", "/keys/" + key + "/signatures", fits).status, 200);
}

TEST_F(DaemonTest, ExternalIdMakesSigningIdempotent) {
  start();
  auto c = daemon_->unix_client();
  const auto key = create_key(c);
  const std::string body = R"({"kind":"Hash","hash":")" + kHash + R"(","externalId":"payout-1"})";
  auto first = c.request("POST", "/keys/" + key + "/signatures", body);
  auto again = c.request("POST", "/keys/" + key + "/signatures", body);
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(first.json(), again.json());
  const std::string other = R"({"kind":"Hash","hash":"0x)" + std::string(64, 'c') + R"(","externalId":"payout-1"})";
  auto conflict = c.request("POST", "/keys/" + key + "/signatures", other);
  expect_error_body(conflict, 409);
  EXPECT_EQ(str(conflict.json().at("error").at("details").at("duplicate"), "id"), str(first.json(), "id"));
  EXPECT_EQ(c.request("GET", "/keys/" + key + "/signatures").json().at("items").as_array().size(), 1u);
}

TEST_F(DaemonTest, OversizedBodiesGet413) {
  start({.extra_config = "[limits]\nmax_body_bytes = 1024\n"});
  auto c = daemon_->unix_client();
  const std::string big = R"({"scheme":"ECDSA","curve":"secp256k1","name":")" + std::string(2000, 'x') + "\"}";
  auto r = c.request("POST", "/keys", big);
  expect_error_body(r, 413);
  EXPECT_EQ(count_keys(), 0);
}

TEST_F(DaemonTest, OversizedHeadersGet431) {
  start({.extra_config = "[limits]\nmax_header_bytes = 1024\n"});
  auto c = daemon_->unix_client();
  auto r = c.request("GET", "/keys", "", {{"X-Padding", std::string(4000, 'p')}});
  EXPECT_EQ(r.status, 431);
}

TEST_F(DaemonTest, GarbageIsA400AndTheConnectionCloses) {
  start();
  auto c = daemon_->unix_client();
  c.send_raw("THIS IS NOT HTTP\r\n\r\n");
  auto [bytes, closed] = c.read_until_closed(5s);
  EXPECT_TRUE(bytes.starts_with("HTTP/1.1 400")) << bytes;
  EXPECT_TRUE(closed);
}

TEST_F(DaemonTest, SlowOrHalfSentRequestsAreClosedAndChangeNothing) {
  start({.extra_config = "[limits]\nread_timeout_ms = 300\n"});
  auto admin = daemon_->unix_client();
  const auto sa = create_service_account(admin, "slow-client", true);
  auto slow = daemon_->unix_client();
  slow.send_raw("POST /keys HTTP/1.1\r\nHost: x\r\n");  // the header never ends
  auto half = daemon_->tcp_client();
  half.send_raw("POST /keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + sa.token +
                "\r\nContent-Length: 100\r\n\r\n" + kSecp256k1);  // the body never completes
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(slow.read_until_closed(5s).second);
  EXPECT_TRUE(half.read_until_closed(5s).second);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  EXPECT_EQ(count_keys(), 0);
}

TEST_F(DaemonTest, IdleKeepAliveConnectionsAreClosed) {
  start({.extra_config = "[limits]\nidle_timeout_ms = 200\n"});
  auto c = daemon_->unix_client();
  ASSERT_EQ(c.request("GET", "/healthz").status, 200);
  EXPECT_TRUE(c.read_until_closed(5s).second);
}

TEST_F(DaemonTest, TheUnixSocketHasTheConfiguredMode) {
  start();
  struct stat st {};
  ASSERT_EQ(::stat(daemon_->socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(DaemonTest, LogsOneLinePerRequestWithoutBodiesOrSecrets) {
  start();
  auto admin = daemon_->unix_client();
  const auto sa = create_service_account(admin, "logged-client", true);
  DfnsSession session(daemon_->tcp_client(), sa.token, sa.cred_id, sa.credential);
  auto c = daemon_->tcp_client();
  const std::string name = "very-secret-looking-name";
  auto r = session.mutate("POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256k1","name":")" + name + "\"}");
  ASSERT_EQ(r.status, 200) << r.body;
  c.request("GET", "/keys?limit=5", "", {{"Authorization", "Bearer wrong-token-value"}});
  ASSERT_EQ(daemon_->stop(SIGTERM), 0);
  const auto log = daemon_->log();
  EXPECT_NE(log.find("request method=POST path=/keys status=200"), std::string::npos) << log;
  EXPECT_NE(log.find("principal=" + sa.user_id + " transport=tcp"), std::string::npos) << log;
  EXPECT_NE(log.find("request method=GET path=/keys status=401"), std::string::npos) << log;
  EXPECT_EQ(log.find(sa.token), std::string::npos) << "the bearer token must never be logged";
  EXPECT_EQ(log.find("wrong-token-value"), std::string::npos);
  EXPECT_EQ(log.find(name), std::string::npos) << "request bodies must never be logged";
  EXPECT_EQ(log.find("limit=5"), std::string::npos) << "the query is left out of the log line";
  EXPECT_EQ(log.find(daemon_->token().pin()), std::string::npos);
}

TEST_F(DaemonTest, ConnectionsBeyondTheLimitAreClosed) {
  start({.extra_config = "[limits]\nmax_connections = 2\n"});
  auto a = daemon_->unix_client();
  auto b = daemon_->unix_client();
  ASSERT_EQ(a.request("GET", "/healthz").status, 200);
  ASSERT_EQ(b.request("GET", "/healthz").status, 200);
  auto third = daemon_->unix_client();
  EXPECT_THROW(third.request("GET", "/healthz"), std::runtime_error);
  { HttpClient closing = std::move(a); }  // frees a slot
  std::this_thread::sleep_for(200ms);
  auto fourth = daemon_->unix_client();
  EXPECT_EQ(fourth.request("GET", "/healthz").status, 200);
}

TEST_F(DaemonTest, ReadyzReportsTheHsmAndMetricsCountWhatHappened) {
  TempDir scratch;
  const auto control = scratch.path() / "fault-control";
  start({.module = SIGNERD_P11FAULT_MODULE,
         .env = {{"P11FAULT_REAL_MODULE", SoftHsmToken::module_path()}, {"P11FAULT_CONTROL", control.string()}}});
  auto c = daemon_->unix_client();
  auto ready = c.request("GET", "/readyz");
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(str(ready.json(), "status"), "ready");
  const auto key = create_key(c);
  ASSERT_EQ(c.request("POST", "/keys/" + key + "/signatures", R"({"kind":"Hash","hash":")" + kHash + "\"}").status,
            200);

  std::ofstream(control) << "device_error\n";
  auto not_ready = c.request("GET", "/readyz");
  expect_error_body(not_ready, 503);
  EXPECT_NE(error_message(not_ready).find("HSM"), std::string::npos) << not_ready.body;
  EXPECT_EQ(c.request("GET", "/healthz").status, 200) << "alive even when not ready";
  std::filesystem::remove(control);
  EXPECT_EQ(c.request("GET", "/readyz").status, 200) << "ready again once the HSM recovers";

  // Authentication and user actions: no token over TCP (401); a service account's signed change (a user action
  // issued, then consumed) and a change without its user action (refused, 403).
  auto tcp = daemon_->tcp_client();
  expect_error_body(tcp.request("GET", "/keys"), 401);
  const auto sa = create_service_account(c, "metrics-client", true);
  DfnsSession session(daemon_->tcp_client(), sa.token, sa.cred_id, sa.credential);
  const std::string p256 = R"({"scheme":"ECDSA","curve":"secp256r1"})";  // the secp256k1 counts above stay 1
  ASSERT_EQ(session.mutate("POST", "/keys", p256).status, 200);
  expect_error_body(session.raw("POST", "/keys", p256), 403);
  // The refused request's audit record is appended asynchronously: the gauge lies between two reads of the trail.
  auto newest_audit_seq = [&c] {
    return c.request("GET", "/audit?limit=1").json().at("items").at(0).at("seq").to_number<std::int64_t>();
  };
  const auto audit_before = newest_audit_seq();

  auto m = c.request("GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.headers.at("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  for (const char* line : {"signerd_signatures_total{curve=\"secp256k1\"} 1\n",
                           "signerd_keys_created_total{curve=\"secp256k1\"} 1\n",
                           "signerd_http_requests_total{route=\"/keys/{keyId}/signatures\",method=\"POST\",status=\"200\"} 1\n",
                           "signerd_http_requests_total{route=\"/readyz\",method=\"GET\",status=\"503\"} 1\n",
                           "signerd_hsm_sessions{state=\"total\"} 2\n", "signerd_hsm_recoveries 1\n",
                           "code=\"CKR_DEVICE_ERROR\"} ",  // signerd_hsm_errors_total, whichever call failed
                           "signerd_store_commit_duration_seconds_count",
                           "# TYPE signerd_audit_records gauge\n",
                           "signerd_auth_total{result=\"ok\"} ",
                           "signerd_auth_total{result=\"unauthenticated\"} 1\n",
                           "signerd_auth_total{result=\"denied\"} 1\n",
                           "signerd_user_actions_total{result=\"issued\"} 1\n",
                           "signerd_user_actions_total{result=\"consumed\"} 1\n",
                           "signerd_user_actions_total{result=\"refused\"} 1\n"}) {
    EXPECT_NE(m.body.find(line), std::string::npos) << line << "\n" << m.body;
  }
  const auto audit_line = m.body.find("\nsignerd_audit_records ");
  ASSERT_NE(audit_line, std::string::npos) << m.body;
  const auto audit_records =
      std::stoll(m.body.substr(audit_line + std::string_view("\nsignerd_audit_records ").size()));
  EXPECT_GE(audit_records, audit_before) << m.body;
  EXPECT_LE(audit_records, newest_audit_seq()) << m.body;
  EXPECT_GE(audit_records, 4) << "a key, a signature, a service account, its key";
  EXPECT_EQ(m.body.find(key), std::string::npos) << "no ids in metric labels";
}

TEST_F(DaemonTest, HealthAndMetricsNeedTheTokenOnTcpUnlessConfigured) {
  start();
  auto admin = daemon_->unix_client();
  const auto sa = create_service_account(admin, "metrics-reader", false);
  auto tcp = daemon_->tcp_client();
  expect_error_body(tcp.request("GET", "/metrics"), 401);
  expect_error_body(tcp.request("GET", "/healthz"), 401);
  EXPECT_EQ(tcp.request("GET", "/metrics", "", {{"Authorization", "Bearer " + sa.token}}).status, 200);
  ASSERT_EQ(daemon_->stop(SIGTERM), 0);

  DaemonProcess open_tcp({.extra_config = "[auth]\nunauthenticated_health = [\"unix\", \"tcp\"]\n"});
  ASSERT_TRUE(open_tcp.start()) << open_tcp.log();
  auto c = open_tcp.tcp_client();
  EXPECT_EQ(c.request("GET", "/healthz").status, 200);
  EXPECT_EQ(c.request("GET", "/metrics").status, 200);
  expect_error_body(c.request("GET", "/keys"), 401);
  EXPECT_EQ(open_tcp.stop(SIGTERM), 0);
}

TEST_F(DaemonTest, SighupReloadsTheAllowListAndNamesWhatNeedsARestart) {
  start();
  auto c = daemon_->unix_client();
  ASSERT_EQ(c.request("GET", "/keys").status, 200);
  // Take our own uid out of the allow-list and change a setting that cannot change live.
  std::ifstream in(daemon_->config_path());
  std::stringstream text;
  text << in.rdbuf();
  std::string conf = text.str();
  ASSERT_EQ(conf.find("[auth]"), std::string::npos);
  conf += "[auth]\nunix_allowed_uids = [" + std::to_string(::getuid() + 4242) + "]\n";
  conf += "[server]\nworker_threads = 3\n";
  std::ofstream(daemon_->config_path(), std::ios::trunc) << conf;
  ::kill(daemon_pid(), SIGHUP);
  std::this_thread::sleep_for(300ms);
  expect_error_body(c.request("GET", "/keys"), 401);
  EXPECT_EQ(c.request("GET", "/healthz").status, 200) << "health stays open on the socket";
  const auto log = daemon_->log();
  EXPECT_NE(log.find("applied auth.unix_allowed_uids"), std::string::npos) << log;
  EXPECT_NE(log.find("changes that need a restart: server"), std::string::npos) << log;
}

TEST_F(DaemonTest, AComponentsLogLevelSilencesThatComponentOnly) {
  // Appended after the fixture's "[log]\nlevel = \"info\"": this line is in [log].
  start({.extra_config = "components = { server = \"warn\" }\n"});
  auto c = daemon_->unix_client();
  ASSERT_EQ(c.request("GET", "/keys").status, 200);
  ASSERT_EQ(daemon_->stop(SIGTERM), 0);
  const auto log = daemon_->log();
  EXPECT_EQ(log.find("request method="), std::string::npos) << log;
  EXPECT_EQ(log.find("listening unix="), std::string::npos) << "the server's other info lines go too\n" << log;
  EXPECT_NE(log.find("hsm ready"), std::string::npos) << log;      // hsm: info, from log.level
  EXPECT_NE(log.find("organisation "), std::string::npos) << log;  // identity: info
  EXPECT_NE(log.find("signerd ready"), std::string::npos) << log;  // the daemon's own lines: log.level
}

TEST_F(DaemonTest, SighupChangesAComponentsLogLevel) {
  start();
  // Waits for the n-th reload line, so that what follows happens after the reload.
  auto await_reload = [this](std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      const auto log = daemon_->log();
      std::size_t seen = 0;
      for (auto at = log.find("reloaded "); at != std::string::npos; at = log.find("reloaded ", at + 1)) ++seen;
      if (seen >= n) return log;
      if (std::chrono::steady_clock::now() > deadline) return log;
      std::this_thread::sleep_for(50ms);
    }
  };
  auto c = daemon_->unix_client();
  const std::string original = [this] {
    std::ifstream in(daemon_->config_path());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }();
  const std::string level_line = "level = \"info\"\n";
  const auto at = original.find(level_line);
  ASSERT_NE(at, std::string::npos) << original;
  std::string quiet = original;
  quiet.insert(at + level_line.size(), "components = { server = \"warn\" }\n");

  c.request("GET", "/keys/key-before-the-reload");  // 404 or 400: only its log line matters
  std::ofstream(daemon_->config_path(), std::ios::trunc) << quiet;
  ::kill(daemon_pid(), SIGHUP);
  const auto first = await_reload(1);
  EXPECT_NE(first.find("applied log.components={server=warn}; changes that need a restart: nothing"), std::string::npos)
      << first;
  c.request("GET", "/keys/key-while-server-is-warn");

  // Back to the file without components: the server follows log.level again.
  std::ofstream(daemon_->config_path(), std::ios::trunc) << original;
  ::kill(daemon_pid(), SIGHUP);
  const auto second = await_reload(2);
  EXPECT_NE(second.find("applied log.components={}"), std::string::npos) << second;
  c.request("GET", "/keys/key-after-the-second-reload");

  ASSERT_EQ(daemon_->stop(SIGTERM), 0);
  const auto log = daemon_->log();
  EXPECT_NE(log.find("request method=GET path=/keys/key-before-the-reload status="), std::string::npos) << log;
  EXPECT_EQ(log.find("key-while-server-is-warn"), std::string::npos) << log;
  EXPECT_NE(log.find("request method=GET path=/keys/key-after-the-second-reload status="), std::string::npos) << log;
}

TEST_F(DaemonTest, AReloadOfABadFileKeepsTheRunningConfiguration) {
  start();
  std::ofstream(daemon_->config_path(), std::ios::app) << "[limits]\nnot_a_key = 1\n";
  ::kill(daemon_pid(), SIGHUP);
  std::this_thread::sleep_for(300ms);
  auto c = daemon_->unix_client();
  EXPECT_EQ(c.request("GET", "/keys").status, 200);
  EXPECT_NE(daemon_->log().find("reload refused"), std::string::npos) << daemon_->log();
}

TEST_F(DaemonTest, KeysSurviveARestart) {
  start();
  std::string id, public_key;
  {
    auto c = daemon_->unix_client();
    auto r = c.request("POST", "/keys", R"({"scheme":"EdDSA","curve":"ed25519"})");
    id = str(r.json(), "id");
    public_key = str(r.json(), "publicKey");
  }
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  EXPECT_FALSE(std::filesystem::exists(daemon_->socket_path())) << "the socket is removed on a clean stop";
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto c = daemon_->unix_client();
  auto r = c.request("GET", "/keys/" + id);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(str(r.json(), "publicKey"), public_key);
  auto sig = c.request("POST", "/keys/" + id + "/signatures", R"({"kind":"Hash","hash":")" + kHash + "\"}");
  EXPECT_EQ(sig.status, 200) << sig.body;
}

TEST_F(DaemonTest, SigtermLetsAnInFlightConnectionFinishThenExitsZero) {
  start();
  auto c = daemon_->unix_client();
  ASSERT_EQ(c.request("GET", "/healthz").status, 200);  // an idle keep-alive connection stays open
  EXPECT_EQ(daemon_->stop(SIGTERM, 10s), 0) << daemon_->log();
  EXPECT_NE(daemon_->log().find("draining"), std::string::npos);
}

TEST_F(DaemonTest, HsmFailureMidRequestIs503ThenRecovers) {
  DaemonOptions o;
  o.module = SIGNERD_P11FAULT_MODULE;
  TempDir scratch;
  const auto control = scratch.path() / "fault-control";
  o.env = {{"P11FAULT_REAL_MODULE", SoftHsmToken::module_path()}, {"P11FAULT_CONTROL", control.string()}};
  start(o);
  auto c = daemon_->unix_client();
  const auto key = create_key(c);
  const std::string body = R"({"kind":"Hash","hash":")" + kHash + "\"}";
  std::ofstream(control) << "device_error\n";
  auto failed = c.request("POST", "/keys/" + key + "/signatures", body);
  expect_error_body(failed, 503);
  auto failed_create = c.request("POST", "/keys", kSecp256k1);
  expect_error_body(failed_create, 503);
  std::filesystem::remove(control);
  auto recovered = c.request("POST", "/keys/" + key + "/signatures", body);
  EXPECT_EQ(recovered.status, 200) << recovered.body;
  EXPECT_EQ(count_keys(), 1) << "the failed creation left no Active key";
  EXPECT_EQ(c.request("GET", "/keys/" + key + "/signatures").json().at("items").as_array().size(), 1u);
}

TEST_F(DaemonTest, WrongPinStopsStartUpWithAClearMessage) {
  DaemonProcess d({.pin_override = "987654"});
  EXPECT_EQ(d.run_to_exit(), 78) << "EX_CONFIG: retrying a wrong PIN could lock the HSM user";
  const auto log = d.log();
  EXPECT_NE(log.find("PIN incorrect"), std::string::npos) << log;
  EXPECT_EQ(log.find("987654"), std::string::npos) << "the PIN must never be logged";
}

TEST_F(DaemonTest, LockedPinStopsStartUpWithAClearMessage) {
  TempDir scratch;
  const auto control = scratch.path() / "fault-control";
  std::ofstream(control) << "pin_locked C_Login\n";
  DaemonProcess d({.module = SIGNERD_P11FAULT_MODULE,
                   .env = {{"P11FAULT_REAL_MODULE", SoftHsmToken::module_path()},
                           {"P11FAULT_CONTROL", control.string()}}});
  EXPECT_EQ(d.run_to_exit(), 78) << "EX_CONFIG: systemd must not retry a locked PIN";
  EXPECT_NE(d.log().find("PIN locked"), std::string::npos) << d.log();
}

TEST_F(DaemonTest, MissingModuleStopsStartUpWithAClearMessage) {
  DaemonProcess d({.module = "/nonexistent/libpkcs11.so"});
  EXPECT_NE(d.run_to_exit(), 0);
  EXPECT_NE(d.log().find("/nonexistent/libpkcs11.so"), std::string::npos) << d.log();
}

TEST_F(DaemonTest, MissingTokenStopsStartUpWithAClearMessage) {
  DaemonProcess d({.token_label_override = "no-such-token"});
  EXPECT_NE(d.run_to_exit(), 0);
  EXPECT_NE(d.log().find("no-such-token"), std::string::npos) << d.log();
}

TEST_F(DaemonTest, UnknownConfigKeyStopsStartUpNamingIt) {
  DaemonProcess d({.extra_config = "[limits]\nmax_bodybytes = 10\n"});
  EXPECT_EQ(d.run_to_exit(), 78);  // EX_CONFIG
  EXPECT_NE(d.log().find("limits.max_bodybytes"), std::string::npos) << d.log();
}

// A crash between "record Creating" and "record Active" leaves a Creating row; start-up reconciles it from the HSM.
TEST_F(DaemonTest, StartUpReconcilesKeysACrashLeftCreating) {
  start();
  { auto c = daemon_->unix_client(); create_key(c); }  // creates the schema
  ASSERT_EQ(daemon_->stop(SIGTERM), 0);
  const std::string made = "key-crash-aaaaa-bbbbbbbbbbbbbbbb", lost = "key-crash-ccccc-dddddddddddddddd";
  const auto sql = [&](const std::string& id) {
    return "INSERT INTO keys (id, scheme, curve, public_key, status, custodial, owner_id, date_created_ms) VALUES ('" +
           id + "','ECDSA','secp256k1','','Creating',1,'os-uid-0',1700000000000);";
  };
  const std::string cmd = "sqlite3 '" + daemon_->db_path().string() + "' \"" + sql(made) + sql(lost) + "\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  // The HSM did create the first key before the "crash": an object whose CKA_ID is the key id.
  std::string hex_id;
  for (unsigned char ch : made) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", ch);
    hex_id += b;
  }
  const std::string gen = "pkcs11-tool --module " + SoftHsmToken::module_path() + " --token-label e2e --login --pin " +
                          daemon_->token().pin() + " --keypairgen --key-type EC:secp256k1 --id " + hex_id +
                          " --label " + made + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(gen.c_str()), 0);

  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto c = daemon_->unix_client();
  auto finished = c.request("GET", "/keys/" + made);
  ASSERT_EQ(finished.status, 200) << finished.body;
  EXPECT_EQ(str(finished.json(), "status"), "Active");
  EXPECT_TRUE(std::regex_match(str(finished.json(), "publicKey"), std::regex("^0[23][0-9a-f]{64}$")));
  auto sig = c.request("POST", "/keys/" + made + "/signatures", R"({"kind":"Hash","hash":")" + kHash + "\"}");
  EXPECT_EQ(sig.status, 200) << sig.body;
  expect_error_body(c.request("GET", "/keys/" + lost), 404);
  EXPECT_NE(daemon_->log().find("activated=1 failed=1"), std::string::npos) << daemon_->log();
  EXPECT_EQ(count_keys(), 2);
}


// api/openapi.yaml and the router agree in both directions: every documented (path, method) is served, and every
// other method on a documented path is refused as not allowed.
TEST_F(DaemonTest, OpenApiDescribesExactlyTheRoutesServed) {
  const auto documented = documented_routes(SIGNERD_OPENAPI);
  ASSERT_GE(documented.size(), 5u);

  start();
  auto c = daemon_->unix_client();
  const auto key = create_key(c);
  const auto sig = str(c.request("POST", "/keys/" + key + "/signatures", R"({"kind":"Hash","hash":")" + kHash + "\"}")
                           .json(), "id");
  const auto wallet = str(c.request("POST", "/wallets", R"({"network":"Ethereum"})").json(), "id");
  ASSERT_FALSE(wallet.empty());
  for (const auto& [path, methods] : documented) {
    std::string target = std::regex_replace(path, std::regex("\\{keyId\\}"), key);
    target = std::regex_replace(target, std::regex("\\{walletId\\}"), wallet);
    target = std::regex_replace(target, std::regex("\\{signatureId\\}"), sig);
    target = std::regex_replace(target, std::regex("\\{[A-Za-z]+\\}"), "unknown-id");  // ids that need not exist
    for (const std::string method : {"get", "put", "post", "delete", "patch"}) {
      std::string upper = method;
      for (auto& ch : upper) ch = static_cast<char>(std::toupper(ch));
      auto r = c.request(upper, target, method == "get" ? "" : "{}");
      const auto msg = error_message(r);
      const bool served = msg.find("no route") == std::string::npos && msg.find("not allowed") == std::string::npos;
      EXPECT_EQ(served, methods.contains(method)) << upper << " " << path << " -> " << r.status << " " << r.body;
    }
  }
}

}  // namespace
}  // namespace signerd::testing

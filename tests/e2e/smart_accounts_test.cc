// The built daemon's smart-account API (../shared/reference/smart-accounts.md) over TCP, with a real SoftHSM token:
// apps (signerctl and the admin route), the request signature (good, bad, stale, replayed, altered), the envelope
// on every reply, idempotency (retries and concurrent duplicates), owner checks, deposits and balances, the
// activation refusals with their numbers, listing and revoking apps (the HSM key checked from a second client), and
// SIGHUP reloads of the network list (compared with what a restart with the same file does), under requests too.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "common/hex.h"
#include "common/secret.h"
#include "hsm/hsm.h"
#include "tests/support/daemon_fixture.h"
#include "tests/support/dfns_client.h"

namespace signerd::testing {
namespace {

namespace json = boost::json;

constexpr const char* kOwner = "0x10cB6162b0bF12Bf9B9FB899c617e71550dBAeB7";
constexpr const char* kNetworks = R"(
[smart_accounts]
gas_tank_token = { name = "USDT", decimals = 6 }
[[smart_accounts.networks]]
name = "Base"
chain_id = 8453
version = "0.8"
activation_fee = "1000000"
[[smart_accounts.networks]]
name = "EthereumSepolia"
chain_id = 11155111
version = "0.7"
activation_fee = "5"
rpc_url = "http://127.0.0.1:9"
relayer_key_id = "key-relayer"
)";

// With nanoseconds, so two requests with the same target and body still differ (the same one again is a replay).
std::string now_rfc3339(std::chrono::seconds offset = std::chrono::seconds(0)) {
  const auto now = std::chrono::system_clock::now() + offset;
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() % 1'000'000'000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[48];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%09lldZ", static_cast<long long>(ns));
  return buf;
}

std::string hmac_hex(const std::string& secret_hex, const std::string& message) {
  std::string key;
  for (std::size_t i = 0; i + 1 < secret_hex.size(); i += 2) {
    key.push_back(static_cast<char>(std::stoi(secret_hex.substr(i, 2), nullptr, 16)));
  }
  unsigned char out[32];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), out, &size);
  static const char* kDigits = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < size; ++i) {
    hex.push_back(kDigits[out[i] >> 4]);
    hex.push_back(kDigits[out[i] & 15]);
  }
  return hex;
}

struct App {
  std::string id, client_id, secret;
};

// The envelope {status, message, data} with status = the HTTP status.
void expect_envelope(const HttpReply& r, int status) {
  EXPECT_EQ(r.status, status) << r.body;
  const auto v = r.json();
  ASSERT_TRUE(v.is_object()) << r.body;
  EXPECT_EQ(v.as_object().size(), 3u) << r.body;
  ASSERT_TRUE(v.as_object().contains("status") && v.as_object().contains("message") &&
              v.as_object().contains("data")) << r.body;
  EXPECT_EQ(v.at("status").to_number<int>(), status) << r.body;
  EXPECT_TRUE(v.at("message").is_string()) << r.body;
}

class SmartAccountsTest : public DaemonFixture {
 protected:
  void SetUp() override {
    DaemonOptions o;
    o.extra_config = smart_config();
    start(std::move(o));
    app_ = create_app("test-app");
  }
  // The [smart_accounts] section the daemon starts with (appended last to its file).
  virtual std::string smart_config() const { return kNetworks; }

  App create_app(const std::string& name) {
    auto c = daemon_->unix_client();
    auto r = c.request("POST", "/smart-account-apps", json::serialize(json::object{{"name", name}}));
    EXPECT_EQ(r.status, 200) << r.body;
    const auto v = r.json();
    return {str(v, "appId"), str(v, "clientId"), str(v, "secret")};
  }

  // A request signed as the reference says, over TCP.
  HttpReply call(const std::string& method, const std::string& target, const std::string& body = "",
                 std::optional<App> app = std::nullopt, std::string timestamp = "") {
    const App& a = app ? *app : app_;
    if (timestamp.empty()) timestamp = now_rfc3339();
    const std::string sig = hmac_hex(a.secret, timestamp + "\n" + method + "\n" + target + "\n" + body);
    auto c = daemon_->tcp_client();
    return c.request(method, target, body,
                     {{"X-APP-ID", a.id}, {"X-TIMESTAMP", timestamp}, {"X-SIGNATURE", sig},
                      {"Content-Type", "application/json"}});
  }

  json::value create(const std::string& owner, int status = 200) {
    auto r = call("POST", "/api/v1/smart-account",
                  json::serialize(json::object{{"owner", {{"id", owner}, {"provider", "wallet"}}}}));
    expect_envelope(r, status);
    return r.json().at("data");
  }

  App app_;
};

TEST_F(SmartAccountsTest, CreatesARecordWithOneAccountPerNetworkAndATank) {
  ASSERT_TRUE(std::regex_match(app_.id, std::regex("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")));
  ASSERT_TRUE(std::regex_match(app_.secret, std::regex("^[0-9a-f]{64}$")));
  auto r = call("POST", "/api/v1/smart-account", std::string(R"({"owner":{"id":")") + kOwner + R"(","provider":"wallet"}})");
  expect_envelope(r, 200);
  const auto d = r.json().at("data");
  EXPECT_TRUE(std::regex_match(str(d, "id"), std::regex("^[0-9a-f]{24}$"))) << d;
  EXPECT_TRUE(std::regex_match(str(d, "createdAt"),
                               std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$)"))) << d;
  EXPECT_TRUE(d.at("updatedAt").is_null());
  EXPECT_EQ(str(d, "ownerId"), kOwner);
  EXPECT_EQ(str(d, "provider"), "wallet");
  EXPECT_EQ(str(d, "appId"), app_.id);
  EXPECT_EQ(str(d, "clientId"), app_.client_id);
  const auto& tanks = d.at("gasTanks").as_array();
  ASSERT_EQ(tanks.size(), 1u);
  EXPECT_EQ(str(tanks[0], "balance"), "0");
  EXPECT_EQ(str(tanks[0], "type"), "token");
  EXPECT_EQ(str(tanks[0], "tokenName"), "USDT");
  EXPECT_EQ(tanks[0].at("decimals").to_number<int>(), 6);
  EXPECT_EQ(str(tanks[0], "ownerId"), str(d, "id"));
  const auto& accounts = d.at("accounts").as_array();
  ASSERT_EQ(accounts.size(), 2u);
  std::map<std::string, json::value> by_network;
  for (const auto& a : accounts) by_network[str(a, "network")] = a;
  EXPECT_EQ(str(by_network["Base"], "aaAddress"), "0xc6F20ce7BEf5a7A047640AFD43c5E74E3722dF66");  // the vector
  EXPECT_EQ(by_network["Base"].at("chainId").to_number<int>(), 8453);
  EXPECT_EQ(str(by_network["Base"], "version"), "0.8");
  EXPECT_EQ(str(by_network["EthereumSepolia"], "version"), "0.7");
  for (const auto& a : accounts) {
    EXPECT_EQ(str(a, "status"), "not_deployed");
    EXPECT_EQ(str(a, "ownerId"), str(d, "id"));
    EXPECT_EQ(str(a, "appId"), app_.id);
    EXPECT_EQ(str(a, "clientId"), app_.client_id);
    EXPECT_TRUE(std::regex_match(str(a, "aaAddress"), std::regex("^0x[0-9a-fA-F]{40}$")));
  }

  auto got = call("GET", "/api/v1/smart-account/" + str(d, "id"));
  expect_envelope(got, 200);
  EXPECT_EQ(got.json().at("data"), d);
}

TEST_F(SmartAccountsTest, IsIdempotentPerAppAndOwnerIncludingConcurrentDuplicates) {
  const auto first = create(kOwner);
  EXPECT_EQ(create(kOwner), first);
  EXPECT_EQ(create("0x10cb6162b0bf12bf9b9fb899c617e71550dbaeb7"), first);  // the same owner in lower case
  // Another app gets its own record for the same owner.
  const App other = create_app("other");
  auto r = call("POST", "/api/v1/smart-account", std::string(R"({"owner":{"id":")") + kOwner + R"(","provider":"wallet"}})",
                other);
  expect_envelope(r, 200);
  EXPECT_NE(str(r.json().at("data"), "id"), str(first, "id"));

  // Eight clients at once for a new owner: one record.
  const std::string owner = "0x00000000000000000000000000000000000000aa";
  std::vector<std::thread> threads;
  std::vector<std::string> ids(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      // Distinct timestamps: identical requests in the same second would be replays.
      auto reply = call("POST", "/api/v1/smart-account",
                        R"({"owner":{"id":")" + owner + R"(","provider":"wallet"}})", std::nullopt,
                        now_rfc3339(std::chrono::seconds(-i)));
      if (reply.status == 200) ids[i] = str(reply.json().at("data"), "id");
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_FALSE(ids[0].empty());

  auto list = call("GET", "/api/v1/smart-account?limit=1");
  expect_envelope(list, 200);
  EXPECT_EQ(list.json().at("data").at("items").as_array().size(), 1u);
  const auto token = str(list.json().at("data"), "nextPageToken");
  ASSERT_FALSE(token.empty());
  auto next = call("GET", "/api/v1/smart-account?limit=5&paginationToken=" + token);
  expect_envelope(next, 200);
  EXPECT_EQ(next.json().at("data").at("items").as_array().size(), 1u);  // this app has two owners
  auto by_owner = call("GET", "/api/v1/smart-account?owner=" + std::string(kOwner));
  expect_envelope(by_owner, 200);
  ASSERT_EQ(by_owner.json().at("data").at("items").as_array().size(), 1u);
  EXPECT_EQ(by_owner.json().at("data").at("items").at(0), first);
  // Another app cannot read this app's record.
  expect_envelope(call("GET", "/api/v1/smart-account/" + str(first, "id"), "", other), 404);
}

TEST_F(SmartAccountsTest, RefusesBadSignaturesInTheEnvelope) {
  const std::string body = std::string(R"({"owner":{"id":")") + kOwner + R"(","provider":"wallet"}})";
  const std::string target = "/api/v1/smart-account";
  auto tcp = daemon_->tcp_client();
  // No headers at all, on both transports.
  expect_envelope(tcp.request("POST", target, body), 401);
  auto unix_client = daemon_->unix_client();
  expect_envelope(unix_client.request("POST", target, body), 401);
  // Wrong app, wrong secret, stale and future timestamps, malformed headers.
  App wrong = app_;
  wrong.id = "00000000-0000-4000-8000-000000000000";
  expect_envelope(call("POST", target, body, wrong), 401);
  wrong = app_;
  wrong.secret = std::string(64, '1');
  expect_envelope(call("POST", target, body, wrong), 401);
  expect_envelope(call("POST", target, body, std::nullopt, now_rfc3339(std::chrono::seconds(-301))), 401);
  expect_envelope(call("POST", target, body, std::nullopt, now_rfc3339(std::chrono::seconds(400))), 401);
  expect_envelope(call("POST", target, body, std::nullopt, "yesterday"), 401);
  // The body altered after signing.
  const std::string ts = now_rfc3339();
  const std::string sig = hmac_hex(app_.secret, ts + "\nPOST\n" + target + "\n" + body);
  auto altered = tcp.request("POST", target, body + " ", {{"X-APP-ID", app_.id}, {"X-TIMESTAMP", ts}, {"X-SIGNATURE", sig}});
  expect_envelope(altered, 401);
  EXPECT_NE(str(altered.json(), "message").find("does not verify"), std::string::npos) << altered.body;
  // The genuine request once, then its replay.
  const std::map<std::string, std::string> headers{{"X-APP-ID", app_.id}, {"X-TIMESTAMP", ts}, {"X-SIGNATURE", sig}};
  expect_envelope(tcp.request("POST", target, body, headers), 200);
  auto replay = tcp.request("POST", target, body, headers);
  expect_envelope(replay, 401);
  EXPECT_NE(str(replay.json(), "message").find("replay"), std::string::npos) << replay.body;
  // A bearer token does not stand in for the app signature.
  expect_envelope(tcp.request("GET", target, "", {{"Authorization", "Bearer x"}}), 401);
  // Routing errors are envelopes too.
  expect_envelope(tcp.request("PUT", target, "{}"), 400);
  expect_envelope(tcp.request("GET", "/api/v1/smart-account/a/b"), 404);
  // Nothing was created by the refused requests: one record.
  auto list = call("GET", target);
  EXPECT_EQ(list.json().at("data").at("items").as_array().size(), 1u);
}

TEST_F(SmartAccountsTest, ValidatesTheOwner) {
  auto bad = [&](const std::string& body, const std::string& fragment) {
    auto r = call("POST", "/api/v1/smart-account", body);
    expect_envelope(r, 400);
    EXPECT_NE(str(r.json(), "message").find(fragment), std::string::npos) << body << " -> " << r.body;
  };
  bad(R"({"owner":{"id":"0x10CB6162B0BF12Bf9b9fB899C617e71550dbAEB7","provider":"wallet"}})", "EIP-55");
  bad(R"({"owner":{"id":"0x10cb6162b0bf12bf9b9fb899c617e71550dbae","provider":"wallet"}})", "owner.id");
  bad(R"({"owner":{"id":"not an address","provider":"wallet"}})", "owner.id");
  bad(R"({"owner":{"id":"0x10cb6162b0bf12bf9b9fb899c617e71550dbaeb7","provider":"passkey"}})", "not supported");
  bad(R"({"owner":{"id":"0x10cb6162b0bf12bf9b9fb899c617e71550dbaeb7"}})", "provider");
  bad(R"({"owner":"0x10cb6162b0bf12bf9b9fb899c617e71550dbaeb7"})", "must be an object");
  bad(R"({})", "owner");
  bad(R"({"owner":{"id":"0x10cb6162b0bf12bf9b9fb899c617e71550dbaeb7","provider":"wallet"},"x":1})", "x");
  bad("not json", "");
  // All upper case carries no checksum and is accepted; the record shows the EIP-55 form.
  EXPECT_EQ(str(create("0x10CB6162B0BF12BF9B9FB899C617E71550DBAEB7"), "ownerId"), kOwner);
}

TEST_F(SmartAccountsTest, DepositsAddUpAndActivationIsRefusedWithTheNumbers) {
  const auto d = create(kOwner);
  const std::string id = str(d, "id");
  const std::string tank = str(d.at("gasTanks").at(0), "id");
  std::string base, sepolia;
  for (const auto& a : d.at("accounts").as_array()) (str(a, "network") == "Base" ? base : sepolia) = str(a, "id");
  const std::string deposits = "/api/v1/smart-account/" + id + "/gas-tanks/" + tank + "/deposits";
  auto activate = [&](const std::string& account) {
    return call("POST", "/api/v1/smart-account/" + id + "/accounts/" + account + "/activate");
  };

  auto refused = activate(base);
  expect_envelope(refused, 400);
  const auto facts = refused.json().at("data");
  EXPECT_EQ(str(facts, "balance"), "0");
  EXPECT_EQ(str(facts, "activationFee"), "1000000");
  EXPECT_EQ(str(facts, "network"), "Base");

  for (const char* amount : {"-1", "1.5", "abc", "", "0", "01",
                             "115792089237316195423570985008687907853269984665640564039457584007913129639936"}) {
    expect_envelope(call("POST", deposits, json::serialize(json::object{{"amount", amount}})), 400);
  }
  expect_envelope(call("POST", deposits, R"({"amount":100})"), 400);  // a number, not a string
  expect_envelope(call("POST", deposits, R"({"amount":"1","x":1})"), 400);
  expect_envelope(call("POST", "/api/v1/smart-account/" + id + "/gas-tanks/000000000000000000000000/deposits",
                       R"({"amount":"1"})"),
                  404);
  expect_envelope(call("POST", "/api/v1/smart-account/000000000000000000000000/gas-tanks/" + tank + "/deposits",
                       R"({"amount":"1"})"),
                  404);

  auto first = call("POST", deposits, R"({"amount":"999999"})");
  expect_envelope(first, 200);
  EXPECT_EQ(str(first.json().at("data").at("gasTank"), "balance"), "999999");
  refused = activate(base);
  expect_envelope(refused, 400);
  EXPECT_EQ(str(refused.json().at("data"), "balance"), "999999");

  // Concurrent deposits all count.
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      call("POST", deposits, R"({"amount":"1"})", std::nullopt, now_rfc3339(std::chrono::seconds(-i)));
    });
  }
  for (auto& t : threads) t.join();
  auto got = call("GET", "/api/v1/smart-account/" + id);
  EXPECT_EQ(str(got.json().at("data").at("gasTanks").at(0), "balance"), "1000003");
  EXPECT_FALSE(got.json().at("data").at("gasTanks").at(0).at("updatedAt").is_null());

  // Covered: Base has no rpc_url; EthereumSepolia's node (port 9 on loopback) refuses connections. 503, nothing
  // changes. (Deployments against a real chain: tests/interop/smart_accounts.test.mjs.)
  auto no_rpc = activate(base);
  expect_envelope(no_rpc, 503);
  EXPECT_NE(str(no_rpc.json(), "message").find("rpc_url"), std::string::npos) << no_rpc.body;
  auto unreachable = activate(sepolia);
  expect_envelope(unreachable, 503);
  EXPECT_NE(str(unreachable.json(), "message").find("EthereumSepolia"), std::string::npos) << unreachable.body;
  EXPECT_EQ(str(unreachable.json().at("data"), "network"), "EthereumSepolia") << unreachable.body;
  expect_envelope(activate("000000000000000000000000"), 404);
  // The body is empty, {} or {"signature"}; a v0.7 account takes no owner signature.
  const std::string sepolia_url = "/api/v1/smart-account/" + id + "/accounts/" + sepolia + "/activate";
  expect_envelope(call("POST", sepolia_url, R"({"x":1})"), 400);
  expect_envelope(call("POST", sepolia_url, R"({"signature":1})"), 400);
  expect_envelope(call("POST", sepolia_url, "[]"), 400);
  auto unsigned_v07 = call("POST", sepolia_url, R"({"signature":"0x00"})");
  expect_envelope(unsigned_v07, 400);
  EXPECT_NE(str(unsigned_v07.json(), "message").find("omit it"), std::string::npos) << unsigned_v07.body;
  const auto after = call("GET", "/api/v1/smart-account/" + id).json();
  EXPECT_EQ(str(after.at("data").at("gasTanks").at(0), "balance"), "1000003");
  for (const auto& a : after.at("data").at("accounts").as_array()) EXPECT_EQ(str(a, "status"), "not_deployed");
}

TEST_F(SmartAccountsTest, AReplayIsRefusedAfterARestartToo) {
  const std::string body = std::string(R"({"owner":{"id":")") + kOwner + R"(","provider":"wallet"}})";
  const std::string target = "/api/v1/smart-account";
  const std::string ts = now_rfc3339();
  const std::map<std::string, std::string> headers{
      {"X-APP-ID", app_.id},
      {"X-TIMESTAMP", ts},
      {"X-SIGNATURE", hmac_hex(app_.secret, ts + "\nPOST\n" + target + "\n" + body)}};
  {
    auto tcp = daemon_->tcp_client();
    expect_envelope(tcp.request("POST", target, body, headers), 200);
  }
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto tcp = daemon_->tcp_client();
  auto replay = tcp.request("POST", target, body, headers);
  expect_envelope(replay, 401);
  EXPECT_NE(str(replay.json(), "message").find("replay"), std::string::npos) << replay.body;
  // A fresh signature still works after the restart.
  expect_envelope(call("POST", target, body), 200);
}

TEST_F(SmartAccountsTest, AppsAreForTheLocalAdministratorAndSignerctlCreatesThem) {
  // Over TCP without a token: 401 (Dfns's error body, like every non-smart-account route).
  auto tcp = daemon_->tcp_client();
  expect_error_body(tcp.request("POST", "/smart-account-apps", R"({"name":"x"})"), 401);
  auto unix_client = daemon_->unix_client();
  expect_error_body(unix_client.request("POST", "/smart-account-apps", R"({})"), 400);

  const auto secret_file = daemon_->dir() / "app.secret";
  const std::string command = std::string(SIGNERCTL_BINARY) + " --socket " + daemon_->socket_path().string() +
                              " apps create --name ctl --json --secret-out " + secret_file.string();
  std::FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  ASSERT_EQ(::pclose(pipe), 0) << out;
  const auto reply = json::parse(out);
  EXPECT_FALSE(reply.as_object().contains("secret")) << out;
  std::ifstream in(secret_file);
  std::string secret;
  std::getline(in, secret);
  ASSERT_EQ(secret.size(), 64u);
  EXPECT_EQ(std::filesystem::status(secret_file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // The app made by signerctl signs requests.
  const App ctl{str(reply, "appId"), str(reply, "clientId"), secret};
  auto r = call("POST", "/api/v1/smart-account", std::string(R"({"owner":{"id":")") + kOwner + R"(","provider":"wallet"}})", ctl);
  expect_envelope(r, 200);
  EXPECT_EQ(str(r.json().at("data"), "clientId"), ctl.client_id);
}

// --- listing and revoking apps (GET /smart-account-apps, DELETE /smart-account-apps/{appId}, signerctl apps)

// The app id's HMAC key as a second client of the daemon's token sees it: kNotFound once destroyed.
Result<Bytes> hsm_hmac(DaemonProcess& daemon, const std::string& app_id, std::string_view message) {
  hsm::HsmOptions o;
  o.module_path = SoftHsmToken::module_path();
  o.token_label = daemon.token().label();
  o.pin = SecretString(daemon.token().pin());
  auto opened = hsm::Hsm::open(std::move(o));
  if (!opened) return std::unexpected(opened.error());
  return (*opened)->hmac_sha256("smart-app-" + app_id, as_bytes(message));
}

struct CtlRun {
  int code = -1;
  std::string out, err;
};

// signerctl with `args`, over the daemon's Unix socket unless `over_socket` is false (then `args` say where), with
// stdout and stderr apart.
CtlRun signerctl(DaemonProcess& daemon, const std::string& args, bool over_socket = true) {
  const auto err_file = daemon.dir() / "signerctl.err";
  const std::string command = std::string(SIGNERCTL_BINARY) +
                              (over_socket ? " --socket " + daemon.socket_path().string() : std::string()) + " " +
                              args + " 2>" + err_file.string();
  CtlRun run;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) run.out.append(buf, n);
  const int status = ::pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(err_file);
  run.err.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return run;
}

std::ostream& operator<<(std::ostream& os, const CtlRun& r) {
  return os << "exit " << r.code << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

TEST_F(SmartAccountsTest, AppsAreListedNewestFirstInPagesWithoutTheirSecrets) {
  const App second = create_app("second");
  auto c = daemon_->unix_client();
  auto all = c.request("GET", "/smart-account-apps");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.body.find(app_.secret), std::string::npos) << all.body;
  EXPECT_EQ(all.body.find(second.secret), std::string::npos) << all.body;
  const auto all_json = all.json();
  const auto& items = all_json.at("items").as_array();
  ASSERT_EQ(items.size(), 2u) << all.body;
  EXPECT_EQ(str(items[0], "appId"), second.id);
  EXPECT_EQ(str(items[1], "appId"), app_.id);
  EXPECT_EQ(str(items[1], "clientId"), app_.client_id);
  EXPECT_EQ(str(items[1], "name"), "test-app");
  for (const auto& item : items) {
    EXPECT_EQ(item.as_object().size(), 4u) << item;  // appId, clientId, name, dateCreated: no secret, not revoked
    EXPECT_TRUE(std::regex_match(str(item, "dateCreated"), std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$)")))
        << item;
  }
  EXPECT_FALSE(all.json().as_object().contains("nextPageToken")) << all.body;

  auto first = c.request("GET", "/smart-account-apps?limit=1");
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(first.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(str(first.json().at("items").at(0), "appId"), second.id);
  const auto token = str(first.json(), "nextPageToken");
  ASSERT_FALSE(token.empty()) << first.body;
  auto next = c.request("GET", "/smart-account-apps?limit=1&paginationToken=" + token);
  ASSERT_EQ(next.status, 200) << next.body;
  ASSERT_EQ(next.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(str(next.json().at("items").at(0), "appId"), app_.id);
  EXPECT_FALSE(next.json().as_object().contains("nextPageToken")) << next.body;
  expect_error_body(c.request("GET", "/smart-account-apps?limit=0"), 400);
  expect_error_body(c.request("GET", "/smart-account-apps?paginationToken=%%%"), 400);
  expect_error_body(c.request("GET", "/smart-account-apps?paginationToken=bm90LWEtbnVtYmVy"), 400);
}

TEST_F(SmartAccountsTest, ARevokedAppIsRefusedLikeAnUnknownOneAndItsKeyLeavesTheHsm) {
  const App other = create_app("other");
  const std::string body = std::string(R"({"owner":{"id":")") + kOwner + R"(","provider":"wallet"}})";
  expect_envelope(call("POST", "/api/v1/smart-account", body), 200);
  ASSERT_TRUE(hsm_hmac(*daemon_, app_.id, "x")) << "the key is in the HSM before the revocation";

  auto c = daemon_->unix_client();
  auto revoked = c.request("DELETE", "/smart-account-apps/" + app_.id);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(str(revoked.json(), "appId"), app_.id);
  EXPECT_EQ(str(revoked.json(), "clientId"), app_.client_id);
  EXPECT_TRUE(
      std::regex_match(str(revoked.json(), "dateRevoked"), std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$)")))
      << revoked.body;
  EXPECT_FALSE(revoked.json().as_object().contains("secret")) << revoked.body;

  // A correctly signed request by the revoked app: 401 in the envelope, as for an app that never existed.
  auto refused = call("POST", "/api/v1/smart-account", body);
  expect_envelope(refused, 401);
  EXPECT_EQ(str(refused.json(), "message"), "X-APP-ID names no application") << refused.body;
  expect_envelope(call("GET", "/api/v1/smart-account"), 401);
  // Another app still works.
  expect_envelope(call("POST", "/api/v1/smart-account", body, other), 200);
  expect_envelope(call("GET", "/api/v1/smart-account", "", other), 200);

  // The secret is gone from the HSM; the other app's is there and computes the HMAC its secret does.
  auto gone = hsm_hmac(*daemon_, app_.id, "x");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound) << gone.error().message;
  auto kept = hsm_hmac(*daemon_, other.id, "x");
  ASSERT_TRUE(kept) << kept.error().message;
  EXPECT_EQ(to_hex(*kept), hmac_hex(other.secret, "x"));

  // The list shows the revocation; the audit trail names the app.
  auto list = c.request("GET", "/smart-account-apps");
  ASSERT_EQ(list.status, 200) << list.body;
  const auto list_json = list.json();
  for (const auto& item : list_json.at("items").as_array()) {
    EXPECT_EQ(item.as_object().contains("dateRevoked"), str(item, "appId") == app_.id) << item;
  }
  auto audit = c.request("GET", "/audit?limit=20");
  ASSERT_EQ(audit.status, 200) << audit.body;
  bool audited = false;
  const auto audit_json = audit.json();
  for (const auto& record : audit_json.at("items").as_array()) {
    if (str(record, "method") == "DELETE" && str(record, "path") == "/smart-account-apps/" + app_.id &&
        str(record, "outcome") == "ok") {
      audited = record.at("affectedIds") == json::value(json::array{json::string(app_.id)});
    }
  }
  EXPECT_TRUE(audited) << audit.body;

  // Still refused after a restart.
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  expect_envelope(call("GET", "/api/v1/smart-account"), 401);
  expect_envelope(call("GET", "/api/v1/smart-account", "", other), 200);
}

TEST_F(SmartAccountsTest, RevokingTwiceIsAConflictAndAnUnknownAppIsNotFound) {
  auto c = daemon_->unix_client();
  auto first = c.request("DELETE", "/smart-account-apps/" + app_.id);
  ASSERT_EQ(first.status, 200) << first.body;
  auto again = c.request("DELETE", "/smart-account-apps/" + app_.id);
  expect_error_body(again, 409);
  EXPECT_NE(error_message(again).find("already revoked"), std::string::npos) << again.body;
  expect_error_body(c.request("DELETE", "/smart-account-apps/00000000-0000-4000-8000-000000000000"), 404);
  // The first revocation's date stays.
  auto list = c.request("GET", "/smart-account-apps");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(str(list.json().at("items").at(0), "dateRevoked"), str(first.json(), "dateRevoked"));
}

TEST_F(SmartAccountsTest, AppRoutesAreForTheLocalAdministratorOnlyEvenWithAnAdminToken) {
  auto unix_client = daemon_->unix_client();
  const auto sa = create_service_account(unix_client, "apps-admin", /*with_admin_permission=*/true);
  DfnsSession s(daemon_->tcp_client(), sa.token, sa.cred_id, sa.credential);
  auto list = s.get("/smart-account-apps");
  expect_error_body(list, 403);
  EXPECT_NE(error_message(list).find("local administrator"), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find(app_.id), std::string::npos) << list.body;
  auto revoke = s.mutate("DELETE", "/smart-account-apps/" + app_.id, "");
  expect_error_body(revoke, 403);
  EXPECT_NE(error_message(revoke).find("local administrator"), std::string::npos) << revoke.body;
  // Refused before the lookup: an unknown app is 403 too, not 404.
  expect_error_body(s.mutate("DELETE", "/smart-account-apps/00000000-0000-4000-8000-000000000000", ""), 403);
  // Without a token: 401.
  auto tcp = daemon_->tcp_client();
  expect_error_body(tcp.request("GET", "/smart-account-apps"), 401);
  expect_error_body(tcp.request("DELETE", "/smart-account-apps/" + app_.id), 401);
  // Nothing was revoked.
  expect_envelope(call("GET", "/api/v1/smart-account"), 200);
  auto apps = unix_client.request("GET", "/smart-account-apps");
  ASSERT_EQ(apps.status, 200) << apps.body;
  EXPECT_FALSE(apps.json().at("items").at(0).as_object().contains("dateRevoked")) << apps.body;
}

TEST_F(SmartAccountsTest, SignerctlListsAndRevokesApps) {
  const App second = create_app("second");
  auto listed = signerctl(*daemon_, "apps list --json");
  ASSERT_EQ(listed.code, 0) << listed;
  EXPECT_EQ(listed.out.find(app_.secret), std::string::npos) << listed;
  const auto items = json::parse(listed.out).at("items").as_array();
  ASSERT_EQ(items.size(), 2u) << listed;
  EXPECT_EQ(str(items[0], "appId"), second.id);
  auto paged = signerctl(*daemon_, "apps list --limit 1 --all --json");
  ASSERT_EQ(paged.code, 0) << paged;
  EXPECT_EQ(json::parse(paged.out).at("items").as_array().size(), 2u) << paged;
  auto table = signerctl(*daemon_, "apps list");
  ASSERT_EQ(table.code, 0) << table;
  EXPECT_NE(table.out.find(app_.id), std::string::npos) << table;
  EXPECT_EQ(table.out.find("Revoked"), std::string::npos) << table;

  auto revoked = signerctl(*daemon_, "apps revoke " + app_.id + " --json");
  ASSERT_EQ(revoked.code, 0) << revoked;
  EXPECT_EQ(str(json::parse(revoked.out), "appId"), app_.id);
  EXPECT_FALSE(str(json::parse(revoked.out), "dateRevoked").empty()) << revoked;
  expect_envelope(call("GET", "/api/v1/smart-account"), 401);
  expect_envelope(call("GET", "/api/v1/smart-account", "", second), 200);
  auto again = signerctl(*daemon_, "apps revoke " + app_.id);
  EXPECT_EQ(again.code, 3) << again;  // 409
  EXPECT_NE(again.err.find("already revoked"), std::string::npos) << again;
  EXPECT_EQ(signerctl(*daemon_, "apps revoke 00000000-0000-4000-8000-000000000000").code, 4);
  EXPECT_EQ(signerctl(*daemon_, "apps revoke").code, 2);  // APP_ID is required
  table = signerctl(*daemon_, "apps list");
  ASSERT_EQ(table.code, 0) << table;
  EXPECT_NE(table.out.find("Revoked"), std::string::npos) << table;
  // Over TCP without a token: the daemon's 401, exit 6.
  auto tcp = signerctl(*daemon_, "--url http://127.0.0.1:" + std::to_string(daemon_->port()) + " apps list",
                       /*over_socket=*/false);
  EXPECT_EQ(tcp.code, 6) << tcp;
}

// A crash between the revocation's record and the HSM destroy: the record alone refuses the app, and revoking it
// again (409) removes the key left behind.
TEST_F(SmartAccountsTest, ARevocationRecordedWithoutTheHsmDestroyStillRefusesAndARetryCleansUp) {
  const App other = create_app("other");
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  const std::string cmd = "sqlite3 '" + daemon_->db_path().string() +
                          "' \"UPDATE smart_apps SET date_revoked_ns = 1700000000000000000 WHERE id = '" + app_.id +
                          "'\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  ASSERT_TRUE(hsm_hmac(*daemon_, app_.id, "x")) << "the key is still in the HSM";

  auto refused = call("GET", "/api/v1/smart-account");
  expect_envelope(refused, 401);
  EXPECT_EQ(str(refused.json(), "message"), "X-APP-ID names no application") << refused.body;
  expect_envelope(call("GET", "/api/v1/smart-account", "", other), 200);

  auto c = daemon_->unix_client();
  auto again = c.request("DELETE", "/smart-account-apps/" + app_.id);
  expect_error_body(again, 409);
  auto gone = hsm_hmac(*daemon_, app_.id, "x");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound) << gone.error().message;
  ASSERT_TRUE(hsm_hmac(*daemon_, other.id, "x"));
  auto list = c.request("GET", "/smart-account-apps");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(str(list.json().at("items").at(1), "dateRevoked"), "2023-11-14T22:13:20.000000000Z") << list.body;
}

// --- SIGHUP reloads of [[smart_accounts.networks]] (docs/smart-accounts.md, Configuration)

// One [[smart_accounts.networks]] table.
std::string network_toml(const std::string& name, std::uint64_t chain_id, const std::string& version,
                         const std::string& fee, const std::string& more = "") {
  return "[[smart_accounts.networks]]\nname = \"" + name + "\"\nchain_id = " + std::to_string(chain_id) +
         "\nversion = \"" + version + "\"\nactivation_fee = \"" + fee + "\"\n" + more;
}

// The section the reload tests start from: kNetworks' two networks, with a quick watcher.
std::string reload_section(const std::string& networks, const std::string& head = "") {
  return "[smart_accounts]\ngas_tank_token = { name = \"USDT\", decimals = 6 }\npoll_interval_ms = 100\n"
         "rpc_timeout_ms = 2000\n" +
         head + networks;
}
const std::string kBase = network_toml("Base", 8453, "0.8", "1000000");
const std::string kSepolia = network_toml("EthereumSepolia", 11155111, "0.7", "5",
                                          "rpc_url = \"http://127.0.0.1:9\"\nrelayer_key_id = \"key-relayer\"\n");
const std::string kBaseSepolia = network_toml("BaseSepolia", 84532, "0.8", "7");
// kOwner's v0.8 address with the canonical factory, on any chain (the vector of CreatesARecord...).
constexpr const char* kOwnerV08Address = "0xc6F20ce7BEf5a7A047640AFD43c5E74E3722dF66";

// Another owner for each (group, n): "0x" and 40 hex digits.
std::string owner_number(int group, int n) {
  char owner[43];
  std::snprintf(owner, sizeof owner, "0x%02x%038x", static_cast<unsigned>(group), static_cast<unsigned>(n));
  return owner;
}

// A TCP socket listening on 127.0.0.1 at a port the kernel picks (set in `port`). Throws when it cannot.
int listen_on_loopback(int backlog, std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("cannot listen on loopback");
  }
  port = ntohs(a.sin_port);
  return fd;
}

// A JSON-RPC node on loopback with just what a v0.7 activation asks, for one chain: every address has code but
// the account set with expect_account(), until mine(); a transaction sent is pending, and after mine() it has a
// successful receipt. It stands in for the chain only; the daemon under test is the real one.
class FakeNode {
 public:
  explicit FakeNode(std::uint64_t chain_id) : chain_id_(chain_id) {
    fd_ = listen_on_loopback(16, port_);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeNode() {
    stopping_ = true;
    thread_.join();
    ::close(fd_);
  }

  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void expect_account(std::string address) {
    std::lock_guard lock(mutex_);
    for (auto& c : address) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    account_ = std::move(address);
  }
  void mine() {
    std::lock_guard lock(mutex_);
    mined_ = true;
  }
  int sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }

 private:
  void serve() {
    while (!stopping_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      timeval tv{2, 0};
      ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      answer(conn);
      ::close(conn);
    }
  }

  void answer(int conn) {
    std::string in;
    char buf[4096];
    std::size_t body_at = std::string::npos, length = 0;
    for (;;) {
      if (body_at != std::string::npos && in.size() >= body_at + length) break;
      const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
      if (n <= 0) return;
      in.append(buf, static_cast<std::size_t>(n));
      if (body_at == std::string::npos) {
        const auto end = in.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        body_at = end + 4;
        std::string head = in.substr(0, end);
        for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const auto at = head.find("content-length:");
        if (at != std::string::npos) length = std::stoul(head.substr(at + 15));
      }
    }
    const json::value request = json::parse(in.substr(body_at, length));
    json::object reply{{"jsonrpc", "2.0"}, {"id", request.at("id")}};
    reply["result"] = result(std::string(request.at("method").as_string()), request.at("params").as_array());
    const std::string body = json::serialize(reply);
    const std::string out =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\nConnection: close\r\n\r\n" + body;
    (void)::send(conn, out.data(), out.size(), MSG_NOSIGNAL);
  }

  json::value result(const std::string& method, const json::array& params) {
    std::lock_guard lock(mutex_);
    auto hex = [](std::uint64_t v) {
      std::ostringstream o;
      o << "0x" << std::hex << v;
      return o.str();
    };
    if (method == "eth_chainId") return json::string(hex(chain_id_));
    if (method == "eth_getCode") {
      std::string address(params.at(0).as_string());
      for (auto& c : address) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return json::string(address == account_ && !mined_ ? "0x" : "0x6080");
    }
    if (method == "eth_getTransactionCount")
      return json::string(mined_ ? hex(static_cast<std::uint64_t>(sent_)) : "0x0");
    if (method == "eth_estimateGas") return json::string("0x30d40");
    if (method == "eth_getBlockByNumber") return json::object{{"number", "0x10"}, {"baseFeePerGas", "0x3b9aca00"}};
    if (method == "eth_maxPriorityFeePerGas") return json::string("0x3b9aca00");
    if (method == "eth_getBalance") return json::string("0xde0b6b3a7640000");  // 1 ether
    if (method == "eth_blockNumber") return json::string("0x11");
    if (method == "eth_sendRawTransaction") {
      ++sent_;
      return json::string("0x" + std::string(64, 'a'));
    }
    if (method == "eth_getTransactionReceipt") {
      if (sent_ == 0 || !mined_) return nullptr;
      return json::object{{"status", "0x1"}, {"blockNumber", "0x11"}, {"gasUsed", "0x30000"}};
    }
    if (method == "eth_getTransactionByHash") {
      if (sent_ == 0) return nullptr;
      return json::object{{"hash", params.at(0)}};
    }
    return nullptr;
  }

  const std::uint64_t chain_id_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::string account_;  // guarded by mutex_
  bool mined_ = false;   // guarded by mutex_
  int sent_ = 0;         // guarded by mutex_
};

class SmartAccountsReloadTest : public SmartAccountsTest {
 protected:
  std::string smart_config() const override { return reload_section(kBase + kSepolia); }

  // Replaces the [smart_accounts] section of the daemon's file with `section`, sends SIGHUP and waits for the
  // reload's line ("reloaded …" or "reload refused …"), which it returns.
  std::string reload(const std::string& section) {
    std::ifstream in(daemon_->config_path());
    std::stringstream text;
    text << in.rdbuf();
    std::string conf = text.str();
    const auto at = conf.find("[smart_accounts]");
    EXPECT_NE(at, std::string::npos) << conf;
    conf = conf.substr(0, at) + section;
    std::ofstream(daemon_->config_path(), std::ios::trunc) << conf;
    const std::size_t before = reload_lines();
    ::kill(daemon_->pid(), SIGHUP);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (reload_lines() == before && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const std::string log = daemon_->log();
    std::size_t last = std::string::npos;
    for (const char* what : {"reloaded ", "reload refused"}) {
      const auto at = log.rfind(what);
      if (at != std::string::npos && (last == std::string::npos || at > last)) last = at;
    }
    if (last == std::string::npos || reload_lines() == before) {
      ADD_FAILURE() << "no reload line\n" << log;
      return "";
    }
    last = log.rfind('\n', last);
    return log.substr(last + 1, log.find('\n', last + 1) - last - 1);
  }
  std::size_t reload_lines() const {
    const std::string log = daemon_->log();
    std::size_t n = 0;
    for (const char* what : {"reloaded ", "reload refused"}) {
      for (auto at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    }
    return n;
  }
  // Waits up to `timeout` for `text` to be logged `times` times.
  bool await_log(const std::string& text, std::size_t times = 1,
                 std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const std::string log = daemon_->log();
      std::size_t n = 0;
      for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
      if (n >= times) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  void restart() {
    ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
    ASSERT_TRUE(daemon_->start()) << daemon_->log();
  }

  // accounts[] by network name.
  static std::map<std::string, json::value> by_network(const json::value& record) {
    std::map<std::string, json::value> out;
    for (const auto& a : record.at("accounts").as_array()) out[str(a, "network")] = a;
    return out;
  }
  static std::set<std::string> networks_of(const json::value& record) {
    std::set<std::string> out;
    for (const auto& [name, account] : by_network(record)) out.insert(name);
    return out;
  }
  HttpReply get(const json::value& record) { return call("GET", "/api/v1/smart-account/" + str(record, "id")); }
  HttpReply deposit(const json::value& record, const std::string& amount) {
    return call("POST",
                "/api/v1/smart-account/" + str(record, "id") + "/gas-tanks/" + str(record.at("gasTanks").at(0), "id") +
                    "/deposits",
                json::serialize(json::object{{"amount", amount}}));
  }
  // `record`'s account on `network` once it is no longer deploying (or as it is after 10 s).
  json::value settled(const json::value& record, const std::string& network) {
    json::value account;
    for (int i = 0; i < 200; ++i) {
      account = by_network(get(record).json().at("data"))[network];
      if (str(account, "status") != "deploying") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return account;
  }
  HttpReply activate(const json::value& record, const std::string& network) {
    return call("POST", "/api/v1/smart-account/" + str(record, "id") + "/accounts/" +
                            str(by_network(record)[network], "id") + "/activate");
  }
};

TEST_F(SmartAccountsReloadTest, AnAddedNetworkGoesToNewRecordsAndToOldOnesWhenPostedAgainAsAfterARestart) {
  const auto old_record = create(kOwner);
  ASSERT_EQ(networks_of(old_record), (std::set<std::string>{"Base", "EthereumSepolia"}));

  const auto line = reload(reload_section(kBase + kSepolia + kBaseSepolia));
  EXPECT_NE(line.find("applied smart_accounts.networks (+BaseSepolia); changes that need a restart: nothing"),
            std::string::npos)
      << line;
  const auto fresh = create(owner_number(0xb, 1));
  ASSERT_EQ(networks_of(fresh), (std::set<std::string>{"Base", "EthereumSepolia", "BaseSepolia"}));
  EXPECT_EQ(by_network(fresh)["BaseSepolia"].at("chainId").to_number<int>(), 84532);
  EXPECT_EQ(str(by_network(fresh)["BaseSepolia"], "version"), "0.8");
  EXPECT_EQ(str(by_network(fresh)["BaseSepolia"], "status"), "not_deployed");
  // An existing record: GET shows the rows it has; POSTing it again adds the new network's, as after a restart.
  EXPECT_EQ(get(old_record).json().at("data"), old_record);
  const auto again = create(kOwner);
  EXPECT_EQ(str(again, "id"), str(old_record, "id"));
  ASSERT_EQ(networks_of(again), (std::set<std::string>{"Base", "EthereumSepolia", "BaseSepolia"}));
  EXPECT_EQ(str(by_network(again)["BaseSepolia"], "aaAddress"), kOwnerV08Address);
  EXPECT_EQ(by_network(again)["Base"], by_network(old_record)["Base"]);
  // Its fee is in force: 7.
  auto refused = activate(again, "BaseSepolia");
  expect_envelope(refused, 400);
  EXPECT_EQ(str(refused.json().at("data"), "activationFee"), "7") << refused.body;

  // A restart with the same file: the same records, and a new owner gets the same three networks.
  restart();
  EXPECT_EQ(get(again).json().at("data"), again);
  EXPECT_EQ(get(fresh).json().at("data"), fresh);
  const auto after_restart = create(owner_number(0xb, 2));
  for (const auto& [name, account] : by_network(after_restart)) {
    const json::value reloaded = by_network(fresh)[name];
    ASSERT_TRUE(reloaded.is_object()) << name;
    EXPECT_EQ(account.at("chainId"), reloaded.at("chainId")) << name;
    EXPECT_EQ(account.at("version"), reloaded.at("version")) << name;
  }
  EXPECT_EQ(networks_of(after_restart), networks_of(fresh));
}

TEST_F(SmartAccountsReloadTest, ARemovedNetworkKeepsItsAccountsAndRefusesActivationAsAfterARestart) {
  const auto record = create(kOwner);
  expect_envelope(deposit(record, "1000000"), 200);
  auto before = activate(record, "Base");
  expect_envelope(before, 503);
  EXPECT_NE(str(before.json(), "message").find("rpc_url"), std::string::npos) << before.body;

  const auto line = reload(reload_section(kSepolia));
  EXPECT_NE(line.find("applied smart_accounts.networks (-Base); changes that need a restart: nothing"),
            std::string::npos)
      << line;
  const auto now = get(record).json().at("data");
  ASSERT_EQ(networks_of(now), (std::set<std::string>{"Base", "EthereumSepolia"}));
  auto refused = activate(record, "Base");
  expect_envelope(refused, 503);
  EXPECT_EQ(str(refused.json(), "message"), "network Base is no longer configured; its account cannot be activated")
      << refused.body;
  EXPECT_EQ(networks_of(create(owner_number(0xb, 1))), (std::set<std::string>{"EthereumSepolia"}));

  restart();
  auto after_restart = activate(record, "Base");
  expect_envelope(after_restart, 503);
  EXPECT_EQ(str(after_restart.json(), "message"), str(refused.json(), "message"));
  EXPECT_EQ(get(record).json().at("data"), now);
}

TEST_F(SmartAccountsReloadTest, TheNextActivationUsesAChangedRpcUrlWhichTheLogNamesWithoutItsSecrets) {
  const auto record = create(kOwner);
  expect_envelope(deposit(record, "5"), 200);
  auto first = activate(record, "EthereumSepolia");
  expect_envelope(first, 503);
  EXPECT_NE(str(first.json(), "message").find("http://127.0.0.1:9"), std::string::npos) << first.body;

  const std::string port = std::to_string(DaemonProcess::free_port());  // nothing listens there
  const std::string changed = network_toml("EthereumSepolia", 11155111, "0.7", "5",
                                           "rpc_url = \"http://user:hunter2@127.0.0.1:" + port +
                                               "/v3/the-api-key?x=1\"\nrelayer_key_id = \"key-relayer\"\n");
  const auto line = reload(reload_section(kBase + changed));
  EXPECT_NE(line.find("applied smart_accounts.networks (EthereumSepolia: rpc_url=http://127.0.0.1:" + port +
                      "); changes that need a restart: nothing"),
            std::string::npos)
      << line;
  auto second = activate(record, "EthereumSepolia");
  expect_envelope(second, 503);
  EXPECT_NE(str(second.json(), "message").find("http://127.0.0.1:" + port), std::string::npos) << second.body;
  EXPECT_EQ(second.body.find("the-api-key"), std::string::npos) << second.body;
  // The background check runs again for the changed network (once at start, once now), and no secret is logged.
  EXPECT_TRUE(await_log("EthereumSepolia: the node is not reachable now", 2)) << daemon_->log();
  const auto log = daemon_->log();
  EXPECT_EQ(log.find("the-api-key"), std::string::npos) << log;
  EXPECT_EQ(log.find("hunter2"), std::string::npos) << log;
  const auto after = get(record).json().at("data");
  EXPECT_EQ(str(after.at("gasTanks").at(0), "balance"), "5");
  EXPECT_EQ(str(by_network(after)["EthereumSepolia"], "status"), "not_deployed");
}

TEST_F(SmartAccountsReloadTest, AChangeOfAnAccountsAddressIsNotAppliedAndIsNamedAsNeedingARestart) {
  const auto record = create(kOwner);
  ASSERT_EQ(str(by_network(record)["Base"], "aaAddress"), kOwnerV08Address);
  expect_envelope(deposit(record, "1000000"), 200);
  // Another factory (and so another implementation) and an rpc_url for Base, a new fee for EthereumSepolia, and
  // [smart_accounts] keys that are read at start only.
  const std::string base = network_toml("Base", 8453, "0.8", "1000000",
                                        "factory = \"0x00000000000000000000000000000000000000f1\"\n"
                                        "rpc_url = \"http://127.0.0.1:9\"\nrelayer_key_id = \"key-relayer\"\n");
  const std::string sepolia = network_toml("EthereumSepolia", 11155111, "0.7", "2000000",
                                           "rpc_url = \"http://127.0.0.1:9\"\nrelayer_key_id = \"key-relayer\"\n");
  const std::string changed =
      "[smart_accounts]\ngas_tank_token = { name = \"USDC\", decimals = 6 }\n"
      "poll_interval_ms = 100\nrpc_timeout_ms = 3000\n" +
      base + sepolia;
  const auto line = reload(changed);
  EXPECT_NE(line.find("applied smart_accounts.networks (EthereumSepolia: activation_fee=2000000); changes that need "
                      "a restart: smart_accounts.networks.Base.factory, smart_accounts.networks.Base.implementation, "
                      "smart_accounts.networks.Base.rpc_url, smart_accounts.networks.Base.relayer_key_id, "
                      "smart_accounts.gas_tank_token, smart_accounts.rpc_timeout_ms"),
            std::string::npos)
      << line;
  // Base is as it was: the same address for a new record (another app's, for the same owner), and still no
  // rpc_url. EthereumSepolia's fee is new. The token of new records is still USDT.
  const App other = create_app("other");
  auto fresh = call("POST", "/api/v1/smart-account",
                    std::string(R"({"owner":{"id":")") + kOwner + R"(","provider":"wallet"}})", other);
  expect_envelope(fresh, 200);
  EXPECT_EQ(str(by_network(fresh.json().at("data"))["Base"], "aaAddress"), kOwnerV08Address);
  EXPECT_EQ(str(fresh.json().at("data").at("gasTanks").at(0), "tokenName"), "USDT");
  auto base_activation = activate(record, "Base");
  expect_envelope(base_activation, 503);
  EXPECT_NE(str(base_activation.json(), "message").find("no rpc_url"), std::string::npos) << base_activation.body;
  auto sepolia_activation = activate(record, "EthereumSepolia");
  expect_envelope(sepolia_activation, 400);
  EXPECT_EQ(str(sepolia_activation.json().at("data"), "activationFee"), "2000000") << sepolia_activation.body;
  // Reloading the same file again says the same: still not applied.
  EXPECT_NE(reload(changed).find("applied nothing; changes that need a restart: smart_accounts.networks.Base.factory"),
            std::string::npos);

  // A restart applies it: new records get the other factory's address, and the existing account, made with the
  // canonical one, is refused rather than deployed at another address than the one it was given.
  restart();
  auto after = call("POST", "/api/v1/smart-account",
                    std::string(R"({"owner":{"id":")") + kOwner + R"(","provider":"wallet"}})", create_app("third"));
  expect_envelope(after, 200);
  EXPECT_NE(str(by_network(after.json().at("data"))["Base"], "aaAddress"), kOwnerV08Address);
  auto refused = activate(record, "Base");
  expect_envelope(refused, 503);
  EXPECT_NE(str(refused.json(), "message").find("another chain, account version or address derivation"),
            std::string::npos)
      << refused.body;
}

TEST_F(SmartAccountsReloadTest, AnInvalidNetworkListIsRefusedWholeAndNothingChanges) {
  auto c = daemon_->unix_client();
  auto ed = c.request("POST", "/keys", R"({"scheme":"EdDSA","curve":"ed25519"})");
  ASSERT_EQ(ed.status, 200) << ed.body;
  const std::string ed_key = str(ed.json(), "id");
  const std::string sepolia_with =
      network_toml("EthereumSepolia", 11155111, "0.7", "5", "rpc_url = \"http://127.0.0.1:9\"\n");
  struct Case {
    std::string networks, says;
  };
  const std::vector<Case> cases = {
      {kBase + kSepolia + network_toml("BaseSepolia", 84532, "0.8", "7", "rpc_url = \"http://127.0.0.1:99999\"\n"),
       "smart_accounts network BaseSepolia: rpc_url"},
      {kBase + kBaseSepolia + sepolia_with + "relayer_key_id = \"key-that-does-not-exist\"\n",
       "the relayer key key-that-does-not-exist (relayer_key_id) is not an active key of this signerd"},
      {kBase + kBaseSepolia + sepolia_with + "relayer_key_id = \"" + ed_key + "\"\n",
       "must be an active, undelegated secp256k1 key"},
      {kBase + kSepolia + network_toml("BaseSepolia", 84532, "0.8", "7", "proxy_creation_code_file = \"none.hex\"\n"),
       "proxy_creation_code_file: cannot read"},
      {kBase + kSepolia +
           network_toml("BaseSepolia", 84532, "0.8", "7",
                        "factory = \"0x91e60e0613810449d098b0b5ec8b51a0fe8c8985\"\n"
                        "entry_point = \"0x0000000071727dE22E5E9D8BAf0edAc6f37da032\"\n"),
       "entry_point"},
  };
  const auto record = create(kOwner);
  expect_envelope(deposit(record, "5"), 200);
  for (const auto& k : cases) {
    const auto line = reload(reload_section(k.networks));
    EXPECT_NE(line.find("reload refused, keeping the running configuration: "), std::string::npos) << line;
    EXPECT_NE(line.find(k.says), std::string::npos) << line;
    // Nothing of it was taken: no BaseSepolia, EthereumSepolia's endpoint and fee as they were.
    EXPECT_EQ(networks_of(create(owner_number(0xc, static_cast<int>(&k - cases.data())))),
              (std::set<std::string>{"Base", "EthereumSepolia"}));
    auto activation = activate(record, "EthereumSepolia");
    expect_envelope(activation, 503);
    EXPECT_NE(str(activation.json(), "message").find("http://127.0.0.1:9"), std::string::npos) << activation.body;
  }
  // The same list, made valid, is taken.
  EXPECT_NE(
      reload(reload_section(kBase + kSepolia + kBaseSepolia)).find("applied smart_accounts.networks (+BaseSepolia)"),
      std::string::npos);
}

TEST_F(SmartAccountsReloadTest, ADeploymentInFlightOnANetworkARemovedIsFollowedToTheEnd) {
  FakeNode node(11155111);
  auto c = daemon_->unix_client();
  auto key = c.request("POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256k1"})");
  ASSERT_EQ(key.status, 200) << key.body;
  const std::string relayer = str(key.json(), "id");
  const std::string live = network_toml("EthereumSepolia", 11155111, "0.7", "5",
                                        "rpc_url = \"" + node.url() + "\"\nrelayer_key_id = \"" + relayer + "\"\n");
  const auto line = reload(reload_section(kBase + live));
  EXPECT_NE(line.find("applied smart_accounts.networks (EthereumSepolia: rpc_url=" + node.url() +
                      " relayer_key_id=" + relayer + ")"),
            std::string::npos)
      << line;
  // The background check of the changed network, against its new node.
  EXPECT_TRUE(await_log("smart accounts: EthereumSepolia: chain 11155111 at " + node.url() + ", factory"))
      << daemon_->log();

  const auto record = create(kOwner);
  const auto waiting = create(owner_number(0xb, 1));
  expect_envelope(deposit(record, "5"), 200);
  expect_envelope(deposit(waiting, "5"), 200);
  node.expect_account(str(by_network(record)["EthereumSepolia"], "aaAddress"));
  auto started = activate(record, "EthereumSepolia");
  expect_envelope(started, 202);
  EXPECT_EQ(node.sent(), 1);
  EXPECT_EQ(str(by_network(get(record).json().at("data"))["EthereumSepolia"], "status"), "deploying");

  EXPECT_NE(reload(reload_section(kBase)).find("applied smart_accounts.networks (-EthereumSepolia)"),
            std::string::npos);
  auto refused = activate(waiting, "EthereumSepolia");
  expect_envelope(refused, 503);
  EXPECT_NE(str(refused.json(), "message").find("no longer configured"), std::string::npos) << refused.body;
  EXPECT_EQ(node.sent(), 1);

  // Mined: the watcher, following the removed network with the configuration it was sent with, finishes it.
  node.mine();
  const json::value account = settled(record, "EthereumSepolia");
  EXPECT_EQ(str(account, "status"), "deployed") << account << "\n" << daemon_->log();
  EXPECT_EQ(str(get(record).json().at("data").at("gasTanks").at(0), "balance"), "0");
  EXPECT_EQ(node.sent(), 1);
}

// Requests and the watcher run while reloads swap the list back and forth: every record gets one whole list, every
// activation one network's settings, and the daemon (under TSan in scripts/test) shows no race.
TEST_F(SmartAccountsReloadTest, ReloadsDuringRequestsNeverShowHalfAList) {
  const std::string port = std::to_string(DaemonProcess::free_port());
  const std::string small = reload_section(kBase + kSepolia);
  const std::string large =
      reload_section(kBaseSepolia + kBase +
                     network_toml("EthereumSepolia", 11155111, "0.7", "6",
                                  "rpc_url = \"http://127.0.0.1:" + port + "\"\nrelayer_key_id = \"key-relayer\"\n") +
                     network_toml("OptimismSepolia", 11155420, "0.7", "3"));
  const std::set<std::string> small_set{"Base", "EthereumSepolia"};
  const std::set<std::string> large_set{"Base", "EthereumSepolia", "BaseSepolia", "OptimismSepolia"};
  std::atomic<bool> done{false};
  std::atomic<int> records{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  auto record_failure = [&](std::string what) {
    std::lock_guard lock(failures_mutex);
    failures.push_back(std::move(what));
  };
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; !done; ++i) {
        try {
          auto r =
              call("POST", "/api/v1/smart-account",
                   json::serialize(json::object{{"owner", {{"id", owner_number(t + 1, i)}, {"provider", "wallet"}}}}));
          if (r.status != 200) {
            record_failure("create: " + r.body);
            continue;
          }
          const auto record = r.json().at("data");
          const auto names = networks_of(record);
          if (names != small_set && names != large_set) record_failure("a half list: " + r.body);
          ++records;
          deposit(record, "5");
          // 503 (no node at either endpoint) or 400 (the large list's fee, 6): never anything else.
          auto a = activate(record, "EthereumSepolia");
          if (a.status != 503 && a.status != 400) record_failure("activate: " + a.body);
          if (a.status == 503 && str(a.json(), "message").find("http://127.0.0.1:") == std::string::npos) {
            record_failure("activate: " + a.body);
          }
          auto g = get(record);
          if (g.status != 200 || networks_of(g.json().at("data")) != names) record_failure("get: " + g.body);
        } catch (const std::exception& e) {  // the daemon went away (under TSan: a race it reported)
          record_failure(std::string("a request failed: ") + e.what());
          return;
        }
      }
    });
  }
  for (int i = 0; i < 16 && daemon_->running(); ++i) {
    const auto line = reload(i % 2 == 0 ? large : small);
    EXPECT_NE(line.find("applied smart_accounts.networks ("), std::string::npos) << line;
  }
  done = true;
  for (auto& t : clients) t.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, the first: " << failures.front();
  EXPECT_GT(records.load(), 3);
  ASSERT_TRUE(daemon_->running()) << daemon_->log();
}


TEST_F(SmartAccountsReloadTest, ADeploymentIsNeverResentOrSettledThroughANodeOfAnotherChain) {
  FakeNode node(11155111);
  FakeNode other_chain(1);
  auto c = daemon_->unix_client();
  auto key = c.request("POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256k1"})");
  ASSERT_EQ(key.status, 200) << key.body;
  const std::string relayer = str(key.json(), "id");
  auto sepolia_at = [&](const FakeNode& n) {
    return network_toml("EthereumSepolia", 11155111, "0.7", "5",
                        "rpc_url = \"" + n.url() + "\"\nrelayer_key_id = \"" + relayer + "\"\n");
  };
  reload(reload_section(kBase + sepolia_at(node)));
  const auto record = create(kOwner);
  expect_envelope(deposit(record, "5"), 200);
  node.expect_account(str(by_network(record)["EthereumSepolia"], "aaAddress"));
  expect_envelope(activate(record, "EthereumSepolia"), 202);
  ASSERT_EQ(node.sent(), 1);

  // rpc_url now points at a node of chain 1, which knows nothing of the transaction: the watcher must neither
  // resend it there nor take that node's word to release the fee.
  const auto line = reload(reload_section(kBase + sepolia_at(other_chain)));
  EXPECT_NE(line.find("applied smart_accounts.networks (EthereumSepolia: rpc_url=" + other_chain.url() + ")"),
            std::string::npos)
      << line;
  EXPECT_TRUE(await_log("but its node serves chain 1", 2)) << daemon_->log();
  EXPECT_EQ(other_chain.sent(), 0);
  auto held = get(record).json().at("data");
  EXPECT_EQ(str(by_network(held)["EthereumSepolia"], "status"), "deploying");
  EXPECT_EQ(str(held.at("gasTanks").at(0), "balance"), "0");  // still reserved

  // Back on its own chain's node, the transaction is followed to the end, sent once and charged once.
  reload(reload_section(kBase + sepolia_at(node)));
  node.mine();
  const json::value account = settled(record, "EthereumSepolia");
  EXPECT_EQ(str(account, "status"), "deployed") << account << "\n" << daemon_->log();
  EXPECT_EQ(str(get(record).json().at("data").at("gasTanks").at(0), "balance"), "0");
  EXPECT_EQ(node.sent(), 1);
  EXPECT_EQ(other_chain.sent(), 0);
}

// --- At most max_concurrent_activations wait on nodes at once, so key signing keeps a worker.

// A JSON-RPC endpoint that takes connections (the kernel's backlog) and never answers: every call waits for the
// daemon's rpc_timeout_ms.
class SilentNode {
 public:
  SilentNode() : fd_(listen_on_loopback(64, port_)) {}
  ~SilentNode() { ::close(fd_); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::uint16_t port_ = 0;  // before fd_: set by listen_on_loopback() in fd_'s initialiser
  int fd_ = -1;
};

class SmartAccountsBusyNodeTest : public SmartAccountsReloadTest {
 protected:
  // Two API workers, one activation at a time, and a node that answers nothing within 4 s.
  std::string smart_config() const override {
    return "[server]\nworker_threads = 2\n" +
           std::string("[smart_accounts]\ngas_tank_token = { name = \"USDT\", decimals = 6 }\n"
                       "rpc_timeout_ms = 4000\nmax_concurrent_activations = 1\n") +
           network_toml("EthereumSepolia", 11155111, "0.7", "5",
                        "rpc_url = \"" + node_.url() + "\"\nrelayer_key_id = \"key-relayer\"\n");
  }
  SilentNode node_;
};

TEST_F(SmartAccountsBusyNodeTest, ActivationsBeyondTheCapAreRefusedAtOnceAndSigningKeepsAWorker) {
  const auto first = create(kOwner);
  const auto second = create(owner_number(7, 1));
  expect_envelope(deposit(first, "5"), 200);
  expect_envelope(deposit(second, "5"), 200);
  auto keys = daemon_->unix_client();
  auto key = keys.request("POST", "/keys", R"({"scheme":"ECDSA","curve":"secp256k1"})");
  ASSERT_EQ(key.status, 200) << key.body;
  const std::string key_id = str(key.json(), "id");

  // The first activation takes the one slot and a worker while it waits on the silent node.
  std::atomic<bool> first_done{false};
  HttpReply first_reply;
  std::thread waiting([&] {
    first_reply = activate(first, "EthereumSepolia");
    first_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_FALSE(first_done) << "the first activation should still wait on the node: " << first_reply.body;

  const auto started = std::chrono::steady_clock::now();
  auto refused = activate(second, "EthereumSepolia");
  const auto refused_after = std::chrono::steady_clock::now() - started;
  expect_envelope(refused, 503);
  EXPECT_NE(str(refused.json(), "message").find("1 activations are already in progress"), std::string::npos)
      << refused.body;
  EXPECT_EQ(refused.json().at("data").at("maxConcurrentActivations").to_number<int>(), 1) << refused.body;
  EXPECT_LT(refused_after, std::chrono::milliseconds(2500)) << "refused only after waiting on the node itself";

  // The other worker still signs while the first activation waits.
  const auto sign_started = std::chrono::steady_clock::now();
  auto signature = keys.request("POST", "/keys/" + key_id + "/signatures",
                                R"({"kind":"Hash","hash":"0x)" + std::string(64, 'a') + R"("})");
  const auto sign_took = std::chrono::steady_clock::now() - sign_started;
  EXPECT_EQ(signature.status, 200) << signature.body;
  EXPECT_LT(sign_took, std::chrono::milliseconds(2500));
  EXPECT_FALSE(first_done) << "the signature should not have waited for the activation";

  waiting.join();
  expect_envelope(first_reply, 503);  // the node never answered
  EXPECT_NE(str(first_reply.json(), "message").find(node_.url()), std::string::npos) << first_reply.body;
  // Nothing of the refused activation was written: the account is still not_deployed and the tank untouched.
  const auto after = get(second).json().at("data");
  EXPECT_EQ(str(after.at("gasTanks").at(0), "balance"), "5");
  EXPECT_EQ(str(by_network(after)["EthereumSepolia"], "status"), "not_deployed");
  // With the slot free again, the next activation gets as far as the node.
  auto retried = activate(second, "EthereumSepolia");
  expect_envelope(retried, 503);
  EXPECT_NE(str(retried.json(), "message").find(node_.url()), std::string::npos) << retried.body;
}

}  // namespace
}  // namespace signerd::testing

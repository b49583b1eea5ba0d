// The daemon's component logs end to end: the built signerd with a real SoftHSM token behind the fault-injecting
// module. hsm and store lines appear at the levels docs/operations.md §5.2 gives when their component is at debug,
// and not when it is at warn; an HSM fault shows the failing call, its CKR_ name and the recovery; and with every
// component at trace, no PIN, token, user-action token or application secret reaches the log.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/support/daemon_fixture.h"
#include "tests/support/dfns_client.h"

namespace signerd::testing {
namespace {

namespace json = boost::json;

// The token's user PIN for these tests: long and unusual, so that finding it anywhere in the log means it was logged
// (and unlike a short PIN, it cannot turn up by chance inside a number or an id).
constexpr const char* kPin = "pin-e2e-5309-must-never-be-logged";
const std::string kSecp256k1 = R"({"scheme":"ECDSA","curve":"secp256k1"})";
const std::string kSign = R"({"kind":"Hash","hash":"0x)" + std::string(62, '1') + R"(ab"})";

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class LoggingTest : public ::testing::Test {
 protected:
  // A daemon on the fault module (faults from control_), its token's PIN changed to kPin, and `log_section` as the
  // body of its [log] section.
  void make_daemon(const std::string& log_section) {
    control_ = scratch_.path() / "fault-control";
    daemon_ = std::make_unique<DaemonProcess>(DaemonOptions{
        .module = SIGNERD_P11FAULT_MODULE,
        .env = {{"P11FAULT_REAL_MODULE", SoftHsmToken::module_path()}, {"P11FAULT_CONTROL", control_.string()}}});
    const std::string change_pin = "pkcs11-tool --module " + SoftHsmToken::module_path() + " --token-label " +
                                   daemon_->token().label() + " --login --pin " + daemon_->token().pin() +
                                   " --change-pin --new-pin " + kPin + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(change_pin.c_str()), 0);
    std::ofstream(daemon_->dir() / "pin", std::ios::trunc) << kPin << "\n";  // the file stays 0600

    std::stringstream config;
    config << std::ifstream(daemon_->config_path()).rdbuf();
    std::string text = config.str();
    const std::string fixture_log = "[log]\nlevel = \"info\"\n";
    const auto at = text.find(fixture_log);
    ASSERT_NE(at, std::string::npos) << text;
    text.replace(at, fixture_log.size(), "[log]\n" + log_section);
    std::ofstream(daemon_->config_path(), std::ios::trunc) << text;
  }
  void TearDown() override {
    if (daemon_ && daemon_->running()) {
      EXPECT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
    }
  }
  std::string create_key(HttpClient& c) {
    auto r = c.request("POST", "/keys", kSecp256k1);
    EXPECT_EQ(r.status, 200) << r.body;
    return str(r.json(), "id");
  }
  void fault(const std::string& how) { std::ofstream(control_, std::ios::trunc) << how << "\n"; }
  void heal() { std::filesystem::remove(control_); }

  TempDir scratch_;
  std::filesystem::path control_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(LoggingTest, HsmAndStoreAtDebugShowStartKeysFaultsAndRecoveryWhileTheRestStaysAtWarn) {
  make_daemon("level = \"warn\"\ncomponents = { hsm = \"debug\", store = \"debug\" }\n");
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto c = daemon_->unix_client();
  const auto key = create_key(c);
  ASSERT_EQ(c.request("POST", "/keys/" + key + "/signatures", kSign).status, 200);
  fault("device_error C_Sign");
  expect_error_body(c.request("POST", "/keys/" + key + "/signatures", kSign), 503);
  heal();
  ASSERT_EQ(c.request("POST", "/keys/" + key + "/signatures", kSign).status, 200);
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();

  const auto log = daemon_->log();
  // Start: the module and the login once, at info; the database opened after its migrations.
  EXPECT_EQ(count(log, std::string(" info hsm module initialised path=") + SIGNERD_P11FAULT_MODULE), 1u) << log;
  EXPECT_EQ(count(log, " info hsm logged in user=CKU_USER token=\"e2e\" serial="), 1u) << log;
  EXPECT_NE(log.find(" info store migration applied from=0 to=1 ms="), std::string::npos) << log;
  EXPECT_NE(log.find(" info store opened path=" + daemon_->db_path().string() + " created=true schema_version="),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(" journal_mode=wal "), std::string::npos) << log;
  EXPECT_NE(log.find(" info store reconciliation keys_creating=0 activated=0 failed=0 ms="), std::string::npos) << log;
  // The key, at debug.
  EXPECT_NE(log.find(" debug hsm key generated key=" + key + " curve=secp256k1 ms="), std::string::npos) << log;
  // The fault: the failing call by name and CKR_ name, the discarded session, the recovery.
  EXPECT_NE(log.find(" warning hsm call failed function=C_Sign rv=CKR_DEVICE_ERROR"), std::string::npos) << log;
  EXPECT_NE(log.find(" warning hsm session discarded session="), std::string::npos) << log;
  EXPECT_NE(log.find(" warning hsm recovery started attempt=1 reason=\"C_Sign: CKR_DEVICE_ERROR\""), std::string::npos)
      << log;
  EXPECT_NE(log.find(" info hsm recovery finished attempt=1 how=in_place ms="), std::string::npos) << log;
  // Everything else follows log.level = warn.
  for (const char* quiet : {"request method=", "key created", "organisation ", "signerd ready", "listening "}) {
    EXPECT_EQ(log.find(quiet), std::string::npos) << quiet << "\n" << log;
  }
  EXPECT_EQ(log.find(kPin), std::string::npos) << "the PIN must never be logged\n" << log;

  // A restart: the database is there already (no migration), and the key's handle is searched for once.
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto again = daemon_->unix_client();
  ASSERT_EQ(again.request("POST", "/keys/" + key + "/signatures", kSign).status, 200);
  ASSERT_EQ(again.request("POST", "/keys/" + key + "/signatures", kSign).status, 200);
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  const auto second = daemon_->log().substr(log.size());
  EXPECT_NE(second.find(" info store opened path=" + daemon_->db_path().string() + " created=false schema_version="),
            std::string::npos)
      << second;
  EXPECT_EQ(second.find("store migration"), std::string::npos) << second;
  EXPECT_EQ(count(second, " debug hsm key handle cache miss key=" + key + " found=true search_ms="), 1u) << second;
}

TEST_F(LoggingTest, HsmAndStoreAtWarnSayNothingUntilSomethingFails) {
  make_daemon("level = \"info\"\ncomponents = { hsm = \"warn\", store = \"warn\" }\n");
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto c = daemon_->unix_client();
  const auto key = create_key(c);
  ASSERT_EQ(c.request("POST", "/keys/" + key + "/signatures", kSign).status, 200);
  const auto healthy = daemon_->log();
  fault("device_error_once C_Sign");
  expect_error_body(c.request("POST", "/keys/" + key + "/signatures", kSign), 503);
  ASSERT_EQ(c.request("POST", "/keys/" + key + "/signatures", kSign).status, 200);
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();

  EXPECT_NE(healthy.find(" info request method=POST path=/keys status=200"), std::string::npos) << healthy;
  EXPECT_NE(healthy.find(" info key created key=" + key + " scheme=ECDSA curve=secp256k1 principal="),
            std::string::npos)
      << healthy;
  for (const char* quiet : {" hsm ", "store "}) {
    EXPECT_EQ(healthy.find(quiet), std::string::npos) << quiet << "\n" << healthy;
  }
  const auto faulty = daemon_->log().substr(healthy.size());
  EXPECT_NE(faulty.find(" warning hsm call failed function=C_Sign rv=CKR_DEVICE_ERROR"), std::string::npos) << faulty;
  EXPECT_NE(faulty.find(" warning hsm recovery started attempt=1"), std::string::npos) << faulty;
  EXPECT_EQ(faulty.find("hsm recovery finished"), std::string::npos) << "info, below warn\n" << faulty;
}

TEST_F(LoggingTest, NoSecretReachesTheLogEvenWithEveryComponentAtTrace) {
  make_daemon(
      "level = \"trace\"\n"
      "components = { hsm = \"trace\", store = \"trace\", api = \"trace\", server = \"trace\", "
      "identity = \"trace\" }\n");
  ASSERT_TRUE(daemon_->start()) << daemon_->log();
  auto admin = daemon_->unix_client();
  const auto sa = create_service_account(admin, "logged-sa", true);
  auto login_client = daemon_->tcp_client();
  const auto user = create_end_user(admin, login_client, "log-user@example.com");

  // A key made by the service account with a user action whose token the test keeps, then a signature.
  DfnsSession session(daemon_->tcp_client(), sa.token, sa.cred_id, sa.credential);
  const auto ua = session.user_action("POST", "/keys", kSecp256k1);
  ASSERT_TRUE(ua.token) << ua.refusal.body;
  auto created = session.raw("POST", "/keys", kSecp256k1, {{"x-dfns-useraction", *ua.token}});
  ASSERT_EQ(created.status, 200) << created.body;
  const auto key = str(created.json(), "id");
  ASSERT_EQ(session.mutate("POST", "/keys/" + key + "/signatures", kSign).status, 200);
  // The end user's token in use, and a token that is not one.
  auto tcp = daemon_->tcp_client();
  EXPECT_EQ(tcp.request("GET", "/keys", "", {{"Authorization", "Bearer " + user.token}}).status, 200);
  EXPECT_EQ(tcp.request("GET", "/keys", "", {{"Authorization", "Bearer not-a-token-7Qx9"}}).status, 401);
  // A smart-account application: its secret is shown once, kept in the HSM.
  auto app = admin.request("POST", "/smart-account-apps", R"({"name":"logged-app"})");
  ASSERT_EQ(app.status, 200) << app.body;
  const auto app_secret = str(app.json(), "secret");
  ASSERT_FALSE(app_secret.empty()) << app.body;

  // The HSM fails everything for a while, then comes back.
  fault("device_error");
  expect_error_body(admin.request("POST", "/keys/" + key + "/signatures", kSign), 503);
  expect_error_body(admin.request("POST", "/keys", kSecp256k1), 503);
  heal();
  ASSERT_EQ(admin.request("POST", "/keys/" + key + "/signatures", kSign).status, 200);
  ASSERT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();

  const auto log = daemon_->log();
  const std::pair<const char*, std::string> secrets[] = {
      {"the PIN", kPin},
      {"the service account's token", sa.token},
      {"the login token", user.token},
      {"the user-action token", *ua.token},
      {"the application secret", app_secret},
      {"a bearer token that was refused", "not-a-token-7Qx9"},
  };
  for (const auto& [what, secret] : secrets) {
    EXPECT_EQ(log.find(secret), std::string::npos) << what << " is in the log:\n" << log;
  }
  // The lines that were there to leak them are there.
  for (const std::string& expected : {
           std::string(" info hsm logged in user=CKU_USER"),
           " info service account created user=" + sa.user_id,
           " info login user=" + user.user_id + " kind=EndUser",
           " debug user action issued principal=" + sa.user_id,
           " info key created key=" + key + " scheme=ECDSA curve=secp256k1 principal=" + sa.user_id,
           std::string(" debug authentication refused reason="),
           std::string(" debug hsm hmac key imported key="),
           std::string(" warning hsm call failed function=C_SignInit rv=CKR_DEVICE_ERROR"),
           std::string(" error hsm recovery failed attempt=1 reason=\"C_OpenSession: CKR_DEVICE_ERROR\""),
           std::string(" info hsm recovery finished attempt=2 how=reinitialise"),
           std::string(" trace store batch committed ms="),
       }) {
    EXPECT_NE(log.find(expected), std::string::npos) << expected << "\n" << log;
  }
}

}  // namespace
}  // namespace signerd::testing

// What hsm/ logs, and at which level, against a real SoftHSM token: the module and the login once at start (info,
// never the PIN), key generation and handle-cache misses (debug), failed PKCS#11 calls, discarded sessions, recovery
// and lease timeouts (warn/info/error). Faults come from the signerd_p11fault wrapper; lines are captured with an
// ostream sink installed on the component loggers.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "common/log.h"
#include "hsm/hsm.h"
#include "tests/support/captured_log.h"
#include "tests/support/hsm_options.h"
#include "tests/support/p11_fault.h"
#include "tests/support/softhsm_token.h"

namespace signerd::hsm {
namespace {

using namespace std::chrono_literals;

// Long and unusual, so that finding it anywhere in the log means it was logged.
constexpr const char* kPin = "pin-7Qx9-must-never-be-logged";

using signerd::testing::CapturedLog;

const Bytes kDigest(32, 0x42);

class HsmLogTest : public ::testing::Test {
 protected:
  void SetUp() override { log(LogComponent::kHsm).set_level(spdlog::level::debug); }

  HsmOptions options(unsigned sessions = 2, std::chrono::milliseconds lease_timeout = 5000ms) {
    return testing::hsm_options(token_, SIGNERD_P11FAULT_MODULE, sessions, lease_timeout);
  }
  std::unique_ptr<Hsm> open(HsmOptions o) { return testing::open_hsm(std::move(o)); }
  void set_control(const std::string& content) { faults_.set(content); }
  void clear_control() { faults_.clear(); }
  static std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

  CapturedLog captured_;
  testing::SoftHsmToken token_{"hsm-log", kPin, "so-pin-4242"};
  testing::P11FaultControl faults_{token_};
};

TEST_F(HsmLogTest, StartLogsTheModuleAndTheLoginOnceAtInfoAndNeverThePin) {
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  const auto text = captured_.text();
  EXPECT_EQ(count(text, std::string("info hsm module initialised path=") + SIGNERD_P11FAULT_MODULE + " library=\""), 1u)
      << text;
  EXPECT_EQ(count(text, "info hsm logged in user=CKU_USER token=\"hsm-log\" serial="), 1u) << text;
  EXPECT_NE(text.find("debug hsm session pool filled sessions=2"), std::string::npos) << text;
  EXPECT_EQ(text.find(kPin), std::string::npos) << "the PIN must never be logged\n" << text;
}

TEST_F(HsmLogTest, AWrongPinIsAFailedC_LoginWithoutThePin) {
  HsmOptions o = options();
  o.pin = SecretString(std::string("wrong-") + kPin);
  ASSERT_FALSE(Hsm::open(std::move(o)));
  const auto text = captured_.text();
  EXPECT_NE(text.find("warning hsm call failed function=C_Login rv=CKR_PIN_INCORRECT"), std::string::npos) << text;
  EXPECT_EQ(text.find("hsm logged in"), std::string::npos) << text;
  EXPECT_EQ(text.find(kPin), std::string::npos) << "the PIN must never be logged\n" << text;
}

TEST_F(HsmLogTest, KeyGenerationAndCacheMissesAreDebugLines) {
  {
    auto hsm = open(options());
    ASSERT_TRUE(hsm);
    ASSERT_TRUE(hsm->generate_key("key-log-1", Curve::kSecp256k1));
    ASSERT_TRUE(hsm->sign("key-log-1", Curve::kSecp256k1, kDigest));  // cached by generate_key: no search
  }
  auto text = captured_.text();
  EXPECT_NE(text.find("debug hsm key generated key=key-log-1 curve=secp256k1 ms="), std::string::npos) << text;
  EXPECT_EQ(text.find("cache miss"), std::string::npos) << text;

  // Another Hsm knows no handle yet: the first signature searches, the second does not.
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  ASSERT_TRUE(hsm->sign("key-log-1", Curve::kSecp256k1, kDigest));
  ASSERT_TRUE(hsm->sign("key-log-1", Curve::kSecp256k1, kDigest));
  EXPECT_FALSE(hsm->sign("key-log-missing", Curve::kSecp256k1, kDigest));
  text = captured_.text();
  EXPECT_EQ(count(text, "debug hsm key handle cache miss key=key-log-1 found=true search_ms="), 1u) << text;
  EXPECT_EQ(count(text, "debug hsm key handle cache miss key=key-log-missing found=false"), 1u) << text;
}

TEST_F(HsmLogTest, AtInfoNothingOnTheKeyOrSigningPathIsLogged) {
  log(LogComponent::kHsm).set_level(spdlog::level::info);
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  const auto after_start = captured_.text().size();
  ASSERT_TRUE(hsm->generate_key("key-log-2", Curve::kEd25519));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(hsm->sign("key-log-2", Curve::kEd25519, kDigest));
  ASSERT_TRUE(hsm->destroy_key("key-log-2"));
  EXPECT_EQ(captured_.text().substr(after_start), "");
}

TEST_F(HsmLogTest, AFailedCallDiscardsItsSessionAndTheNextCallRecoversInPlace) {
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  ASSERT_TRUE(hsm->generate_key("key-log-3", Curve::kP256));
  set_control("device_error C_Sign");
  ASSERT_FALSE(hsm->sign("key-log-3", Curve::kP256, kDigest));
  clear_control();
  ASSERT_TRUE(hsm->sign("key-log-3", Curve::kP256, kDigest));
  const auto text = captured_.text();
  const auto failed = text.find("warning hsm call failed function=C_Sign rv=CKR_DEVICE_ERROR");
  const auto discarded = text.find("warning hsm session discarded session=");
  const auto started = text.find("warning hsm recovery started attempt=1 reason=\"C_Sign: CKR_DEVICE_ERROR\"");
  const auto finished = text.find("info hsm recovery finished attempt=1 how=in_place ms=");
  ASSERT_NE(failed, std::string::npos) << text;
  ASSERT_NE(discarded, std::string::npos) << text;
  ASSERT_NE(started, std::string::npos) << text;
  ASSERT_NE(finished, std::string::npos) << text;
  EXPECT_LT(failed, discarded);
  EXPECT_LT(discarded, started);
  EXPECT_LT(started, finished);
  EXPECT_NE(text.find(" recoveries=1"), std::string::npos) << text;
  EXPECT_NE(text.find("reason=\"C_Sign: CKR_DEVICE_ERROR\"", discarded), std::string::npos) << text;
}

TEST_F(HsmLogTest, RecoveryThatFailsIsAnErrorAndAttemptsAreCountedUntilOneSucceeds) {
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  ASSERT_TRUE(hsm->generate_key("key-log-4", Curve::kSecp256k1));
  set_control("device_error");  // every intercepted call: the login session and new sessions too
  ASSERT_FALSE(hsm->sign("key-log-4", Curve::kSecp256k1, kDigest));
  ASSERT_FALSE(hsm->sign("key-log-4", Curve::kSecp256k1, kDigest));  // recovery attempt 1 fails
  ASSERT_FALSE(hsm->sign("key-log-4", Curve::kSecp256k1, kDigest));  // attempt 2
  clear_control();
  ASSERT_TRUE(hsm->sign("key-log-4", Curve::kSecp256k1, kDigest));  // attempt 3 succeeds
  const auto text = captured_.text();
  EXPECT_NE(text.find("warning hsm call failed function=C_GetSessionInfo rv=CKR_DEVICE_ERROR"), std::string::npos)
      << text;
  EXPECT_NE(text.find("info hsm recovery re-initialising the module attempt=1 why=\"login session: "
                      "C_GetSessionInfo: CKR_DEVICE_ERROR\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("error hsm recovery failed attempt=1 reason=\"C_OpenSession: CKR_DEVICE_ERROR\" ms="),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("error hsm recovery failed attempt=2 "), std::string::npos) << text;
  EXPECT_NE(text.find("info hsm recovery finished attempt=3 how=reinitialise ms="), std::string::npos) << text;
  // The restart inside recovery is not a start: its module and login lines stay at debug.
  EXPECT_EQ(count(text, "info hsm module initialised"), 1u) << text;
  EXPECT_EQ(count(text, "info hsm logged in"), 1u) << text;
  EXPECT_NE(text.find("debug hsm logged in user=CKU_USER"), std::string::npos) << text;
  EXPECT_EQ(text.find(kPin), std::string::npos) << text;
}

TEST_F(HsmLogTest, WhileTheHsmStaysDownOnlyAttemptsOneToFourThenPowersOfTwoAreLogged) {
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  ASSERT_TRUE(hsm->generate_key("key-log-6", Curve::kSecp256k1));
  set_control("device_error");
  ASSERT_FALSE(hsm->sign("key-log-6", Curve::kSecp256k1, kDigest));  // fails, flags recovery
  for (int i = 0; i < 10; ++i) {
    ASSERT_FALSE(hsm->sign("key-log-6", Curve::kSecp256k1, kDigest));  // recovery attempts 1 to 10 fail
  }
  clear_control();
  ASSERT_TRUE(hsm->sign("key-log-6", Curve::kSecp256k1, kDigest));  // attempt 11 succeeds
  const auto text = captured_.text();
  for (int attempt : {1, 2, 3, 4, 8}) {
    EXPECT_EQ(count(text, "error hsm recovery failed attempt=" + std::to_string(attempt) + " "), 1u)
        << attempt << "\n" << text;
  }
  EXPECT_EQ(count(text, "error hsm recovery failed"), 5u) << text;
  EXPECT_EQ(count(text, "warning hsm recovery started"), 5u) << text;
  EXPECT_NE(text.find("only attempts 4, 8, 16, ... are logged"), std::string::npos) << text;
  // The failed calls of the quiet attempts are not logged either: at most those of the sign and of 5 attempts.
  const auto calls = count(text, "warning hsm call failed");
  EXPECT_GE(calls, 5u) << text;
  EXPECT_LE(calls, 1u + 5u * 3u) << text;
  EXPECT_NE(text.find("info hsm recovery finished attempt=11 how=reinitialise"), std::string::npos) << text;
}

TEST_F(HsmLogTest, ALeaseTimeoutIsAWarningWithThePoolsState) {
  auto hsm = open(options(1, 200ms));
  ASSERT_TRUE(hsm);
  ASSERT_TRUE(hsm->generate_key("key-log-5", Curve::kSecp256k1));
  set_control("delay 800 C_Sign");  // holds the only session
  std::optional<Result<Bytes>> first;
  std::thread holder([&] { first = hsm->sign("key-log-5", Curve::kSecp256k1, kDigest); });
  std::this_thread::sleep_for(100ms);
  auto second = hsm->sign("key-log-5", Curve::kSecp256k1, kDigest);
  holder.join();
  clear_control();
  ASSERT_FALSE(second);
  ASSERT_TRUE(first && *first);
  const auto text = captured_.text();
  EXPECT_NE(text.find("warning hsm lease timed out waiting_for=session waited_ms="), std::string::npos) << text;
  EXPECT_NE(text.find(" timeout_ms=200 sessions=1 in_use=1"), std::string::npos) << text;
}

}  // namespace
}  // namespace signerd::hsm

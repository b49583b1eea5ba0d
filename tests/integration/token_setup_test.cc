// hsm::initialize_token against real SoftHSM: the token it makes can be opened with the user PIN it set.
#include <gtest/gtest.h>

#include "hsm/hsm.h"
#include "hsm/token_setup.h"
#include "tests/support/softhsm_token.h"

namespace signerd::hsm {
namespace {

TEST(TokenSetup, InitialisesATokenThatOpensWithTheUserPin) {
  testing::SoftHsmToken existing("already-there");
  auto serial = initialize_token({testing::SoftHsmToken::module_path(), "fresh", SecretString(std::string("so-pin-1")),
                                  SecretString(std::string("user-pin-1"))});
  ASSERT_TRUE(serial) << serial.error().message;
  EXPECT_FALSE(serial->empty());

  HsmOptions o;
  o.module_path = testing::SoftHsmToken::module_path();
  o.token_label = "fresh";
  o.pin = SecretString(std::string("user-pin-1"));
  auto hsm = Hsm::open(std::move(o));
  ASSERT_TRUE(hsm) << hsm.error().message;
  EXPECT_EQ((*hsm)->status().token_serial, *serial);
  auto point = (*hsm)->generate_key("key-token-setup-test", Curve::kSecp256k1);
  EXPECT_TRUE(point) << point.error().message;
}

TEST(TokenSetup, RefusesALabelThatExists) {
  testing::SoftHsmToken existing("already-there");
  auto again = initialize_token({testing::SoftHsmToken::module_path(), "already-there",
                                 SecretString(std::string("so-pin-1")), SecretString(std::string("user-pin-1"))});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
}

TEST(TokenSetup, RefusesBadLabelsAndModules) {
  testing::SoftHsmToken existing;
  EXPECT_FALSE(initialize_token({testing::SoftHsmToken::module_path(), std::string(33, 'x'),
                                 SecretString(std::string("so-pin-1")), SecretString(std::string("user-pin-1"))}));
  auto missing = initialize_token({"/nonexistent.so", "x", SecretString(std::string("so-pin-1")),
                                   SecretString(std::string("user-pin-1"))});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent.so"), std::string::npos);
}

}  // namespace
}  // namespace signerd::hsm

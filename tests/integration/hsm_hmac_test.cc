// hsm::Hsm::import_hmac_key and hmac_sha256 on a real SoftHSM token: the HSM's MAC equals OpenSSL's HMAC-SHA256
// with the same secret, unknown ids are kNotFound, and a key survives a new Hsm (it is a token object).
#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "hsm/hsm.h"
#include "tests/support/hsm_options.h"
#include "tests/support/softhsm_token.h"

namespace signerd::hsm {
namespace {

Bytes openssl_hmac(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  Bytes out(32);
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &size);
  out.resize(size);
  return out;
}

std::unique_ptr<Hsm> open(const testing::SoftHsmToken& token) {
  return testing::open_hsm(testing::hsm_options(token));
}

TEST(HsmHmac, MacEqualsOpenSslsAndSurvivesReopening) {
  testing::SoftHsmToken token;
  Bytes secret(32);
  ASSERT_EQ(RAND_bytes(secret.data(), 32), 1);
  const std::string message = "2025-01-02T03:04:05Z\nPOST\n/api/v1/smart-account\n{\"owner\":{}}";
  {
    auto hsm = open(token);
    ASSERT_TRUE(hsm);
    ASSERT_TRUE(hsm->import_hmac_key("smart-app-1", secret));
    auto mac = hsm->hmac_sha256("smart-app-1", as_bytes(message));
    ASSERT_TRUE(mac) << mac.error().message;
    EXPECT_EQ(*mac, openssl_hmac(secret, as_bytes(message)));
    auto empty = hsm->hmac_sha256("smart-app-1", {});
    ASSERT_TRUE(empty) << empty.error().message;
    EXPECT_EQ(*empty, openssl_hmac(secret, {}));
    auto missing = hsm->hmac_sha256("smart-app-2", as_bytes(message));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  }
  auto again = open(token);  // found by CKA_ID, not from the cache
  ASSERT_TRUE(again);
  auto mac = again->hmac_sha256("smart-app-1", as_bytes(message));
  ASSERT_TRUE(mac) << mac.error().message;
  EXPECT_EQ(*mac, openssl_hmac(secret, as_bytes(message)));
  ASSERT_TRUE(again->destroy_key("smart-app-1"));
  EXPECT_EQ(again->hmac_sha256("smart-app-1", as_bytes(message)).error().code, ErrorCode::kNotFound);
}

TEST(HsmHmac, RefusesShortKeys) {
  testing::SoftHsmToken token;
  auto hsm = open(token);
  ASSERT_TRUE(hsm);
  const Bytes short_key(16, 0x42);
  auto r = hsm->import_hmac_key("smart-app-short", short_key);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace signerd::hsm

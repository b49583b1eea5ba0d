// chains::finalize_ecdsa against signatures OpenSSL makes with keys OpenSSL generates: the output must be low-s,
// verify with OpenSSL, be the same whichever of (r, s) / (r, n - s) the HSM returned, and carry a recovery id that
// libsecp256k1's recovery (secp256k1) or the other parity (P-256) confirms.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include <array>

#include "chains/ecdsa.h"

namespace signerd::chains {
namespace {

struct TestKey {
  EVP_PKEY* pkey = nullptr;
  Bytes public_point;  // uncompressed
  ~TestKey() { EVP_PKEY_free(pkey); }
};

std::unique_ptr<TestKey> make_key(const char* group) {
  auto k = std::make_unique<TestKey>();
  k->pkey = EVP_EC_gen(group);
  std::size_t len = 0;
  EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0, &len);
  k->public_point.resize(len);
  EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, k->public_point.data(), len, &len);
  return k;
}

int curve_nid(EcCurve c) { return c == EcCurve::kSecp256k1 ? NID_secp256k1 : NID_X9_62_prime256v1; }

// Signs the digest as is (no hashing), as CKM_ECDSA does, and returns raw r || s.
Bytes openssl_sign(const TestKey& key, const std::array<std::uint8_t, 32>& digest) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key.pkey, nullptr);
  EVP_PKEY_sign_init(ctx);
  std::size_t len = 0;
  EVP_PKEY_sign(ctx, nullptr, &len, digest.data(), digest.size());
  Bytes der(len);
  EVP_PKEY_sign(ctx, der.data(), &len, digest.data(), digest.size());
  EVP_PKEY_CTX_free(ctx);
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  Bytes raw(64);
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw.data() + 32, 32);
  ECDSA_SIG_free(sig);
  return raw;
}

bool openssl_verify(const TestKey& key, const std::array<std::uint8_t, 32>& digest, const EcdsaSignature& sig) {
  const Bytes der = der_encode(sig);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key.pkey, nullptr);
  EVP_PKEY_verify_init(ctx);
  const int ok = EVP_PKEY_verify(ctx, der.data(), der.size(), digest.data(), digest.size());
  EVP_PKEY_CTX_free(ctx);
  return ok == 1;
}

// (r, n - s): the other valid form of the same signature.
Bytes flip_s(EcCurve curve, const Bytes& raw) {
  EC_GROUP* group = EC_GROUP_new_by_curve_name(curve_nid(curve));
  BIGNUM* s = BN_bin2bn(raw.data() + 32, 32, nullptr);
  BN_sub(s, EC_GROUP_get0_order(group), s);
  Bytes out = raw;
  BN_bn2binpad(s, out.data() + 32, 32);
  BN_free(s);
  EC_GROUP_free(group);
  return out;
}

bool is_low_s(EcCurve curve, const EcdsaSignature& sig) {
  EC_GROUP* group = EC_GROUP_new_by_curve_name(curve_nid(curve));
  BIGNUM* half = BN_dup(EC_GROUP_get0_order(group));
  BN_rshift1(half, half);
  BIGNUM* s = BN_bin2bn(sig.s.data(), 32, nullptr);
  const bool low = BN_cmp(s, half) <= 0;
  BN_free(s);
  BN_free(half);
  EC_GROUP_free(group);
  return low;
}

class FinalizeEcdsa : public ::testing::TestWithParam<EcCurve> {};

TEST_P(FinalizeEcdsa, NormalisesToLowSAndVerifiesWithOpenSsl) {
  const EcCurve curve = GetParam();
  auto key = make_key(curve == EcCurve::kSecp256k1 ? "secp256k1" : "P-256");
  for (int i = 0; i < 50; ++i) {
    std::array<std::uint8_t, 32> digest{};
    RAND_bytes(digest.data(), 32);
    const Bytes raw = openssl_sign(*key, digest);
    auto a = finalize_ecdsa(curve, digest, raw, key->public_point);
    auto b = finalize_ecdsa(curve, digest, flip_s(curve, raw), key->public_point);
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_TRUE(b) << b.error().message;
    EXPECT_TRUE(is_low_s(curve, *a));
    EXPECT_EQ(a->r, b->r);
    EXPECT_EQ(a->s, b->s);
    EXPECT_EQ(a->recid, b->recid) << "the recovery id must follow the normalised s";
    EXPECT_TRUE(a->recid == 0 || a->recid == 1);
    EXPECT_TRUE(openssl_verify(*key, digest, *a));
    // The compressed public key gives the same result.
    auto compressed = compress_point(key->public_point);
    ASSERT_TRUE(compressed);
    auto c = finalize_ecdsa(curve, digest, raw, *compressed);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->recid, a->recid);
  }
}

TEST_P(FinalizeEcdsa, RejectsASignatureByAnotherKey) {
  const EcCurve curve = GetParam();
  const char* group = curve == EcCurve::kSecp256k1 ? "secp256k1" : "P-256";
  auto signer = make_key(group);
  auto other = make_key(group);
  std::array<std::uint8_t, 32> digest{};
  RAND_bytes(digest.data(), 32);
  auto r = finalize_ecdsa(curve, digest, openssl_sign(*signer, digest), other->public_point);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
}

TEST_P(FinalizeEcdsa, RejectsMalformedInputs) {
  const EcCurve curve = GetParam();
  auto key = make_key(curve == EcCurve::kSecp256k1 ? "secp256k1" : "P-256");
  std::array<std::uint8_t, 32> digest{};
  const Bytes raw = openssl_sign(*key, digest);
  EXPECT_FALSE(finalize_ecdsa(curve, std::span(digest).first(31), raw, key->public_point));
  EXPECT_FALSE(finalize_ecdsa(curve, digest, Bytes(63), key->public_point));
  EXPECT_FALSE(finalize_ecdsa(curve, digest, raw, Bytes(64, 4)));
  EXPECT_FALSE(finalize_ecdsa(curve, digest, Bytes(64, 0), key->public_point));  // r = s = 0
}

// finalize_ecdsa remembers the uncompressed form of compressed keys per thread; a remembered key must still be
// checked against every signature, and the cache must not carry a key over from one curve to the other.
TEST_P(FinalizeEcdsa, ARememberedCompressedKeyIsStillCheckedEveryTime) {
  const EcCurve curve = GetParam();
  const char* group = curve == EcCurve::kSecp256k1 ? "secp256k1" : "P-256";
  auto signer = make_key(group);
  auto other = make_key(group);
  const auto compressed = compress_point(signer->public_point);
  ASSERT_TRUE(compressed);
  for (int i = 0; i < 3; ++i) {
    std::array<std::uint8_t, 32> digest{};
    RAND_bytes(digest.data(), 32);
    auto good = finalize_ecdsa(curve, digest, openssl_sign(*signer, digest), *compressed);
    ASSERT_TRUE(good) << good.error().message;
    EXPECT_TRUE(openssl_verify(*signer, digest, *good));
    auto bad = finalize_ecdsa(curve, digest, openssl_sign(*other, digest), *compressed);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::kInternal);
  }
  // The same 33 bytes under the other curve are another point (or none): never the remembered one.
  const EcCurve other_curve = curve == EcCurve::kSecp256k1 ? EcCurve::kP256 : EcCurve::kSecp256k1;
  std::array<std::uint8_t, 32> digest{};
  EXPECT_FALSE(finalize_ecdsa(other_curve, digest, openssl_sign(*signer, digest), *compressed));
}

TEST_P(FinalizeEcdsa, RejectsACompressedKeyThatIsNotOnTheCurve) {
  const EcCurve curve = GetParam();
  auto key = make_key(curve == EcCurve::kSecp256k1 ? "secp256k1" : "P-256");
  std::array<std::uint8_t, 32> digest{};
  const Bytes raw = openssl_sign(*key, digest);
  // About half of all x have no y on the curve; x = 0..63 contains such values for both curves.
  int refused = 0;
  for (std::uint8_t x = 0; x < 64; ++x) {
    Bytes point(33, 0);
    point[0] = 0x02;
    point[32] = x;
    auto r = finalize_ecdsa(curve, digest, raw, point);
    ASSERT_FALSE(r);  // never our key
    if (r.error().code == ErrorCode::kInvalidArgument) ++refused;
  }
  EXPECT_GT(refused, 0) << "no x in 0..63 was refused as off the curve";
}

INSTANTIATE_TEST_SUITE_P(Curves, FinalizeEcdsa, ::testing::Values(EcCurve::kSecp256k1, EcCurve::kP256),
                         [](const auto& info) { return info.param == EcCurve::kSecp256k1 ? "secp256k1" : "P256"; });

TEST(CompressPoint, UsesTheParityOfY) {
  Bytes point(65, 0);
  point[0] = 0x04;
  point[1] = 0xaa;
  point[64] = 0x01;
  auto c = compress_point(point);
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)[0], 0x03);
  EXPECT_EQ((*c)[1], 0xaa);
  point[64] = 0x02;
  EXPECT_EQ((*compress_point(point))[0], 0x02);
  EXPECT_FALSE(compress_point(Bytes(33, 2)));
}

TEST(DerEncode, MatchesAKnownEncoding) {
  EcdsaSignature sig;
  sig.r.fill(0);
  sig.s.fill(0);
  sig.r[31] = 1;
  sig.s[0] = 0x80;  // high bit set: DER needs a leading zero byte
  const Bytes der = der_encode(sig);
  EXPECT_EQ(to_hex(der), "3026020101022100" "80" + std::string(62, '0'));
}

}  // namespace
}  // namespace signerd::chains

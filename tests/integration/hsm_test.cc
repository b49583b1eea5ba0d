// hsm/ against a real SoftHSM token; signatures are checked with OpenSSL, key attributes through a raw PKCS#11
// session of the test's own, and faults are injected with the signerd_p11fault wrapper module.
#include "hsm/hsm.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "hsm/ec_encoding.h"
#include "tests/support/hsm_options.h"
#include "tests/support/p11_fault.h"
#include "tests/support/softhsm_token.h"

namespace signerd::hsm {

void PrintTo(Curve curve, std::ostream* os) { *os << to_string(curve); }

namespace {

using std::chrono::milliseconds;

Bytes random_bytes(std::size_t n) {
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) ADD_FAILURE() << "RAND_bytes failed";
  return out;
}

// Verifies with OpenSSL alone: ECDSA over the digest as given (no hashing), ed25519 over the message.
bool verify(Curve curve, const Bytes& public_key, std::span<const std::uint8_t> data, const Bytes& signature) {
  if (signature.size() != 64) return false;
  if (curve == Curve::kEd25519) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size()), EVP_PKEY_free);
    if (!key) return false;
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1) return false;
    return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(), data.size()) == 1;
  }

  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> build(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  const char* group = curve == Curve::kSecp256k1 ? "secp256k1" : "prime256v1";
  OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
  OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, public_key.data(), public_key.size());
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(build.get()), OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> from(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr),
                                                                   EVP_PKEY_CTX_free);
  EVP_PKEY* raw_key = nullptr;
  if (EVP_PKEY_fromdata_init(from.get()) != 1 ||
      EVP_PKEY_fromdata(from.get(), &raw_key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return false;
  }
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(raw_key, EVP_PKEY_free);

  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
  ECDSA_SIG_set0(sig.get(), BN_bin2bn(signature.data(), 32, nullptr), BN_bin2bn(signature.data() + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int der_size = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_size <= 0) return false;
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> der_owner(der, [](unsigned char* p) { OPENSSL_free(p); });

  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(key.get(), nullptr),
                                                                  EVP_PKEY_CTX_free);
  return EVP_PKEY_verify_init(ctx.get()) == 1 &&
         EVP_PKEY_verify(ctx.get(), der, static_cast<std::size_t>(der_size), data.data(), data.size()) == 1;
}

Bytes message_for(Curve curve) { return random_bytes(curve == Curve::kEd25519 ? 100 : 32); }

// The test's own view of the token, through the same SoftHSM module but nothing of hsm/. Use it while no Hsm is
// open: it initialises and finalises the module itself.
class RawToken {
 public:
  RawToken(const std::string& label, const std::string& pin) {
    handle_ = ::dlopen(testing::SoftHsmToken::module_path().c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) throw std::runtime_error("dlopen SoftHSM failed");
    auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle_, "C_GetFunctionList"));
    if (get == nullptr || get(&p11_) != CKR_OK) throw std::runtime_error("C_GetFunctionList failed");
    if (p11_->C_Initialize(nullptr) != CKR_OK) throw std::runtime_error("C_Initialize failed");
    CK_SLOT_ID slots[8];
    CK_ULONG count = 8;
    if (p11_->C_GetSlotList(CK_TRUE, slots, &count) != CKR_OK) throw std::runtime_error("C_GetSlotList failed");
    for (CK_ULONG i = 0; i < count; ++i) {
      CK_TOKEN_INFO info{};
      p11_->C_GetTokenInfo(slots[i], &info);
      std::string token_label(reinterpret_cast<const char*>(info.label), sizeof info.label);
      token_label.erase(token_label.find_last_not_of(' ') + 1);
      if (token_label == label) {
        p11_->C_OpenSession(slots[i], CKF_SERIAL_SESSION, nullptr, nullptr, &session_);
        break;
      }
    }
    if (session_ == CK_INVALID_HANDLE) throw std::runtime_error("token not found");
    if (p11_->C_Login(session_, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin.data())), pin.size()) !=
        CKR_OK) {
      throw std::runtime_error("C_Login failed");
    }
  }
  ~RawToken() {
    p11_->C_Logout(session_);
    p11_->C_CloseSession(session_);
    p11_->C_Finalize(nullptr);
    ::dlclose(handle_);
  }

  CK_OBJECT_HANDLE find(CK_OBJECT_CLASS klass, const std::string& id) {
    CK_ATTRIBUTE match[] = {{CKA_CLASS, &klass, sizeof klass}, {CKA_ID, const_cast<char*>(id.data()), id.size()}};
    CK_OBJECT_HANDLE found = CK_INVALID_HANDLE;
    CK_ULONG count = 0;
    p11_->C_FindObjectsInit(session_, match, 2);
    p11_->C_FindObjects(session_, &found, 1, &count);
    p11_->C_FindObjectsFinal(session_);
    return count == 1 ? found : CK_INVALID_HANDLE;
  }

  std::optional<bool> flag(CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type) {
    CK_BBOOL value = CK_FALSE;
    CK_ATTRIBUTE attribute{type, &value, sizeof value};
    if (p11_->C_GetAttributeValue(session_, object, &attribute, 1) != CKR_OK) return std::nullopt;
    return value == CK_TRUE;
  }

  CK_RV read_value(CK_OBJECT_HANDLE object) {
    CK_ATTRIBUTE attribute{CKA_VALUE, nullptr, 0};
    return p11_->C_GetAttributeValue(session_, object, &attribute, 1);
  }

 private:
  void* handle_ = nullptr;
  CK_FUNCTION_LIST* p11_ = nullptr;
  CK_SESSION_HANDLE session_ = CK_INVALID_HANDLE;
};

class HsmTest : public ::testing::Test {
 protected:
  HsmOptions options(unsigned sessions = 2, milliseconds lease_timeout = milliseconds(5000)) {
    return testing::hsm_options(token_, testing::SoftHsmToken::module_path(), sessions, lease_timeout);
  }

  std::unique_ptr<Hsm> open(HsmOptions o) { return testing::open_hsm(std::move(o)); }

  testing::SoftHsmToken token_;
};

TEST_F(HsmTest, OpensAndLogsInWithTheRightPin) {
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  const HsmStatus status = hsm->status();
  EXPECT_TRUE(status.logged_in);
  EXPECT_EQ(status.token_label, token_.label());
  EXPECT_FALSE(status.token_serial.empty());
  EXPECT_FALSE(status.library_description.empty());  // SoftHSM: "Implementation of PKCS11"
  EXPECT_EQ(status.sessions_total, 2u);
  EXPECT_EQ(status.sessions_in_use, 0u);
  EXPECT_EQ(status.recoveries, 0u);
  EXPECT_TRUE(hsm->check());
}

TEST_F(HsmTest, SelectsTheTokenBySerial) {
  std::string serial;
  {
    auto hsm = open(options());
    ASSERT_TRUE(hsm);
    serial = hsm->status().token_serial;
  }
  HsmOptions o = options();
  o.token_label = "not-this-label";  // the serial wins
  o.token_serial = serial;
  auto hsm = open(std::move(o));
  ASSERT_TRUE(hsm);
  EXPECT_EQ(hsm->status().token_label, token_.label());
}

TEST_F(HsmTest, WrongPinIsRefusedWithoutRepeatingIt) {
  HsmOptions o = options();
  o.pin = SecretString("97531");
  auto hsm = Hsm::open(std::move(o));
  ASSERT_FALSE(hsm);
  EXPECT_EQ(hsm.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(hsm.error().message.find("PIN incorrect"), std::string::npos) << hsm.error().message;
  EXPECT_EQ(hsm.error().message.find("97531"), std::string::npos) << hsm.error().message;
}

TEST_F(HsmTest, MissingModuleIsNamed) {
  HsmOptions o = options();
  o.module_path = (token_.dir() / "no-such-pkcs11.so").string();
  auto hsm = Hsm::open(std::move(o));
  ASSERT_FALSE(hsm);
  EXPECT_EQ(hsm.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(hsm.error().message, "PKCS#11 module not found: " + (token_.dir() / "no-such-pkcs11.so").string());
}

TEST_F(HsmTest, MissingTokenListsTheTokensPresent) {
  HsmOptions o = options();
  o.token_label = "no-such-token";
  auto hsm = Hsm::open(std::move(o));
  ASSERT_FALSE(hsm);
  EXPECT_EQ(hsm.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(hsm.error().message, "no token with label 'no-such-token' (tokens present: signerd-test)");
}

TEST_F(HsmTest, KeyIdMustNotBeEmpty) {
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  auto key = hsm->generate_key("", Curve::kP256);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
}

class HsmCurveTest : public HsmTest, public ::testing::WithParamInterface<Curve> {};

TEST_P(HsmCurveTest, GeneratesAndSignsVerifiably) {
  const Curve curve = GetParam();
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  auto public_key = hsm->generate_key("key-1", curve);
  ASSERT_TRUE(public_key) << public_key.error().message;
  if (curve == Curve::kEd25519) {
    EXPECT_EQ(public_key->size(), 32u);
  } else {
    ASSERT_EQ(public_key->size(), 65u);
    EXPECT_EQ((*public_key)[0], 0x04);
  }
  for (int i = 0; i < 3; ++i) {
    const Bytes message = message_for(curve);
    auto signature = hsm->sign("key-1", curve, message);
    ASSERT_TRUE(signature) << signature.error().message;
    EXPECT_TRUE(verify(curve, *public_key, message, *signature)) << to_hex(*signature);
    Bytes tampered = message;
    tampered[0] ^= 1;
    EXPECT_FALSE(verify(curve, *public_key, tampered, *signature));
  }
}

TEST_P(HsmCurveTest, FindPublicKeyReturnsTheGeneratedKey) {
  const Curve curve = GetParam();
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  auto generated = hsm->generate_key("key-1", curve);
  ASSERT_TRUE(generated) << generated.error().message;
  auto found = hsm->find_public_key("key-1", curve);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, *generated);
  auto missing = hsm->find_public_key("key-2", curve);
  ASSERT_TRUE(missing) << missing.error().message;
  EXPECT_FALSE(missing->has_value());
}

TEST_P(HsmCurveTest, PrivateKeyIsASensitiveNonExtractableTokenObject) {
  const Curve curve = GetParam();
  {
    auto hsm = open(options());
    ASSERT_TRUE(hsm);
    ASSERT_TRUE(hsm->generate_key("key-1", curve));
  }
  RawToken raw(token_.label(), token_.pin());
  const CK_OBJECT_HANDLE private_key = raw.find(CKO_PRIVATE_KEY, "key-1");
  ASSERT_NE(private_key, CK_INVALID_HANDLE);
  EXPECT_EQ(raw.flag(private_key, CKA_TOKEN), true);
  EXPECT_EQ(raw.flag(private_key, CKA_PRIVATE), true);
  EXPECT_EQ(raw.flag(private_key, CKA_SENSITIVE), true);
  EXPECT_EQ(raw.flag(private_key, CKA_EXTRACTABLE), false);
  EXPECT_EQ(raw.flag(private_key, CKA_SIGN), true);
  EXPECT_EQ(raw.flag(private_key, CKA_ALWAYS_SENSITIVE), true);
  EXPECT_EQ(raw.flag(private_key, CKA_NEVER_EXTRACTABLE), true);
  EXPECT_EQ(raw.read_value(private_key), CKR_ATTRIBUTE_SENSITIVE);
  const CK_OBJECT_HANDLE public_key = raw.find(CKO_PUBLIC_KEY, "key-1");
  ASSERT_NE(public_key, CK_INVALID_HANDLE);
  EXPECT_EQ(raw.flag(public_key, CKA_TOKEN), true);
  EXPECT_EQ(raw.flag(public_key, CKA_VERIFY), true);
  EXPECT_EQ(raw.flag(public_key, CKA_PRIVATE), false) << "a public key has nothing to hide";  // as the raw bench's
}

TEST_P(HsmCurveTest, KeySurvivesReopening) {
  const Curve curve = GetParam();
  Bytes public_key;
  {
    auto hsm = open(options());
    ASSERT_TRUE(hsm);
    auto generated = hsm->generate_key("key-1", curve);
    ASSERT_TRUE(generated) << generated.error().message;
    public_key = *generated;
  }
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  auto found = hsm->find_public_key("key-1", curve);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, public_key);
  const Bytes message = message_for(curve);
  auto signature = hsm->sign("key-1", curve, message);
  ASSERT_TRUE(signature) << signature.error().message;
  EXPECT_TRUE(verify(curve, public_key, message, *signature));
}

TEST_P(HsmCurveTest, DestroyKeyRemovesBothObjectsAndIsIdempotent) {
  const Curve curve = GetParam();
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  ASSERT_TRUE(hsm->generate_key("key-1", curve));
  ASSERT_TRUE(hsm->sign("key-1", curve, message_for(curve)));  // caches the handle
  ASSERT_TRUE(hsm->destroy_key("key-1"));
  auto found = hsm->find_public_key("key-1", curve);
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->has_value());
  auto signature = hsm->sign("key-1", curve, message_for(curve));
  ASSERT_FALSE(signature);
  EXPECT_EQ(signature.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(hsm->destroy_key("key-1"));
  EXPECT_TRUE(hsm->destroy_key("never-existed"));
  // The id is free again.
  auto again = hsm->generate_key("key-1", curve);
  ASSERT_TRUE(again) << again.error().message;
  const Bytes message = message_for(curve);
  auto resigned = hsm->sign("key-1", curve, message);
  ASSERT_TRUE(resigned) << resigned.error().message;
  EXPECT_TRUE(verify(curve, *again, message, *resigned));
}


TEST_P(HsmCurveTest, SignWithAnUnknownKeyIsNotFound) {
  const Curve curve = GetParam();
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  auto signature = hsm->sign("no-such-key", curve, message_for(curve));
  ASSERT_FALSE(signature);
  EXPECT_EQ(signature.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(signature.error().message, "no key no-such-key in the HSM");
}

INSTANTIATE_TEST_SUITE_P(Curves, HsmCurveTest, ::testing::Values(Curve::kSecp256k1, Curve::kP256, Curve::kEd25519),
                         [](const ::testing::TestParamInfo<Curve>& info) {
                           return std::string(to_string(info.param));
                         });

TEST_F(HsmTest, EcdsaDigestMustBe32Bytes) {
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  ASSERT_TRUE(hsm->generate_key("key-1", Curve::kSecp256k1));
  for (std::size_t size : {0u, 31u, 33u, 64u}) {
    auto signature = hsm->sign("key-1", Curve::kSecp256k1, random_bytes(size));
    ASSERT_FALSE(signature) << size;
    EXPECT_EQ(signature.error().code, ErrorCode::kInvalidArgument) << size;
  }
}

TEST_F(HsmTest, Ed25519MessageLengthLimits) {
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  auto public_key = hsm->generate_key("key-1", Curve::kEd25519);
  ASSERT_TRUE(public_key);
  for (std::size_t size : {1u, 65536u}) {
    const Bytes message = random_bytes(size);
    auto signature = hsm->sign("key-1", Curve::kEd25519, message);
    ASSERT_TRUE(signature) << size << ": " << signature.error().message;
    EXPECT_TRUE(verify(Curve::kEd25519, *public_key, message, *signature)) << size;
  }
  for (std::size_t size : {0u, 65537u}) {
    auto signature = hsm->sign("key-1", Curve::kEd25519, random_bytes(size));
    ASSERT_FALSE(signature) << size;
    EXPECT_EQ(signature.error().code, ErrorCode::kInvalidArgument) << size;
  }
}

TEST_F(HsmTest, SignWithTheWrongCurveIsRefused) {
  auto hsm = open(options());
  ASSERT_TRUE(hsm);
  ASSERT_TRUE(hsm->generate_key("key-1", Curve::kSecp256k1));
  auto as_p256 = hsm->sign("key-1", Curve::kP256, random_bytes(32));
  ASSERT_FALSE(as_p256);
  EXPECT_EQ(as_p256.error().code, ErrorCode::kInvalidArgument);
  auto as_ed25519 = hsm->sign("key-1", Curve::kEd25519, random_bytes(32));
  ASSERT_FALSE(as_ed25519);
  EXPECT_EQ(as_ed25519.error().code, ErrorCode::kInvalidArgument);
  auto found = hsm->find_public_key("key-1", Curve::kEd25519);
  ASSERT_FALSE(found);
  EXPECT_EQ(found.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(HsmTest, ConcurrentSigningFromEightThreadsOnTwoSessions) {
  auto hsm = open(options(2));
  ASSERT_TRUE(hsm);
  struct Key {
    std::string id;
    Curve curve;
    Bytes public_key;
  };
  std::vector<Key> keys;
  for (Curve curve : {Curve::kSecp256k1, Curve::kP256, Curve::kEd25519}) {
    const std::string id = std::string("key-") + to_string(curve);
    auto public_key = hsm->generate_key(id, curve);
    ASSERT_TRUE(public_key) << public_key.error().message;
    keys.push_back({id, curve, *public_key});
  }

  constexpr int kThreads = 8, kPerThread = 50;
  std::atomic<int> verified{0}, failed{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const Key& key = keys[static_cast<std::size_t>(t + i) % keys.size()];
        const Bytes message = message_for(key.curve);
        auto signature = hsm->sign(key.id, key.curve, message);
        if (signature && verify(key.curve, key.public_key, message, *signature)) {
          ++verified;
        } else {
          ++failed;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(verified.load(), kThreads * kPerThread);
  std::printf("[ timing   ] %d signatures on 2 sessions in %.1f ms (%.3f ms each)\n", kThreads * kPerThread,
              elapsed.count(), elapsed.count() / (kThreads * kPerThread));
  const HsmStatus status = hsm->status();
  EXPECT_EQ(status.sessions_in_use, 0u);
  EXPECT_EQ(status.sessions_total, 2u);
  EXPECT_EQ(status.recoveries, 0u);
}

TEST_F(HsmTest, SequentialOperationTimings) {
  auto hsm = open(options(1));
  ASSERT_TRUE(hsm);
  for (Curve curve : {Curve::kSecp256k1, Curve::kP256, Curve::kEd25519}) {
    constexpr int kKeys = 5, kSigns = 100;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(hsm->generate_key("key-" + std::to_string(i), curve));
    auto t1 = std::chrono::steady_clock::now();
    const Bytes message = message_for(curve);
    for (int i = 0; i < kSigns; ++i) ASSERT_TRUE(hsm->sign("key-0", curve, message));
    auto t2 = std::chrono::steady_clock::now();
    for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(hsm->destroy_key("key-" + std::to_string(i)));
    const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    std::printf("[ timing   ] %-10s generate %.2f ms, sign %.3f ms\n", to_string(curve), ms(t1 - t0) / kKeys,
                ms(t2 - t1) / kSigns);
  }
}

TEST_F(HsmTest, StaleCachedHandleIsLookedUpAgain) {
  // Two Hsm objects on one module (safe here: nothing recovers): `other` replaces the key behind the handle `hsm`
  // has cached.
  auto hsm = open(options());
  auto other = open(options());
  ASSERT_TRUE(hsm && other);
  ASSERT_TRUE(hsm->generate_key("key-1", Curve::kP256));
  ASSERT_TRUE(hsm->sign("key-1", Curve::kP256, random_bytes(32)));
  ASSERT_TRUE(other->destroy_key("key-1"));
  auto replaced = other->generate_key("key-1", Curve::kP256);
  ASSERT_TRUE(replaced) << replaced.error().message;
  const Bytes digest = random_bytes(32);
  auto signature = hsm->sign("key-1", Curve::kP256, digest);
  ASSERT_TRUE(signature) << signature.error().message;
  EXPECT_TRUE(verify(Curve::kP256, *replaced, digest, *signature));
  // Finalising the shared module once is enough.
  other.reset();
}

Bytes prefixed(Bytes header, const Bytes& body) {
  const std::size_t size = header.size();
  header.resize(size + body.size());
  std::copy(body.begin(), body.end(), header.begin() + static_cast<std::ptrdiff_t>(size));
  return header;
}

// SoftHSM returns the DER OCTET STRING; other modules return the bare point. Both must work.
TEST(EcPointTest, UnwrapsBothFormsAndRejectsOthers) {
  Bytes point(65, 0xAB);
  point[0] = 0x04;
  const Bytes wrapped = prefixed({0x04, 65}, point);
  const Bytes long_form = prefixed({0x04, 0x81, 65}, point);
  EXPECT_EQ(unwrap_ec_point(wrapped, Curve::kSecp256k1), point);
  EXPECT_EQ(unwrap_ec_point(long_form, Curve::kP256), point);
  EXPECT_EQ(unwrap_ec_point(point, Curve::kP256), point);
  Bytes compressed(33, 0xAB);
  compressed[0] = 0x02;
  EXPECT_EQ(unwrap_ec_point(compressed, Curve::kSecp256k1), std::nullopt);
  EXPECT_EQ(unwrap_ec_point(Bytes(64, 0x04), Curve::kP256), std::nullopt);

  const Bytes key(32, 0x04);  // a raw ed25519 key may start with 0x04 too
  const Bytes wrapped_key = prefixed({0x04, 32}, key);
  EXPECT_EQ(unwrap_ec_point(wrapped_key, Curve::kEd25519), key);
  EXPECT_EQ(unwrap_ec_point(key, Curve::kEd25519), key);
  EXPECT_EQ(unwrap_ec_point(Bytes(33, 0x01), Curve::kEd25519), std::nullopt);
}

TEST(EcParamsTest, NamesTheCurves) {
  for (Curve curve : {Curve::kSecp256k1, Curve::kP256, Curve::kEd25519}) {
    EXPECT_EQ(curve_from_ec_params(ec_params(curve)), curve);
  }
  EXPECT_EQ(curve_from_ec_params(ec_params(Curve::kEd25519, true)), Curve::kEd25519);
  EXPECT_EQ(curve_from_ec_params(Bytes{0x06, 0x03, 0x2B, 0x65, 0x71}), std::nullopt);  // Ed448
}

// Faults injected with the signerd_p11fault wrapper around SoftHSM.
class HsmFaultTest : public HsmTest {
 protected:
  HsmOptions fault_options(unsigned sessions = 2, milliseconds lease_timeout = milliseconds(5000)) {
    return testing::hsm_options(token_, SIGNERD_P11FAULT_MODULE, sessions, lease_timeout);
  }
  void set_control(const std::string& content) { faults_.set(content); }
  void clear_control() { faults_.clear(); }

  testing::P11FaultControl faults_{token_};
};

TEST_F(HsmFaultTest, GeneratingTheSameIdConcurrentlyConflicts) {
  auto hsm = open(fault_options());
  ASSERT_TRUE(hsm);
  set_control("delay 500 C_GenerateKeyPair");  // keeps the first generation in flight
  std::optional<Result<Bytes>> first;
  std::thread t([&] { first = hsm->generate_key("key-same", Curve::kSecp256k1); });
  std::this_thread::sleep_for(milliseconds(150));
  auto second = hsm->generate_key("key-same", Curve::kSecp256k1);
  t.join();
  ASSERT_TRUE(first && *first) << (first ? first->error().message : "no result");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
}

TEST_F(HsmFaultTest, DeviceErrorFailsTheRequestAndTheNextOneRecovers) {
  auto hsm = open(fault_options());
  ASSERT_TRUE(hsm);
  auto public_key = hsm->generate_key("key-1", Curve::kSecp256k1);
  ASSERT_TRUE(public_key) << public_key.error().message;
  ASSERT_TRUE(hsm->sign("key-1", Curve::kSecp256k1, random_bytes(32)));

  set_control("device_error");
  auto failed = hsm->sign("key-1", Curve::kSecp256k1, random_bytes(32));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(failed.error().message.find("CKR_DEVICE_ERROR"), std::string::npos) << failed.error().message;
  // While the device stays down, recovery fails too and requests keep failing with kUnavailable.
  auto still_down = hsm->sign("key-1", Curve::kSecp256k1, random_bytes(32));
  ASSERT_FALSE(still_down);
  EXPECT_EQ(still_down.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(hsm->check());
  EXPECT_FALSE(hsm->status().logged_in);

  clear_control();
  const Bytes digest = random_bytes(32);
  auto signature = hsm->sign("key-1", Curve::kSecp256k1, digest);
  ASSERT_TRUE(signature) << signature.error().message;
  EXPECT_TRUE(verify(Curve::kSecp256k1, *public_key, digest, *signature));
  const HsmStatus status = hsm->status();
  EXPECT_EQ(status.recoveries, 1u);
  EXPECT_TRUE(status.logged_in);
  EXPECT_EQ(status.sessions_total, 2u);
  EXPECT_TRUE(hsm->check());
}

TEST_F(HsmFaultTest, OneDeviceErrorDiscardsTheSessionAndTheNextRequestSucceeds) {
  auto hsm = open(fault_options());
  ASSERT_TRUE(hsm);
  auto public_key = hsm->generate_key("key-1", Curve::kEd25519);
  ASSERT_TRUE(public_key);

  set_control("device_error_once C_Sign");
  auto failed = hsm->sign("key-1", Curve::kEd25519, random_bytes(10));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(failed.error().message, "C_Sign: CKR_DEVICE_ERROR");
  EXPECT_EQ(hsm->status().sessions_total, 1u);  // the failed session was closed, not pooled

  const Bytes message = random_bytes(10);
  auto signature = hsm->sign("key-1", Curve::kEd25519, message);
  ASSERT_TRUE(signature) << signature.error().message;
  EXPECT_TRUE(verify(Curve::kEd25519, *public_key, message, *signature));
  EXPECT_EQ(hsm->status().recoveries, 1u);
  EXPECT_EQ(hsm->status().sessions_total, 2u);
}

TEST_F(HsmFaultTest, DeadLoginSessionReinitialisesTheModule) {
  auto hsm = open(fault_options());
  ASSERT_TRUE(hsm);
  auto public_key = hsm->generate_key("key-1", Curve::kP256);
  ASSERT_TRUE(public_key);
  ASSERT_TRUE(hsm->sign("key-1", Curve::kP256, random_bytes(32)));

  // The login session looks dead (to check() and to recovery), so recovery goes all the way: C_Finalize,
  // C_Initialize, log in again, reopen the pool, forget cached handles.
  set_control("device_error C_GetSessionInfo");
  auto checked = hsm->check();
  ASSERT_TRUE(checked) << checked.error().message;
  EXPECT_EQ(hsm->status().recoveries, 1u);
  clear_control();

  const Bytes digest = random_bytes(32);
  auto signature = hsm->sign("key-1", Curve::kP256, digest);
  ASSERT_TRUE(signature) << signature.error().message;
  EXPECT_TRUE(verify(Curve::kP256, *public_key, digest, *signature));
  EXPECT_TRUE(hsm->status().logged_in);
  EXPECT_TRUE(hsm->check());
  EXPECT_EQ(hsm->status().recoveries, 1u);
}

TEST_F(HsmFaultTest, LeaseTimesOutWhenEverySessionIsBusy) {
  auto hsm = open(fault_options(1, milliseconds(50)));
  ASSERT_TRUE(hsm);
  ASSERT_TRUE(hsm->generate_key("key-1", Curve::kP256));
  ASSERT_TRUE(hsm->sign("key-1", Curve::kP256, random_bytes(32)));

  set_control("delay 600 C_Sign");
  std::atomic<bool> slow_ok{false};
  std::thread slow([&] { slow_ok = hsm->sign("key-1", Curve::kP256, random_bytes(32)).has_value(); });
  for (int i = 0; i < 500 && hsm->status().sessions_in_use == 0; ++i) std::this_thread::sleep_for(milliseconds(2));
  EXPECT_EQ(hsm->status().sessions_in_use, 1u);
  const auto start = std::chrono::steady_clock::now();
  auto waited = hsm->sign("key-1", Curve::kP256, random_bytes(32));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  slow.join();
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(waited.error().message, "no HSM session free within 50ms");
  EXPECT_GE(elapsed, milliseconds(50));
  EXPECT_TRUE(slow_ok);
  clear_control();
  EXPECT_TRUE(hsm->sign("key-1", Curve::kP256, random_bytes(32)));
  EXPECT_EQ(hsm->status().recoveries, 0u);
}

TEST_F(HsmFaultTest, GenerateFailureIsUnavailableAndLeavesNoKey) {
  auto hsm = open(fault_options());
  ASSERT_TRUE(hsm);
  set_control("device_error_once C_GenerateKeyPair");
  auto failed = hsm->generate_key("key-1", Curve::kSecp256k1);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  auto found = hsm->find_public_key("key-1", Curve::kSecp256k1);
  ASSERT_TRUE(found) << found.error().message;
  EXPECT_FALSE(found->has_value());
  EXPECT_TRUE(hsm->generate_key("key-1", Curve::kSecp256k1));
}

TEST_F(HsmFaultTest, WrapperForwardsWhenTheControlFileIsAbsent) {
  auto hsm = open(fault_options());
  ASSERT_TRUE(hsm);
  for (Curve curve : {Curve::kSecp256k1, Curve::kP256, Curve::kEd25519}) {
    auto public_key = hsm->generate_key(std::string("key-") + to_string(curve), curve);
    ASSERT_TRUE(public_key) << public_key.error().message;
    const Bytes message = message_for(curve);
    auto signature = hsm->sign(std::string("key-") + to_string(curve), curve, message);
    ASSERT_TRUE(signature) << signature.error().message;
    EXPECT_TRUE(verify(curve, *public_key, message, *signature));
  }
}

}  // namespace
}  // namespace signerd::hsm

// core::CredentialKey and core::jwt_* against data this code did not make: signatures the `openssl` command line
// made with keys it generated (P-256, secp256k1, Ed25519, RSA-2048 PKCS#1 v1.5, RSA-PSS), the raw r‖s form read off
// `openssl asn1parse`, and the Ed25519 JWS of RFC 8037 Appendix A.4. Round trips use keys OpenSSL generates here.
//
// How the fixtures were made (OpenSSL 3.0, message = kMessage without a trailing newline):
//   openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.key      (and secp256k1, P-384)
//   openssl genpkey -algorithm ED25519 | ED448 | X25519 -out ed.key
//   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key          (and 1024 bits)
//   openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out pss.key
//   openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_pss_keygen_md:sha256
//     -pkeyopt rsa_pss_keygen_mgf1_md:sha256 -pkeyopt rsa_pss_keygen_saltlen:32 -out pssr.key
//   openssl pkey -in X.key -pubout;  openssl ec -in p256.key -pubout -param_enc explicit
//   openssl dgst -sha256 -sign p256.key msg   (-sha512 too; k1, rsa, pssr likewise)
//   openssl dgst -sha256 -sign pss.key -sigopt rsa_pss_saltlen:max msg   (Node's default; and :digest)
//   openssl pkeyutl -sign -rawin -inkey ed.key -in msg
//   openssl asn1parse -inform DER -in p256.sig   → r and s, each left-padded to 32 bytes = kP256RawSig
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/credential_key.h"
#include "core/jwt.h"

namespace signerd::core {
namespace {

constexpr std::string_view kMessage = R"({"type":"key.get","challenge":"MWM0MmY5YTQtZml4dHVyZQ"})";

constexpr std::string_view kP256Pem = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEoKYXpNBiF+Zv2JwBq3V+G/wRlJg5
YFKNF9CtKDDWxmL0QPn1dpZNtSvu4LrC+doDZNKJC+MrUKyUX3MJ7SMcoA==
-----END PUBLIC KEY-----)";
constexpr std::string_view kSecp256k1Pem = R"(-----BEGIN PUBLIC KEY-----
MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAETzzIfojJ64JViGZyQjFO9ubS0UX4/CLL
GbQGbTKI8uHXl9uwZpF0QR7doUnvhrN9CcX7xV58FM39Vkt899k3EA==
-----END PUBLIC KEY-----)";
constexpr std::string_view kEd25519Pem = R"(-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEACxtp9RWQCAVop+kelQKRpVOz/vIlZVeSkCUUEEifcP0=
-----END PUBLIC KEY-----)";
constexpr std::string_view kRsa2048Pem = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAzQycGP7X4p7+tOcfsf3J
7WhOt6wy32tcJNLRlY72PnhwyAHoo6R7MCAgociRlbHdAlGVIuEUHUEfT0are9I3
vYc6Bz+7h3nUmEJkIJLGdp6xWlBQA+VeEWY5V3oa2ZdUL00tKZ8Uk4+mcriHumU6
aEnBlZFvBWwDgRmex1d33IeqNNHqJSTdXXGj67MxARScGDLVpuIllGtVNpZV/u2j
aQqkiHnpArA8G3DTGhKGqePkbV1ZXZ6kMEufVRY0TwfPDWopjtPQc0WgYeqGo0tS
q1YxuJBnivJ/Lr8nSJ87XFgsyWMFMe/Cfq+7VqP78Gta2KuBFZPkVT9M8bsO9faG
7QIDAQAB
-----END PUBLIC KEY-----)";
constexpr std::string_view kRsaPssPem = R"(-----BEGIN PUBLIC KEY-----
MIIBIDALBgkqhkiG9w0BAQoDggEPADCCAQoCggEBAKr7TiI6bVo3ZZYFSma4+WF5
J9ocMOMuarMF+mNcp/8qfstD9WaAvbt222KgE5vvGeDU+mLdr0xAe8cgq6V8QHE7
QD0xh2L4KF0gKSQ0iRSP/KzBwqf0KzICVQlu5rfjyp9AhI40P+Jvn1PllctauLY1
dfqS9pnrU+wQnDl18QuHr6th/Z8wx788HJXI5sx0Pt/VC3o+3n6yYNEipsy3uywJ
GiBJC7G3Hddy8E7eizttBC65R9xx770KCAPWcRoQkDJ45R8pvPMHNvIhzS2vG+GX
uYt6iVHckSkbdESVZYzDHkq4PKW/IkPbMKpyMkUINP9kh+SGAZBSsDx3v8Goq/cC
AwEAAQ==
-----END PUBLIC KEY-----)";
constexpr std::string_view kRsaPssRestrictedPem = R"(-----BEGIN PUBLIC KEY-----
MIIBVjBBBgkqhkiG9w0BAQowNKAPMA0GCWCGSAFlAwQCAQUAoRwwGgYJKoZIhvcN
AQEIMA0GCWCGSAFlAwQCAQUAogMCASADggEPADCCAQoCggEBAOmcC1cixEOO/48A
cyzMKM6BkxDws1r2OLyVLZJaOHB++UJzdbvVnkOut+MRtk+F6BGvd7qkDm0gWfca
vmTgfoFec50sJm1s9m07n7VglBVYjLHcYUUW9mKGEC9HDBFVL7D0WNSbAnLkNDJu
Rh8gF0qcHwHdGRamqnM6Xf0Mt/nMj4XPD7RMxdz4bmWxe9YMQAg/vePJrmCZS8PH
Ed1XUnsd/gYLrv88xtL+KsgrTmidR62CnfVlRwHNW5I368ypvC8iPBahbY3etMWA
e8EkQdUZFdk3C4ALRZFPOHoEj4gcZLb2QFunmWv3ym2c5f/FDG+SanSBWPGdT63w
2NZucf8CAwEAAQ==
-----END PUBLIC KEY-----)";
constexpr std::string_view kRsa1024Pem = R"(-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC38i2SshTGrCr7drOTLAPEK/zY
PLwjA7p6FMV8npD3coD0de95Me+kaRrh3dk5lM0mepDFzJEaDar7i+vpwwxLcAw0
t7TCTvWuc8URLez5HWoPUD9syyob9lDf604ptjgHDrHBxB5/1aNzBKhatVOrQ3N6
W3zvWML+4Vv2SVevfQIDAQAB
-----END PUBLIC KEY-----)";
constexpr std::string_view kP384Pem = R"(-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEullXzhBFWw+8OKrIf8GbzgWA5QsCRsgi
f8sLL7+OlBAebbuwYEnreJkEwiclv0R6Om7iojRxgLhOZ7fZBIRW7dzgxRnb35Tk
h9NNvdrXpr7OCI+LWudt5WSTFC8lov8P
-----END PUBLIC KEY-----)";
constexpr std::string_view kP256ExplicitPem = R"(-----BEGIN PUBLIC KEY-----
MIIBSzCCAQMGByqGSM49AgEwgfcCAQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAA
AAAAAAAAAAAA////////////////MFsEIP////8AAAABAAAAAAAAAAAAAAAA////
///////////8BCBaxjXYqjqT57PrvVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSd
NgiG5wSTamZ44ROdJreBn36QBEEEaxfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5
RdiYwpZP40Li/hp/m47n60p8D54WK84zV2sxXs7LtkBoN79R9QIhAP////8AAAAA
//////////+85vqtpxeehPO5ysL8YyVRAgEBA0IABKCmF6TQYhfmb9icAat1fhv8
EZSYOWBSjRfQrSgw1sZi9ED59XaWTbUr7uC6wvnaA2TSiQvjK1CslF9zCe0jHKA=
-----END PUBLIC KEY-----)";
constexpr std::string_view kX25519Pem = R"(-----BEGIN PUBLIC KEY-----
MCowBQYDK2VuAyEAlxErX1XsWF4YvE0AX1AHLsPF0R7/iR14Jkmb350t0Wo=
-----END PUBLIC KEY-----)";
constexpr std::string_view kEd448Pem = R"(-----BEGIN PUBLIC KEY-----
MEMwBQYDK2VxAzoAJ6Up9tXEjnkue4XOa6ZcT54DTCRvbNld+bSFgFwvG4GHhx9L
kzrhuppb9TasYc4uRQSI5R1+nosA
-----END PUBLIC KEY-----)";
constexpr std::string_view kP256Sha256Sig =
    "3044022046ffb40b79b1561f540ecd01ab68fedf1e0eddc688aa95948c55b51c6ea8206802207016639cb87b8d6f2d7ca2ca"
    "ee7d24aa54b0836ad1ede27550d411e65257b7f6";
constexpr std::string_view kP256Sha512Sig =
    "304502207a80e95c358184705b2e72d13ddd83c7a8f17fc452f5565eb7e18a3baf7d7a12022100f06a847a55a8523678cd5b"
    "4c19bb4da860265cf09b20d9269a54187d98df5008";
constexpr std::string_view kSecp256k1Sig =
    "3045022009073cf64f92162fbc9e941ba66274db1fc7c89bcc1124c8eaddb04ef1d28b7f0221008d323b572ff21c4fb342db"
    "4aa58981e5e8165e8806657a5bc06a6c9297d8c579";
constexpr std::string_view kEd25519Sig =
    "273bfd1e0446611476612061144a8db0e770839f71f0c614da7722c6fbbf10e700391d3b03408a1e39cae86ea8a5b7ad3985"
    "35fde093d6dce45a520283a2270e";
constexpr std::string_view kRsa2048Sig =
    "4cbd997e11c3c0389bfcb25a6deeafe18f4c9739986729b0122377e3205d3f84c44daf39157b2610ce529e1b0dc71df01c9d"
    "2d1542ae4e308e491a31bc46a3337cde6a893b23b807dd80e0002bdb409788bea08d006c148fdbf1b789c85aab0e656c7256"
    "d56ca5d699557fdbd9a1e5818cdf51299c391b01057b4dde6aa1e2af14bcfa43f41b1b01a1b35795b8a3f5ac88a55870dcb9"
    "c563a9e37743a23da51d4d2edb67883c763f10f854ab27d88ed0d064cebaa12234e78f252668011199585ae47fe601580035"
    "1ed4a84a2c11702f386d6da6d5a5343cec31733dc924968830887c5adf4c307403279b7dbf29b710080f4678bdc22e079187"
    "dbf32c8d3bc6";
constexpr std::string_view kRsaPssMaxSaltSig =
    "199afe4229b16bb51155f21d21990bfa6e025e191e832362c4147f8153d5bbec451b1e0fb4aaf1ce56641ec819183a06158e"
    "e3a4c15fad42606110e2469f4619a811acb13423858b8f138bb3312f4bd048640b497b7a4fbb557e226ece6659e5cc859cff"
    "7cbdba1970b8414992c06af37c751870ec8b6c1c5f28101d7c44572339abab568d361d737c46efb720862399114104cc825e"
    "c894b7424a5501d767b3549e8c5be15bd76c80e512c07df688e6b378643146e35ffd8506da5337785eb4a9836ccb23a2b72b"
    "5b9055f8cbcb9a0763cac94f9ed2b500de7250dba6a6d9f09bd0ab87491d332d4b8a05a2e1e332d9e5b16087c0c1e7e8d5cf"
    "9ee68f57bddd";
constexpr std::string_view kRsaPssDigestSaltSig =
    "37c3ca0f211f972ef97e04fa79f08b0d210caf35dd59e160e5aa19a09b69489f18d6ddd95aceaea28d9ed57f9f66864b16bf"
    "ac529627078cd0d449c646c088382aff651ccc4613dd03a58d093e7188e66c6734bb8a6ccb46812534f0729830f8a0efdad1"
    "28a66622ede6d515735a21755bc774d8772dd200c8468e962eda30b1910fbf2b352044dfe9aa599856bd35d1f2a5de53fb7d"
    "e485d1a49ea1733aa46c7a5206f9e69fa3b36e844ce9cd482b1c223b820e76de637032745ad0475f31ec80f37fefcf48cf57"
    "e21edf14c01ea5f2f7ed4f014086b32ed1537d38580e075fa09394e7cb54e18dd4b1abcc5cea72f2e85ac1110f83afbcd936"
    "abe2268eec02";
constexpr std::string_view kRsaPssRestrictedSig =
    "3581d6010b8462c505efc19925262d275b57a8e0840ea22e114152a394d106b505482be4e645aa9dbe1c82ad0aa119b861e5"
    "b561688310525ae1af0ec13697c82420dda883f0de8575ae8bd410104cce571bfa28da4993808bf9539886fd2d2d4f61a9be"
    "cb96ce41ca781125741ce4b608ec35207d6408ef5cf8e14525e6bb28cec73ef426dc4f8999b0839e359186a30132f6bbf502"
    "f757e7f6ba1cf1c1d40638ab3eef372501531cd4eec9c61ecf86be9fbd6dc73666b407daf02bec3dc34fd81799d5aa838412"
    "21322b54daee9644b60dde476731d0682cc0607b5223c4203bd6a2792625f63e3485dd89a76474f2c730337adaf09d8f09f5"
    "414b309eb5db";
constexpr std::string_view kP256RawSig =
    "46ffb40b79b1561f540ecd01ab68fedf1e0eddc688aa95948c55b51c6ea82068"
    "7016639cb87b8d6f2d7ca2caee7d24aa54b0836ad1ede27550d411e65257b7f6";

// RFC 8037 Appendix A.4 (Ed25519 signing): public key x, and the compact JWS over "Example of Ed25519 signing".
constexpr std::string_view kRfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr std::string_view kRfc8037Jws =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

using Pkey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

Bytes hex(std::string_view text) {
  auto bytes = from_hex(text);
  EXPECT_TRUE(bytes.has_value()) << text;
  return bytes.value_or(Bytes{});
}

Bytes flip_bit(Bytes bytes, std::size_t index) {
  bytes.at(index) ^= 0x01;
  return bytes;
}

CredentialKey load(std::string_view pem) {
  auto key = CredentialKey::from_pem(pem);
  EXPECT_TRUE(key.has_value()) << key.error().message;
  return std::move(key).value();
}

// A fresh key of OpenSSL type `type` ("ED25519", "RSA", "RSA-PSS"; RSA keys have 2048 bits).
Pkey generate(const char* type) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr),
                                                                  &EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  EXPECT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1) << type;
  if (std::string_view(type).starts_with("RSA")) {
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048), 1);
  }
  EXPECT_EQ(EVP_PKEY_generate(ctx.get(), &key), 1) << type;
  return Pkey(key, &EVP_PKEY_free);
}

Pkey generate_ec(const char* curve) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve);
  EXPECT_NE(key, nullptr) << curve;
  return Pkey(key, &EVP_PKEY_free);
}

std::string public_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), key), 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string private_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// Pure Ed25519 over `message`.
Bytes ed25519_sign(EVP_PKEY* key, std::string_view message) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key), 1);
  Bytes signature(64);
  std::size_t size = signature.size();
  EXPECT_EQ(EVP_DigestSign(ctx.get(), signature.data(), &size, as_bytes(message).data(), message.size()), 1);
  EXPECT_EQ(size, 64u);
  return signature;
}

Bytes raw_public_key(EVP_PKEY* key) {
  Bytes raw(32);
  std::size_t size = raw.size();
  EXPECT_EQ(EVP_PKEY_get_raw_public_key(key, raw.data(), &size), 1);
  EXPECT_EQ(size, 32u);
  return raw;
}

// A DER ECDSA signature as raw r‖s (32 + 32 bytes), through OpenSSL's own decoder.
Bytes der_to_raw(const Bytes& der) {
  const unsigned char* p = der.data();
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())),
                                                            &ECDSA_SIG_free);
  EXPECT_NE(sig, nullptr);
  Bytes raw(64);
  EXPECT_EQ(BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), 32), 32);
  EXPECT_EQ(BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + 32, 32), 32);
  return raw;
}

Bytes raw_to_der(const Bytes& raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(raw.data(), 32, nullptr), BN_bin2bn(raw.data() + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int size = i2d_ECDSA_SIG(sig, &der);
  Bytes out(der, der + size);
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

// (r, s) → (r, n - s): the other valid signature, which low-s normalisation would refuse and Node may produce.
Bytes flip_s(const Bytes& raw, int curve_nid) {
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group(EC_GROUP_new_by_curve_name(curve_nid), &EC_GROUP_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> s(BN_bin2bn(raw.data() + 32, 32, nullptr), &BN_free);
  EXPECT_EQ(BN_sub(s.get(), EC_GROUP_get0_order(group.get()), s.get()), 1);
  Bytes out = raw;
  EXPECT_EQ(BN_bn2binpad(s.get(), out.data() + 32, 32), 32);
  return out;
}

bool is_high_s(const Bytes& raw, int curve_nid) {
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group(EC_GROUP_new_by_curve_name(curve_nid), &EC_GROUP_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> s(BN_bin2bn(raw.data() + 32, 32, nullptr), &BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> half(BN_dup(EC_GROUP_get0_order(group.get())), &BN_free);
  BN_rshift1(half.get(), half.get());
  return BN_cmp(s.get(), half.get()) > 0;
}

struct Fixture {
  const char* name;
  std::string_view pem;
  const char* kind;
  std::string_view signature_hex;
  std::optional<std::string_view> algorithm;
  const char* fresh_type;  // OpenSSL type for a freshly generated key of the same kind (the "wrong key")
  const char* fresh_curve;
};

const std::vector<Fixture>& fixtures() {
  static const std::vector<Fixture> all = {
      {"P-256/SHA-256", kP256Pem, "EcP256", kP256Sha256Sig, std::nullopt, "EC", "P-256"},
      {"P-256/SHA-256 named", kP256Pem, "EcP256", kP256Sha256Sig, "SHA256", "EC", "P-256"},
      {"P-256/SHA-512", kP256Pem, "EcP256", kP256Sha512Sig, "SHA512", "EC", "P-256"},
      {"P-256/raw r||s", kP256Pem, "EcP256", kP256RawSig, std::nullopt, "EC", "P-256"},
      {"secp256k1 (high-s)", kSecp256k1Pem, "EcSecp256k1", kSecp256k1Sig, std::nullopt, "EC", "secp256k1"},
      {"Ed25519", kEd25519Pem, "Ed25519", kEd25519Sig, std::nullopt, "ED25519", nullptr},
      {"RSA-2048 PKCS#1 v1.5", kRsa2048Pem, "Rsa", kRsa2048Sig, std::nullopt, "RSA", nullptr},
      {"RSA-2048 RSA-SHA256", kRsa2048Pem, "Rsa", kRsa2048Sig, "RSA-SHA256", "RSA", nullptr},
      {"RSA-PSS max salt", kRsaPssPem, "RsaPss", kRsaPssMaxSaltSig, std::nullopt, "RSA-PSS", nullptr},
      {"RSA-PSS digest salt", kRsaPssPem, "RsaPss", kRsaPssDigestSaltSig, std::nullopt, "RSA-PSS", nullptr},
      {"RSA-PSS restricted", kRsaPssRestrictedPem, "RsaPss", kRsaPssRestrictedSig, std::nullopt, "RSA-PSS", nullptr},
  };
  return all;
}

void expect_does_not_verify(const Result<void>& result, const std::string& what) {
  ASSERT_FALSE(result.has_value()) << what;
  EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated) << what;
  EXPECT_EQ(result.error().message, "signature does not verify") << what;
}

TEST(CredentialKeyTest, OpenSslCliSignaturesVerify) {
  for (const auto& f : fixtures()) {
    SCOPED_TRACE(f.name);
    const CredentialKey key = load(f.pem);
    EXPECT_EQ(key.kind(), f.kind);
    auto result = key.verify(as_bytes(kMessage), hex(f.signature_hex), f.algorithm);
    EXPECT_TRUE(result.has_value()) << result.error().message;
  }
}

TEST(CredentialKeyTest, FlippedBitFails) {
  for (const auto& f : fixtures()) {
    const Bytes signature = hex(f.signature_hex);
    for (std::size_t index : {std::size_t{0}, signature.size() / 2, signature.size() - 1}) {
      const CredentialKey key = load(f.pem);
      expect_does_not_verify(key.verify(as_bytes(kMessage), flip_bit(signature, index), f.algorithm),
                             std::string(f.name) + " byte " + std::to_string(index));
    }
  }
}

TEST(CredentialKeyTest, WrongMessageFails) {
  const std::string other = std::string(kMessage.substr(0, kMessage.size() - 3)) + "X\"}";
  for (const auto& f : fixtures()) {
    const CredentialKey key = load(f.pem);
    expect_does_not_verify(key.verify(as_bytes(other), hex(f.signature_hex), f.algorithm), f.name);
    expect_does_not_verify(key.verify({}, hex(f.signature_hex), f.algorithm), f.name);
  }
}

TEST(CredentialKeyTest, WrongKeyFails) {
  for (const auto& f : fixtures()) {
    const Pkey fresh = f.fresh_curve ? generate_ec(f.fresh_curve) : generate(f.fresh_type);
    const CredentialKey key = load(public_pem(fresh.get()));
    EXPECT_EQ(key.kind(), f.kind) << f.name;
    expect_does_not_verify(key.verify(as_bytes(kMessage), hex(f.signature_hex), f.algorithm), f.name);
  }
  // And across the fixtures: every other fixture key refuses the signature.
  for (const auto& f : fixtures()) {
    for (const auto& g : fixtures()) {
      if (g.pem == f.pem) continue;
      const CredentialKey key = load(g.pem);
      expect_does_not_verify(key.verify(as_bytes(kMessage), hex(f.signature_hex), f.algorithm),
                             std::string(f.name) + " under " + g.name);
    }
  }
}

TEST(CredentialKeyTest, AlgorithmName) {
  const CredentialKey p256 = load(kP256Pem);
  const CredentialKey rsa = load(kRsa2048Pem);
  for (std::string_view unknown : {"MD5", "SHA1", "sha256", "SHA-256", "ES256", "none", ""}) {
    auto result = p256.verify(as_bytes(kMessage), hex(kP256Sha256Sig), unknown);
    ASSERT_FALSE(result.has_value()) << unknown;
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument) << unknown;
    result = rsa.verify(as_bytes(kMessage), hex(kRsa2048Sig), unknown);
    ASSERT_FALSE(result.has_value()) << unknown;
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument) << unknown;
  }
  // A known name for the wrong digest is a bad signature, not a bad request.
  expect_does_not_verify(p256.verify(as_bytes(kMessage), hex(kP256Sha256Sig), "SHA512"), "SHA-256 sig as SHA512");
  expect_does_not_verify(p256.verify(as_bytes(kMessage), hex(kP256Sha512Sig)), "SHA-512 sig as default");
  expect_does_not_verify(rsa.verify(as_bytes(kMessage), hex(kRsa2048Sig), "SHA512"), "RSA SHA-256 sig as SHA512");
  // Ed25519 has no digest to choose: the name is ignored.
  const CredentialKey ed = load(kEd25519Pem);
  EXPECT_TRUE(ed.verify(as_bytes(kMessage), hex(kEd25519Sig), "SHA512").has_value());
  EXPECT_TRUE(ed.verify(as_bytes(kMessage), hex(kEd25519Sig), "MD5").has_value());
}

TEST(CredentialKeyTest, RawRsMatchesOpenSslDecoding) {
  // The asn1parse transcription and OpenSSL's d2i agree, and both forms verify.
  EXPECT_EQ(der_to_raw(hex(kP256Sha256Sig)), hex(kP256RawSig));
  EXPECT_EQ(raw_to_der(hex(kP256RawSig)), hex(kP256Sha256Sig));
  const CredentialKey p256 = load(kP256Pem);
  EXPECT_TRUE(p256.verify(as_bytes(kMessage), hex(kP256RawSig)).has_value());
  EXPECT_TRUE(p256.verify(as_bytes(kMessage), der_to_raw(hex(kP256Sha512Sig)), "SHA512").has_value());
  // r‖s is only ever 64 bytes; zero r or s is never valid.
  Bytes raw = hex(kP256RawSig);
  expect_does_not_verify(p256.verify(as_bytes(kMessage), Bytes(raw.begin(), raw.end() - 1)), "63 bytes");
  Bytes zero_r = raw;
  std::fill(zero_r.begin(), zero_r.begin() + 32, 0);
  expect_does_not_verify(p256.verify(as_bytes(kMessage), zero_r), "r = 0");
  expect_does_not_verify(p256.verify(as_bytes(kMessage), Bytes(64, 0)), "all zero");
}

TEST(CredentialKeyTest, HighSAccepted) {
  // The secp256k1 fixture happens to be high-s as openssl made it.
  EXPECT_TRUE(is_high_s(der_to_raw(hex(kSecp256k1Sig)), NID_secp256k1));
  const Bytes high = flip_s(hex(kP256RawSig), NID_X9_62_prime256v1);
  ASSERT_TRUE(is_high_s(high, NID_X9_62_prime256v1));
  const CredentialKey p256 = load(kP256Pem);
  EXPECT_TRUE(p256.verify(as_bytes(kMessage), high).has_value());
  EXPECT_TRUE(p256.verify(as_bytes(kMessage), raw_to_der(high)).has_value());
  const Bytes low_k1 = flip_s(der_to_raw(hex(kSecp256k1Sig)), NID_secp256k1);
  EXPECT_TRUE(load(kSecp256k1Pem).verify(as_bytes(kMessage), raw_to_der(low_k1)).has_value());
}

TEST(CredentialKeyTest, NonDerEcdsaRefused) {
  const CredentialKey p256 = load(kP256Pem);
  Bytes trailing = hex(kP256Sha256Sig);
  trailing.push_back(0);
  expect_does_not_verify(p256.verify(as_bytes(kMessage), trailing), "trailing byte");
  // BER, not DER: a redundant leading zero on r (length fields adjusted).
  Bytes der = hex(kP256Sha256Sig);
  Bytes ber = {0x30, static_cast<std::uint8_t>(der[1] + 1), 0x02, static_cast<std::uint8_t>(der[3] + 1), 0x00};
  ber.insert(ber.end(), der.begin() + 4, der.end());
  expect_does_not_verify(p256.verify(as_bytes(kMessage), ber), "BER r");
  expect_does_not_verify(p256.verify(as_bytes(kMessage), {}), "empty");
}

TEST(CredentialKeyTest, Ed25519AndRsaSignatureSizes) {
  const Bytes ed = hex(kEd25519Sig);
  const CredentialKey ed_key = load(kEd25519Pem);
  expect_does_not_verify(ed_key.verify(as_bytes(kMessage), Bytes(ed.begin(), ed.end() - 1)), "63-byte Ed25519");
  Bytes longer = ed;
  longer.push_back(0);
  expect_does_not_verify(ed_key.verify(as_bytes(kMessage), longer), "65-byte Ed25519");
  const Bytes rsa = hex(kRsa2048Sig);
  expect_does_not_verify(load(kRsa2048Pem).verify(as_bytes(kMessage), Bytes(rsa.begin() + 1, rsa.end())), "short RSA");
  // A PKCS#1 v1.5 signature is not a PSS one, under the same modulus or not.
  expect_does_not_verify(load(kRsaPssPem).verify(as_bytes(kMessage), rsa), "v1.5 under PSS key");
}

TEST(CredentialKeyTest, Rfc8037PublicKeyVerifiesTheRfcSignature) {
  // SubjectPublicKeyInfo for Ed25519 (RFC 8410): a fixed 12-byte prefix and the 32-byte key.
  Bytes spki = hex("302a300506032b6570032100");
  const Bytes x = base64url_decode(kRfc8037X).value();
  spki.insert(spki.end(), x.begin(), x.end());
  std::string b64(4 * ((spki.size() + 2) / 3) + 1, '\0');
  b64.resize(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), spki.data(), static_cast<int>(spki.size())));
  const CredentialKey key = load("-----BEGIN PUBLIC KEY-----\n" + b64 + "\n-----END PUBLIC KEY-----\n");
  const std::string_view input = kRfc8037Jws.substr(0, kRfc8037Jws.rfind('.'));
  const Bytes signature = base64url_decode(kRfc8037Jws.substr(kRfc8037Jws.rfind('.') + 1)).value();
  EXPECT_TRUE(key.verify(as_bytes(input), signature).has_value());
  expect_does_not_verify(key.verify(as_bytes(input), flip_bit(signature, 10)), "RFC signature, flipped");
}

void expect_invalid(std::string_view pem, std::string_view message_part) {
  auto key = CredentialKey::from_pem(pem);
  ASSERT_FALSE(key.has_value()) << message_part;
  EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(key.error().message.find(message_part), std::string::npos) << key.error().message;
}

TEST(CredentialKeyTest, UnsupportedKeysRefused) {
  expect_invalid(kRsa1024Pem, "RSA key of 1024 bits refused");
  expect_invalid(kP384Pem, "unsupported EC curve secp384r1");
  expect_invalid(kP256ExplicitPem, "unsupported EC curve");
  expect_invalid(kX25519Pem, "unsupported key type X25519");
  expect_invalid(kEd448Pem, "unsupported key type ED448");
  expect_invalid("", "not PEM");
  expect_invalid("hello", "not PEM");
  expect_invalid("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a public key");
  expect_invalid("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a public key");
  // The point at infinity (SEC1 0x00) on P-256: anyone could forge signatures under it.
  // OpenSSL's decoder accepts it; from_pem must not.
  expect_invalid("-----BEGIN PUBLIC KEY-----\nMBkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDAgAA\n-----END PUBLIC KEY-----\n",
                 "not a valid curve point");
  // Two keys, or anything after the key, is ambiguous.
  expect_invalid(std::string(kP256Pem) + "\n" + std::string(kEd25519Pem) + "\n", "exactly one PEM block");
  expect_invalid(std::string(kP256Pem) + "\ntrailing", "exactly one PEM block");
  expect_invalid(std::string(17 * 1024, ' ') + std::string(kP256Pem), "16 KiB");
}

TEST(CredentialKeyTest, PrivateKeyRefusedWithoutEchoingIt) {
  const Pkey ed = generate("ED25519");
  const std::string pem = private_pem(ed.get());
  auto key = CredentialKey::from_pem(pem);
  ASSERT_FALSE(key.has_value());
  EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(key.error().message.find("PRIVATE"), std::string::npos) << key.error().message;
  const std::string body_line = pem.substr(pem.find('\n') + 1, 16);
  EXPECT_EQ(key.error().message.find(body_line), std::string::npos);
}

TEST(CredentialKeyTest, PemIsNormalised) {
  for (const auto& f : fixtures()) {
    const CredentialKey key = load(f.pem);
    EXPECT_EQ(key.pem(), std::string(f.pem) + "\n") << f.name;  // the openssl CLI writes the normal form
    EXPECT_EQ(load(key.pem()).pem(), key.pem()) << f.name;
  }
  std::string crlf = "\r\n  ";
  for (char c : kP256Pem) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  crlf += "\r\n\r\n";
  EXPECT_EQ(load(crlf).pem(), std::string(kP256Pem) + "\n");
}

TEST(CredentialKeyTest, CopiesShareTheKeyAndVerifyConcurrently) {
  const CredentialKey original = load(kP256Pem);
  const CredentialKey copy = original;  // NOLINT(performance-unnecessary-copy-initialization): the point
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if ((i % 2 ? copy : original).verify(as_bytes(kMessage), hex(kP256Sha256Sig)).has_value()) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 200);
}

// ---- JWT ----

// b64url(header) "." b64url(payload) "." b64url(Ed25519(signing input)), with header and payload as given.
std::string sign_compact(EVP_PKEY* key, std::string_view header_json, std::string_view payload_json) {
  std::string input = base64url_encode(as_bytes(header_json)) + "." + base64url_encode(as_bytes(payload_json));
  return input + "." + base64url_encode(ed25519_sign(key, input));
}

void expect_not_authorized(const Result<boost::json::object>& result, std::string_view reason,
                           std::string_view token = {}) {
  ASSERT_FALSE(result.has_value()) << reason;
  EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(result.error().message, "Not Authorized.");
  const auto* got = result.error().details.if_contains("reason");
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->as_string(), reason);
  if (token.size() > 8) {
    const std::string all = result.error().message + boost::json::serialize(result.error().details);
    EXPECT_EQ(all.find(token.substr(token.size() - 8)), std::string::npos);
  }
}

TEST(JwtTest, Rfc8037SignatureAccepted) {
  const Bytes x = base64url_decode(kRfc8037X).value();
  // The RFC's payload is not JSON, so jwt_verify stops at the payload check, which it reaches only after the
  // Ed25519 signature has verified (a bad signature stops earlier, with "bad signature").
  expect_not_authorized(jwt_verify(kRfc8037Jws, "", x), "payload is not a JSON object");
  std::string flipped(kRfc8037Jws);
  flipped[flipped.size() - 20] = flipped[flipped.size() - 20] == 'A' ? 'B' : 'A';
  expect_not_authorized(jwt_verify(flipped, "", x), "bad signature");
  // The RFC's header has no kid: it matches only an empty expected kid.
  expect_not_authorized(jwt_verify(kRfc8037Jws, "k1", x), "kid mismatch");
}

struct JwtFixture {
  Pkey key = generate("ED25519");
  Bytes public_key = raw_public_key(key.get());
  boost::json::object payload = {{"sub", "us-3q9cc-mqh3m-87b9mc46jgh1abjl"},
                                 {"exp", 1900000000},
                                 {"https://custom/app_metadata", {{"orgId", "or-1"}, {"tokenKind", "ServiceAccount"}}}};

  std::string token(std::string_view kid = "k1") const {
    const std::string input = jwt_signing_input(kid, payload);
    auto token = jwt_assemble(input, ed25519_sign(key.get(), input));
    EXPECT_TRUE(token.has_value());
    return token.value_or("");
  }
  std::string header(std::string_view alg, std::string_view kid = "k1") const {
    return R"({"alg":")" + std::string(alg) + R"(","typ":"JWT","kid":")" + std::string(kid) + "\"}";
  }
};

TEST(JwtTest, RoundTrip) {
  const JwtFixture f;
  const std::string token = f.token();
  const std::string header_b64 = token.substr(0, token.find('.'));
  const Bytes header = base64url_decode(header_b64).value();
  EXPECT_EQ(std::string(header.begin(), header.end()), R"({"alg":"EdDSA","typ":"JWT","kid":"k1"})");
  EXPECT_TRUE(token.starts_with("eyJ"));
  auto payload = jwt_verify(token, "k1", f.public_key);
  ASSERT_TRUE(payload.has_value()) << boost::json::serialize(payload.error().details);
  EXPECT_EQ(*payload, f.payload);
  // What an independent JWS library would check: the same token signed by hand from the same bytes.
  EXPECT_EQ(token,
            sign_compact(f.key.get(), std::string(header.begin(), header.end()), boost::json::serialize(f.payload)));
}

TEST(JwtTest, AssembleNeeds64ByteSignature) {
  auto token = jwt_assemble("a.b", Bytes(63, 1));
  ASSERT_FALSE(token.has_value());
  EXPECT_EQ(token.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(jwt_assemble("a.b", Bytes(64, 1)).has_value());
}

TEST(JwtTest, TamperedPayloadFails) {
  const JwtFixture f;
  const std::string token = f.token();
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = token.rfind('.');
  boost::json::object forged = f.payload;
  forged["exp"] = 2900000000;
  const std::string tampered =
      token.substr(0, dot1 + 1) + base64url_encode(as_bytes(boost::json::serialize(forged))) + token.substr(dot2);
  expect_not_authorized(jwt_verify(tampered, "k1", f.public_key), "bad signature", tampered);
  // And the signature itself.
  std::string flipped = token;
  flipped[dot2 + 5] = flipped[dot2 + 5] == 'A' ? 'B' : 'A';
  expect_not_authorized(jwt_verify(flipped, "k1", f.public_key), "bad signature", flipped);
  // Or the key.
  const Pkey other = generate("ED25519");
  expect_not_authorized(jwt_verify(token, "k1", raw_public_key(other.get())), "bad signature", token);
  expect_not_authorized(jwt_verify(token, "k1", Bytes(31, 1)), "invalid verification key", token);
}

TEST(JwtTest, AlgNoneRefused) {
  const JwtFixture f;
  const std::string body = base64url_encode(as_bytes(boost::json::serialize(f.payload)));
  const std::string none_header = base64url_encode(as_bytes(f.header("none")));
  expect_not_authorized(jwt_verify(none_header + "." + body + ".", "k1", f.public_key), "malformed token");
  const std::string with_sig = none_header + "." + body + "." + base64url_encode(Bytes(64, 7));
  expect_not_authorized(jwt_verify(with_sig, "k1", f.public_key), "unsupported alg", with_sig);
  // Even with a valid EdDSA signature over it.
  const std::string signed_none = sign_compact(f.key.get(), f.header("none"), boost::json::serialize(f.payload));
  expect_not_authorized(jwt_verify(signed_none, "k1", f.public_key), "unsupported alg", signed_none);
  const std::string no_alg = sign_compact(f.key.get(), R"({"typ":"JWT","kid":"k1"})", "{}");
  expect_not_authorized(jwt_verify(no_alg, "k1", f.public_key), "unsupported alg", no_alg);
  const std::string eddsa_case = sign_compact(f.key.get(), f.header("eddsa"), "{}");
  expect_not_authorized(jwt_verify(eddsa_case, "k1", f.public_key), "unsupported alg", eddsa_case);
}

TEST(JwtTest, AlgHs256WithPublicKeyAsSecretRefused) {
  const JwtFixture f;
  const std::string input = base64url_encode(as_bytes(f.header("HS256"))) + "." +
                            base64url_encode(as_bytes(boost::json::serialize(f.payload)));
  unsigned char mac[32];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), f.public_key.data(), static_cast<int>(f.public_key.size()), as_bytes(input).data(), input.size(),
       mac, &mac_size);
  const std::string token = input + "." + base64url_encode(std::span<const std::uint8_t>(mac, mac_size));
  expect_not_authorized(jwt_verify(token, "k1", f.public_key), "unsupported alg", token);
}

TEST(JwtTest, KidMustMatch) {
  const JwtFixture f;
  const std::string token = f.token("k1");
  expect_not_authorized(jwt_verify(token, "k2", f.public_key), "kid mismatch", token);
  expect_not_authorized(jwt_verify(token, "", f.public_key), "kid mismatch", token);
  const std::string no_kid = sign_compact(f.key.get(), R"({"alg":"EdDSA","typ":"JWT"})", "{}");
  expect_not_authorized(jwt_verify(no_kid, "k1", f.public_key), "kid mismatch", no_kid);
  EXPECT_TRUE(jwt_verify(no_kid, "", f.public_key).has_value());
  const std::string numeric_kid = sign_compact(f.key.get(), R"({"alg":"EdDSA","kid":1})", "{}");
  expect_not_authorized(jwt_verify(numeric_kid, "1", f.public_key), "kid mismatch", numeric_kid);
  EXPECT_TRUE(jwt_verify(f.token(""), "", f.public_key).has_value());
}

TEST(JwtTest, ShapeRefused) {
  const JwtFixture f;
  const std::string token = f.token();
  const std::vector<std::string> bad_tokens = {
      token + ".", token + ".AAAA", "a.b.c.d", "a.b", "..", "", "abc", "." + token.substr(token.find('.'))};
  for (const std::string& bad : bad_tokens) {
    expect_not_authorized(jwt_verify(bad, "k1", f.public_key), "malformed token");
  }
}

TEST(JwtTest, NonBase64UrlRefused) {
  const JwtFixture f;
  const std::string token = f.token();
  const std::size_t dot2 = token.rfind('.');
  const std::vector<std::string> bad_tokens = {
      token + "=",                                               // padding
      token.substr(0, dot2 + 1) + "+" + token.substr(dot2 + 2),  // the standard alphabet
      token.substr(0, dot2 + 1) + "/" + token.substr(dot2 + 2),
      " " + token,  // whitespace
      token.substr(0, 4) + "\n" + token.substr(4),
      token.substr(0, dot2) + ".AAAAA",  // 5 characters cannot encode whole bytes
  };
  for (const std::string& bad : bad_tokens) {
    expect_not_authorized(jwt_verify(bad, "k1", f.public_key), "malformed token");
  }
  // A signature that decodes, to something other than 64 bytes.
  expect_not_authorized(jwt_verify(token.substr(0, dot2) + ".AAAA", "k1", f.public_key), "bad signature");
}

TEST(JwtTest, HeaderAndPayloadMustBeJsonObjects) {
  const JwtFixture f;
  for (std::string_view header : {"[1]", "\"EdDSA\"", "{", "null", R"({"alg":"EdDSA"} x)"}) {
    const std::string token = sign_compact(f.key.get(), header, "{}");
    expect_not_authorized(jwt_verify(token, "", f.public_key), "header is not a JSON object", token);
  }
  for (std::string_view payload : {"[1]", "42", "{", "", "{\"a\":1}{}"}) {
    const std::string token = sign_compact(f.key.get(), f.header("EdDSA"), payload);
    expect_not_authorized(jwt_verify(token, "k1", f.public_key),
                          payload.empty() ? "malformed token" : "payload is not a JSON object", token);
  }
  const std::string crit = sign_compact(f.key.get(), R"({"alg":"EdDSA","kid":"k1","crit":["exp"],"exp":1})", "{}");
  expect_not_authorized(jwt_verify(crit, "k1", f.public_key), "unsupported crit", crit);
}

TEST(JwtTest, TokensOver8KiBRefused) {
  const JwtFixture f;
  // A signed token of `pad` + overhead characters; base64url skips lengths 4n+1, so the kid's length fine-tunes.
  const auto make = [&](std::string_view kid, std::size_t pad) {
    boost::json::object payload = f.payload;
    payload["pad"] = std::string(pad, 'x');
    const std::string input = jwt_signing_input(kid, payload);
    return jwt_assemble(input, ed25519_sign(f.key.get(), input)).value();
  };
  std::string at_limit;
  std::string kid_at_limit;
  for (std::string_view kid : {"k1", "k12", "k123"}) {
    const std::size_t base = make(kid, 0).size();
    for (std::size_t pad = (8192 - base) * 3 / 4 - 4; at_limit.empty() && pad < (8192 - base) * 3 / 4 + 4; ++pad) {
      std::string token = make(kid, pad);
      if (token.size() == 8192) {
        at_limit = std::move(token);
        kid_at_limit = kid;
      }
    }
    if (!at_limit.empty()) break;
  }
  ASSERT_EQ(at_limit.size(), 8192u);
  EXPECT_TRUE(jwt_verify(at_limit, kid_at_limit, f.public_key).has_value());
  const std::string over = make("k1", 6200);
  ASSERT_GT(over.size(), 8192u);
  expect_not_authorized(jwt_verify(over, "k1", f.public_key), "token too large", over);
  expect_not_authorized(jwt_verify(std::string(1 << 20, 'A'), "k1", f.public_key), "token too large");
}

}  // namespace
}  // namespace signerd::core

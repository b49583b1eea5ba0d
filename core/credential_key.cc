#include "core/credential_key.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace signerd::core {
namespace {

constexpr std::size_t kMaxPemSize = std::size_t{16} * 1024;
constexpr int kMinRsaBits = 2048;
constexpr std::string_view kPemBegin = "-----BEGIN PUBLIC KEY-----";
constexpr std::string_view kPemEnd = "-----END PUBLIC KEY-----";

// The OpenSSL error queue is per thread; a failed parse or verify must not leave entries behind for whatever
// OpenSSL call the thread makes next.
struct ErrorQueueGuard {
  ~ErrorQueueGuard() { ERR_clear_error(); }
};

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::unexpected<Error> invalid(std::string message) { return fail(ErrorCode::kInvalidArgument, std::move(message)); }

std::unexpected<Error> does_not_verify() { return fail(ErrorCode::kUnauthenticated, "signature does not verify"); }

// "EcP256" or "EcSecp256k1" for a named-curve key on one of the two curves Dfns clients use.
Result<std::string> ec_kind(EVP_PKEY* key) {
  std::array<char, 64> encoding{};
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, encoding.data(), encoding.size(), nullptr) ==
          1 &&
      std::string_view(encoding.data()) != OSSL_PKEY_EC_ENCODING_GROUP) {
    // Explicit curve parameters are how curve-substitution attacks (CVE-2020-0601) travel; no client needs them.
    return invalid("unsupported EC curve: explicit curve parameters (use a named curve: P-256 or secp256k1)");
  }
  std::array<char, 64> group{};
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(), nullptr) != 1) {
    return invalid("unsupported EC curve: unnamed (supported: P-256, secp256k1)");
  }
  const std::string_view name(group.data());
  std::string kind;
  if (name == "prime256v1" || name == "P-256") {
    kind = "EcP256";
  } else if (name == "secp256k1") {
    kind = "EcSecp256k1";
  } else {
    return invalid("unsupported EC curve " + std::string(name) + " (supported: P-256, secp256k1)");
  }
  // The SPKI decoder already checks that the point is on the curve; this also refuses the point at infinity,
  // under which anyone could forge an ECDSA signature.
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) return invalid("the EC public key is not a valid curve point");
  return kind;
}

Result<std::string> classify(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) return ec_kind(key);
  if (EVP_PKEY_is_a(key, "ED25519")) return std::string("Ed25519");
  const bool pss = EVP_PKEY_is_a(key, "RSA-PSS");
  if (pss || EVP_PKEY_is_a(key, "RSA")) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits < kMinRsaBits) {
      return invalid("RSA key of " + std::to_string(bits) + " bits refused: at least " + std::to_string(kMinRsaBits) +
                     " bits are required");
    }
    return std::string(pss ? "RsaPss" : "Rsa");
  }
  const char* type = EVP_PKEY_get0_type_name(key);
  return invalid(std::string("unsupported key type ") + (type ? type : "(unknown)") +
                 " (supported: EC P-256 or secp256k1, Ed25519, RSA)");
}

Result<std::string> to_pem(EVP_PKEY* key) {
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || PEM_write_bio_PUBKEY(out.get(), key) != 1) {
    return fail(ErrorCode::kInternal, "could not re-encode the public key as PEM");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(out.get(), &data);
  if (size <= 0 || data == nullptr) return fail(ErrorCode::kInternal, "could not re-encode the public key as PEM");
  return std::string(data, static_cast<std::size_t>(size));
}

// The digest a credentialAssertion.algorithm names (null: Node's default for EC and RSA keys, SHA-256).
Result<const EVP_MD*> digest_for(std::optional<std::string_view> algorithm) {
  if (!algorithm || *algorithm == "SHA256" || *algorithm == "RSA-SHA256") return EVP_sha256();
  if (*algorithm == "SHA512") return EVP_sha512();
  return invalid("unsupported signature algorithm (supported: SHA256, RSA-SHA256, SHA512)");
}

// One EVP_DigestVerify over the whole message. `pss` selects RSASSA-PSS with the salt length read from the
// signature; a key restricted by its PSS parameters keeps the salt length those parameters fix.
bool digest_verify(EVP_PKEY* key, const EVP_MD* md, std::span<const std::uint8_t> message,
                   std::span<const std::uint8_t> signature, bool pss) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestVerifyInit_ex(ctx.get(), &pctx, md ? EVP_MD_get0_name(md) : nullptr, nullptr, nullptr, key, nullptr) !=
      1) {
    return false;
  }
  if (pss) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1) return false;
    // Refused (harmlessly) for keys whose parameters pin the salt length.
    if (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1) ERR_clear_error();
  }
  return EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
}

// A 64-byte raw r‖s (IEEE P1363) re-encoded as DER; nullopt if it cannot be.
std::optional<std::vector<std::uint8_t>> raw_ecdsa_to_der(std::span<const std::uint8_t> raw) {
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!sig) return std::nullopt;
  BIGNUM* r = BN_bin2bn(raw.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + 32, 32, nullptr);
  if (r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  const int size = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (size <= 0) return std::nullopt;
  std::vector<std::uint8_t> der(static_cast<std::size_t>(size));
  unsigned char* p = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &p) != size) return std::nullopt;
  return der;
}

// True when `bytes` is exactly one DER ECDSA-Sig-Value and nothing else.
bool is_der_ecdsa_signature(std::span<const std::uint8_t> bytes) {
  const unsigned char* p = bytes.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(bytes.size())));
  if (!sig || p != bytes.data() + bytes.size()) return false;
  // d2i tolerates some BER; DER is what re-encodes to the same bytes.
  unsigned char* der = nullptr;
  const int size = i2d_ECDSA_SIG(sig.get(), &der);
  const bool same = size == static_cast<int>(bytes.size()) && std::equal(bytes.begin(), bytes.end(), der);
  OPENSSL_free(der);
  return same;
}

}  // namespace

void CredentialKey::KeyDeleter::operator()(void* key) const { EVP_PKEY_free(static_cast<EVP_PKEY*>(key)); }

Result<CredentialKey> CredentialKey::from_pem(std::string_view pem) {
  ErrorQueueGuard clear_errors;
  if (pem.size() > kMaxPemSize) return invalid("public key PEM is larger than 16 KiB");
  const std::string_view body = trim(pem);
  if (!body.starts_with(kPemBegin)) {
    if (body.starts_with("-----BEGIN ")) {
      // Never echo the label: a pasted private key must not end up in an error message or a log line.
      return invalid("not a public key: expected a \"-----BEGIN PUBLIC KEY-----\" (SubjectPublicKeyInfo) PEM block");
    }
    return invalid("not PEM: expected a \"-----BEGIN PUBLIC KEY-----\" block");
  }
  // Anything after the block (a second key, say) would be silently ignored by the parser; refuse it instead.
  if (!body.ends_with(kPemEnd) || body.find("-----BEGIN", kPemBegin.size()) != std::string_view::npos) {
    return invalid("not a single public key: expected exactly one PEM block and nothing after it");
  }
  BioPtr in(BIO_new_mem_buf(body.data(), static_cast<int>(body.size())));
  if (!in) return fail(ErrorCode::kInternal, "out of memory reading the public key");
  PkeyPtr key(PEM_read_bio_PUBKEY(in.get(), nullptr, nullptr, nullptr));
  if (!key) return invalid("not a public key: the PEM block is not a valid SubjectPublicKeyInfo");

  auto kind = classify(key.get());
  if (!kind) return std::unexpected(std::move(kind.error()));
  auto normalised = to_pem(key.get());
  if (!normalised) return std::unexpected(std::move(normalised.error()));

  CredentialKey out;
  out.key_ = std::shared_ptr<void>(key.release(), KeyDeleter{});
  out.kind_ = std::move(*kind);
  out.pem_ = std::move(*normalised);
  return out;
}

Result<void> CredentialKey::verify(std::span<const std::uint8_t> message, std::span<const std::uint8_t> signature,
                                   std::optional<std::string_view> algorithm) const {
  ErrorQueueGuard clear_errors;
  auto* key = static_cast<EVP_PKEY*>(key_.get());
  if (key == nullptr) return fail(ErrorCode::kInternal, "credential key is empty");

  if (kind_ == "Ed25519") {
    if (signature.size() != 64) return does_not_verify();
    if (!digest_verify(key, nullptr, message, signature, false)) return does_not_verify();
    return {};
  }

  auto md = digest_for(algorithm);
  if (!md) return std::unexpected(std::move(md.error()));

  if (kind_ == "Rsa" || kind_ == "RsaPss") {
    if (!digest_verify(key, *md, message, signature, kind_ == "RsaPss")) return does_not_verify();
    return {};
  }

  // ECDSA: DER as Node produces it; a 64-byte r‖s (WebCrypto's format) only when it is not DER.
  if (digest_verify(key, *md, message, signature, false)) return {};
  if (signature.size() != 64 || is_der_ecdsa_signature(signature)) return does_not_verify();
  auto der = raw_ecdsa_to_der(signature);
  if (!der || !digest_verify(key, *md, message, *der, false)) return does_not_verify();
  return {};
}

}  // namespace signerd::core

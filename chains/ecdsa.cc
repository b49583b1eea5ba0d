#include "chains/ecdsa.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

namespace signerd::chains {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<BN_CTX, BN_CTX_free>>;
using PointPtr = std::unique_ptr<EC_POINT, Deleter<EC_POINT, EC_POINT_free>>;
using SigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

BnPtr bn_from(std::span<const std::uint8_t> bytes) {
  return BnPtr(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
}

void bn_to32(const BIGNUM* bn, std::array<std::uint8_t, 32>& out) { BN_bn2binpad(bn, out.data(), 32); }

using Uncompressed = std::array<std::uint8_t, 65>;

std::optional<Uncompressed> decompress_secp256k1(std::span<const std::uint8_t> public_key) {
  secp256k1_pubkey parsed;
  if (!secp256k1_ec_pubkey_parse(secp256k1_context_static, &parsed, public_key.data(), public_key.size())) {
    return std::nullopt;
  }
  Uncompressed out{};
  std::size_t len = out.size();
  secp256k1_ec_pubkey_serialize(secp256k1_context_static, out.data(), &len, &parsed, SECP256K1_EC_UNCOMPRESSED);
  return out;
}

std::optional<Uncompressed> decompress_p256(const EC_GROUP* group, std::span<const std::uint8_t> public_key) {
  PointPtr point(EC_POINT_new(group));
  Uncompressed out{};
  if (!point || !EC_POINT_oct2point(group, point.get(), public_key.data(), public_key.size(), nullptr) ||
      EC_POINT_point2oct(group, point.get(), POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(), nullptr) !=
          out.size()) {
    return std::nullopt;
  }
  return out;
}

// The uncompressed form of a SEC1 public key, or nullopt when it is not a point of the curve. Keys are stored
// compressed, and decompressing one costs a modular square root (about 15 µs for P-256 with OpenSSL, a fifth of the
// whole finalisation), so each worker thread remembers the keys it signed with lately. A cache per thread needs no
// lock; it is cleared when full, which bounds it at kMaxKeys entries of about 100 bytes.
std::optional<Uncompressed> uncompressed_key(EcCurve curve, const EC_GROUP* p256,
                                             std::span<const std::uint8_t> public_key) {
  if (public_key.size() == 65) {
    if (curve == EcCurve::kSecp256k1) return decompress_secp256k1(public_key);  // checks the point
    Uncompressed out{};  // P-256: the caller's EC_POINT_oct2point checks it
    std::copy(public_key.begin(), public_key.end(), out.begin());
    return out;
  }
  constexpr std::size_t kMaxKeys = 1024;
  thread_local std::unordered_map<std::string, Uncompressed> cache;
  std::string tag(1, curve == EcCurve::kSecp256k1 ? 'k' : 'r');
  tag.append(public_key.begin(), public_key.end());
  if (auto it = cache.find(tag); it != cache.end()) return it->second;
  auto point = curve == EcCurve::kSecp256k1 ? decompress_secp256k1(public_key) : decompress_p256(p256, public_key);
  if (!point) return std::nullopt;
  if (cache.size() >= kMaxKeys) cache.clear();
  cache.emplace(std::move(tag), *point);
  return point;
}

Result<EcdsaSignature> finalize_secp256k1(std::span<const std::uint8_t> digest, std::span<const std::uint8_t> raw_rs,
                                          std::span<const std::uint8_t> public_key) {
  const secp256k1_context* ctx = secp256k1_context_static;
  secp256k1_ecdsa_signature sig;
  if (!secp256k1_ecdsa_signature_parse_compact(ctx, &sig, raw_rs.data())) {
    return fail(ErrorCode::kInternal, "the HSM returned a malformed secp256k1 signature");
  }
  secp256k1_ecdsa_signature_normalize(ctx, &sig, &sig);
  EcdsaSignature out;
  std::array<std::uint8_t, 64> compact{};
  secp256k1_ecdsa_signature_serialize_compact(ctx, compact.data(), &sig);
  std::copy_n(compact.begin(), 32, out.r.begin());
  std::copy_n(compact.begin() + 32, 32, out.s.begin());

  const auto expected = uncompressed_key(EcCurve::kSecp256k1, nullptr, public_key);
  if (!expected) return fail(ErrorCode::kInvalidArgument, "malformed secp256k1 public key");

  // The recovery id is whichever candidate R recovers our own public key: R.y parity 0 or 1 (2 and 3 need
  // r + n < p, with probability about 2^-127).
  for (int recid = 0; recid < 4; ++recid) {
    secp256k1_ecdsa_recoverable_signature rsig;
    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rsig, compact.data(), recid)) continue;
    secp256k1_pubkey recovered;
    if (!secp256k1_ecdsa_recover(ctx, &recovered, &rsig, digest.data())) continue;
    Uncompressed got{};
    std::size_t len = got.size();
    secp256k1_ec_pubkey_serialize(ctx, got.data(), &len, &recovered, SECP256K1_EC_UNCOMPRESSED);
    if (got == *expected) {
      out.recid = recid;
      return out;
    }
  }
  return fail(ErrorCode::kInternal, "the HSM's secp256k1 signature does not verify against the key");
}

Result<EcdsaSignature> finalize_p256(std::span<const std::uint8_t> digest, std::span<const std::uint8_t> raw_rs,
                                     std::span<const std::uint8_t> public_key) {
  static const EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  BnCtxPtr ctx(BN_CTX_new());
  const BIGNUM* n = EC_GROUP_get0_order(group);
  BnPtr r = bn_from(raw_rs.subspan(0, 32));
  BnPtr s = bn_from(raw_rs.subspan(32, 32));
  BnPtr z = bn_from(digest);
  if (!ctx || !r || !s || !z) return fail(ErrorCode::kInternal, "out of memory");
  if (BN_is_zero(r.get()) || BN_is_zero(s.get()) || BN_cmp(r.get(), n) >= 0 || BN_cmp(s.get(), n) >= 0) {
    return fail(ErrorCode::kInternal, "the HSM returned a malformed P-256 signature");
  }
  BnPtr half(BN_dup(n));
  BN_rshift1(half.get(), half.get());
  if (BN_cmp(s.get(), half.get()) > 0) BN_sub(s.get(), n, s.get());

  const auto uncompressed = uncompressed_key(EcCurve::kP256, group, public_key);
  PointPtr q(EC_POINT_new(group));
  if (!uncompressed || !q ||
      !EC_POINT_oct2point(group, q.get(), uncompressed->data(), uncompressed->size(), ctx.get())) {
    return fail(ErrorCode::kInvalidArgument, "malformed P-256 public key");
  }
  // R = (z/s)·G + (r/s)·Q; the signature verifies when R.x ≡ r (mod n), and R.y's parity is the recovery id.
  BnPtr s_inv(BN_mod_inverse(nullptr, s.get(), n, ctx.get()));
  BnPtr u1(BN_new()), u2(BN_new()), x(BN_new()), y(BN_new()), x_mod(BN_new());
  BN_mod_mul(u1.get(), z.get(), s_inv.get(), n, ctx.get());
  BN_mod_mul(u2.get(), r.get(), s_inv.get(), n, ctx.get());
  PointPtr big_r(EC_POINT_new(group));
  if (!EC_POINT_mul(group, big_r.get(), u1.get(), q.get(), u2.get(), ctx.get()) ||
      EC_POINT_is_at_infinity(group, big_r.get()) ||
      !EC_POINT_get_affine_coordinates(group, big_r.get(), x.get(), y.get(), ctx.get())) {
    return fail(ErrorCode::kInternal, "the HSM's P-256 signature does not verify against the key");
  }
  BN_nnmod(x_mod.get(), x.get(), n, ctx.get());
  if (BN_cmp(x_mod.get(), r.get()) != 0) {
    return fail(ErrorCode::kInternal, "the HSM's P-256 signature does not verify against the key");
  }
  EcdsaSignature out;
  bn_to32(r.get(), out.r);
  bn_to32(s.get(), out.s);
  out.recid = (BN_is_odd(y.get()) ? 1 : 0) + (BN_cmp(x.get(), n) >= 0 ? 2 : 0);
  return out;
}

}  // namespace

Result<EcdsaSignature> finalize_ecdsa(EcCurve curve, std::span<const std::uint8_t> digest,
                                      std::span<const std::uint8_t> raw_rs,
                                      std::span<const std::uint8_t> public_key) {
  if (digest.size() != 32) return fail(ErrorCode::kInvalidArgument, "an ECDSA digest must be 32 bytes");
  if (raw_rs.size() != 64) return fail(ErrorCode::kInternal, "the HSM returned a signature that is not 64 bytes");
  const bool sec1 = (public_key.size() == 65 && public_key[0] == 0x04) ||
                    (public_key.size() == 33 && (public_key[0] == 0x02 || public_key[0] == 0x03));
  if (!sec1) return fail(ErrorCode::kInvalidArgument, "the public key must be a SEC1 point");
  return curve == EcCurve::kSecp256k1 ? finalize_secp256k1(digest, raw_rs, public_key)
                                      : finalize_p256(digest, raw_rs, public_key);
}

Result<Bytes> compress_point(std::span<const std::uint8_t> uncompressed) {
  if (uncompressed.size() != 65 || uncompressed[0] != 0x04) {
    return fail(ErrorCode::kInvalidArgument, "not an uncompressed EC point");
  }
  Bytes out(33);
  out[0] = (uncompressed[64] & 1) ? 0x03 : 0x02;
  std::copy_n(uncompressed.begin() + 1, 32, out.begin() + 1);
  return out;
}

Bytes der_encode(const EcdsaSignature& sig) {
  SigPtr s(ECDSA_SIG_new());
  ECDSA_SIG_set0(s.get(), BN_bin2bn(sig.r.data(), 32, nullptr), BN_bin2bn(sig.s.data(), 32, nullptr));
  const int len = i2d_ECDSA_SIG(s.get(), nullptr);
  Bytes out(static_cast<std::size_t>(len));
  unsigned char* p = out.data();
  i2d_ECDSA_SIG(s.get(), &p);
  return out;
}

}  // namespace signerd::chains

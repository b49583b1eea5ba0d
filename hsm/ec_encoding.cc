#include "hsm/ec_encoding.h"

#include <algorithm>
#include <array>

namespace signerd::hsm {
namespace {

// OBJECT IDENTIFIER 1.3.132.0.10 (secp256k1)
constexpr std::array<std::uint8_t, 7> kSecp256k1Oid = {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A};
// OBJECT IDENTIFIER 1.2.840.10045.3.1.7 (prime256v1)
constexpr std::array<std::uint8_t, 10> kP256Oid = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
// OBJECT IDENTIFIER 1.3.101.112 (id-Ed25519)
constexpr std::array<std::uint8_t, 5> kEd25519Oid = {0x06, 0x03, 0x2B, 0x65, 0x70};
// PrintableString "edwards25519"
constexpr std::array<std::uint8_t, 14> kEd25519Name = {0x13, 0x0C, 'e', 'd', 'w', 'a', 'r',
                                                       'd',  's',  '2', '5', '5', '1', '9'};

bool equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) { return std::ranges::equal(a, b); }

bool is_point(std::span<const std::uint8_t> p, Curve curve) {
  if (p.size() != public_key_size(curve)) return false;
  return curve == Curve::kEd25519 || p[0] == 0x04;  // ECDSA: uncompressed form only
}

}  // namespace

std::size_t public_key_size(Curve curve) { return curve == Curve::kEd25519 ? 32 : 65; }

Bytes ec_params(Curve curve, bool printable_name) {
  switch (curve) {
    case Curve::kSecp256k1: return Bytes(kSecp256k1Oid.begin(), kSecp256k1Oid.end());
    case Curve::kP256: return Bytes(kP256Oid.begin(), kP256Oid.end());
    case Curve::kEd25519:
      if (printable_name) return Bytes(kEd25519Name.begin(), kEd25519Name.end());
      return Bytes(kEd25519Oid.begin(), kEd25519Oid.end());
  }
  return {};
}

std::optional<Curve> curve_from_ec_params(std::span<const std::uint8_t> params) {
  if (equal(params, kSecp256k1Oid)) return Curve::kSecp256k1;
  if (equal(params, kP256Oid)) return Curve::kP256;
  if (equal(params, kEd25519Oid) || equal(params, kEd25519Name)) return Curve::kEd25519;
  return std::nullopt;
}

std::optional<Bytes> unwrap_ec_point(std::span<const std::uint8_t> ec_point, Curve curve) {
  const std::size_t n = public_key_size(curve);
  // The sizes tell the forms apart: the OCTET STRING adds a 2-byte header (3 with a non-minimal 0x81 length).
  std::span<const std::uint8_t> inner;
  if (ec_point.size() == n + 2 && ec_point[0] == 0x04 && ec_point[1] == n) {
    inner = ec_point.subspan(2);
  } else if (ec_point.size() == n + 3 && ec_point[0] == 0x04 && ec_point[1] == 0x81 && ec_point[2] == n) {
    inner = ec_point.subspan(3);
  } else {
    inner = ec_point;
  }
  if (!is_point(inner, curve)) return std::nullopt;
  return Bytes(inner.begin(), inner.end());
}

}  // namespace signerd::hsm

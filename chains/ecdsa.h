#pragma once
// Pure functions over ECDSA signatures as an HSM returns them (raw r || s with arbitrary s), turning them into what
// blockchains accept: low-s, with the recovery id, and the usual encodings. No state; thread-safe.
#include <array>
#include <cstdint>
#include <span>

#include "common/error.h"
#include "common/hex.h"

namespace signerd::chains {

enum class EcCurve { kSecp256k1, kP256 };

struct EcdsaSignature {
  std::array<std::uint8_t, 32> r{};
  std::array<std::uint8_t, 32> s{};  // low-s: s <= n/2
  int recid = 0;                     // parity of R.y (+2 when R.x >= n, which practically never happens)
};

// Normalises `raw_rs` (64 bytes) to low-s and computes the recovery id for `digest` (32 bytes) under `public_key`
// (SEC1: compressed, 33 bytes, or uncompressed, 65 bytes). kInvalidArgument when the inputs are malformed; kInternal when the signature does not
// verify against the public key (the HSM signed with another key, or the bytes were corrupted).
Result<EcdsaSignature> finalize_ecdsa(EcCurve curve, std::span<const std::uint8_t> digest,
                                      std::span<const std::uint8_t> raw_rs,
                                      std::span<const std::uint8_t> public_key);

// SEC1 compressed form (33 bytes, 02/03 || X) of an uncompressed point (65 bytes, 04 || X || Y).
Result<Bytes> compress_point(std::span<const std::uint8_t> uncompressed);

// ASN.1 DER SEQUENCE { INTEGER r, INTEGER s }.
Bytes der_encode(const EcdsaSignature& sig);

}  // namespace signerd::chains

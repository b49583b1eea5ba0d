#pragma once
// secp256k1 public keys in the two SEC1 forms chains hash: Ethereum and Tron hash X || Y, Bitcoin and Cosmos the
// compressed form. Pure, thread-safe.
#include <array>
#include <cstdint>
#include <span>

#include "common/error.h"

namespace signerd::chains {

using Secp256k1Compressed = std::array<std::uint8_t, 33>;    // 02/03 || X
using Secp256k1Uncompressed = std::array<std::uint8_t, 65>;  // 04 || X || Y

// Both take a SEC1 key, compressed (33 bytes, 02/03) or uncompressed (65 bytes, 04), and check with libsecp256k1 that
// it is a point on the curve. kInvalidArgument for any other length or prefix (hybrid 06/07 keys included) and for
// points not on the curve.
Result<Secp256k1Compressed> secp256k1_compressed(std::span<const std::uint8_t> sec1);
Result<Secp256k1Uncompressed> secp256k1_uncompressed(std::span<const std::uint8_t> sec1);

}  // namespace signerd::chains

#pragma once
// The hash functions blockchains build addresses and message digests from. Pure, thread-safe, total: every input
// (including the empty one) has a digest, so none of them can fail.
#include <array>
#include <cstdint>
#include <span>

namespace signerd::chains {

using Hash256 = std::array<std::uint8_t, 32>;
using Hash160 = std::array<std::uint8_t, 20>;

// Keccak-256 as Ethereum uses it: the original Keccak padding (0x01), not FIPS 202 SHA3-256 (0x06). Crypto++.
Hash256 keccak256(std::span<const std::uint8_t> data);

// SHA-256 (OpenSSL).
Hash256 sha256(std::span<const std::uint8_t> data);

// RIPEMD-160 (Crypto++; OpenSSL 3.0 has it in its default provider only from 3.0.7, in the legacy one before).
Hash160 ripemd160(std::span<const std::uint8_t> data);

// RIPEMD-160(SHA-256(data)): Bitcoin's and Cosmos' public-key hash.
Hash160 hash160(std::span<const std::uint8_t> data);

}  // namespace signerd::chains

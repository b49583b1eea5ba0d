#pragma once
// Base58 with Bitcoin's alphabet, and Base58Check (payload || first 4 bytes of SHA-256(SHA-256(payload))), as
// Bitcoin, Tron and Solana write them. Pure, thread-safe. Quadratic in the length: meant for addresses and keys, not
// bulk data.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/hex.h"

namespace signerd::chains {

// Each leading zero byte becomes a leading '1'. Total.
std::string base58_encode(std::span<const std::uint8_t> bytes);

// Inverse of base58_encode. kInvalidArgument for a character outside the alphabet (including whitespace, '0', 'O',
// 'I', 'l') or an input longer than kBase58MaxDecode characters.
inline constexpr std::size_t kBase58MaxDecode = 1024;
Result<Bytes> base58_decode(std::string_view text);

std::string base58check_encode(std::span<const std::uint8_t> payload);

// The payload, after checking the 4-byte checksum. kInvalidArgument for base58 errors, fewer than 4 bytes, or a
// checksum mismatch.
Result<Bytes> base58check_decode(std::string_view text);

}  // namespace signerd::chains

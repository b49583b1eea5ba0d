#pragma once
// Stellar StrKey (SEP-23) for ed25519 account ids, the "G..." addresses: base32 (RFC 4648, no padding) of
// version byte (6 << 3) || 32-byte key || CRC16-XModem of both, little-endian. Pure, thread-safe.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"

namespace signerd::chains {

// CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection, no final xor.
std::uint16_t crc16_xmodem(std::span<const std::uint8_t> data);

// The 56-character "G..." account id of a 32-byte ed25519 public key. Total.
std::string stellar_account_id(const std::array<std::uint8_t, 32>& ed25519_public_key);

// The key inside a "G..." account id. kInvalidArgument unless the text is exactly 56 characters of the RFC 4648
// base32 alphabet (upper case, no padding), the version byte is 6 << 3 (account id, ed25519), and the CRC matches.
// Muxed ("M..."), seeds ("S...") and other StrKey types are refused.
Result<std::array<std::uint8_t, 32>> parse_stellar_account_id(std::string_view text);

}  // namespace signerd::chains

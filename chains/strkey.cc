#include "chains/strkey.h"

#include <algorithm>

namespace signerd::chains {
namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::uint8_t kVersionAccountId = 6 << 3;  // STRKEY_PUBKEY | STRKEY_ALG_ED25519
// 1 version byte + 32 key bytes + 2 CRC bytes = 35 bytes = 280 bits = exactly 56 base32 characters, so an account
// id has no padding bits to check.
constexpr std::size_t kRawSize = 35;
constexpr std::size_t kTextSize = 56;

}  // namespace

std::uint16_t crc16_xmodem(std::span<const std::uint8_t> data) {
  std::uint16_t crc = 0;
  for (const std::uint8_t byte : data) {
    crc ^= static_cast<std::uint16_t>(byte << 8);
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
    }
  }
  return crc;
}

std::string stellar_account_id(const std::array<std::uint8_t, 32>& ed25519_public_key) {
  std::array<std::uint8_t, kRawSize> raw{};
  raw[0] = kVersionAccountId;
  std::copy(ed25519_public_key.begin(), ed25519_public_key.end(), raw.begin() + 1);
  const std::uint16_t crc = crc16_xmodem(std::span(raw).first(33));
  raw[33] = static_cast<std::uint8_t>(crc & 0xff);
  raw[34] = static_cast<std::uint8_t>(crc >> 8);

  std::string out;
  out.reserve(kTextSize);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const std::uint8_t b : raw) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += kBase32[(acc >> bits) & 31];
    }
    acc &= (1u << bits) - 1;
  }
  return out;  // bits == 0 here: 280 is a multiple of 5
}

Result<std::array<std::uint8_t, 32>> parse_stellar_account_id(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidArgument, "invalid Stellar account id '" + std::string(text) + "': " + why);
  };
  if (text.size() != kTextSize) return bad("it must be 56 characters, not " + std::to_string(text.size()));
  std::array<std::uint8_t, kRawSize> raw{};
  std::size_t n = 0;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const std::size_t v = kBase32.find(c);
    if (v == std::string_view::npos) return bad("character outside the base32 alphabet");
    acc = (acc << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      raw[n++] = static_cast<std::uint8_t>((acc >> bits) & 0xff);
    }
    acc &= (1u << bits) - 1;
  }
  if (raw[0] != kVersionAccountId) return bad("not an ed25519 account id (version byte)");
  const std::uint16_t crc = crc16_xmodem(std::span(raw).first(33));
  if (raw[33] != (crc & 0xff) || raw[34] != (crc >> 8)) return bad("checksum mismatch");
  std::array<std::uint8_t, 32> key{};
  std::copy(raw.begin() + 1, raw.begin() + 33, key.begin());
  return key;
}

}  // namespace signerd::chains

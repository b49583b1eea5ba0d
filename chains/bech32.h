#pragma once
// Bech32 (BIP-173) and Bech32m (BIP-350) strings, and the segregated-witness addresses built on them. Pure,
// thread-safe. Decoders are strict: they accept exactly what the BIPs call valid.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/hex.h"

namespace signerd::chains {

enum class Bech32Variant { kBech32, kBech32m };

struct Bech32Decoded {
  Bech32Variant variant = Bech32Variant::kBech32;
  std::string hrp;                 // lower case
  std::vector<std::uint8_t> data;  // 5-bit values, checksum removed
  friend bool operator==(const Bech32Decoded&, const Bech32Decoded&) = default;
};

// hrp + "1" + data + checksum, all lower case. kInvalidArgument when the hrp is empty, has a character outside
// 33..126 or an upper-case letter, a data value is >= 32, or the result would exceed 90 characters.
Result<std::string> bech32_encode(std::string_view hrp, std::span<const std::uint8_t> data5, Bech32Variant variant);

// Parses and checks a Bech32 or Bech32m string (which one is reported, never both). kInvalidArgument, saying why, for
// more than 90 characters, characters outside 33..126, mixed case, no separator, an empty hrp, fewer than 6 checksum
// characters, a data character outside the alphabet, or a checksum that is neither variant's.
Result<Bech32Decoded> bech32_decode(std::string_view text);

// Regroups bits, most significant first (8 -> 5 to encode, 5 -> 8 to decode). With `pad`, a final partial group is
// zero-filled; without it, leftover bits must be fewer than `from` and all zero (else nullopt).
std::optional<std::vector<std::uint8_t>> convert_bits(std::span<const std::uint8_t> in, int from, int to, bool pad);

// A segregated-witness output program (BIP-141): version 0..16, 2..40 bytes, and 20 or 32 bytes for version 0.
struct WitnessProgram {
  int version = 0;
  Bytes program;
  friend bool operator==(const WitnessProgram&, const WitnessProgram&) = default;
};

// Version 0 in Bech32, versions 1..16 in Bech32m (BIP-350). kInvalidArgument when the program breaks the rules above
// or the hrp is invalid.
Result<std::string> segwit_address_encode(std::string_view hrp, const WitnessProgram& program);

// Decodes an address that must carry `hrp` (e.g. "bc", "tb", "ltc"). kInvalidArgument for any Bech32 error, another
// hrp, a version above 16, a bad program length, the wrong variant for the version, or bad 5-to-8 bit padding.
Result<WitnessProgram> segwit_address_decode(std::string_view hrp, std::string_view address);

}  // namespace signerd::chains

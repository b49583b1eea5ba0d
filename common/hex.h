#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace signerd {

using Bytes = std::vector<std::uint8_t>;

// Lowercase hex, no prefix.
std::string to_hex(std::span<const std::uint8_t> bytes);
inline std::string to_hex_0x(std::span<const std::uint8_t> bytes) { return "0x" + to_hex(bytes); }

// Parses hex digits (either case) with an optional "0x"/"0X" prefix. nullopt on an odd length or a non-hex digit.
std::optional<Bytes> from_hex(std::string_view text);

// base64url without padding (RFC 4648 §5), as JWTs and Dfns credential ids use it.
std::string base64url_encode(std::span<const std::uint8_t> bytes);
std::optional<Bytes> base64url_decode(std::string_view text);

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace signerd

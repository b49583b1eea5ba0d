#include "chains/evm.h"

#include <algorithm>

#include "chains/rlp.h"
#include "chains/secp256k1_point.h"
#include "common/hex.h"

namespace signerd::chains {
namespace {

EvmAddress last20(const Hash256& h) {
  EvmAddress out{};
  std::copy(h.end() - 20, h.end(), out.begin());
  return out;
}

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

}  // namespace

Result<EvmAddress> evm_address(std::span<const std::uint8_t> secp256k1_public_key) {
  auto point = secp256k1_uncompressed(secp256k1_public_key);
  if (!point) return std::unexpected(std::move(point.error()));
  return last20(keccak256(std::span(*point).subspan(1)));
}

std::string evm_address_lower(const EvmAddress& address) { return to_hex_0x(address); }

std::string eip55_encode(const EvmAddress& address) {
  std::string hex = to_hex(address);
  const Hash256 h = keccak256(as_bytes(hex));
  for (std::size_t i = 0; i < hex.size(); ++i) {
    const std::uint8_t nibble = (i % 2 == 0) ? (h[i / 2] >> 4) : (h[i / 2] & 0x0f);
    if (hex[i] >= 'a' && hex[i] <= 'f' && nibble >= 8) hex[i] = static_cast<char>(hex[i] - 'a' + 'A');
  }
  return "0x" + hex;
}

Result<EvmAddress> parse_evm_address(std::string_view text) {
  if (!text.starts_with("0x") || text.size() != 42 || !std::all_of(text.begin() + 2, text.end(), is_hex_digit)) {
    return fail(ErrorCode::kInvalidArgument, "an EVM address is 0x followed by 40 hex digits");
  }
  const std::string_view digits = text.substr(2);
  const bool has_lower = std::any_of(digits.begin(), digits.end(), [](char c) { return c >= 'a' && c <= 'f'; });
  const bool has_upper = std::any_of(digits.begin(), digits.end(), [](char c) { return c >= 'A' && c <= 'F'; });
  EvmAddress address{};
  const auto bytes = from_hex(digits);
  std::copy(bytes->begin(), bytes->end(), address.begin());
  if (has_lower && has_upper) {
    const std::string expected = eip55_encode(address);
    if (text != expected) {
      return fail(
          ErrorCode::kInvalidArgument,
          "EVM address " + std::string(text) + " fails its EIP-55 checksum (the checksummed form is " + expected + ")");
    }
  }
  return address;
}

EvmAddress create_address(const EvmAddress& sender, std::uint64_t nonce) {
  const Bytes preimage = rlp_encode(RlpItem::list({RlpItem::bytes(std::span(sender)), RlpItem::uint(nonce)}));
  return last20(keccak256(preimage));
}

EvmAddress create2_address(const EvmAddress& deployer, const Hash256& salt, std::span<const std::uint8_t> init_code) {
  const Hash256 code_hash = keccak256(init_code);
  Bytes preimage;
  preimage.reserve(1 + 20 + 32 + 32);
  preimage.push_back(0xff);
  preimage.insert(preimage.end(), deployer.begin(), deployer.end());
  preimage.insert(preimage.end(), salt.begin(), salt.end());
  preimage.insert(preimage.end(), code_hash.begin(), code_hash.end());
  return last20(keccak256(preimage));
}

Hash256 eip191_message_hash(std::span<const std::uint8_t> message) {
  const std::string prefix =
      "\x19"
      "Ethereum Signed Message:\n" +
      std::to_string(message.size());
  Bytes preimage(prefix.begin(), prefix.end());
  preimage.insert(preimage.end(), message.begin(), message.end());
  return keccak256(preimage);
}

}  // namespace signerd::chains

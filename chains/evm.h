#pragma once
// Ethereum (and every EVM chain) addresses and message digests: the address of a secp256k1 key, EIP-55 checksums,
// CREATE / CREATE2 contract addresses, and the EIP-191 personal-message hash. Pure, thread-safe.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "chains/hashes.h"
#include "common/error.h"

namespace signerd::chains {

using EvmAddress = std::array<std::uint8_t, 20>;

// The last 20 bytes of keccak256(X || Y) of a secp256k1 public key, given compressed (33 bytes, decompressed with
// libsecp256k1) or uncompressed (65 bytes). kInvalidArgument when the key is not a SEC1 point on the curve.
Result<EvmAddress> evm_address(std::span<const std::uint8_t> secp256k1_public_key);

// "0x" + 40 lowercase hex digits: the form Dfns returns in Wallet.address.
std::string evm_address_lower(const EvmAddress& address);

// EIP-55 mixed-case checksum form: "0x" + 40 hex digits, a letter upper case when the matching nibble of
// keccak256(lowercase hex) is >= 8.
std::string eip55_encode(const EvmAddress& address);

// Parses "0x" + 40 hex digits. All-lowercase and all-uppercase digits carry no checksum and are accepted; mixed case
// must be exactly the EIP-55 form. kInvalidArgument for a missing "0x", a wrong length, a non-hex digit, or a failed
// checksum (the message names the expected form).
Result<EvmAddress> parse_evm_address(std::string_view text);

// CREATE: the last 20 bytes of keccak256(rlp([sender, nonce])). Nonces are 64-bit (EIP-2681).
EvmAddress create_address(const EvmAddress& sender, std::uint64_t nonce);

// CREATE2 (EIP-1014): the last 20 bytes of keccak256(0xff || deployer || salt || keccak256(init_code)).
EvmAddress create2_address(const EvmAddress& deployer, const Hash256& salt, std::span<const std::uint8_t> init_code);

// EIP-191 version 0x45 (personal_sign / eth_sign):
// keccak256("\x19Ethereum Signed Message:\n" || decimal(len(message)) || message).
Hash256 eip191_message_hash(std::span<const std::uint8_t> message);

}  // namespace signerd::chains

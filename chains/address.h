#pragma once
// Wallet addresses of signerd's keys on Dfns networks (dfns-api.md §3), from the public key alone. Pure, thread-safe.
//
// Only networks whose derivation is checked against an independent implementation (tests/interop/addresses.test.mjs)
// are supported; every other network is refused rather than given a guessed address.
#include <cstdint>
#include <span>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace signerd::chains {

// A public key of one of signerd's key types. A view: `bytes` must outlive the call.
struct EcdsaOrEd25519 {
  enum class Curve { kSecp256k1, kSecp256r1, kEd25519 };
  Curve curve = Curve::kSecp256k1;
  // ECDSA: SEC1, compressed (33 bytes) or uncompressed (65 bytes). EdDSA: the 32-byte ed25519 key.
  std::span<const std::uint8_t> bytes;
};

// The address Dfns shows for a wallet on `network` (a Dfns network name, case-sensitive):
//   EVM networks (Ethereum and testnets, Arbitrum, Avalanche C, Base, BSC, Optimism, Polygon, ... — see
//     supported_networks()) and secp256k1: "0x" + 40 lowercase hex digits (evm_address_lower);
//   Bitcoin / BitcoinTestnet3 / BitcoinTestnet4 / BitcoinSignet, Litecoin / LitecoinTestnet and secp256k1: P2WPKH of
//     the compressed key, hrp bc / tb / tb / tb, ltc / tltc;
//   Tron / TronNile and secp256k1: base58check(0x41 || EVM address), "T...";
//   CosmosHub4 and secp256k1: bech32("cosmos", hash160(compressed key));
//   Solana / SolanaDevnet and ed25519: base58 of the key;
//   Stellar / StellarTestnet and ed25519: StrKey account id "G...".
// kInvalidArgument: "unsupported network: X" for any other network (including Dfns networks not listed);
// "curve C does not fit network X ..." when the key's curve is not the network's; a malformed key (wrong length, a
// secp256k1 point not on the curve).
Result<std::string> address_for(std::string_view network, const EcdsaOrEd25519& public_key);

// True for the EVM networks address_for supports (they sign EIP-191 messages and EVM transactions).
bool is_evm_network(std::string_view network);

// The EIP-155 chain id of a supported EVM network, when signerd knows it (nullopt otherwise).
std::optional<std::uint64_t> evm_chain_id(std::string_view network);

// The networks address_for accepts, in a fixed order.
std::vector<std::string_view> supported_networks();

// The derivations behind address_for, for callers that know the chain. Errors as for address_for's keys.
Result<std::string> p2wpkh_address(std::string_view hrp, std::span<const std::uint8_t> secp256k1_public_key);
Result<std::string> tron_address(std::span<const std::uint8_t> secp256k1_public_key);
Result<std::string> cosmos_address(std::string_view hrp, std::span<const std::uint8_t> secp256k1_public_key);
Result<std::string> solana_address(std::span<const std::uint8_t> ed25519_public_key);
Result<std::string> stellar_address(std::span<const std::uint8_t> ed25519_public_key);

}  // namespace signerd::chains

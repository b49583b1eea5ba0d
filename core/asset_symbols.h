#pragma once
// The legacy API's names for chains (dfns-api.md §4): asset symbols `<SYMBOL>[.<NETWORK>]` for asset accounts and
// network codes (ETH, BTC_TESTNET, ...) for GET /public-keys/{id}/address, mapped to the Dfns networks whose addresses
// chains::address_for derives; and the address a legacy client expects for a key on one of them. Pure, thread-safe.
//
// Only codes whose chain signerd derives addresses for are accepted; every other one (ADA, DOT, XRP, the fiat
// symbols, ...) is kInvalidArgument with a message that lists what is supported, never a guessed address.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace signerd::core {

// A legacy network code and the chain behind it.
struct LegacyNetwork {
  std::string code;     // "ETH", "BTC_TESTNET", "SOL"
  std::string network;  // the Dfns network chains::address_for knows: "Ethereum", "BitcoinTestnet3", "Solana"
  std::string curve;    // the key it needs: "secp256k1" | "ed25519"
  bool evm = false;     // EVM addresses are shown EIP-55 checksummed by the legacy API
  bool has_tokens = false;
};

// A parsed asset symbol: a native asset ("ETH") or a token on a network ("USDC.MATIC": token USDC, network code
// MATIC). A token account has its network's address.
struct AssetSymbol {
  std::string symbol;                // as given
  std::optional<std::string> token;  // the part before the last '.', for tokens
  LegacyNetwork network;
};

// kInvalidArgument for an empty, unknown or unsupported symbol; the message lists examples and the supported codes.
Result<AssetSymbol> parse_asset_symbol(std::string_view symbol);

// A network code as GET /public-keys/{id}/address takes it. kInvalidArgument, listing the supported codes, otherwise.
Result<LegacyNetwork> legacy_network(std::string_view code);

// Every supported network code, in a fixed order.
std::vector<std::string_view> legacy_network_codes();

// The address of a key on `network`, as the legacy API shows it (EVM: EIP-55 mixed case; others as
// chains::address_for). `curve` and `public_key_hex` as store::KeyRecord has them. kInvalidArgument when the key's
// curve does not fit the network.
Result<std::string> legacy_address(const LegacyNetwork& network, std::string_view curve,
                                   std::string_view public_key_hex);

}  // namespace signerd::core

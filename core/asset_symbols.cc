#include "core/asset_symbols.h"

#include <algorithm>
#include <array>

#include "chains/address.h"
#include "chains/evm.h"
#include "common/hex.h"

namespace signerd::core {
namespace {

struct Entry {
  std::string_view code;
  std::string_view network;
  std::string_view curve;
  bool evm;
  bool has_tokens;
};

constexpr std::string_view kK1 = "secp256k1";
constexpr std::string_view kEd = "ed25519";

// The legacy codes (native asset symbols and the BlockchainNetwork enum of SDK 0.1, dfns-api.md §4) of chains whose
// addresses signerd derives, and the Dfns network each one is. BTC_TESTNET was Bitcoin's testnet3 then.
constexpr std::array kEntries = {
    Entry{"BTC", "Bitcoin", kK1, false, false},
    Entry{"BTC_TESTNET", "BitcoinTestnet3", kK1, false, false},
    Entry{"LTC", "Litecoin", kK1, false, false},
    Entry{"ETH", "Ethereum", kK1, true, true},
    Entry{"ETH_GOERLI", "EthereumGoerli", kK1, true, true},
    Entry{"ETH_SEPOLIA", "EthereumSepolia", kK1, true, true},
    Entry{"MATIC", "Polygon", kK1, true, true},
    Entry{"MATIC_MUMBAI", "PolygonMumbai", kK1, true, true},
    Entry{"AVAX", "AvalancheC", kK1, true, true},
    Entry{"BNB", "Bsc", kK1, true, true},
    Entry{"BNB_TESTNET", "BscTestnet", kK1, true, true},
    Entry{"OP", "Optimism", kK1, true, true},
    Entry{"ARB", "ArbitrumOne", kK1, true, true},
    Entry{"FTM", "FantomOpera", kK1, true, true},
    Entry{"TRX", "Tron", kK1, false, true},
    Entry{"ATOM", "CosmosHub4", kK1, false, false},
    Entry{"SOL", "Solana", kEd, false, true},
    Entry{"SOL_DEVNET", "SolanaDevnet", kEd, false, true},
    Entry{"XLM", "Stellar", kEd, false, false},
};

// Legacy codes signerd knows but cannot derive addresses for (or that are not chains at all).
constexpr std::array<std::string_view, 22> kUnsupported = {
    "ADA", "ALGO", "AMB", "CFG",  "CHF",   "CMP",   "DAG",        "Dag", "DOGE", "DOT",         "EGLD",
    "EUR", "GBP",  "KSM", "NEAR", "POLYX", "sFUEL", "TRX_SHASTA", "USD", "XRP",  "XRP_TESTNET", "XTZ"};

constexpr std::size_t kMaxTokenChars = 32;

LegacyNetwork to_network(const Entry& e) {
  return {std::string(e.code), std::string(e.network), std::string(e.curve), e.evm, e.has_tokens};
}

const Entry* find(std::string_view code) {
  const auto it = std::find_if(kEntries.begin(), kEntries.end(), [&](const Entry& e) { return e.code == code; });
  return it == kEntries.end() ? nullptr : &*it;
}

bool is_unsupported(std::string_view code) {
  return std::find(kUnsupported.begin(), kUnsupported.end(), code) != kUnsupported.end();
}

std::string join(bool tokens_only) {
  std::string out;
  for (const Entry& e : kEntries) {
    if (tokens_only && !e.has_tokens) continue;
    if (!out.empty()) out += ", ";
    out += e.code;
  }
  return out;
}

// What every refusal of an asset symbol ends with.
std::string symbol_hint() {
  return "use <SYMBOL>[.<NETWORK>], e.g. BTC, ETH, SOL, USDC.ETH or USDT.MATIC; native symbols: " + join(false) +
         "; tokens on: " + join(true);
}

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

Error bad_symbol(std::string why) {
  return Error{ErrorCode::kInvalidArgument, std::move(why) + "; " + symbol_hint(), {}};
}

// A symbol or code only ever reaches an error message cut short and printable.
std::string shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

Result<AssetSymbol> parse_asset_symbol(std::string_view symbol) {
  if (symbol.empty()) return std::unexpected(bad_symbol("field 'assetSymbol' is required"));
  const auto dot = symbol.rfind('.');
  const std::string_view code = dot == std::string_view::npos ? symbol : symbol.substr(dot + 1);
  const Entry* entry = find(code);
  if (entry == nullptr) {
    if (is_unsupported(code)) {
      return std::unexpected(bad_symbol("assetSymbol '" + shown(symbol) +
                                        "' is not supported: signerd does not derive " + shown(code) + " addresses"));
    }
    return std::unexpected(bad_symbol("unknown assetSymbol '" + shown(symbol) + "'"));
  }
  AssetSymbol parsed{std::string(symbol), std::nullopt, to_network(*entry)};
  if (dot == std::string_view::npos) return parsed;

  const std::string_view token = symbol.substr(0, dot);
  if (token.empty() || token.size() > kMaxTokenChars || !std::all_of(token.begin(), token.end(), is_token_char)) {
    return std::unexpected(bad_symbol("assetSymbol '" + shown(symbol) + "' has no valid token symbol before '." +
                                      std::string(code) + "'"));
  }
  if (!entry->has_tokens) {
    return std::unexpected(
        bad_symbol("assetSymbol '" + shown(symbol) + "': signerd has no tokens on " + std::string(code)));
  }
  parsed.token = std::string(token);
  return parsed;
}

Result<LegacyNetwork> legacy_network(std::string_view code) {
  if (const Entry* entry = find(code)) return to_network(*entry);
  const std::string why =
      is_unsupported(code) ? "network " + shown(code) + " is not supported" : "unknown network '" + shown(code) + "'";
  return fail(ErrorCode::kInvalidArgument, why + "; supported networks: " + join(false));
}

std::vector<std::string_view> legacy_network_codes() {
  std::vector<std::string_view> out;
  out.reserve(kEntries.size());
  for (const Entry& e : kEntries) out.push_back(e.code);
  return out;
}

Result<std::string> legacy_address(const LegacyNetwork& network, std::string_view curve,
                                   std::string_view public_key_hex) {
  using Curve = chains::EcdsaOrEd25519::Curve;
  if (curve != network.curve) {
    return fail(ErrorCode::kInvalidArgument, "a " + std::string(curve) + " key has no address on " + network.code +
                                                 " (it needs " + network.curve + ")");
  }
  auto bytes = from_hex(public_key_hex);
  if (!bytes) return fail(ErrorCode::kInternal, "a stored public key is not hex");
  const Curve c = curve == "ed25519" ? Curve::kEd25519 : curve == "secp256r1" ? Curve::kSecp256r1 : Curve::kSecp256k1;
  auto address = chains::address_for(network.network, {c, *bytes});
  if (!address || !network.evm) return address;
  // address_for gives EVM addresses in lowercase, as the Wallets API shows them; the legacy API checksummed them.
  auto parsed = chains::parse_evm_address(*address);
  if (!parsed) return std::unexpected(parsed.error());
  return chains::eip55_encode(*parsed);
}

}  // namespace signerd::core

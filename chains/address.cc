#include "chains/address.h"

#include <algorithm>
#include <array>

#include "chains/base58.h"
#include "chains/bech32.h"
#include "chains/evm.h"
#include "chains/hashes.h"
#include "chains/secp256k1_point.h"
#include "chains/strkey.h"

namespace signerd::chains {
namespace {

enum class Derivation { kEvm, kP2wpkh, kTron, kCosmos, kSolana, kStellar };

struct Network {
  std::string_view name;
  Derivation derivation;
  std::string_view hrp;  // bech32 networks only
};

// EVM names are those of dfns-api.md §3's EVM row (its "*" expanded from networks.txt), less the ones it marks
// unverified (Xdc, Ion, Tsc, Areum, Sei*). Dfns networks absent from the row (ArbitrumGoerli, BaseGoerli,
// OptimismGoerli) are left out too.
constexpr std::array kNetworks = {
    Network{"Ethereum", Derivation::kEvm, ""},
    Network{"EthereumSepolia", Derivation::kEvm, ""},
    Network{"EthereumHolesky", Derivation::kEvm, ""},
    Network{"EthereumHoodi", Derivation::kEvm, ""},
    Network{"EthereumGoerli", Derivation::kEvm, ""},
    Network{"EthereumClassic", Derivation::kEvm, ""},
    Network{"EthereumClassicMordor", Derivation::kEvm, ""},
    Network{"ArbitrumOne", Derivation::kEvm, ""},
    Network{"ArbitrumSepolia", Derivation::kEvm, ""},
    Network{"AvalancheC", Derivation::kEvm, ""},
    Network{"AvalancheCFuji", Derivation::kEvm, ""},
    Network{"Base", Derivation::kEvm, ""},
    Network{"BaseSepolia", Derivation::kEvm, ""},
    Network{"Bsc", Derivation::kEvm, ""},
    Network{"BscTestnet", Derivation::kEvm, ""},
    Network{"Optimism", Derivation::kEvm, ""},
    Network{"OptimismSepolia", Derivation::kEvm, ""},
    Network{"Polygon", Derivation::kEvm, ""},
    Network{"PolygonAmoy", Derivation::kEvm, ""},
    Network{"PolygonMumbai", Derivation::kEvm, ""},
    Network{"FantomOpera", Derivation::kEvm, ""},
    Network{"FantomTestnet", Derivation::kEvm, ""},
    Network{"Berachain", Derivation::kEvm, ""},
    Network{"BerachainBArtio", Derivation::kEvm, ""},
    Network{"BerachainBepolia", Derivation::kEvm, ""},
    Network{"Bob", Derivation::kEvm, ""},
    Network{"BobSepolia", Derivation::kEvm, ""},
    Network{"Celo", Derivation::kEvm, ""},
    Network{"CeloAlfajores", Derivation::kEvm, ""},
    Network{"Codex", Derivation::kEvm, ""},
    Network{"CodexSepolia", Derivation::kEvm, ""},
    Network{"FlareC", Derivation::kEvm, ""},
    Network{"FlareCCoston2", Derivation::kEvm, ""},
    Network{"FlowEvm", Derivation::kEvm, ""},
    Network{"FlowEvmTestnet", Derivation::kEvm, ""},
    Network{"Ink", Derivation::kEvm, ""},
    Network{"InkSepolia", Derivation::kEvm, ""},
    Network{"Plasma", Derivation::kEvm, ""},
    Network{"PlasmaTestnet", Derivation::kEvm, ""},
    Network{"Plume", Derivation::kEvm, ""},
    Network{"PlumeSepolia", Derivation::kEvm, ""},
    Network{"Race", Derivation::kEvm, ""},
    Network{"RaceSepolia", Derivation::kEvm, ""},
    Network{"Sonic", Derivation::kEvm, ""},
    Network{"SonicTestnet", Derivation::kEvm, ""},
    Network{"XLayer", Derivation::kEvm, ""},
    Network{"XLayerSepolia", Derivation::kEvm, ""},
    Network{"Tempo", Derivation::kEvm, ""},
    Network{"TempoAndantino", Derivation::kEvm, ""},
    Network{"TempoModerato", Derivation::kEvm, ""},
    Network{"Adi", Derivation::kEvm, ""},
    Network{"AdiTestnet", Derivation::kEvm, ""},
    Network{"AdiTestnetAb", Derivation::kEvm, ""},
    Network{"ArcTestnet", Derivation::kEvm, ""},
    Network{"BesuTestnet", Derivation::kEvm, ""},
    Network{"Bitcoin", Derivation::kP2wpkh, "bc"},
    Network{"BitcoinTestnet3", Derivation::kP2wpkh, "tb"},
    Network{"BitcoinTestnet4", Derivation::kP2wpkh, "tb"},
    Network{"BitcoinSignet", Derivation::kP2wpkh, "tb"},
    Network{"Litecoin", Derivation::kP2wpkh, "ltc"},
    Network{"LitecoinTestnet", Derivation::kP2wpkh, "tltc"},
    Network{"Tron", Derivation::kTron, ""},
    Network{"TronNile", Derivation::kTron, ""},
    Network{"CosmosHub4", Derivation::kCosmos, "cosmos"},
    Network{"Solana", Derivation::kSolana, ""},
    Network{"SolanaDevnet", Derivation::kSolana, ""},
    Network{"Stellar", Derivation::kStellar, ""},
    Network{"StellarTestnet", Derivation::kStellar, ""},
};

std::string_view curve_name(EcdsaOrEd25519::Curve curve) {
  switch (curve) {
    case EcdsaOrEd25519::Curve::kSecp256k1: return "secp256k1";
    case EcdsaOrEd25519::Curve::kSecp256r1: return "secp256r1";
    case EcdsaOrEd25519::Curve::kEd25519: return "ed25519";
  }
  return "unknown";
}

Result<std::array<std::uint8_t, 32>> ed25519_key(std::span<const std::uint8_t> key) {
  if (key.size() != 32) {
    return fail(ErrorCode::kInvalidArgument,
                "an ed25519 public key is 32 bytes; got " + std::to_string(key.size()) + " bytes");
  }
  std::array<std::uint8_t, 32> out{};
  std::copy(key.begin(), key.end(), out.begin());
  return out;
}

}  // namespace

Result<std::string> p2wpkh_address(std::string_view hrp, std::span<const std::uint8_t> secp256k1_public_key) {
  // BIP-143: P2WPKH commits to the compressed key (an uncompressed one makes the output unspendable under policy).
  auto key = secp256k1_compressed(secp256k1_public_key);
  if (!key) return std::unexpected(std::move(key.error()));
  const Hash160 h = hash160(*key);
  return segwit_address_encode(hrp, WitnessProgram{0, Bytes(h.begin(), h.end())});
}

Result<std::string> tron_address(std::span<const std::uint8_t> secp256k1_public_key) {
  auto evm = evm_address(secp256k1_public_key);
  if (!evm) return std::unexpected(std::move(evm.error()));
  Bytes payload{0x41};
  payload.insert(payload.end(), evm->begin(), evm->end());
  return base58check_encode(payload);
}

Result<std::string> cosmos_address(std::string_view hrp, std::span<const std::uint8_t> secp256k1_public_key) {
  auto key = secp256k1_compressed(secp256k1_public_key);
  if (!key) return std::unexpected(std::move(key.error()));
  const Hash160 h = hash160(*key);
  const auto data5 = convert_bits(h, 8, 5, true);
  return bech32_encode(hrp, *data5, Bech32Variant::kBech32);
}

Result<std::string> solana_address(std::span<const std::uint8_t> ed25519_public_key) {
  auto key = ed25519_key(ed25519_public_key);
  if (!key) return std::unexpected(std::move(key.error()));
  return base58_encode(*key);
}

Result<std::string> stellar_address(std::span<const std::uint8_t> ed25519_public_key) {
  auto key = ed25519_key(ed25519_public_key);
  if (!key) return std::unexpected(std::move(key.error()));
  return stellar_account_id(*key);
}

Result<std::string> address_for(std::string_view network, const EcdsaOrEd25519& public_key) {
  const auto it = std::find_if(kNetworks.begin(), kNetworks.end(), [&](const Network& n) { return n.name == network; });
  if (it == kNetworks.end()) return fail(ErrorCode::kInvalidArgument, "unsupported network: " + std::string(network));

  const bool ed25519_network = it->derivation == Derivation::kSolana || it->derivation == Derivation::kStellar;
  const EcdsaOrEd25519::Curve needed =
      ed25519_network ? EcdsaOrEd25519::Curve::kEd25519 : EcdsaOrEd25519::Curve::kSecp256k1;
  if (public_key.curve != needed) {
    return fail(ErrorCode::kInvalidArgument, "curve " + std::string(curve_name(public_key.curve)) +
                                                 " does not fit network " + std::string(network) + " (it needs " +
                                                 std::string(curve_name(needed)) + ")");
  }

  switch (it->derivation) {
    case Derivation::kEvm: {
      auto address = evm_address(public_key.bytes);
      if (!address) return std::unexpected(std::move(address.error()));
      return evm_address_lower(*address);
    }
    case Derivation::kP2wpkh: return p2wpkh_address(it->hrp, public_key.bytes);
    case Derivation::kTron: return tron_address(public_key.bytes);
    case Derivation::kCosmos: return cosmos_address(it->hrp, public_key.bytes);
    case Derivation::kSolana: return solana_address(public_key.bytes);
    case Derivation::kStellar: return stellar_address(public_key.bytes);
  }
  return fail(ErrorCode::kInternal, "unreachable: unknown derivation");
}

std::optional<std::uint64_t> evm_chain_id(std::string_view network) {
  // Chain ids from chainlist.org / each network's documentation; only networks listed in kNetworks.
  static constexpr std::pair<std::string_view, std::uint64_t> kChainIds[] = {
      {"Ethereum", 1},           {"EthereumSepolia", 11155111}, {"EthereumHolesky", 17000},
      {"EthereumHoodi", 560048}, {"EthereumGoerli", 5},         {"EthereumClassic", 61},
      {"EthereumClassicMordor", 63}, {"ArbitrumOne", 42161},    {"ArbitrumSepolia", 421614},
      {"AvalancheC", 43114},     {"AvalancheCFuji", 43113},     {"Base", 8453},
      {"BaseSepolia", 84532},    {"Bsc", 56},                   {"BscTestnet", 97},
      {"Optimism", 10},          {"OptimismSepolia", 11155420}, {"Polygon", 137},
      {"PolygonAmoy", 80002},    {"PolygonMumbai", 80001},      {"FantomOpera", 250},
      {"FantomTestnet", 4002},
  };
  if (!is_evm_network(network)) return std::nullopt;
  for (const auto& [name, id] : kChainIds) {
    if (name == network) return id;
  }
  return std::nullopt;
}

bool is_evm_network(std::string_view network) {
  return std::any_of(kNetworks.begin(), kNetworks.end(),
                     [&](const Network& n) { return n.name == network && n.derivation == Derivation::kEvm; });
}

std::vector<std::string_view> supported_networks() {
  std::vector<std::string_view> out;
  out.reserve(kNetworks.size());
  for (const Network& n : kNetworks) out.push_back(n.name);
  return out;
}

}  // namespace signerd::chains

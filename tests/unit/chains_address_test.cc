// chains::address_for and the per-chain derivations behind it (address.h) against published addresses, plus its
// refusals: unknown networks, keys of the wrong curve, malformed keys.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <string_view>

#include "chains/address.h"
#include "common/hex.h"

namespace signerd::chains {
namespace {

using Curve = EcdsaOrEd25519::Curve;

Bytes hex(std::string_view text) {
  auto bytes = from_hex(text);
  EXPECT_TRUE(bytes.has_value()) << "bad hex in the test: " << text;
  return bytes.value_or(Bytes{});
}

// Private key 1 (the generator G), both SEC1 forms.
constexpr std::string_view kKeyOne = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
constexpr std::string_view kKeyOneUncompressed =
    "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";
// SEP-23's example account key.
constexpr std::string_view kSep23Key = "3f0c34bf93ad0d9971d04ccc90f705511c838aad9734a4a2fb0d7a03fc7fe89a";

struct Vector {
  std::string_view network;
  Curve curve;
  std::string_view key;
  std::string_view address;
  std::string_view source;
};

const Vector kVectors[] = {
    {"Ethereum", Curve::kSecp256k1, kKeyOne, "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf",
     "key one's address, lowercase as Dfns returns it"},
    {"Ethereum", Curve::kSecp256k1, kKeyOneUncompressed, "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf", "same, 65 B"},
    {"Polygon", Curve::kSecp256k1, kKeyOne, "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf", "EVM family"},
    {"BaseSepolia", Curve::kSecp256k1, kKeyOne, "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf", "EVM family"},
    {"Bitcoin", Curve::kSecp256k1, kKeyOne, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "BIP-173 Examples"},
    {"Bitcoin", Curve::kSecp256k1, kKeyOneUncompressed, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
     "BIP-143: P2WPKH commits to the compressed key"},
    {"BitcoinTestnet3", Curve::kSecp256k1, kKeyOne, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "BIP-173 Examples"},
    {"BitcoinTestnet4", Curve::kSecp256k1, kKeyOne, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "BIP-173 Examples"},
    {"BitcoinSignet", Curve::kSecp256k1, kKeyOne, "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "BIP-173 Examples"},
    {"Litecoin", Curve::kSecp256k1, kKeyOne, "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9",
     "SLIP-173 hrp ltc; the usual Litecoin P2WPKH example; bitcoinjs-lib agrees"},
    {"LitecoinTestnet", Curve::kSecp256k1, kKeyOne, "tltc1qw508d6qejxtdg4y5r3zarvary0c5xw7klfsuq0",
     "SLIP-173 hrp tltc; bitcoinjs-lib agrees"},
    {"Tron", Curve::kSecp256k1, kKeyOne, "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC",
     "key one's Tron address as TronWeb's docs use it; bs58check + ethers agree"},
    {"TronNile", Curve::kSecp256k1, kKeyOneUncompressed, "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC", "same, 65 B"},
    {"CosmosHub4", Curve::kSecp256k1, "02d41a0aa167b21699429eab224bc03f2cd386f0af5d20cefbd0336f1544aea24f",
     "cosmos1h806c7khnvmjlywdrkdgk2vrayy2mmvf9rxk2r", "cosmjs amino addresses.spec.ts, Secp256k1 compressed"},
    {"CosmosHub4", Curve::kSecp256k1,
     "044f04181eeba35391b858633a765c4a0c189697b40d216354d50890d350c70290"
     "13b587a681e836cc187a8164b98a5848a2b89b3173315fdd0740d5032e259cd5",
     "cosmos1pkptre7fdkl6gfrzlesjjvhxhlc3r4gmmk8rs6", "cosmjs (iov) address.spec.ts, Secp256k1 uncompressed"},
    {"Solana", Curve::kEd25519, "0300000000000000000000000000000000000000000000000000000000000000",
     "CiDwVBFgWV9E5MvXWoLgnEgn2hK7rJikbvfWavzAQz3", "solana-web3.js publickey.test.ts"},
    {"SolanaDevnet", Curve::kEd25519, "0000000000000000000000000000000000000000000000000000000000000000",
     "11111111111111111111111111111111", "solana-web3.js publickey.test.ts (the System Program id)"},
    {"Stellar", Curve::kEd25519, kSep23Key, "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ",
     "SEP-23 valid test case 1"},
    {"StellarTestnet", Curve::kEd25519, kSep23Key, "GA7QYNF7SOWQ3GLR2BGMZEHXAVIRZA4KVWLTJJFC7MGXUA74P7UJVSGZ",
     "SEP-23 valid test case 1"},
};

TEST(AddressFor, MatchesPublishedAddresses) {
  for (const auto& v : kVectors) {
    const Bytes key = hex(v.key);
    auto a = address_for(v.network, EcdsaOrEd25519{v.curve, key});
    ASSERT_TRUE(a.has_value()) << v.network << ": " << a.error().message;
    EXPECT_EQ(*a, v.address) << v.network << " (" << v.source << ")";
  }
}

TEST(AddressFor, EveryEvmNetworkGivesTheLowercaseEthereumAddress) {
  const Bytes key = hex(kKeyOne);
  const std::set<std::string_view> kNotEvm = {
      "Bitcoin",  "BitcoinTestnet3", "BitcoinTestnet4", "BitcoinSignet", "Litecoin", "LitecoinTestnet", "Tron",
      "TronNile", "CosmosHub4",      "Solana",          "SolanaDevnet",  "Stellar",  "StellarTestnet"};
  std::size_t evm = 0;
  for (const auto network : supported_networks()) {
    if (kNotEvm.contains(network)) continue;
    ++evm;
    auto a = address_for(network, EcdsaOrEd25519{Curve::kSecp256k1, key});
    ASSERT_TRUE(a.has_value()) << network << ": " << a.error().message;
    EXPECT_EQ(*a, "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf") << network;
  }
  EXPECT_EQ(evm + kNotEvm.size(), supported_networks().size());
  EXPECT_GE(evm, 50u);
}

TEST(AddressFor, SupportedNetworksAreDfnsNamesWithoutDuplicates) {
  const auto networks = supported_networks();
  const std::set<std::string_view> unique(networks.begin(), networks.end());
  EXPECT_EQ(unique.size(), networks.size());
  for (const auto n :
       {"Ethereum", "EthereumSepolia", "ArbitrumOne",     "AvalancheC",    "Bsc",      "Optimism",        "Polygon",
        "Bitcoin",  "BitcoinTestnet3", "BitcoinTestnet4", "BitcoinSignet", "Litecoin", "LitecoinTestnet", "Tron",
        "TronNile", "CosmosHub4",      "Solana",          "SolanaDevnet",  "Stellar",  "StellarTestnet"}) {
    EXPECT_TRUE(unique.contains(n)) << n;
  }
}

TEST(AddressFor, RefusesUnsupportedNetworks) {
  const Bytes key = hex(kKeyOne);
  // Unknown names, wrong case, and Dfns networks whose derivation is not verified here (dfns-api.md §3 marks Xdc,
  // Ion, Tsc, Areum, Sei* unverified; Dogecoin, XrpLedger, Tezos, ... are simply not implemented).
  for (const std::string_view n : {"",
                                   "ethereum",
                                   "ETHEREUM",
                                   "Ethereum ",
                                   "Bitcoin2",
                                   "KeyECDSA",
                                   "Xdc",
                                   "Ion",
                                   "Tsc",
                                   "Areum",
                                   "SeiPacific1",
                                   "Dogecoin",
                                   "BitcoinCash",
                                   "XrpLedger",
                                   "Tezos",
                                   "CosmosIcsTestnet",
                                   "BabylonGenesis",
                                   "ArbitrumGoerli",
                                   "Cardano",
                                   "Ton"}) {
    auto a = address_for(n, EcdsaOrEd25519{Curve::kSecp256k1, key});
    ASSERT_FALSE(a.has_value()) << n;
    EXPECT_EQ(a.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(a.error().message, "unsupported network: " + std::string(n));
  }
}

TEST(AddressFor, RefusesKeysOfTheWrongCurve) {
  const Bytes secp = hex(kKeyOne);
  const Bytes ed = hex(kSep23Key);
  struct Case {
    std::string_view network;
    Curve curve;
    const Bytes* key;
    std::string_view message;
  };
  const Case kCases[] = {
      {"Ethereum", Curve::kEd25519, &ed, "curve ed25519 does not fit network Ethereum (it needs secp256k1)"},
      {"Bitcoin", Curve::kSecp256r1, &secp, "curve secp256r1 does not fit network Bitcoin (it needs secp256k1)"},
      {"Tron", Curve::kEd25519, &ed, "curve ed25519 does not fit network Tron (it needs secp256k1)"},
      {"CosmosHub4", Curve::kSecp256r1, &secp, "curve secp256r1 does not fit network CosmosHub4 (it needs secp256k1)"},
      {"Solana", Curve::kSecp256k1, &secp, "curve secp256k1 does not fit network Solana (it needs ed25519)"},
      {"StellarTestnet", Curve::kSecp256r1, &secp,
       "curve secp256r1 does not fit network StellarTestnet (it needs ed25519)"},
  };
  for (const auto& c : kCases) {
    auto a = address_for(c.network, EcdsaOrEd25519{c.curve, *c.key});
    ASSERT_FALSE(a.has_value()) << c.network;
    EXPECT_EQ(a.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(a.error().message, c.message);
  }
}

TEST(AddressFor, RefusesMalformedKeys) {
  // x = 0: y^2 = 7 has no root mod p (noble-curves agrees), so no point has it.
  const Bytes off_curve = hex("020000000000000000000000000000000000000000000000000000000000000000");
  const Bytes hybrid = [] {
    Bytes k = hex(kKeyOneUncompressed);
    k[0] = 0x06;
    return k;
  }();
  const Bytes short_ed(31, 1);
  const Bytes long_ed(33, 1);
  struct Case {
    std::string_view network;
    Curve curve;
    const Bytes* key;
  };
  const Bytes empty;
  const Case kCases[] = {
      {"Ethereum", Curve::kSecp256k1, &empty},     {"Bitcoin", Curve::kSecp256k1, &hybrid},
      {"Tron", Curve::kSecp256k1, &short_ed},      {"CosmosHub4", Curve::kSecp256k1, &long_ed},
      {"Solana", Curve::kEd25519, &short_ed},      {"Stellar", Curve::kEd25519, &long_ed},
      {"Litecoin", Curve::kSecp256k1, &off_curve},
  };
  for (const auto& c : kCases) {
    auto a = address_for(c.network, EcdsaOrEd25519{c.curve, *c.key});
    ASSERT_FALSE(a.has_value()) << c.network << " with " << c.key->size() << " bytes";
    EXPECT_EQ(a.error().code, ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace signerd::chains

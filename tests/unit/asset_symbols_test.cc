// The legacy API's asset symbols and network codes (core/asset_symbols.h): the Dfns network each maps to, tokens,
// refusals that list what is supported, and the addresses a legacy client expects (EIP-55 for EVM).
#include "core/asset_symbols.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "chains/address.h"
#include "common/hex.h"

namespace signerd::core {
namespace {

// The generator points: valid keys of each curve.
const std::string kSecp256k1 = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
const std::string kEd25519 = "5866666666666666666666666666666666666666666666666666666666666666";

struct Case {
  std::string symbol;
  std::string network;
  std::string curve;
};

TEST(AssetSymbols, NativeSymbolsAndTestnetsMapToTheirNetworks) {
  const Case cases[] = {
      {"BTC", "Bitcoin", "secp256k1"},
      {"BTC_TESTNET", "BitcoinTestnet3", "secp256k1"},
      {"LTC", "Litecoin", "secp256k1"},
      {"ETH", "Ethereum", "secp256k1"},
      {"ETH_GOERLI", "EthereumGoerli", "secp256k1"},
      {"ETH_SEPOLIA", "EthereumSepolia", "secp256k1"},
      {"MATIC", "Polygon", "secp256k1"},
      {"MATIC_MUMBAI", "PolygonMumbai", "secp256k1"},
      {"AVAX", "AvalancheC", "secp256k1"},
      {"BNB", "Bsc", "secp256k1"},
      {"BNB_TESTNET", "BscTestnet", "secp256k1"},
      {"OP", "Optimism", "secp256k1"},
      {"ARB", "ArbitrumOne", "secp256k1"},
      {"FTM", "FantomOpera", "secp256k1"},
      {"TRX", "Tron", "secp256k1"},
      {"ATOM", "CosmosHub4", "secp256k1"},
      {"SOL", "Solana", "ed25519"},
      {"SOL_DEVNET", "SolanaDevnet", "ed25519"},
      {"XLM", "Stellar", "ed25519"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.symbol);
    auto parsed = parse_asset_symbol(c.symbol);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->symbol, c.symbol);
    EXPECT_FALSE(parsed->token);
    EXPECT_EQ(parsed->network.code, c.symbol);
    EXPECT_EQ(parsed->network.network, c.network);
    EXPECT_EQ(parsed->network.curve, c.curve);
    EXPECT_EQ(parsed->network.evm, chains::is_evm_network(c.network));
  }
  EXPECT_EQ(legacy_network_codes().size(), std::size(cases));
}

// Every code maps to a network chains::address_for derives, with a key of the code's curve.
TEST(AssetSymbols, EveryCodeIsANetworkAddressForSupports) {
  const auto supported = chains::supported_networks();
  for (auto code : legacy_network_codes()) {
    SCOPED_TRACE(code);
    auto network = legacy_network(code);
    ASSERT_TRUE(network) << network.error().message;
    EXPECT_NE(std::find(supported.begin(), supported.end(), network->network), supported.end());
    const std::string& key = network->curve == "ed25519" ? kEd25519 : kSecp256k1;
    auto address = legacy_address(*network, network->curve, key);
    ASSERT_TRUE(address) << address.error().message;
    EXPECT_FALSE(address->empty());
  }
}

TEST(AssetSymbols, TokensUseTheirNetworksAddress) {
  const Case cases[] = {
      {"USDC.ETH", "Ethereum", "secp256k1"},      {"USDT.MATIC", "Polygon", "secp256k1"},
      {"USDC.SOL", "Solana", "ed25519"},          {"USDT.TRX", "Tron", "secp256k1"},
      {"WBTC.BNB", "Bsc", "secp256k1"},           {"USDC.ETH_SEPOLIA", "EthereumSepolia", "secp256k1"},
      {"USDC.e.AVAX", "AvalancheC", "secp256k1"}, {"1INCH.ETH", "Ethereum", "secp256k1"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.symbol);
    auto parsed = parse_asset_symbol(c.symbol);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(parsed->network.network, c.network);
    EXPECT_EQ(parsed->network.curve, c.curve);
    ASSERT_TRUE(parsed->token);
    EXPECT_EQ(*parsed->token, c.symbol.substr(0, c.symbol.rfind('.')));
    auto native = parse_asset_symbol(parsed->network.code);
    ASSERT_TRUE(native);
    const std::string& key = c.curve == "ed25519" ? kEd25519 : kSecp256k1;
    EXPECT_EQ(legacy_address(parsed->network, c.curve, key).value(),
              legacy_address(native->network, c.curve, key).value());
  }
}

TEST(AssetSymbols, UnknownUnsupportedAndMalformedSymbolsAreRefusedWithExamples) {
  for (const char* symbol :
       {"", "FOO", "ADA", "XRP", "DOT", "USD", "TRX_SHASTA", "eth", "USDC.XTZ", "USDC.FOO", "FOO.BTC", "FOO.LTC",
        "FOO.ATOM", "FOO.XLM", ".ETH", "US DC.ETH", "USDC.", "ETH.", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ETH"}) {
    SCOPED_TRACE(symbol);
    auto parsed = parse_asset_symbol(symbol);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    const auto& m = parsed.error().message;
    EXPECT_NE(m.find("e.g. BTC, ETH, SOL, USDC.ETH"), std::string::npos) << m;
    EXPECT_NE(m.find("native symbols: BTC, BTC_TESTNET"), std::string::npos) << m;
  }
  EXPECT_NE(parse_asset_symbol("").error().message.find("'assetSymbol' is required"), std::string::npos);
  EXPECT_NE(parse_asset_symbol("ADA").error().message.find("not supported"), std::string::npos);
  EXPECT_NE(parse_asset_symbol("FOO").error().message.find("unknown assetSymbol 'FOO'"), std::string::npos);
  EXPECT_NE(parse_asset_symbol("FOO.BTC").error().message.find("no tokens on BTC"), std::string::npos);
  // Control characters never reach the message.
  const auto m = parse_asset_symbol(std::string("X\n\x01Y")).error().message;
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_EQ(m.find('\x01'), std::string::npos);
}

TEST(AssetSymbols, NetworkCodesForAddressLookupsRefuseOthersListingTheSupportedOnes) {
  EXPECT_EQ(legacy_network("SOL_DEVNET")->network, "SolanaDevnet");
  for (const char* code : {"", "Ethereum", "XRP", "TRX_SHASTA", "eth", "USDC.ETH"}) {
    SCOPED_TRACE(code);
    auto network = legacy_network(code);
    ASSERT_FALSE(network);
    EXPECT_EQ(network.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(network.error().message.find("supported networks: BTC, BTC_TESTNET"), std::string::npos)
        << network.error().message;
  }
}

TEST(AssetSymbols, EvmAddressesAreEip55AndOthersAsAddressForDerivesThem) {
  // The secp256k1 generator's Ethereum address, EIP-55 (a published vector: the address of private key 1).
  EXPECT_EQ(legacy_address(legacy_network("ETH").value(), "secp256k1", kSecp256k1).value(),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
  EXPECT_EQ(legacy_address(legacy_network("MATIC").value(), "secp256k1", kSecp256k1).value(),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
  const auto key = *from_hex(kSecp256k1);
  EXPECT_EQ(legacy_address(legacy_network("BTC").value(), "secp256k1", kSecp256k1).value(),
            chains::p2wpkh_address("bc", key).value());
  EXPECT_EQ(legacy_address(legacy_network("TRX").value(), "secp256k1", kSecp256k1).value(),
            chains::tron_address(key).value());
  EXPECT_TRUE(std::regex_match(legacy_address(legacy_network("BTC_TESTNET").value(), "secp256k1", kSecp256k1).value(),
                               std::regex("^tb1q[02-9ac-hj-np-z]{38}$")));
  EXPECT_EQ(legacy_address(legacy_network("SOL").value(), "ed25519", kEd25519).value(),
            chains::solana_address(*from_hex(kEd25519)).value());
}

TEST(AssetSymbols, AKeyOfTheWrongCurveHasNoAddress) {
  for (auto [code, curve, key] : {std::tuple{"ETH", "ed25519", kEd25519}, std::tuple{"SOL", "secp256k1", kSecp256k1},
                                  std::tuple{"BTC", "secp256r1", kSecp256k1}}) {
    SCOPED_TRACE(code);
    auto address = legacy_address(legacy_network(code).value(), curve, key);
    ASSERT_FALSE(address);
    EXPECT_EQ(address.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(address.error().message.find("has no address on"), std::string::npos) << address.error().message;
  }
}

}  // namespace
}  // namespace signerd::core

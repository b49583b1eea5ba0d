// chains/evm.h and chains/secp256k1_point.h against published vectors: EIP-55, the address of a secp256k1 key,
// CREATE and CREATE2 (EIP-1014), and the EIP-191 personal-message hash.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "chains/evm.h"
#include "chains/secp256k1_point.h"
#include "common/hex.h"

namespace signerd::chains {
namespace {

Bytes hex(std::string_view text) {
  auto bytes = from_hex(text);
  EXPECT_TRUE(bytes.has_value()) << "bad hex in the test: " << text;
  return bytes.value_or(Bytes{});
}

EvmAddress address(std::string_view text) {
  const Bytes b = hex(text);
  EvmAddress a{};
  EXPECT_EQ(b.size(), a.size()) << text;
  std::copy_n(b.begin(), std::min(b.size(), a.size()), a.begin());
  return a;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper_digits(std::string_view s) {  // "0x" kept lower case
  std::string out(s);
  for (std::size_t i = 2; i < out.size(); ++i)
    out[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[i])));
  return out;
}

// The EIP-55 document's test cases ("All caps", "All Lower", "Normal").
constexpr std::string_view kEip55[] = {
    "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
};

TEST(Eip55, EncodesTheEipVectors) {
  for (const auto v : kEip55) EXPECT_EQ(eip55_encode(address(v)), v);
}

TEST(Eip55, AcceptsChecksummedAllLowerAndAllUpper) {
  for (const auto v : kEip55) {
    for (const std::string& text : {std::string(v), lower(v), upper_digits(v)}) {
      auto parsed = parse_evm_address(text);
      ASSERT_TRUE(parsed.has_value()) << text << ": " << parsed.error().message;
      EXPECT_EQ(*parsed, address(v)) << text;
    }
  }
  // Digits only: no letter, so nothing to check.
  EXPECT_TRUE(parse_evm_address("0x1234567890123456789012345678901234567890").has_value());
}

TEST(Eip55, RefusesABadChecksumAndSaysTheRightForm) {
  // smart-accounts.md "Facts that bite": this owner fails its checksum; the right mixed case is given there.
  auto r = parse_evm_address("0x10CB6162B0BF12Bf9b9fB899C617e71550dbAEB7");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("EIP-55"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("0x10cB6162b0bF12Bf9B9FB899c617e71550dBAeB7"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(eip55_encode(address("0x10cb6162b0bf12bf9b9fb899c617e71550dbaeb7")),
            "0x10cB6162b0bF12Bf9B9FB899c617e71550dBAeB7");
  // One flipped letter in each EIP vector with mixed case.
  for (const auto v : kEip55) {
    std::string t(v);
    const std::size_t i = t.find_first_of("abcdefABCDEF", 2);
    t[i] = static_cast<char>(std::islower(static_cast<unsigned char>(t[i])) ? std::toupper(t[i]) : std::tolower(t[i]));
    const bool mixed =
        t.find_first_of("abcdef", 2) != std::string::npos && t.find_first_of("ABCDEF", 2) != std::string::npos;
    if (mixed) {
      EXPECT_FALSE(parse_evm_address(t).has_value()) << t;
    }
  }
}

TEST(Eip55, RefusesMalformedText) {
  for (const std::string_view bad :
       {"", "0x", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", " 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}) {
    auto r = parse_evm_address(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

// secp256k1 generator G = the public key of private key 1, and 2G = private key 2 (SEC 2 / well known).
constexpr std::string_view kG =
    "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";
constexpr std::string_view kGCompressed = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
constexpr std::string_view k2GCompressed = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5";

TEST(EvmAddress, OfPrivateKeyOneInBothForms) {
  // Private key 1 -> 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf (the well-known "key one" address; ethers
  // computeAddress agrees).
  for (const auto key : {kG, kGCompressed}) {
    auto a = evm_address(hex(key));
    ASSERT_TRUE(a.has_value()) << a.error().message;
    EXPECT_EQ(eip55_encode(*a), "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
    EXPECT_EQ(evm_address_lower(*a), "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf");
  }
  // Private key 2 -> 0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF (ethers 6.17.0 computeAddress).
  auto two = evm_address(hex(k2GCompressed));
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(eip55_encode(*two), "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF");
}

TEST(EvmAddress, RefusesKeysThatAreNotSec1PointsOnTheCurve) {
  const std::string hybrid = "06" + std::string(kG.substr(2));  // libsecp256k1 parses hybrid keys; we must not
  const std::string bad_prefix = "05" + std::string(kGCompressed.substr(2));
  const std::string x_zero = "02" + std::string(64, '0');  // y^2 = 7 has no root mod p
  const std::string x_too_big = "02fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc30";  // x >= p
  for (const std::string& k : {std::string(""), std::string(kGCompressed.substr(0, 64)), hybrid, bad_prefix, x_zero,
                               x_too_big, std::string(kG.substr(0, 128)) + "00"}) {
    auto a = evm_address(hex(k));
    ASSERT_FALSE(a.has_value()) << k;
    EXPECT_EQ(a.error().code, ErrorCode::kInvalidArgument);
  }
  // 04 || X || Y with Y changed: not on the curve.
  std::string bad_y(kG);
  bad_y.back() = bad_y.back() == '8' ? '9' : '8';
  EXPECT_FALSE(evm_address(hex(bad_y)).has_value());
}

TEST(Secp256k1Point, ConvertsBetweenForms) {
  auto c = secp256k1_compressed(hex(kG));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(to_hex(*c), kGCompressed);
  auto u = secp256k1_uncompressed(hex(kGCompressed));
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(to_hex(*u), kG);
}

TEST(Create, MatchesTheKnownSenderVectors) {
  // ethereum.stackexchange.com/q/760 ("How is the address of an Ethereum contract computed?"), the vectors used by
  // go-ethereum-based tests; ethers getContractAddress agrees.
  const EvmAddress sender = address("6ac7ea33f8831ea9dcc53393aaa88b25a785dbf0");
  const std::string_view kExpected[] = {
      "0xcd234a471b72ba2f1ccf0a70fcaba648a5eecd8d",
      "0x343c43a37d37dff08ae8c4a11544c718abb4fcf8",
      "0xf778b86fa74e846c4f0a1fbd1335fe81c00a0c91",
      "0xfffd933a0bc612844eaf0c6fe3e5b8e9b6c1d19c",
  };
  for (std::uint64_t nonce = 0; nonce < 4; ++nonce) {
    EXPECT_EQ(evm_address_lower(create_address(sender, nonce)), kExpected[nonce]) << "nonce " << nonce;
  }
}

TEST(Create2, MatchesAllEip1014Examples) {
  struct Vector {
    std::string_view deployer, salt, init_code, result;
  };
  // EIP-1014, "Examples" 0-6.
  const Vector kVectors[] = {
      {"0000000000000000000000000000000000000000", "0000000000000000000000000000000000000000000000000000000000000000",
       "00", "0x4D1A2e2bB4F88F0250f26Ffff098B0b30B26BF38"},
      {"deadbeef00000000000000000000000000000000", "0000000000000000000000000000000000000000000000000000000000000000",
       "00", "0xB928f69Bb1D91Cd65274e3c79d8986362984fDA3"},
      {"deadbeef00000000000000000000000000000000", "000000000000000000000000feed000000000000000000000000000000000000",
       "00", "0xD04116cDd17beBE565EB2422F2497E06cC1C9833"},
      {"0000000000000000000000000000000000000000", "0000000000000000000000000000000000000000000000000000000000000000",
       "deadbeef", "0x70f2b2914A2a4b783FaEFb75f459A580616Fcb5e"},
      {"00000000000000000000000000000000deadbeef", "00000000000000000000000000000000000000000000000000000000cafebabe",
       "deadbeef", "0x60f3f640a8508fC6a86d45DF051962668E1e8AC7"},
      {"00000000000000000000000000000000deadbeef", "00000000000000000000000000000000000000000000000000000000cafebabe",
       "deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef",
       "0x1d8bfDC5D46DC4f61D6b6115972536eBE6A8854C"},
      {"0000000000000000000000000000000000000000", "0000000000000000000000000000000000000000000000000000000000000000",
       "", "0xE33C0C7F7df4809055C3ebA6c09CFe4BaF1BD9e0"},
  };
  for (const auto& v : kVectors) {
    Hash256 salt{};
    const Bytes s = hex(v.salt);
    std::copy(s.begin(), s.end(), salt.begin());
    EXPECT_EQ(eip55_encode(create2_address(address(v.deployer), salt, hex(v.init_code))), v.result) << v.result;
  }
}

TEST(Eip191, HashesPersonalMessages) {
  struct Vector {
    std::string_view message, hash;
  };
  const Vector kVectors[] = {
      // ethers 6.17.0 hashMessage (and web3.js eth.accounts.hashMessage) of "hello world".
      {"hello world", "d9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68"},
      // The length is decimal ASCII, so an empty message hashes "\x19Ethereum Signed Message:\n0" (ethers 6.17.0
      // hashMessage of an empty Uint8Array).
      {"", "5f35dce98ba4fba25530a026ed80b2cecdaa31091ba4958b99b52ea1d068adad"},
  };
  for (const auto& v : kVectors) {
    EXPECT_EQ(to_hex(eip191_message_hash(Bytes(v.message.begin(), v.message.end()))), v.hash) << v.message;
  }
}

}  // namespace
}  // namespace signerd::chains

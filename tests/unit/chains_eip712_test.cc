// chains/eip712.h against published vectors and its refusals.
//
// Sources: the EIP-712 specification's example (eips.ethereum.org/EIPS/eip-712, "Ether Mail": the domain separator,
// hashStruct(message) and digest are the ones its reference implementation Example.js prints, and the type hashes of
// Person and Mail are the ones ethers' src.ts/_tests/test-hash-typeddata.ts "getTypeHash" asserts); ethers v6's
// alias vectors in the same file (encodeData of `foo` with uint/int aliases, arrays and nested arrays, and a struct
// named `uint` overriding the alias). The npm package ships no test files, and the repository's
// testcases/typed-data.json.gz is binary, so those are the ethers vectors we can cite.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "chains/eip712.h"
#include "common/hex.h"

namespace signerd::chains {
namespace {

namespace json = boost::json;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

std::string hex0x(const Hash256& h) { return to_hex_0x(h); }

constexpr std::string_view kMailTypes = R"({
  "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
  "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"}, {"name": "contents", "type": "string"}]
})";
constexpr std::string_view kMailDomain = R"({
  "name": "Ether Mail", "version": "1", "chainId": 1,
  "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"
})";
constexpr std::string_view kMailMessage = R"({
  "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
  "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
  "contents": "Hello, Bob!"
})";
constexpr std::string_view kMailSeparator = "0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f";
constexpr std::string_view kMailStructHash = "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e";
constexpr std::string_view kMailDigest = "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2";

TEST(Eip712, SpecMailExample) {
  const auto types = obj(kMailTypes);
  const auto domain = obj(kMailDomain);
  const json::value message = json::parse(kMailMessage);

  auto primary = eip712_primary_type(types);
  ASSERT_TRUE(primary) << primary.error().message;
  EXPECT_EQ(*primary, "Mail");
  auto encoded = eip712_encode_type(types, "Mail");
  ASSERT_TRUE(encoded) << encoded.error().message;
  EXPECT_EQ(*encoded, "Mail(Person from,Person to,string contents)Person(string name,address wallet)");

  auto separator = eip712_domain_separator(types, domain);
  ASSERT_TRUE(separator) << separator.error().message;
  EXPECT_EQ(hex0x(*separator), kMailSeparator);
  auto struct_hash = eip712_hash_struct(types, "Mail", message);
  ASSERT_TRUE(struct_hash) << struct_hash.error().message;
  EXPECT_EQ(hex0x(*struct_hash), kMailStructHash);
  auto digest = eip712_hash(types, domain, message, std::nullopt);
  ASSERT_TRUE(digest) << digest.error().message;
  EXPECT_EQ(hex0x(*digest), kMailDigest);
  auto explicit_primary = eip712_hash(types, domain, message, "Mail");
  ASSERT_TRUE(explicit_primary) << explicit_primary.error().message;
  EXPECT_EQ(hex0x(*explicit_primary), kMailDigest);
}

TEST(Eip712, SpecTypeHashes) {
  const auto types = obj(kMailTypes);
  // typeHash = the first 32 bytes of encodeData.
  auto person = eip712_encode_data(
      types, "Person", json::parse(R"({"name": "Cow", "wallet": "0x0000000000000000000000000000000000000000"})"));
  ASSERT_TRUE(person) << person.error().message;
  EXPECT_EQ(to_hex_0x(std::span(*person).first(32)),
            "0xb9d8c78acf9b987311de6c7b45bb6a9c8e1bf361fa7fd3467a2163f994c79500");
  auto mail = eip712_encode_data(types, "Mail", json::parse(kMailMessage));
  ASSERT_TRUE(mail) << mail.error().message;
  EXPECT_EQ(to_hex_0x(std::span(*mail).first(32)),
            "0xa0cedeb2dc280ba39b857546d74f5549c3a1d7bdc2dd96bf881f76108e23dac2");
}

TEST(Eip712, DeclaredDomainTypeInTypesIsUsedAndIgnoredForInference) {
  auto types = obj(kMailTypes);
  types["EIP712Domain"] = json::parse(R"([{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
      {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}])");
  auto digest = eip712_hash(types, obj(kMailDomain), json::parse(kMailMessage), std::nullopt);
  ASSERT_TRUE(digest) << digest.error().message;
  EXPECT_EQ(hex0x(*digest), kMailDigest);

  // A domain value the declared type does not cover would look signed without being signed.
  auto extra = obj(kMailDomain);
  extra["salt"] = "0x" + std::string(64, '1');
  auto refused = eip712_hash(types, extra, json::parse(kMailMessage), std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("domain.salt"), std::string::npos) << refused.error().message;

  // A declared field the domain lacks.
  auto missing = obj(kMailDomain);
  missing.erase("version");
  auto refused2 = eip712_hash(types, missing, json::parse(kMailMessage), std::nullopt);
  ASSERT_FALSE(refused2);
  EXPECT_NE(refused2.error().message.find("domain.version"), std::string::npos) << refused2.error().message;
}

TEST(Eip712, DomainChainIdAsNumberDecimalOrHexString) {
  const auto types = obj(kMailTypes);
  for (const json::value& chain_id : {json::value(1), json::value("1"), json::value("0x1"), json::value("0x01")}) {
    auto domain = obj(kMailDomain);
    domain["chainId"] = chain_id;
    auto separator = eip712_domain_separator(types, domain);
    ASSERT_TRUE(separator) << json::serialize(chain_id) << ": " << separator.error().message;
    EXPECT_EQ(hex0x(*separator), kMailSeparator) << json::serialize(chain_id);
  }
  // Lower-case verifyingContract carries no checksum and is the same address; null fields are left out.
  auto domain = obj(kMailDomain);
  domain["verifyingContract"] = "0xcccccccccccccccccccccccccccccccccccccccc";
  domain["salt"] = nullptr;
  auto separator = eip712_domain_separator(types, domain);
  ASSERT_TRUE(separator) << separator.error().message;
  EXPECT_EQ(hex0x(*separator), kMailSeparator);
}

struct AliasVector {
  const char* name;
  const char* field_type;
  const char* alias_type;
  const char* value;
  const char* encoded;
};

// ethers src.ts/_tests/test-hash-typeddata.ts, "Tests Typed Data (EIP-712) aliases".
constexpr AliasVector kAliasVectors[] = {
    {"uint", "uint256", "uint", "35",
     "0x859b6b4a5d436f85a809f6383b4b35a153aa6fe9c95946c366d9dfd634b89f4700000000000000000000000000000000000000000000000"
     "000"
     "000000000000231c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8"},
    {"int", "int256", "int", "35",
     "0xa272ada5f88085e4cb18acdb87bd057a8cbfec249fee53de0149409080947cf500000000000000000000000000000000000000000000000"
     "000"
     "000000000000231c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8"},
    {"array-uint", "uint256[]", "uint[]", "[35, 36, 37]",
     "0x1a961843d0002bdd66ec21afd6e4a5b0aac34a4b6112890378c6e3a38b752e0b0c22b846886e98aeffc1f1166d4b35868da4d4da853dcb3"
     "b28"
     "56cfc233fd10c81c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8"},
    {"array-int", "int256[]", "int[]", "[35, 36, 37]",
     "0x0b89085a01a3b67d2231c6a136f9c8eea75d7d479a83a127356f8540ee15af010c22b846886e98aeffc1f1166d4b35868da4d4da853dcb3"
     "b28"
     "56cfc233fd10c81c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8"},
    {"nested-array-uint", "uint256[][]", "uint[][]", "[[35, 36], [37]]",
     "0x5efa7c4b66979cf78fcc7c3e71cbfa04ec2c7529002642082bf20a91552c1147fa5ffe3a0504d850bc7c9eeda1cf960b596b73f4dc0272a"
     "6fa"
     "89dace08e320291c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8"},
};

TEST(Eip712, EthersAliasVectors) {
  for (const auto& v : kAliasVectors) {
    for (const char* type : {v.field_type, v.alias_type}) {
      json::object types;
      types["foo"] =
          json::array{json::object{{"name", "a"}, {"type", type}}, json::object{{"name", "b"}, {"type", "string"}}};
      json::object value{{"a", json::parse(v.value)}, {"b", "hello"}};
      auto encoded = eip712_encode_data(types, "foo", value);
      ASSERT_TRUE(encoded) << v.name << "/" << type << ": " << encoded.error().message;
      EXPECT_EQ(to_hex_0x(*encoded), v.encoded) << v.name << "/" << type;
    }
  }
}

TEST(Eip712, EthersStructNamedUintOverridesTheAlias) {
  const auto types = obj(R"({"uint": [{"name": "value", "type": "uint256"}],
                             "foo": [{"name": "a", "type": "uint"}, {"name": "b", "type": "string"}]})");
  auto primary = eip712_primary_type(types);
  ASSERT_TRUE(primary) << primary.error().message;
  EXPECT_EQ(*primary, "foo");
  auto encoded = eip712_encode_data(types, "foo", json::parse(R"({"a": {"value": 42}, "b": "hello"})"));
  ASSERT_TRUE(encoded) << encoded.error().message;
  EXPECT_EQ(
      to_hex_0x(*encoded),
      "0x87a4bfff36f1a2ecde6468d6acd51ecc5ef8f3a15d8115a412c686d82d3fdbe4628fc3080b86a044fb60153bb7dc3f904e9ed1cebadf"
      "35c17099a060ba4df90b1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8");
}

// The 32-byte word a single field encodes to: encodeData minus the type hash.
std::string word(std::string_view type, const json::value& value) {
  json::object types;
  types["T"] = json::array{json::object{{"name", "x"}, {"type", type}}};
  auto encoded = eip712_encode_data(types, "T", json::object{{"x", value}});
  if (!encoded) return "error: " + encoded.error().message;
  return to_hex(std::span(*encoded).subspan(32));
}

TEST(Eip712, IntegersAreRangeCheckedAndTwosComplement) {
  EXPECT_EQ(word("int256", -1), std::string(64, 'f'));
  EXPECT_EQ(word("int8", -128), std::string(62, 'f') + "80");
  EXPECT_EQ(word("int8", "-0x80"), std::string(62, 'f') + "80");
  EXPECT_EQ(word("int8", 127), std::string(62, '0') + "7f");
  EXPECT_EQ(word("uint8", "255"), std::string(62, '0') + "ff");
  EXPECT_EQ(word("uint256", json::value("0x" + std::string(64, 'f'))), std::string(64, 'f'));
  EXPECT_EQ(word("int256", "-57896044618658097711785492504343953926634992332820282019728792003956564819968"),
            "8" + std::string(63, '0'));  // -2^255
  EXPECT_EQ(word("uint16", "-0"), std::string(64, '0'));
  for (const auto& [type, value] : std::initializer_list<std::pair<std::string_view, json::value>>{
           {"int8", -129},
           {"int8", 128},
           {"uint8", 256},
           {"uint8", -1},
           {"uint256", json::value("0x1" + std::string(64, '0'))},
           {"int256", "57896044618658097711785492504343953926634992332820282019728792003956564819968"},
           {"uint64", "1e3"},
           {"uint64", "0x"},
           {"uint64", " 1"},
           {"uint64", 1.5},
           {"uint64", 9007199254740992.0},
           {"uint64", json::value(std::uint64_t{9007199254740992})},
           {"uint64", true}}) {
    EXPECT_TRUE(word(type, value).starts_with("error: ")) << type << " " << json::serialize(value);
  }
  EXPECT_TRUE(word("uint64", "1e3").find("value.x (uint64)") != std::string::npos) << word("uint64", "1e3");
  EXPECT_EQ(word("uint64", 9007199254740991), std::string(50, '0') + "1fffffffffffff");
}

TEST(Eip712, BytesAddressBoolString) {
  EXPECT_EQ(word("bytes4", "0xDEADbeef"), "deadbeef" + std::string(56, '0'));
  EXPECT_EQ(word("bytes", "0x"), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");  // keccak("")
  EXPECT_EQ(word("string", ""), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(word("bool", true), std::string(63, '0') + "1");
  EXPECT_EQ(word("address", "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"),
            std::string(24, '0') + "cd2a3d9f938e13cd947ec05abc7fe734df8dd826");
  for (const auto& [type, value] : std::initializer_list<std::pair<std::string_view, json::value>>{
           {"bytes4", "0xdeadbe"},
           {"bytes4", "deadbeef"},
           {"bytes", "0x123"},
           {"bytes", "0xzz"},
           {"bytes", 12},
           {"address", "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD827"},  // bad checksum
           {"address", "cd2a3d9f938e13cd947ec05abc7fe734df8dd826"},
           {"address", "0xcd2a3d9f938e13cd947ec05abc7fe734df8dd8"},
           {"bool", 1},
           {"bool", "true"},
           {"string", 5},
           {"string", json::value(nullptr)},
           {"uint8[]", "[1]"},
           {"uint8[2]", json::array{1}},
           {"uint8[2]", json::array{1, 2, 3}}}) {
    EXPECT_TRUE(word(type, value).starts_with("error: ")) << type << " " << json::serialize(value);
  }
  EXPECT_NE(word("uint8[2]", json::array{1}).find("array length mismatch: expected 2"), std::string::npos);
}

TEST(Eip712, ArraysOfStructsAndFixedArrays) {
  const auto types = obj(R"({
    "Person": [{"name": "name", "type": "string"}, {"name": "wallets", "type": "address[]"}],
    "Group": [{"name": "name", "type": "string"}, {"name": "members", "type": "Person[]"}, {"name": "grid", "type": "int16[2][]"}]
  })");
  const auto value = json::parse(R"({"name": "g", "members": [{"name": "a", "wallets": []},
      {"name": "b", "wallets": ["0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"]}], "grid": [[1, -1], [-32768, 32767]]})");
  auto encoded = eip712_encode_type(types, "Group");
  ASSERT_TRUE(encoded) << encoded.error().message;
  EXPECT_EQ(*encoded, "Group(string name,Person[] members,int16[2][] grid)Person(string name,address[] wallets)");
  EXPECT_TRUE(eip712_hash_struct(types, "Group", value)) << eip712_hash_struct(types, "Group", value).error().message;

  auto bad = json::parse(R"({"name": "g", "members": [{"name": "a", "wallets": []}], "grid": [[1, -1, 0]]})");
  auto refused = eip712_hash_struct(types, "Group", bad);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("value.grid[0] (int16[2])"), std::string::npos) << refused.error().message;

  auto missing = json::parse(R"({"name": "g", "members": [{"name": "a"}], "grid": []})");
  auto refused2 = eip712_hash_struct(types, "Group", missing);
  ASSERT_FALSE(refused2);
  EXPECT_NE(refused2.error().message.find("value.members[0].wallets (address[]): missing field"), std::string::npos)
      << refused2.error().message;
}

TEST(Eip712, ExtraMessageFieldsAreIgnoredAsEthersDoes) {
  auto message = json::parse(kMailMessage).as_object();
  message["unsigned_extra"] = 42;
  auto digest = eip712_hash(obj(kMailTypes), obj(kMailDomain), message, std::nullopt);
  ASSERT_TRUE(digest) << digest.error().message;
  EXPECT_EQ(hex0x(*digest), kMailDigest);
}

// Documents ethers refuses too (except where noted), each with a fragment the message must contain.
struct Refusal {
  const char* what;
  const char* types;
  const char* domain;
  const char* message;
  const char* needle;
};

constexpr Refusal kRefusals[] = {
    {"unknown type", R"({"A": [{"name": "b", "type": "B"}]})", "{}", R"({"b": 1})", "unknown type \"B\""},
    {"self reference", R"({"A": [{"name": "a", "type": "A"}]})", "{}", R"({"a": {}})", "circular"},
    {"mutual cycle",
     R"({"M": [{"name": "a", "type": "A"}], "A": [{"name": "b", "type": "B"}], "B": [{"name": "a", "type": "A[]"}]})",
     "{}", R"({"a": {}})", "circular"},
    {"unreachable cycle (ethers accepts)",
     R"({"M": [{"name": "x", "type": "uint8"}], "A": [{"name": "b", "type": "B"}], "B": [{"name": "a", "type": "A"}]})",
     "{}", R"({"x": 1})", "circular"},
    {"ambiguous primary", R"({"A": [{"name": "x", "type": "uint8"}], "B": [{"name": "x", "type": "uint8"}]})", "{}",
     R"({"x": 1})", "ambiguous primary type"},
    {"no types", "{}", "{}", "{}", "no primary type"},
    {"only a domain type", R"({"EIP712Domain": []})", "{}", "{}", "no primary type"},
    {"duplicate field", R"({"A": [{"name": "x", "type": "uint8"}, {"name": "x", "type": "uint16"}]})", "{}",
     R"({"x": 1})", "duplicate field name"},
    {"uint7", R"({"A": [{"name": "x", "type": "uint7"}]})", "{}", R"({"x": 1})", "invalid integer width"},
    {"uint264", R"({"A": [{"name": "x", "type": "uint264"}]})", "{}", R"({"x": 1})", "invalid integer width"},
    {"uint08", R"({"A": [{"name": "x", "type": "uint08"}]})", "{}", R"({"x": 1})", "invalid integer width"},
    {"bytes0", R"({"A": [{"name": "x", "type": "bytes0"}]})", "{}", R"({"x": "0x"})", "invalid bytes width"},
    {"bytes33", R"({"A": [{"name": "x", "type": "bytes33"}]})", "{}", R"({"x": "0x"})", "invalid bytes width"},
    {"malformed array suffix", R"({"A": [{"name": "x", "type": "uint8[2"}]})", "{}", R"({"x": [1, 2]})",
     "malformed type"},
    {"zero-length array (ethers accepts)", R"({"A": [{"name": "x", "type": "uint8[0]"}]})", "{}", R"({"x": []})",
     "array length"},
    {"non-identifier struct name (ethers accepts)", R"({"A(uint8 x)B": [{"name": "x", "type": "uint8"}]})", "{}",
     R"({"x": 1})", "not an identifier"},
    {"non-identifier field name (ethers accepts)", R"({"A": [{"name": "x y", "type": "uint8"}]})", "{}",
     R"({"x y": 1})", "not an identifier"},
    {"struct named like a base type", R"({"address": [{"name": "x", "type": "uint8"}]})", "{}", R"({"x": 1})",
     "base type"},
    {"field not an object", R"({"A": ["uint8 x"]})", "{}", R"({"x": 1})", "expected {\"name\""},
    {"unknown domain key", R"({"A": [{"name": "x", "type": "uint8"}]})", R"({"nam": "x"})", R"({"x": 1})",
     "domain.nam: unknown domain field"},
    {"negative chainId", R"({"A": [{"name": "x", "type": "uint8"}]})", R"({"chainId": -1})", R"({"x": 1})",
     "domain.chainId (uint256): value out of range"},
    {"salt too short", R"({"A": [{"name": "x", "type": "uint8"}]})", R"({"salt": "0x01"})", R"({"x": 1})",
     "domain.salt (bytes32): expected 32 bytes"},
    {"name not a string", R"({"A": [{"name": "x", "type": "uint8"}]})", R"({"name": 5})", R"({"x": 1})",
     "domain.name (string)"},
    {"message not an object", R"({"A": [{"name": "x", "type": "uint8"}]})", "{}", "[1]",
     "message (A): expected a JSON object"},
    {"missing bool (ethers reads false)", R"({"A": [{"name": "x", "type": "bool"}]})", "{}", "{}",
     "message.x (bool): missing"},
};

TEST(Eip712, Refusals) {
  for (const auto& r : kRefusals) {
    auto digest = eip712_hash(obj(r.types), obj(r.domain), json::parse(r.message), std::nullopt);
    ASSERT_FALSE(digest) << r.what;
    EXPECT_EQ(digest.error().code, ErrorCode::kInvalidArgument) << r.what;
    EXPECT_NE(digest.error().message.find(r.needle), std::string::npos) << r.what << ": " << digest.error().message;
  }
}

TEST(Eip712, ExplicitPrimaryType) {
  const auto types = obj(R"({"A": [{"name": "x", "type": "uint8"}], "B": [{"name": "y", "type": "string"}]})");
  EXPECT_FALSE(eip712_hash(types, {}, json::parse(R"({"x": 1})"), std::nullopt));  // ambiguous
  auto a = eip712_hash(types, {}, json::parse(R"({"x": 1})"), "A");
  ASSERT_TRUE(a) << a.error().message;
  auto only_a =
      eip712_hash(obj(R"({"A": [{"name": "x", "type": "uint8"}]})"), {}, json::parse(R"({"x": 1})"), std::nullopt);
  ASSERT_TRUE(only_a);
  EXPECT_EQ(*a, *only_a);
  EXPECT_FALSE(eip712_hash(types, {}, json::parse(R"({"x": 1})"), "C"));
  auto domain_primary = eip712_hash(obj(R"({"EIP712Domain": [], "A": [{"name": "x", "type": "uint8"}]})"), {},
                                    json::parse("{}"), "EIP712Domain");
  ASSERT_FALSE(domain_primary);
  EXPECT_NE(domain_primary.error().message.find("EIP712Domain cannot be the primary type"), std::string::npos);
}

}  // namespace
}  // namespace signerd::chains

// chains/evm_tx.h against published vectors and its refusals.
//
// Sources:
// - EIP-155 (eips.ethereum.org/EIPS/eip-155, "Example"): nonce 9, gasPrice 20 gwei, gas 21000, to 0x3535...35,
//   value 1 ether, chainId 1, private key 0x4646...46: the signing data, signing hash, and signed transaction.
// - go-ethereum core/types/transaction_test.go (commit dd2483c0d902f503bd868279bb1f729608ad3ac1): emptyTx and
//   rightvrsTx (Homestead signer: pre-EIP-155 legacy), emptyEip2718Tx/signedEip2718Tx and TestEIP2930Signer's tx1
//   (EIP-2930): their signing hashes and encodings.
// - ethereumjs-monorepo packages/tx/test/json/eip1559.json (EIP-1559, chainId 7822, with the signing key) and
//   eip2930txs.json (EIP-2930 with an access list); the signatures in them must verify against our signing hash under
//   the signing key, which checks the digest independently. (eip2930txs.json's own privateKey/sendersAddress fields do
//   not match its signature, ethers agrees: it recovers to 0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b, the standard
//   ethereum/tests sender whose key, 45a915e4..., is go-ethereum's defaultTestKey.)
// - ethers src.ts/_tests/test-transaction.ts "Tests Transaction Parameters": malformed access lists ethers refuses.
#include <gtest/gtest.h>
#include <secp256k1.h>

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "chains/ecdsa.h"
#include "chains/evm.h"
#include "chains/evm_tx.h"
#include "chains/rlp.h"
#include "common/hex.h"

namespace signerd::chains {
namespace {

namespace json = boost::json;

Bytes hex(std::string_view text) {
  auto bytes = from_hex(text);
  EXPECT_TRUE(bytes.has_value()) << "bad hex in the test: " << text;
  return bytes.value_or(Bytes{});
}

std::array<std::uint8_t, 32> word(std::string_view text) {
  const Bytes b = hex(text);
  std::array<std::uint8_t, 32> out{};
  EXPECT_LE(b.size(), 32u);
  std::copy(b.begin(), b.end(), out.end() - static_cast<std::ptrdiff_t>(std::min<std::size_t>(b.size(), 32)));
  return out;
}

Uint256 u256(std::string_view decimal) {
  auto v = parse_evm_quantity(json::value(decimal), "test");
  EXPECT_TRUE(v) << decimal;
  return v.value_or(Uint256{});
}

EvmTransaction from_json(std::string_view text) {
  auto tx = unsigned_transaction_from_json(json::parse(text).as_object());
  EXPECT_TRUE(tx) << text << ": " << (tx ? "" : tx.error().message);
  return tx.value_or(EvmTransaction{});
}

// The uncompressed public key of a private key (libsecp256k1).
Bytes public_key(std::string_view private_key) {
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  const Bytes secret = hex(private_key);
  secp256k1_pubkey pub;
  EXPECT_EQ(secp256k1_ec_pubkey_create(ctx, &pub, secret.data()), 1);
  Bytes out(65);
  std::size_t len = out.size();
  secp256k1_ec_pubkey_serialize(ctx, out.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  secp256k1_context_destroy(ctx);
  return out;
}

// The signature in `signed_tx` verifies against signing_hash under `private_key`, with its own recovery id.
void expect_signature_verifies(const EvmTransaction& signed_tx, std::string_view private_key) {
  ASSERT_TRUE(signed_tx.signature);
  const Hash256 digest = signing_hash(signed_tx);
  Bytes rs;
  const auto r = signed_tx.signature->r.to_bytes32();
  const auto s = signed_tx.signature->s.to_bytes32();
  rs.insert(rs.end(), r.begin(), r.end());
  rs.insert(rs.end(), s.begin(), s.end());
  auto sig = finalize_ecdsa(EcCurve::kSecp256k1, digest, rs, public_key(private_key));
  ASSERT_TRUE(sig) << sig.error().message;
  EXPECT_EQ(sig->recid, signed_tx.signature->y_parity);
  EXPECT_EQ(sig->r, r);
  EXPECT_EQ(sig->s, s);
}

// ---- Uint256 and the integer syntax ----

TEST(Uint256, DecimalAndBytes) {
  const Uint256 max = *Uint256::from_big_endian(Bytes(32, 0xff));
  EXPECT_EQ(max.to_decimal(), "115792089237316195423570985008687907853269984665640564039457584007913129639935");
  EXPECT_EQ(u256("115792089237316195423570985008687907853269984665640564039457584007913129639935"), max);
  EXPECT_FALSE(parse_evm_quantity(
      json::value("115792089237316195423570985008687907853269984665640564039457584007913129639936"), "x"));
  EXPECT_FALSE(parse_evm_quantity(json::value("0x1" + std::string(64, '0')), "x"));
  EXPECT_EQ(*parse_evm_quantity(json::value("0x" + std::string(70, '0') + "ff"), "x"), Uint256::from_u64(255));
  EXPECT_EQ(Uint256::from_u64(0).to_decimal(), "0");
  EXPECT_TRUE(Uint256::from_u64(0).to_minimal_bytes().empty());
  EXPECT_EQ(to_hex(Uint256::from_u64(0x1234).to_minimal_bytes()), "1234");
  EXPECT_EQ(Uint256::power_of_two(255).bit_length(), 256u);
  EXPECT_EQ(Uint256::from_u64(1).negated(), max);
  EXPECT_EQ(Uint256{}.negated(), Uint256{});
  EXPECT_FALSE(Uint256::from_big_endian(Bytes(33, 1)));
  EXPECT_EQ(Uint256::from_big_endian(Bytes(33, 0)), Uint256{});
  EXPECT_EQ(max_legacy_chain_id().to_decimal(),
            "57896044618658097711785492504343953926634992332820282019728792003956564819949");  // 2^255 - 19
}

TEST(Uint256, AddCarriesAcrossLimbsAndRefusesOverflow) {
  Uint256 a = u256("18446744073709551615");  // 2^64 - 1
  ASSERT_TRUE(a.add(Uint256::from_u64(1)));
  EXPECT_EQ(a.to_decimal(), "18446744073709551616");
  Uint256 b = u256("340282366920938463463374607431768211455");  // 2^128 - 1
  ASSERT_TRUE(b.add(u256("340282366920938463463374607431768211457")));
  EXPECT_EQ(b.to_decimal(), "680564733841876926926749214863536422912");  // 2^129
  Uint256 max = *Uint256::from_big_endian(Bytes(32, 0xff));
  Uint256 same = max;
  ASSERT_TRUE(same.add(Uint256{}));
  EXPECT_EQ(same, max);
  EXPECT_FALSE(max.add(Uint256::from_u64(1)));
}

TEST(Uint256, JsonIntegerSyntax) {
  EXPECT_EQ(*parse_evm_quantity(json::value(42), "x"), Uint256::from_u64(42));
  EXPECT_EQ(*parse_evm_quantity(json::value(1e3), "x"), Uint256::from_u64(1000));
  EXPECT_EQ(*parse_evm_quantity(json::value("0X2a"), "x"), Uint256::from_u64(42));
  EXPECT_EQ(*parse_evm_quantity(json::value("007"), "x"), Uint256::from_u64(7));
  auto negative = parse_evm_integer(json::value("-0x10"), "x");
  ASSERT_TRUE(negative);
  EXPECT_TRUE(negative->negative);
  EXPECT_EQ(negative->magnitude, Uint256::from_u64(16));
  for (const json::value& bad :
       {json::value(""), json::value("-"), json::value("0x"), json::value("1e3"), json::value("+1"), json::value(" 1"),
        json::value("0b1"), json::value(1.5), json::value(-1), json::value(true), json::value(nullptr),
        json::value(json::array{}), json::value(std::uint64_t{1} << 53)}) {
    auto r = parse_evm_quantity(bad, "transaction.value");
    ASSERT_FALSE(r) << json::serialize(bad);
    EXPECT_TRUE(r.error().message.starts_with("transaction.value: ")) << r.error().message;
  }
}

// ---- vectors ----

constexpr std::string_view kEip155Unsigned =
    "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080";
constexpr std::string_view kEip155Hash = "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53";
constexpr std::string_view kEip155Signed =
    "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe53"
    "756"
    "7866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83";
constexpr std::string_view kEip155R = "28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276";
constexpr std::string_view kEip155S = "67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83";

TEST(EvmTx, Eip155Example) {
  const EvmTransaction tx = from_json(R"({"type": 0, "chainId": 1, "nonce": 9, "gasPrice": "20000000000",
      "gasLimit": "21000", "to": "0x3535353535353535353535353535353535353535", "value": "1000000000000000000"})");
  EXPECT_EQ(to_hex(serialize_unsigned(tx)), kEip155Unsigned);
  EXPECT_EQ(to_hex(signing_hash(tx)), kEip155Hash);
  auto signed_bytes = serialize_signed(tx, word(kEip155R), word(kEip155S), 0);
  ASSERT_TRUE(signed_bytes) << signed_bytes.error().message;
  EXPECT_EQ(to_hex(*signed_bytes), kEip155Signed);
  EXPECT_EQ(tx_hash(*signed_bytes), keccak256(hex(kEip155Signed)));

  auto decoded = decode_signed_transaction(hex(kEip155Signed));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->chain_id, Uint256::from_u64(1));
  EXPECT_EQ(decoded->signature->y_parity, 0);
  EXPECT_EQ(to_hex(signing_hash(*decoded)), kEip155Hash);
  expect_signature_verifies(*decoded, "4646464646464646464646464646464646464646464646464646464646464646");
  EXPECT_EQ(
      evm_address_lower(*evm_address(public_key("4646464646464646464646464646464646464646464646464646464646464646"))),
      "0x9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f");
  EXPECT_EQ(to_hex(*serialize_signed(*decoded)), kEip155Signed);
  const json::object j = transaction_to_json(*decoded);
  EXPECT_EQ(j.at("signature").at("v"), "37");
  EXPECT_EQ(j.at("to"), "0x3535353535353535353535353535353535353535");
  EXPECT_EQ(j.at("value"), "1000000000000000000");

  auto unsigned_decoded = decode_unsigned_transaction(hex(kEip155Unsigned));
  ASSERT_TRUE(unsigned_decoded) << unsigned_decoded.error().message;
  EXPECT_EQ(*unsigned_decoded, tx);
}

TEST(EvmTx, GethHomesteadVectors) {
  // emptyTx: every field zero, to 0x095e7b..., no data; HomesteadSigner hash (pre-EIP-155).
  const EvmTransaction empty = from_json(R"({"type": 0, "nonce": 0, "gasPrice": 0, "gasLimit": 0,
      "to": "0x095e7baea6a6c7c4c2dfeb977efac326af552d87", "value": 0})");
  EXPECT_EQ(to_hex(signing_hash(empty)), "c775b99e7ad12f50d819fcd602390467e28141316969f4b57f0626f74fe3b386");

  // rightvrsTx: its signing hash and encoding; its s is above n/2 (it predates EIP-2), so signerd refuses to parse
  // or produce it while agreeing on the digest.
  const EvmTransaction tx = from_json(R"({"type": 0, "nonce": 3, "gasPrice": 1, "gasLimit": 2000,
      "to": "0xb94f5374fce5edbc8e2a8697c15331677e6ebf0b", "value": 10, "data": "0x5544"})");
  EXPECT_EQ(to_hex(signing_hash(tx)), "fe7a79529ed5f7c3375d06b26b186a8644e0e16c373d7a12be41c62d6042b77a");
  const Bytes encoded = hex(
      "f86103018207d094b94f5374fce5edbc8e2a8697c15331677e6ebf0b0a8255441ca098ff921201554726367d2be8c804a7ff89ccf285ebc5"
      "7dff8ae4c44b9c19ac4aa08887321be575c8095f789dd4c743dfe42c1820f9231f98a962b210e3ac2452a3");
  auto refused = decode_signed_transaction(encoded);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("low-s"), std::string::npos) << refused.error().message;
  auto refused2 = serialize_signed(tx, word("98ff921201554726367d2be8c804a7ff89ccf285ebc57dff8ae4c44b9c19ac4a"),
                                   word("8887321be575c8095f789dd4c743dfe42c1820f9231f98a962b210e3ac2452a3"), 1);
  ASSERT_FALSE(refused2);
}

TEST(EvmTx, GethEip2930Vectors) {
  // signedEip2718Tx: its signing hash, binary encoding, and the block-body (RLP string) wrapping we must refuse.
  const EvmTransaction tx = from_json(R"({"type": 1, "chainId": 1, "nonce": 3, "gasPrice": 1, "gasLimit": 25000,
      "to": "0xb94f5374fce5edbc8e2a8697c15331677e6ebf0b", "value": 10, "data": "0x5544"})");
  EXPECT_EQ(to_hex(signing_hash(tx)), "49b486f0ec0a60dfbbca2d30cb07c9e8ffb2a2ff41f29a1ab6737475f6ff69f3");
  const std::string expected =
      "01f8630103018261a894b94f5374fce5edbc8e2a8697c15331677e6ebf0b0a825544c001a0c9519f4f2b30335884581971573fadf60c6204"
      "f59a911df35ee8a540456b2660a032f1e8e2c5dd761f9e4f88f41c8310aeaba26a8bfcdacfedfa12ec3862d37521";
  auto signed_bytes = serialize_signed(tx, word("c9519f4f2b30335884581971573fadf60c6204f59a911df35ee8a540456b2660"),
                                       word("32f1e8e2c5dd761f9e4f88f41c8310aeaba26a8bfcdacfedfa12ec3862d37521"), 1);
  ASSERT_TRUE(signed_bytes) << signed_bytes.error().message;
  EXPECT_EQ(to_hex(*signed_bytes), expected);
  auto decoded = decode_signed_transaction(hex(expected));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EvmTransaction unsigned_copy = *decoded;
  unsigned_copy.signature.reset();
  EXPECT_EQ(unsigned_copy, tx);
  EXPECT_FALSE(decode_signed_transaction(hex("b866" + expected)));

  // TestEIP2930Signer's tx1: chainId 1, nonce 1, everything else zero (a contract creation).
  const EvmTransaction creation = from_json(R"({"type": 1, "chainId": 1, "nonce": 1, "gasPrice": 0, "gasLimit": 0})");
  EXPECT_EQ(to_hex(signing_hash(creation)), "846ad7672f2a3a40c1f959cd4a8ad21786d620077084d84c8d7c077714caa139");
}

struct Eip1559Vector {
  std::uint64_t nonce, value, gas_limit, max_priority, max_fee;
  const char* signed_tx;  // the file's signedTransactionRLP without its block-body wrapping (b87x)
};

// ethereumjs packages/tx/test/json/eip1559.json, entries 1 and 2 (chainId 0x1e8e = 7822).
constexpr Eip1559Vector kEip1559[] = {
    {819, 43203529, 35552, 75853, 121212,
     "02f870821e8e8203338301284d8301d97c828ae094000000000000000000000000000000000000aaaa8402933bc980c080a0d067f2167008c"
     "5"
     "9219652f91cbf8788dbca5f771f6e91e2b7657e85b78b472e0a01d305af9fe81fdba43f0dfcd400ed24dcace0a7e30d4e85701dcaaf484cd0"
     "79e"},
    {353, 61901619, 32593, 38850, 136295,
     "02f86f821e8e8201618297c283021467827f5194000000000000000000000000000000000000aaaa8403b08b3380c001a004205678f13fc1d"
     "7"
     "b10feea6513dfa76e24418b6e08097d95c6f93a3b64e536da01d45ad61bfece43862de2cce7d2575a8c1d08c26c87f3cb5f26d7b0be54a91b"
     "2"},
};

TEST(EvmTx, EthereumjsEip1559Vectors) {
  for (const auto& v : kEip1559) {
    auto tx = decode_signed_transaction(hex(v.signed_tx));
    ASSERT_TRUE(tx) << tx.error().message;
    EXPECT_EQ(tx->type, EvmTxType::kDynamicFee);
    EXPECT_EQ(tx->chain_id, Uint256::from_u64(7822));
    EXPECT_EQ(tx->nonce, v.nonce);
    EXPECT_EQ(tx->value, Uint256::from_u64(v.value));
    EXPECT_EQ(tx->gas_limit, Uint256::from_u64(v.gas_limit));
    EXPECT_EQ(tx->max_priority_fee_per_gas, Uint256::from_u64(v.max_priority));
    EXPECT_EQ(tx->max_fee_per_gas, Uint256::from_u64(v.max_fee));
    EXPECT_EQ(evm_address_lower(*tx->to), "0x000000000000000000000000000000000000aaaa");
    EXPECT_EQ(to_hex(*serialize_signed(*tx)), v.signed_tx);
    expect_signature_verifies(*tx, "8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63");

    // The block-body form (an RLP string around the typed transaction) is not a transaction.
    Bytes wrapped = rlp_encode(RlpItem::bytes(hex(v.signed_tx)));
    auto refused = decode_signed_transaction(wrapped);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().message.find("block body"), std::string::npos) << refused.error().message;
  }
}

TEST(EvmTx, EthereumjsEip2930WithAccessList) {
  // packages/tx/test/json/eip2930txs.json: the "data" object is nearly a TransactionLike (nonce "0x" means 0).
  const EvmTransaction tx = from_json(R"({"type": 1, "chainId": "0x01", "nonce": 0, "gasPrice": "0x01",
      "gasLimit": "0x02625a00", "to": "0xcccccccccccccccccccccccccccccccccccccccc", "value": "0x0186a0",
      "data": "0x1a8451e600000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
      "accessList": [{"address": "0x0000000000000000000000000000000000000101", "storageKeys": [
        "0x0000000000000000000000000000000000000000000000000000000000000000",
        "0x00000000000000000000000000000000000000000000000000000000000060a7"]}]})");
  auto signed_bytes = serialize_signed(tx, word("afb6e247b1c490e284053c87ab5f6b59e219d51f743f7a4d83e400782bc7e4b9"),
                                       word("479a268e0e0acd4de3f1e28e4fac2a6b32a4195e8dfa9d19147abe8807aa6f64"), 1);
  ASSERT_TRUE(signed_bytes) << signed_bytes.error().message;
  auto decoded = decode_signed_transaction(*signed_bytes);
  ASSERT_TRUE(decoded) << decoded.error().message;
  ASSERT_EQ(decoded->access_list.size(), 1u);
  EXPECT_EQ(decoded->access_list[0].storage_keys.size(), 2u);
  const char* key = "45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8";
  EXPECT_EQ(evm_address_lower(*evm_address(public_key(key))), "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b");
  expect_signature_verifies(*decoded, key);
  const json::object j = transaction_to_json(*decoded);
  EXPECT_EQ(j.at("accessList").at(0).at("address"), "0x0000000000000000000000000000000000000101");
  EXPECT_EQ(j.at("gasLimit"), "40000000");
}

// ---- round trips and JSON ----

TEST(EvmTx, JsonRoundTripAndTypeInference) {
  const EvmTransaction creation = from_json(R"({"type": "eip-1559", "chainId": "0x89", "nonce": "18446744073709551615",
      "maxPriorityFeePerGas": 2, "maxFeePerGas": 1, "gasLimit": 100000, "to": null, "data": "0x6000"})");
  EXPECT_EQ(creation.type, EvmTxType::kDynamicFee);
  EXPECT_FALSE(creation.to);
  EXPECT_EQ(creation.nonce, 18446744073709551615ULL);
  json::object j = transaction_to_json(creation);
  EXPECT_EQ(j.at("to"), nullptr);
  EXPECT_EQ(j.at("nonce"), "18446744073709551615");
  EXPECT_EQ(from_json(json::serialize(j)), creation);
  auto decoded = decode_unsigned_transaction(serialize_unsigned(creation));
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, creation);

  // ethers' inference: fee fields -> 2; gasPrice alone -> 1 (it prefers EIP-2930 over legacy).
  EXPECT_EQ(
      from_json(R"({"chainId": 1, "nonce": 0, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1, "gasLimit": 1})").type,
      EvmTxType::kDynamicFee);
  EXPECT_EQ(from_json(R"({"chainId": 1, "nonce": 0, "gasPrice": 1, "gasLimit": 1})").type, EvmTxType::kAccessList);
  // Legacy without chainId (or with 0) is pre-EIP-155: 6 fields, v = 27/28.
  const EvmTransaction pre155 = from_json(R"({"type": 0, "chainId": 0, "nonce": 0, "gasPrice": 1, "gasLimit": 1})");
  EXPECT_EQ(rlp_decode(serialize_unsigned(pre155))->as_list().size(), 6u);
  auto signed_pre155 = serialize_signed(pre155, word("01"), word("01"), 1);
  ASSERT_TRUE(signed_pre155);
  auto back = decode_signed_transaction(*signed_pre155);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(transaction_to_json(*back).at("signature").at("v"), "28");
}

TEST(EvmTx, LegacyChainIdLimit) {
  EvmTransaction tx = from_json(R"({"type": 0, "nonce": 0, "gasPrice": 1, "gasLimit": 1})");
  tx.chain_id = max_legacy_chain_id();
  auto signed_bytes = serialize_signed(tx, word("01"), word("01"), 1);
  ASSERT_TRUE(signed_bytes) << signed_bytes.error().message;
  auto back = decode_signed_transaction(*signed_bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->chain_id, max_legacy_chain_id());
  EXPECT_EQ(back->signature->y_parity, 1);
  tx.chain_id.mul_add(1, 1);
  EXPECT_FALSE(serialize_signed(tx, word("01"), word("01"), 0));
  EXPECT_FALSE(unsigned_transaction_from_json(
      json::parse(
          R"({"type": 0, "chainId": "57896044618658097711785492504343953926634992332820282019728792003956564819950",
                      "nonce": 0, "gasPrice": 1, "gasLimit": 1})")
          .as_object()));
}

TEST(EvmTx, SerializeSignedChecksTheSignature) {
  const EvmTransaction tx = from_json(R"({"chainId": 1, "nonce": 0, "gasPrice": 1, "gasLimit": 1})");
  const auto one = word("01");
  const auto n = word("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
  const auto half = word("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");
  const auto above_half = word("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a1");
  EXPECT_TRUE(serialize_signed(tx, one, half, 0));
  EXPECT_FALSE(serialize_signed(tx, one, above_half, 0));
  EXPECT_FALSE(serialize_signed(tx, word("00"), one, 0));
  EXPECT_FALSE(serialize_signed(tx, n, one, 0));
  EXPECT_FALSE(serialize_signed(tx, one, one, 2));
  EXPECT_FALSE(serialize_signed(tx, one, one, -1));
  EXPECT_FALSE(serialize_signed(tx));  // no signature
}

struct JsonRefusal {
  const char* tx;
  const char* needle;
};

constexpr JsonRefusal kJsonRefusals[] = {
    {R"({"type": 2, "chainId": 1, "nonce": 0, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1, "gasLimit": 1, "gas": 5})",
     "unknown field \"gas\""},
    {R"({"type": 2, "chainId": 1, "nonce": 0, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1, "gasLimit": 1,
         "from": "0x0000000000000000000000000000000000000001"})",
     "transaction.from: an unsigned transaction cannot"},
    {R"({"type": 2, "chainId": 1, "nonce": 0, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1, "gasLimit": 1,
         "signature": {"r": "0x01", "s": "0x01", "yParity": 0}})",
     "transaction.signature"},
    {R"({"type": 2, "chainId": 1, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1, "gasLimit": 1})",
     "transaction.nonce: required"},
    {R"({"type": 2, "nonce": 0, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1, "gasLimit": 1})",
     "transaction.chainId: required"},
    {R"({"type": 2, "chainId": 1, "nonce": 0, "maxFeePerGas": 1, "gasLimit": 1})",
     "transaction.maxPriorityFeePerGas: required"},
    {R"({"type": 2, "chainId": 1, "nonce": 0, "maxFeePerGas": 1, "maxPriorityFeePerGas": 1, "gasPrice": 1, "gasLimit": 1})",
     "transaction.gasPrice: not a field"},
    {R"({"type": 0, "nonce": 0, "gasPrice": 1, "maxFeePerGas": 1, "gasLimit": 1})",
     "transaction.maxFeePerGas: not a field"},
    {R"({"type": 0, "nonce": 0, "gasPrice": 1, "gasLimit": 1, "accessList": []})",
     "transaction.accessList: not a field"},
    {R"({"type": 3, "chainId": 1, "nonce": 0, "gasLimit": 1})", "transaction.type: unsupported"},
    {R"({"type": "0x2", "chainId": 1, "nonce": 0, "gasLimit": 1})", "transaction.type: unsupported"},
    {R"({"type": 1, "chainId": 1, "nonce": "18446744073709551616", "gasPrice": 1, "gasLimit": 1})",
     "nonce: does not fit 64 bits"},
    {R"({"type": 1, "chainId": 1, "nonce": 0, "gasPrice": -1, "gasLimit": 1})",
     "transaction.gasPrice: must not be negative"},
    {R"({"type": 1, "chainId": 1, "nonce": 0, "gasPrice": 1, "gasLimit": 1, "data": "5544"})",
     "transaction.data: hex must start with 0x"},
    {R"({"type": 1, "chainId": 1, "nonce": 0, "gasPrice": 1, "gasLimit": 1, "data": "0x554"})",
     "transaction.data: malformed hex"},
    {R"({"type": 1, "chainId": 1, "nonce": 0, "gasPrice": 1, "gasLimit": 1, "to": "0x"})", "transaction.to"},
    {R"({"type": 1, "chainId": 1, "nonce": 0, "gasPrice": 1, "gasLimit": 1,
         "to": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD827"})",
     "EIP-55"},
    {R"({"type": 1, "chainId": 1, "nonce": 0, "gasPrice": 1, "gasLimit": 1,
         "accessList": [{"address": "0x0000000000000000000000000000000000000101", "storageKeys": ["0x01"]}]})",
     "storageKeys[0]: a storage key is 32 bytes"},
    {R"({"type": 1, "chainId": 1, "nonce": 0, "gasPrice": 1, "gasLimit": 1,
         "accessList": [["0x0000000000000000000000000000000000000101", []]]})",
     "accessList[0]: expected {address"},
};

TEST(EvmTx, JsonRefusals) {
  for (const auto& r : kJsonRefusals) {
    auto tx = unsigned_transaction_from_json(json::parse(r.tx).as_object());
    ASSERT_FALSE(tx) << r.tx;
    EXPECT_EQ(tx.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(tx.error().message.find(r.needle), std::string::npos) << r.tx << ": " << tx.error().message;
  }
  auto too_big = unsigned_transaction_from_json(json::object{{"type", 1},
                                                             {"chainId", 1},
                                                             {"nonce", 0},
                                                             {"gasPrice", 1},
                                                             {"gasLimit", 1},
                                                             {"value", "0x1" + std::string(64, '0')}});
  ASSERT_FALSE(too_big);
  EXPECT_NE(too_big.error().message.find("transaction.value: does not fit 256 bits"), std::string::npos);
}

// ---- raw refusals ----

RlpItem b(std::string_view h) { return RlpItem::bytes(hex(h)); }

// The EIP-155 example's fields with one replaced.
Bytes legacy_with(std::size_t index, RlpItem replacement, bool signed_form) {
  auto fields = rlp_decode(hex(signed_form ? kEip155Signed : kEip155Unsigned))->as_list();
  fields[index] = std::move(replacement);
  return rlp_encode(RlpItem::list(std::move(fields)));
}

Bytes typed(std::uint8_t type, std::vector<RlpItem> fields) {
  Bytes out{type};
  const Bytes body = rlp_encode(RlpItem::list(std::move(fields)));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

TEST(EvmTx, RawRefusals) {
  struct Case {
    const char* what;
    Bytes raw;
    bool want_signed;
    const char* needle;
  };
  const std::vector<Case> cases = {
      // ethers' malformed access lists (src.ts/_tests/test-transaction.ts).
      {"accessList=0x09", hex("02c9010203040580070809"), false, "accessList is not a list"},
      {"accessList=[0x09]", hex("02ca0102030405800708c109"), false, "entry 0 is not a [address, storageKeys] pair"},
      {"accessList=[0x09,0x10]", hex("02cb0102030405800708c20910"), false, "entry 0"},
      {"bad address",
       hex("02ed0102030405800708e4e309e1a024412927c99a717115f5308c0ebd11136659b3cb6291abb4a8f87e9856a12538"), false,
       "invalid address"},
      {"bad slot", hex("02e10102030405800708d8d794939d33ff01840e9eeeb67525ec2f7035af41a4b1c109"), false,
       "storage key that is not 32 bytes"},
      // Strictness.
      {"empty", Bytes{}, false, "empty input"},
      {"type 0x03", hex("03c0"), false, "unsupported transaction type 0x03"},
      {"type 0x04", hex("04c0"), true, "unsupported transaction type 0x04"},
      {"type 0x00", hex("00c0"), false, "unsupported transaction type 0x00"},
      {"type 0x7f", hex("7fc0"), false, "unsupported transaction type 0x7f"},
      {"not RLP", hex("02c9010203"), false, "RLP:"},
      {"trailing byte",
       [] {
         Bytes x = hex(kEip155Unsigned);
         x.push_back(0);
         return x;
       }(),
       false, "trailing"},
      {"not a list", hex("8401020304"), false, "block body"},
      {"7 legacy fields", rlp_encode(RlpItem::list({b("09"), b("01"), b("01"), b(""), b(""), b(""), b("01")})), false,
       "7 fields"},
      {"leading zero nonce", legacy_with(0, b("0009"), false), false, "nonce integer has a leading zero"},
      {"zero as 0x00", legacy_with(4, b("00"), false), false, "value integer has a leading zero"},
      {"nonce 9 bytes", legacy_with(0, b("010000000000000000"), false), false, "exceeds 64 bits"},
      {"value 33 bytes", legacy_with(4, b("01" + std::string(64, '0')), false), false, "exceeds 256 bits"},
      {"to 19 bytes", legacy_with(3, b(std::string(38, '3')), false), false, "to must be empty or 20 bytes"},
      {"data a list", legacy_with(5, RlpItem::list({}), false), false, "data is a list"},
      {"EIP-155 unsigned with chainId 0", legacy_with(6, b(""), false), false, "chainId 0"},
      {"signed given as unsigned", hex(kEip155Signed), false, "already carries a signature"},
      {"unsigned given as signed", hex(kEip155Unsigned), true, "expected a signed one"},
      {"pre-155 unsigned given as signed", rlp_encode(RlpItem::list({b("09"), b("01"), b("01"), b(""), b(""), b("")})),
       true, "unsigned (6 fields)"},
      {"v = 35", legacy_with(6, b("23"), true), true, "v = 35"},
      {"v = 36", legacy_with(6, b("24"), true), true, "v = 36"},
      {"v = 29", legacy_with(6, b("1d"), true), true, "v = 29"},
      {"v = 0 with r, s", legacy_with(6, b(""), true), true, "v = 0"},
      {"r = 0", legacy_with(7, b(""), true), true, "r must be in"},
      {"s > n/2", legacy_with(8, b("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a1"), true), true,
       "low-s"},
      {"typed signed as unsigned",
       typed(2, {b("01"), b(""), b(""), b(""), b(""), b(""), b(""), b(""), RlpItem::list({}), b(""), b("01"), b("01")}),
       false, "already carries a signature"},
      {"typed unsigned as signed", typed(1, {b("01"), b(""), b(""), b(""), b(""), b(""), b(""), RlpItem::list({})}),
       true, "is unsigned"},
      {"typed 10 fields",
       typed(2, {b("01"), b(""), b(""), b(""), b(""), b(""), b(""), b(""), RlpItem::list({}), b("")}), false,
       "10 fields"},
      {"yParity 2",
       typed(2,
             {b("01"), b(""), b(""), b(""), b(""), b(""), b(""), b(""), RlpItem::list({}), b("02"), b("01"), b("01")}),
       true, "yParity must be 0 or 1"},
      {"yParity 0x00",
       typed(2,
             {b("01"), b(""), b(""), b(""), b(""), b(""), b(""), b(""), RlpItem::list({}), b("00"), b("01"), b("01")}),
       true, "yParity integer has a leading zero"},
  };
  for (const auto& c : cases) {
    auto tx = c.want_signed ? decode_signed_transaction(c.raw) : decode_unsigned_transaction(c.raw);
    ASSERT_FALSE(tx) << c.what;
    EXPECT_EQ(tx.error().code, ErrorCode::kInvalidArgument) << c.what;
    EXPECT_NE(tx.error().message.find(c.needle), std::string::npos) << c.what << ": " << tx.error().message;
  }
}

}  // namespace
}  // namespace signerd::chains

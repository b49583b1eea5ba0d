// smart/user_operation.h: the structure of the calls and of the v0.8 UserOperation (lengths, selectors, the offsets of
// the dynamic ABI encoding, which fields the hash covers), recover_signer's refusals and a round trip with a key made
// here. The selectors are the ones ethers computes from the npm artifacts; that the bytes and hashes are exactly what
// ethers and a real EntryPoint compute is interop.user_operation's job.
#include <gtest/gtest.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "chains/evm.h"
#include "smart/user_operation.h"

namespace signerd::smart {
namespace {

using chains::EvmAddress;
using chains::Hash256;
using chains::Uint256;

// For the constants below (initialised before main, where a gtest assertion cannot report): a typo aborts.
EvmAddress addr(std::string_view text) {
  auto a = chains::parse_evm_address(text);
  if (!a) std::abort();
  return *a;
}

Bytes hex(std::string_view text) {
  auto b = from_hex(text);
  EXPECT_TRUE(b) << text;
  return b ? *b : Bytes{};
}

const EvmAddress kFactory = addr("0x13E9ed32155810FDbd067D4522C492D6f68E5944");
const EvmAddress kEntryPoint = addr("0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108");
const EvmAddress kOwner = addr("0x10cB6162b0bF12Bf9B9FB899c617e71550dBAeB7");
const EvmAddress kAccount = addr("0xc6F20ce7BEf5a7A047640AFD43c5E74E3722dF66");
const EvmAddress kBeneficiary = addr("0x00000000000000000000000000000000000000be");

// The 32-byte word at `offset` of `data` (after a 4-byte selector when there is one).
std::string word(std::span<const std::uint8_t> data, std::size_t offset) {
  EXPECT_LE(offset + 32, data.size());
  return to_hex(data.subspan(offset, 32));
}

std::uint64_t word_u64(std::span<const std::uint8_t> data, std::size_t offset) {
  auto v = Uint256::from_big_endian(data.subspan(offset, 32));
  EXPECT_TRUE(v && v->to_u64());
  return v && v->to_u64() ? *v->to_u64() : 0;
}

std::string padded(const EvmAddress& a) { return std::string(24, '0') + to_hex(a); }
std::string padded(std::uint64_t v) { return to_hex(Uint256::from_u64(v).to_bytes32()); }

// The `bytes` value whose offset word sits at `head + field_offset`, the offset counted from `head`.
Bytes read_bytes(std::span<const std::uint8_t> data, std::size_t head, std::size_t field_offset) {
  const std::size_t at = head + word_u64(data, head + field_offset);
  const std::size_t len = word_u64(data, at);
  EXPECT_LE(at + 32 + len, data.size());
  const auto b = data.subspan(at + 32, len);
  return Bytes(b.begin(), b.end());
}

PackedUserOperation sample_op() {
  PackedUserOperation op;
  op.sender = addr("0x1111111111111111111111111111111111111111");
  op.nonce = Uint256::from_u64(7);
  op.init_code = Bytes(45, 0xa1);
  op.call_data = Bytes(64, 0xc4);  // a multiple of 32: no padding
  op.verification_gas_limit = Uint256::from_u64(0x0102);
  op.call_gas_limit = Uint256::from_u64(0x0304);
  op.pre_verification_gas = Uint256::from_u64(0x0506);
  op.max_priority_fee_per_gas = Uint256::from_u64(0x0708);
  op.max_fee_per_gas = Uint256::from_u64(0x090a);
  op.paymaster_and_data = Bytes(53, 0xdd);
  op.signature = Bytes(65, 0x5e);
  return op;
}

// --- createAccount

TEST(CreateAccountCall, IsTheSelectorTheOwnerAndTheSalt) {
  const Bytes call = create_account_call(kOwner, Uint256::from_u64(0x2a));
  ASSERT_EQ(call.size(), 68u);
  EXPECT_EQ(to_hex(std::span(call).first(4)), "5fbfb9cf");  // createAccount(address,uint256)
  EXPECT_EQ(word(call, 4), padded(kOwner));
  EXPECT_EQ(word(call, 36), padded(0x2a));
}

TEST(CreateAccountCall, TheDefaultSaltIsZero) {
  const Bytes call = create_account_call(kOwner);
  ASSERT_EQ(call.size(), 68u);
  EXPECT_EQ(word(call, 36), std::string(64, '0'));
  EXPECT_EQ(call, create_account_call(kOwner, Uint256{}));
}

// --- the activation op

TEST(ActivationUserOp, DeploysThroughTheFactoryAndPaysNothing) {
  const PackedUserOperation op = activation_user_op(kFactory, kOwner, kAccount);
  EXPECT_EQ(op.sender, kAccount);
  EXPECT_TRUE(op.nonce.is_zero());
  ASSERT_EQ(op.init_code.size(), 20u + 68u);
  EXPECT_EQ(Bytes(op.init_code.begin(), op.init_code.begin() + 20), Bytes(kFactory.begin(), kFactory.end()));
  EXPECT_EQ(Bytes(op.init_code.begin() + 20, op.init_code.end()), create_account_call(kOwner));
  EXPECT_TRUE(op.call_data.empty());
  EXPECT_EQ(op.verification_gas_limit, Uint256::from_u64(kActivationVerificationGas));
  EXPECT_TRUE(op.call_gas_limit.is_zero());
  EXPECT_TRUE(op.pre_verification_gas.is_zero());
  EXPECT_TRUE(op.max_priority_fee_per_gas.is_zero());
  EXPECT_TRUE(op.max_fee_per_gas.is_zero());
  EXPECT_TRUE(op.paymaster_and_data.empty());
  EXPECT_TRUE(op.signature.empty());
  EXPECT_EQ(activation_user_op(kFactory, kOwner, kAccount, Bytes(65, 1)).signature, Bytes(65, 1));
}

// --- the hash

// Pinned from ethers 6.17's TypedDataEncoder.hash with the PackedUserOperation type and the domain {name "ERC4337",
// version "1", chainId 1, verifyingContract the canonical v0.8 EntryPoint} (interop.user_operation recomputes such
// hashes for random ops and compares them with EntryPoint.getUserOpHash on a chain).
TEST(UserOpHashV08, PinnedVectorsFromEthers) {
  EXPECT_EQ(to_hex(user_op_hash_v08(activation_user_op(kFactory, kOwner, kAccount), kEntryPoint, 1)),
            "201e3401252f7ac7374eb8673574f0c90264bdaf7a24edfaad4e138022f3d65e");
  EXPECT_EQ(to_hex(user_op_hash_v08(sample_op(), kEntryPoint, 1)),
            "78c406fe2f713f8f39c285d43f6852b545c96f25eb9fb7a2f4379affcc8463b5");
}

TEST(UserOpHashV08, CoversEveryFieldButTheSignature) {
  const PackedUserOperation base = sample_op();
  const Hash256 h = user_op_hash_v08(base, kEntryPoint, 1);
  auto changed = [&](auto mutate) {
    PackedUserOperation op = base;
    mutate(op);
    return user_op_hash_v08(op, kEntryPoint, 1);
  };
  EXPECT_EQ(changed([](auto& op) { op.signature = {}; }), h);
  EXPECT_EQ(changed([](auto& op) { op.signature[0] ^= 1; }), h);
  EXPECT_NE(changed([](auto& op) { op.sender[19] ^= 1; }), h);
  EXPECT_NE(changed([](auto& op) { op.nonce = Uint256::from_u64(8); }), h);
  EXPECT_NE(changed([](auto& op) { op.init_code.back() ^= 1; }), h);
  EXPECT_NE(changed([](auto& op) { op.call_data.clear(); }), h);
  EXPECT_NE(changed([](auto& op) { op.verification_gas_limit = Uint256::from_u64(0x0103); }), h);
  EXPECT_NE(changed([](auto& op) { op.call_gas_limit = Uint256::from_u64(0x0305); }), h);
  EXPECT_NE(changed([](auto& op) { op.pre_verification_gas = Uint256::from_u64(0x0507); }), h);
  EXPECT_NE(changed([](auto& op) { op.max_priority_fee_per_gas = Uint256::from_u64(0x0709); }), h);
  EXPECT_NE(changed([](auto& op) { op.max_fee_per_gas = Uint256::from_u64(0x090b); }), h);
  EXPECT_NE(changed([](auto& op) { op.paymaster_and_data.back() ^= 1; }), h);
  // The halves of a packed word are not interchangeable.
  EXPECT_NE(changed([](auto& op) { std::swap(op.verification_gas_limit, op.call_gas_limit); }), h);
  EXPECT_NE(changed([](auto& op) { std::swap(op.max_fee_per_gas, op.max_priority_fee_per_gas); }), h);
  // The domain: the EntryPoint and the chain.
  EXPECT_NE(user_op_hash_v08(base, kFactory, 1), h);
  EXPECT_NE(user_op_hash_v08(base, kEntryPoint, 2), h);
}

TEST(UserOpHashV08, DependsOnlyOnChainEntryPointFactoryOwnerAndAccountForActivation) {
  const Hash256 h = user_op_hash_v08(activation_user_op(kFactory, kOwner, kAccount), kEntryPoint, 1);
  EXPECT_EQ(user_op_hash_v08(activation_user_op(kFactory, kOwner, kAccount, Bytes(65, 9)), kEntryPoint, 1), h);
  EXPECT_NE(user_op_hash_v08(activation_user_op(kFactory, kAccount, kAccount), kEntryPoint, 1), h);
  EXPECT_NE(user_op_hash_v08(activation_user_op(kOwner, kOwner, kAccount), kEntryPoint, 1), h);
  EXPECT_NE(user_op_hash_v08(activation_user_op(kFactory, kOwner, kOwner), kEntryPoint, 1), h);
}

// --- handleOps

TEST(HandleOpsCall, EmptyBundle) {
  const Bytes call = handle_ops_call({}, kBeneficiary);
  ASSERT_EQ(call.size(), 4u + 3 * 32);
  EXPECT_EQ(to_hex(std::span(call).first(4)), "765e827f");  // handleOps((address,...,bytes)[],address)
  EXPECT_EQ(word(call, 4), padded(0x40));
  EXPECT_EQ(word(call, 36), padded(kBeneficiary));
  EXPECT_EQ(word(call, 68), padded(0));
}

TEST(HandleOpsCall, OneOpHeadOffsetsAndTail) {
  const PackedUserOperation op = sample_op();
  const Bytes call = handle_ops_call(std::vector{op}, kBeneficiary);
  const std::span<const std::uint8_t> body = std::span(call).subspan(4);
  EXPECT_EQ(to_hex(std::span(call).first(4)), "765e827f");
  EXPECT_EQ(word(body, 0), padded(0x40));
  EXPECT_EQ(word(body, 32), padded(kBeneficiary));
  EXPECT_EQ(word(body, 64), padded(1));     // the array's length
  EXPECT_EQ(word(body, 96), padded(0x20));  // op 0, from the word after the length
  const std::size_t tuple = 96 + 32;
  EXPECT_EQ(word(body, tuple), padded(op.sender));
  EXPECT_EQ(word(body, tuple + 32), padded(7));
  // initCode right after the nine head words; each bytes value is a length word and whole words of data.
  EXPECT_EQ(word(body, tuple + 64), padded(9 * 32));
  EXPECT_EQ(word(body, tuple + 96), padded(9 * 32 + 32 + 64));
  EXPECT_EQ(word(body, tuple + 128), std::string(28, '0') + "0102" + std::string(28, '0') + "0304");
  EXPECT_EQ(word(body, tuple + 160), padded(0x0506));
  EXPECT_EQ(word(body, tuple + 192), std::string(28, '0') + "0708" + std::string(28, '0') + "090a");
  EXPECT_EQ(word(body, tuple + 224), padded(9 * 32 + 32 + 64 + 32 + 64));
  EXPECT_EQ(word(body, tuple + 256), padded(9 * 32 + 32 + 64 + 32 + 64 + 32 + 64));
  EXPECT_EQ(read_bytes(body, tuple, 64), op.init_code);
  EXPECT_EQ(read_bytes(body, tuple, 96), op.call_data);
  EXPECT_EQ(read_bytes(body, tuple, 224), op.paymaster_and_data);
  EXPECT_EQ(read_bytes(body, tuple, 256), op.signature);
  // Padding is zeros, and the call ends with the signature's last word.
  EXPECT_EQ(call.size(), 4 + tuple + 9 * 32 + (32 + 64) + (32 + 64) + (32 + 64) + (32 + 96));
  EXPECT_EQ(to_hex(std::span(call).last(31)), std::string(62, '0'));
}

TEST(HandleOpsCall, TwoOpsTheSecondOffsetFollowsTheFirstTuple) {
  const PackedUserOperation first = activation_user_op(kFactory, kOwner, kAccount, Bytes(65, 0x5e));
  const PackedUserOperation second = sample_op();
  const Bytes call = handle_ops_call(std::vector{first, second}, kBeneficiary);
  const std::span<const std::uint8_t> body = std::span(call).subspan(4);
  EXPECT_EQ(word(body, 64), padded(2));
  EXPECT_EQ(word(body, 96), padded(0x40));
  // The activation tuple: 9 head words, initCode 88 bytes (3 words), empty callData and paymasterAndData (length
  // word only), a 65-byte signature (3 words).
  const std::size_t first_size = 9 * 32 + (32 + 96) + 32 + 32 + (32 + 96);
  EXPECT_EQ(word(body, 128), padded(0x40 + first_size));
  const std::size_t array = 96;
  const std::size_t t0 = array + word_u64(body, 96);
  const std::size_t t1 = array + word_u64(body, 128);
  EXPECT_EQ(word(body, t0), padded(kAccount));
  EXPECT_EQ(read_bytes(body, t0, 64), first.init_code);
  EXPECT_EQ(read_bytes(body, t0, 96), Bytes{});
  EXPECT_EQ(read_bytes(body, t0, 224), Bytes{});
  EXPECT_EQ(read_bytes(body, t0, 256), first.signature);
  // accountGasLimits: the verification gas in the high 128 bits, call gas 0 in the low ones.
  const std::string gas = to_hex(Uint256::from_u64(kActivationVerificationGas).to_bytes32());
  EXPECT_EQ(word(body, t0 + 128), gas.substr(32) + std::string(32, '0'));
  EXPECT_EQ(word(body, t1), padded(second.sender));
  EXPECT_EQ(read_bytes(body, t1, 64), second.init_code);
  EXPECT_EQ(read_bytes(body, t1, 256), second.signature);
  EXPECT_EQ(body.size(), t1 + handle_ops_call(std::vector{second}, kBeneficiary).size() - 4 - 128);
}

// --- recover_signer

struct Key {
  std::array<std::uint8_t, 32> secret{};
  EvmAddress address{};
};

Key make_key(std::uint8_t fill) {
  Key k;
  k.secret.fill(fill);
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  secp256k1_pubkey pub;
  EXPECT_EQ(secp256k1_ec_pubkey_create(ctx, &pub, k.secret.data()), 1);
  std::array<std::uint8_t, 65> out{};
  std::size_t len = out.size();
  secp256k1_ec_pubkey_serialize(ctx, out.data(), &len, &pub, SECP256K1_EC_UNCOMPRESSED);
  secp256k1_context_destroy(ctx);
  auto a = chains::evm_address(out);
  EXPECT_TRUE(a);
  if (a) k.address = *a;
  return k;
}

// r || s || recid (0/1): libsecp256k1 signs low-s.
Bytes sign(const Key& key, const Hash256& digest) {
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  secp256k1_ecdsa_recoverable_signature sig;
  EXPECT_EQ(secp256k1_ecdsa_sign_recoverable(ctx, &sig, digest.data(), key.secret.data(), nullptr, nullptr), 1);
  Bytes out(65);
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, out.data(), &recid, &sig);
  secp256k1_context_destroy(ctx);
  out[64] = static_cast<std::uint8_t>(recid);
  return out;
}

const std::string kN = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
const std::string kHalfN = "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0";

Bytes with_rs(const Bytes& sig, std::string_view r_hex, std::string_view s_hex) {
  Bytes out = sig;
  if (!r_hex.empty()) {
    const Bytes r = hex(r_hex);
    std::copy(r.begin(), r.end(), out.begin());
  }
  if (!s_hex.empty()) {
    const Bytes s = hex(s_hex);
    std::copy(s.begin(), s.end(), out.begin() + 32);
  }
  return out;
}

void expect_refused(const Hash256& digest, const Bytes& sig, std::string_view fragment) {
  const auto r = recover_signer(digest, sig);
  ASSERT_FALSE(r) << to_hex(sig);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

TEST(RecoverSigner, RoundTripWithAKeyMadeHere) {
  const Key key = make_key(0x42);
  const Hash256 digest = user_op_hash_v08(activation_user_op(kFactory, key.address, kAccount), kEntryPoint, 31337);
  const Bytes raw = sign(key, digest);
  for (const std::uint8_t v : {raw[64], static_cast<std::uint8_t>(raw[64] + 27)}) {
    Bytes sig = raw;
    sig[64] = v;
    const auto r = recover_signer(digest, sig);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->signer, key.address);
    ASSERT_EQ(r->signature.size(), 65u);
    EXPECT_EQ(Bytes(r->signature.begin(), r->signature.begin() + 64), Bytes(raw.begin(), raw.begin() + 64));
    EXPECT_EQ(r->signature[64], raw[64] + 27);  // v 0/1 mapped to 27/28
  }
  // Another key, another digest: another signer.
  const Key other = make_key(0x43);
  const auto r = recover_signer(digest, sign(other, digest));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->signer, other.address);
  EXPECT_NE(r->signer, key.address);
  Hash256 digest2 = digest;
  digest2[0] ^= 1;
  const auto wrong = recover_signer(digest2, raw);
  ASSERT_TRUE(wrong);
  EXPECT_NE(wrong->signer, key.address);
}

TEST(RecoverSigner, RefusesAnotherLength) {
  const Key key = make_key(0x42);
  const Hash256 digest{};
  Bytes sig = sign(key, digest);
  sig[64] += 27;
  expect_refused(digest, Bytes(sig.begin(), sig.begin() + 64), "65 bytes");
  Bytes longer = sig;
  longer.push_back(0);
  expect_refused(digest, longer, "65 bytes");
  expect_refused(digest, {}, "65 bytes");
}

TEST(RecoverSigner, RefusesVOtherThan0Or1Or27Or28) {
  const Key key = make_key(0x42);
  const Hash256 digest{};
  Bytes sig = sign(key, digest);
  for (const int v : {2, 3, 26, 29, 35, 36, 255}) {
    sig[64] = static_cast<std::uint8_t>(v);
    expect_refused(digest, sig, "v must be 27 or 28");
  }
}

TEST(RecoverSigner, RefusesRAndSOutOfRangeAndHighS) {
  const Key key = make_key(0x42);
  Hash256 digest{};
  digest[31] = 1;
  Bytes sig = sign(key, digest);
  sig[64] += 27;
  const std::string zero(64, '0');
  expect_refused(digest, with_rs(sig, zero, ""), "r must be in [1, n-1]");
  expect_refused(digest, with_rs(sig, kN, ""), "r must be in [1, n-1]");
  expect_refused(digest, with_rs(sig, std::string(64, 'f'), ""), "r must be in [1, n-1]");
  expect_refused(digest, with_rs(sig, "", zero), "s must be in [1, n-1]");
  expect_refused(digest, with_rs(sig, "", kN), "s must be in [1, n-1]");
  expect_refused(digest, with_rs(sig, "", std::string(64, 'f')), "s must be in [1, n-1]");
  // n/2 is the largest s OpenZeppelin accepts; n/2 + 1 is refused.
  expect_refused(digest, with_rs(sig, "", "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a1"),
                 "high-s");
  const auto at_half = recover_signer(digest, with_rs(sig, "", kHalfN));
  EXPECT_TRUE(at_half) << at_half.error().message;
  // The high-s twin of a valid signature (n - s, v flipped), which ecrecover accepts for the same key, is refused.
  Bytes twin = sig;
  const Bytes n = hex(kN);
  int borrow = 0;
  for (std::size_t i = 32; i-- > 0;) {
    const int d = n[i] - sig[32 + i] - borrow;
    borrow = d < 0 ? 1 : 0;
    twin[32 + i] = static_cast<std::uint8_t>(d + 256 * borrow);
  }
  twin[64] = sig[64] == 27 ? 28 : 27;
  ASSERT_GT(to_hex(std::span(twin).subspan(32, 32)), kHalfN);
  expect_refused(digest, twin, "high-s");
}

TEST(RecoverSigner, RefusesASignatureThatRecoversNoKey) {
  const Hash256 digest{};
  // r = 5: x = 5 is not the x-coordinate of a secp256k1 point (5^3 + 7 = 132 is not a square mod p).
  Bytes sig(65, 0);
  sig[31] = 5;
  sig[63] = 1;
  sig[64] = 27;
  expect_refused(digest, sig, "recovers no public key");
}

// --- JSON

TEST(UserOpToJson, TheActivationOpAsBundlersWriteIt) {
  const PackedUserOperation op = activation_user_op(kFactory, kOwner, kAccount, Bytes{0xab, 0xcd});
  const boost::json::object j = user_op_to_json(op);
  std::vector<std::string> keys;
  for (const auto& kv : j) keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"sender", "nonce", "factory", "factoryData", "callData", "callGasLimit",
                                            "verificationGasLimit", "preVerificationGas", "maxFeePerGas",
                                            "maxPriorityFeePerGas", "signature"}));
  EXPECT_EQ(j.at("sender").as_string(), "0xc6F20ce7BEf5a7A047640AFD43c5E74E3722dF66");
  EXPECT_EQ(j.at("nonce").as_string(), "0x0");
  EXPECT_EQ(j.at("factory").as_string(), "0x13E9ed32155810FDbd067D4522C492D6f68E5944");
  EXPECT_EQ(j.at("factoryData").as_string(), to_hex_0x(create_account_call(kOwner)));
  EXPECT_EQ(j.at("callData").as_string(), "0x");
  EXPECT_EQ(j.at("callGasLimit").as_string(), "0x0");
  EXPECT_EQ(j.at("verificationGasLimit").as_string(), "0xf4240");  // 1,000,000
  EXPECT_EQ(j.at("preVerificationGas").as_string(), "0x0");
  EXPECT_EQ(j.at("maxFeePerGas").as_string(), "0x0");
  EXPECT_EQ(j.at("maxPriorityFeePerGas").as_string(), "0x0");
  EXPECT_EQ(j.at("signature").as_string(), "0xabcd");
}

TEST(UserOpToJson, PaymasterFieldsAndNoFactory) {
  PackedUserOperation op = sample_op();
  op.init_code.clear();
  op.paymaster_and_data =
      hex("0x00000000000000000000000000000000000000aa"  // paymaster
          "00000000000000000000000000000102"            // verification gas
          "0000000000000000000000000000000f"            // postOp gas
          "beef");
  const boost::json::object j = user_op_to_json(op);
  EXPECT_FALSE(j.contains("factory"));
  EXPECT_FALSE(j.contains("factoryData"));
  EXPECT_EQ(j.at("paymaster").as_string(), "0x00000000000000000000000000000000000000AA");
  EXPECT_EQ(j.at("paymasterVerificationGasLimit").as_string(), "0x102");
  EXPECT_EQ(j.at("paymasterPostOpGasLimit").as_string(), "0xf");
  EXPECT_EQ(j.at("paymasterData").as_string(), "0xbeef");
  EXPECT_EQ(j.at("nonce").as_string(), "0x7");
  EXPECT_EQ(j.at("maxFeePerGas").as_string(), "0x90a");
  EXPECT_EQ(j.at("callData").as_string(), to_hex_0x(op.call_data));
}

}  // namespace
}  // namespace signerd::smart

#include "smart/user_operation.h"

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <algorithm>
#include <cassert>
#include <string>
#include <string_view>
#include <vector>

namespace signerd::smart {
namespace {

using chains::EvmAddress;
using chains::Hash256;
using chains::Uint256;

using Word = std::array<std::uint8_t, 32>;

// The first four bytes of keccak256(signature): a Solidity function selector.
std::array<std::uint8_t, 4> selector(std::string_view signature) {
  const Hash256 h = chains::keccak256(as_bytes(signature));
  return {h[0], h[1], h[2], h[3]};
}

Word address_word(const EvmAddress& a) {
  Word w{};
  std::copy(a.begin(), a.end(), w.begin() + 12);
  return w;
}

Word u64_word(std::uint64_t value) { return Uint256::from_u64(value).to_bytes32(); }

// high << 128 | low, both below 2^128: accountGasLimits and gasFees.
Word pack_128(const Uint256& high, const Uint256& low) {
  assert(high.bit_length() <= 128 && low.bit_length() <= 128);
  const Word h = high.to_bytes32();
  const Word l = low.to_bytes32();
  Word w{};
  std::copy(h.begin() + 16, h.end(), w.begin());
  std::copy(l.begin() + 16, l.end(), w.begin() + 16);
  return w;
}

void append(Bytes& out, std::span<const std::uint8_t> bytes) { out.insert(out.end(), bytes.begin(), bytes.end()); }

// abi.encode of a `bytes` value in the tail: length word, then the bytes right-padded with zeros to a 32-byte multiple.
void append_dynamic_bytes(Bytes& out, std::span<const std::uint8_t> bytes) {
  append(out, u64_word(bytes.size()));
  append(out, bytes);
  out.resize(out.size() + (32 - bytes.size() % 32) % 32, 0);
}

std::size_t padded_size(std::size_t n) { return 32 + (n + 31) / 32 * 32; }

// abi.encode(op) for the PackedUserOperation tuple: nine head words (dynamic fields as offsets from the tuple's
// start), then initCode, callData, paymasterAndData and signature in field order.
Bytes encode_op_tuple(const PackedUserOperation& op) {
  constexpr std::size_t kHead = 9 * 32;
  const std::size_t init_code_at = kHead;
  const std::size_t call_data_at = init_code_at + padded_size(op.init_code.size());
  const std::size_t paymaster_at = call_data_at + padded_size(op.call_data.size());
  const std::size_t signature_at = paymaster_at + padded_size(op.paymaster_and_data.size());
  Bytes out;
  out.reserve(signature_at + padded_size(op.signature.size()));
  append(out, address_word(op.sender));
  append(out, op.nonce.to_bytes32());
  append(out, u64_word(init_code_at));
  append(out, u64_word(call_data_at));
  append(out, pack_128(op.verification_gas_limit, op.call_gas_limit));
  append(out, op.pre_verification_gas.to_bytes32());
  append(out, pack_128(op.max_priority_fee_per_gas, op.max_fee_per_gas));
  append(out, u64_word(paymaster_at));
  append(out, u64_word(signature_at));
  append_dynamic_bytes(out, op.init_code);
  append_dynamic_bytes(out, op.call_data);
  append_dynamic_bytes(out, op.paymaster_and_data);
  append_dynamic_bytes(out, op.signature);
  return out;
}

// An EVM quantity as JSON-RPC writes it: "0x" and hex digits without leading zeros, "0x0" for zero.
std::string quantity(const Uint256& value) {
  std::string hex = to_hex(value.to_minimal_bytes());
  if (hex.empty()) return "0x0";
  if (hex.front() == '0') hex.erase(0, 1);
  return "0x" + hex;
}

std::string quantity(std::span<const std::uint8_t> big_endian) {
  const auto value = Uint256::from_big_endian(big_endian);
  assert(value);  // callers pass at most 32 bytes
  return quantity(*value);
}

EvmAddress address_at(std::span<const std::uint8_t> bytes) {
  EvmAddress a{};
  std::copy_n(bytes.begin(), a.size(), a.begin());
  return a;
}

// secp256k1's group order n, and n/2 (the largest low s), big-endian.
constexpr Word kOrder = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                         0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                         0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
constexpr Word kHalfOrder = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                             0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4,
                             0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0};

}  // namespace

Bytes create_account_call(const EvmAddress& owner, const Uint256& salt) {
  static const auto kSelector = selector("createAccount(address,uint256)");
  Bytes out;
  out.reserve(4 + 2 * 32);
  append(out, kSelector);
  append(out, address_word(owner));
  append(out, salt.to_bytes32());
  return out;
}

PackedUserOperation activation_user_op(const EvmAddress& factory, const EvmAddress& owner, const EvmAddress& account,
                                       Bytes signature) {
  PackedUserOperation op;
  op.sender = account;
  op.init_code.assign(factory.begin(), factory.end());
  append(op.init_code, create_account_call(owner));
  op.verification_gas_limit = Uint256::from_u64(kActivationVerificationGas);
  op.signature = std::move(signature);
  return op;
}

Hash256 user_op_hash_v08(const PackedUserOperation& op, const EvmAddress& entry_point, std::uint64_t chain_id) {
  // OpenZeppelin EIP712 (the EntryPoint's base) with name "ERC4337", version "1".
  static const Hash256 kDomainTypeHash =
      chains::keccak256(as_bytes("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"));
  static const Hash256 kNameHash = chains::keccak256(as_bytes("ERC4337"));
  static const Hash256 kVersionHash = chains::keccak256(as_bytes("1"));
  // UserOperationLib.PACKED_USEROP_TYPEHASH.
  static const Hash256 kOpTypeHash = chains::keccak256(as_bytes(
      "PackedUserOperation(address sender,uint256 nonce,bytes initCode,bytes callData,bytes32 accountGasLimits,"
      "uint256 preVerificationGas,bytes32 gasFees,bytes paymasterAndData)"));

  Bytes domain;
  domain.reserve(5 * 32);
  append(domain, kDomainTypeHash);
  append(domain, kNameHash);
  append(domain, kVersionHash);
  append(domain, u64_word(chain_id));
  append(domain, address_word(entry_point));

  Bytes fields;
  fields.reserve(9 * 32);
  append(fields, kOpTypeHash);
  append(fields, address_word(op.sender));
  append(fields, op.nonce.to_bytes32());
  append(fields, chains::keccak256(op.init_code));
  append(fields, chains::keccak256(op.call_data));
  append(fields, pack_128(op.verification_gas_limit, op.call_gas_limit));
  append(fields, op.pre_verification_gas.to_bytes32());
  append(fields, pack_128(op.max_priority_fee_per_gas, op.max_fee_per_gas));
  append(fields, chains::keccak256(op.paymaster_and_data));

  Bytes typed{0x19, 0x01};
  append(typed, chains::keccak256(domain));
  append(typed, chains::keccak256(fields));
  return chains::keccak256(typed);
}

Bytes handle_ops_call(std::span<const PackedUserOperation> ops, const EvmAddress& beneficiary) {
  static const auto kSelector =
      selector("handleOps((address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes)[],address)");
  // Head: the offset of the array (it follows the two head words) and the beneficiary. The array: its length, one
  // offset per tuple (from the word after the length), then the tuples.
  std::vector<Bytes> tuples;
  tuples.reserve(ops.size());
  for (const auto& op : ops) tuples.push_back(encode_op_tuple(op));
  Bytes out;
  append(out, kSelector);
  append(out, u64_word(2 * 32));
  append(out, address_word(beneficiary));
  append(out, u64_word(ops.size()));
  std::size_t offset = 32 * ops.size();
  for (const auto& t : tuples) {
    append(out, u64_word(offset));
    offset += t.size();
  }
  for (const auto& t : tuples) append(out, t);
  return out;
}

Result<RecoveredSignature> recover_signer(const Hash256& digest, std::span<const std::uint8_t> signature) {
  if (signature.size() != 65) {
    return fail(ErrorCode::kInvalidArgument,
                "the signature must be 65 bytes (r || s || v), not " + std::to_string(signature.size()));
  }
  std::uint8_t v = signature[64];
  if (v == 0 || v == 1) v = static_cast<std::uint8_t>(v + 27);
  if (v != 27 && v != 28) {
    return fail(ErrorCode::kInvalidArgument,
                "the signature's v must be 27 or 28 (or 0 or 1), not " + std::to_string(signature[64]));
  }
  Word r{}, s{};
  std::copy_n(signature.begin(), 32, r.begin());
  std::copy_n(signature.begin() + 32, 32, s.begin());
  const Word zero{};
  if (r == zero || r >= kOrder) {
    return fail(ErrorCode::kInvalidArgument, "the signature's r must be in [1, n-1] (n: the secp256k1 group order)");
  }
  if (s == zero || s >= kOrder) {
    return fail(ErrorCode::kInvalidArgument, "the signature's s must be in [1, n-1] (n: the secp256k1 group order)");
  }
  if (s > kHalfOrder) {
    return fail(ErrorCode::kInvalidArgument,
                "the signature's s is above n/2 (high-s), which the account refuses; use n - s and flip v");
  }

  const secp256k1_context* ctx = secp256k1_context_static;
  secp256k1_ecdsa_recoverable_signature rsig;
  secp256k1_pubkey key;
  if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rsig, signature.data(), v - 27) ||
      !secp256k1_ecdsa_recover(ctx, &key, &rsig, digest.data())) {
    return fail(ErrorCode::kInvalidArgument, "the signature recovers no public key for this digest");
  }
  std::array<std::uint8_t, 65> uncompressed{};
  std::size_t len = uncompressed.size();
  secp256k1_ec_pubkey_serialize(ctx, uncompressed.data(), &len, &key, SECP256K1_EC_UNCOMPRESSED);
  auto signer = chains::evm_address(uncompressed);
  if (!signer)
    return fail(ErrorCode::kInternal, "cannot derive the address of a recovered key: " + signer.error().message);

  RecoveredSignature out;
  out.signature.assign(signature.begin(), signature.end());
  out.signature[64] = v;
  out.signer = *signer;
  return out;
}

boost::json::object user_op_to_json(const PackedUserOperation& op) {
  assert(op.init_code.empty() || op.init_code.size() >= 20);
  assert(op.paymaster_and_data.empty() || op.paymaster_and_data.size() >= 52);
  assert(op.verification_gas_limit.bit_length() <= 128 && op.call_gas_limit.bit_length() <= 128);
  assert(op.max_priority_fee_per_gas.bit_length() <= 128 && op.max_fee_per_gas.bit_length() <= 128);
  const std::span<const std::uint8_t> init_code(op.init_code);
  const std::span<const std::uint8_t> paymaster(op.paymaster_and_data);

  boost::json::object out;
  out["sender"] = chains::eip55_encode(op.sender);
  out["nonce"] = quantity(op.nonce);
  if (!init_code.empty()) {
    out["factory"] = chains::eip55_encode(address_at(init_code));
    out["factoryData"] = to_hex_0x(init_code.subspan(20));
  }
  out["callData"] = to_hex_0x(op.call_data);
  out["callGasLimit"] = quantity(op.call_gas_limit);
  out["verificationGasLimit"] = quantity(op.verification_gas_limit);
  out["preVerificationGas"] = quantity(op.pre_verification_gas);
  out["maxFeePerGas"] = quantity(op.max_fee_per_gas);
  out["maxPriorityFeePerGas"] = quantity(op.max_priority_fee_per_gas);
  if (!paymaster.empty()) {
    out["paymaster"] = chains::eip55_encode(address_at(paymaster));
    out["paymasterVerificationGasLimit"] = quantity(paymaster.subspan(20, 16));
    out["paymasterPostOpGasLimit"] = quantity(paymaster.subspan(36, 16));
    out["paymasterData"] = to_hex_0x(paymaster.subspan(52));
  }
  out["signature"] = to_hex_0x(op.signature);
  return out;
}

}  // namespace signerd::smart

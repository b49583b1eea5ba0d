// userop_vectors: prints what smart/user_operation.h computes, for ethers and a real EntryPoint to check
// (tests/interop/user_operation.test.mjs). Not part of the daemon.
//
//   userop_vectors vectors SEED [COUNT]  JSON {seed, vectors: [...]}: COUNT sets of random owners, factories, accounts,
//                                        entry points, beneficiaries, salts and chain ids (deterministic from SEED;
//                                        the boundary cases come in turn, so any 12 consecutive vectors cover them),
//                                        each with createAccountCall (salt given and default), the activation op
//                                        (user_op_to_json) and its user_op_hash_v08, a random PackedUserOperation (its
//                                        fields, its JSON, its hash), handleOps calldata for [] and for one and two ops
//                                        with non-empty signatures, and a recovery: a key made from the seed signs the
//                                        activation hash with libsecp256k1 and recover_signer reads it back (also with
//                                        v = 0/1, and refuses its high-s twin).
//   userop_vectors request               reads one JSON object per line on stdin:
//                                          {"chainId", "entryPoint", "beneficiary", "ops": [op, ...]}
//                                        where an op is {"activation": {"factory", "owner", "account"}, "signature"?}
//                                        or the fields of a PackedUserOperation {"sender", "nonce", "initCode",
//                                        "callData", "verificationGasLimit", "callGasLimit", "preVerificationGas",
//                                        "maxPriorityFeePerGas", "maxFeePerGas", "paymasterAndData", "signature"}
//                                        (quantities as ethers writes them, bytes "0x" hex); prints a JSON array with
//                                        per line {"ops": [{"userOp", "hash", "recovered"?}], "handleOpsCall"} or
//                                        {"error": "..."}. "recovered" (for a non-empty signature) is recover_signer's
//                                        {"signer", "signature"} or {"error"}.
// Exit status 0 on success, 2 on a usage error, 1 when a computation on generated input fails (a bug).
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "chains/tools/vector_tool.h"
#include "chains/evm.h"
#include "chains/evm_tx.h"
#include "chains/hashes.h"
#include "common/hex.h"
#include "smart/user_operation.h"

namespace signerd::smart {
namespace {

namespace json = boost::json;
using chains::EvmAddress;
using chains::Hash256;
using chains::Uint256;

using tools::bug;
using tools::Stream;

EvmAddress random_address(Stream& rng) {
  EvmAddress a{};
  const Bytes b = rng.bytes(20);
  std::copy(b.begin(), b.end(), a.begin());
  return a;
}

// A value below 2^bits (bits a multiple of 8), biased toward 0, 1, 2^bits - 1 and short values.
Uint256 random_uint(Stream& rng, unsigned bits) {
  switch (rng.below(6)) {
    case 0: return Uint256{};
    case 1: return Uint256::from_u64(1);
    case 2: return *Uint256::from_big_endian(Bytes(bits / 8, 0xff));
    default: return *Uint256::from_big_endian(rng.bytes(1 + rng.below(bits / 8)));
  }
}

// Vector i's chain id: 1, 31337, 2^64 - 1 and random ones in turn.
std::uint64_t chain_id_for(Stream& rng, std::size_t i) {
  switch (i % 5) {
    case 0: return 1;
    case 1: return 31337;
    case 2: return UINT64_MAX;
    default: return rng.u64() >> rng.below(64);
  }
}

// Vector i's salt: 0, a full 32-byte value, and random ones in turn.
Uint256 salt_for(Stream& rng, std::size_t i) {
  switch (i % 3) {
    case 0: return Uint256{};
    case 1: {
      Bytes b = rng.bytes(32);
      b[0] |= 0x80;
      return *Uint256::from_big_endian(b);
    }
    default: return random_uint(rng, 256);
  }
}

// Vector i's op: with and without initCode and paymasterAndData in turn, every number at its largest in every fourth.
PackedUserOperation random_op(Stream& rng, std::size_t i) {
  PackedUserOperation op;
  op.sender = random_address(rng);
  op.nonce = random_uint(rng, 256);
  if (i % 3 != 0) op.init_code = rng.bytes(20 + rng.below(120));
  if (!rng.chance(3)) op.call_data = rng.bytes(rng.below(200));
  op.verification_gas_limit = random_uint(rng, 128);
  op.call_gas_limit = random_uint(rng, 128);
  op.pre_verification_gas = random_uint(rng, 256);
  op.max_priority_fee_per_gas = random_uint(rng, 128);
  op.max_fee_per_gas = random_uint(rng, 128);
  if (i % 4 == 1) {
    const Uint256 max128 = *Uint256::from_big_endian(Bytes(16, 0xff));
    const Uint256 max256 = *Uint256::from_big_endian(Bytes(32, 0xff));
    op.nonce = op.pre_verification_gas = max256;
    op.verification_gas_limit = op.call_gas_limit = op.max_priority_fee_per_gas = op.max_fee_per_gas = max128;
  }
  if (i % 2 == 1) op.paymaster_and_data = rng.bytes(52 + rng.below(80));
  op.signature = rng.bytes(rng.chance(2) ? 65 : rng.below(140));
  return op;
}

json::object packed_fields(const PackedUserOperation& op) {
  return json::object{
      {"sender", chains::eip55_encode(op.sender)},
      {"nonce", op.nonce.to_decimal()},
      {"initCode", to_hex_0x(op.init_code)},
      {"callData", to_hex_0x(op.call_data)},
      {"verificationGasLimit", op.verification_gas_limit.to_decimal()},
      {"callGasLimit", op.call_gas_limit.to_decimal()},
      {"preVerificationGas", op.pre_verification_gas.to_decimal()},
      {"maxPriorityFeePerGas", op.max_priority_fee_per_gas.to_decimal()},
      {"maxFeePerGas", op.max_fee_per_gas.to_decimal()},
      {"paymasterAndData", to_hex_0x(op.paymaster_and_data)},
      {"signature", to_hex_0x(op.signature)},
  };
}

json::object recovered_json(const Hash256& digest, std::span<const std::uint8_t> signature) {
  auto r = recover_signer(digest, signature);
  if (!r) return json::object{{"error", r.error().message}};
  return json::object{{"signer", chains::eip55_encode(r->signer)}, {"signature", to_hex_0x(r->signature)}};
}

// n - s for a low s (big-endian), so that the high-s twin of a signature can be shown refused.
Bytes negate_mod_n(std::span<const std::uint8_t> s) {
  static constexpr std::uint8_t kN[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                          0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
  Bytes out(32);
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int d = kN[i] - s[static_cast<std::size_t>(i)] - borrow;
    borrow = d < 0 ? 1 : 0;
    out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(d + 256 * borrow);
  }
  return out;
}

// A secp256k1 key from the seed signs `digest`: r || s || (27 + recid), libsecp256k1 (low-s).
json::object recovery_vector(Stream& rng, const Hash256& digest) {
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  Bytes secret;
  do secret = rng.bytes(32);
  while (!secp256k1_ec_seckey_verify(ctx, secret.data()));
  secp256k1_ecdsa_recoverable_signature sig;
  if (!secp256k1_ecdsa_sign_recoverable(ctx, &sig, digest.data(), secret.data(), nullptr, nullptr)) bug("sign");
  Bytes rsv(65);
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, rsv.data(), &recid, &sig);
  secp256k1_context_destroy(ctx);
  rsv[64] = static_cast<std::uint8_t>(27 + recid);

  Bytes v01 = rsv;
  v01[64] = static_cast<std::uint8_t>(recid);
  Bytes high = rsv;
  const Bytes high_s = negate_mod_n(std::span<const std::uint8_t>(rsv).subspan(32, 32));
  std::copy(high_s.begin(), high_s.end(), high.begin() + 32);
  high[64] = static_cast<std::uint8_t>(27 + (recid ^ 1));
  return json::object{
      {"privateKey", to_hex_0x(secret)},   {"digest", to_hex_0x(digest)},
      {"signature", to_hex_0x(rsv)},       {"recovered", recovered_json(digest, rsv)},
      {"signatureV01", to_hex_0x(v01)},    {"recoveredV01", recovered_json(digest, v01)},
      {"signatureHighS", to_hex_0x(high)}, {"recoveredHighS", recovered_json(digest, high)},
  };
}

int print_vectors(const std::string& seed, std::size_t count) {
  Stream rng(seed);
  json::array vectors;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t chain_id = chain_id_for(rng, i);
    const EvmAddress entry_point = random_address(rng);
    const EvmAddress factory = random_address(rng);
    const EvmAddress owner = random_address(rng);
    const EvmAddress account = random_address(rng);
    const EvmAddress beneficiary = random_address(rng);
    const Uint256 salt = salt_for(rng, i);

    const PackedUserOperation activation = activation_user_op(factory, owner, account);
    const Hash256 activation_hash = user_op_hash_v08(activation, entry_point, chain_id);
    const PackedUserOperation signed_activation = activation_user_op(factory, owner, account, rng.bytes(65));
    if (user_op_hash_v08(signed_activation, entry_point, chain_id) != activation_hash) {
      bug("the signature changed the op hash");
    }
    const PackedUserOperation op = random_op(rng, i);
    const std::vector<PackedUserOperation> one{signed_activation};
    const std::vector<PackedUserOperation> two{signed_activation, op};

    vectors.push_back(json::object{
        {"chainId", std::to_string(chain_id)},
        {"entryPoint", chains::eip55_encode(entry_point)},
        {"factory", chains::eip55_encode(factory)},
        {"owner", chains::eip55_encode(owner)},
        {"account", chains::eip55_encode(account)},
        {"beneficiary", chains::eip55_encode(beneficiary)},
        {"salt", salt.to_decimal()},
        {"createAccountCall", to_hex_0x(create_account_call(owner, salt))},
        {"createAccountCallDefaultSalt", to_hex_0x(create_account_call(owner))},
        {"activation", json::object{{"userOp", user_op_to_json(activation)},
                                    {"hash", to_hex_0x(activation_hash)},
                                    {"signedUserOp", user_op_to_json(signed_activation)}}},
        {"op", json::object{{"fields", packed_fields(op)},
                            {"userOp", user_op_to_json(op)},
                            {"hash", to_hex_0x(user_op_hash_v08(op, entry_point, chain_id))}}},
        {"handleOps0", to_hex_0x(handle_ops_call({}, beneficiary))},
        {"handleOps1", to_hex_0x(handle_ops_call(one, beneficiary))},
        {"handleOps2", to_hex_0x(handle_ops_call(two, beneficiary))},
        {"recovery", recovery_vector(rng, activation_hash)},
    });
  }
  std::cout << json::serialize(json::object{{"seed", seed}, {"vectors", std::move(vectors)}}) << '\n';
  return 0;
}

// ---- request mode ----

const json::value& field(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (!v) throw std::invalid_argument(std::string("missing field ") + std::string(name));
  return *v;
}

std::string text(const json::object& o, std::string_view name) {
  const auto& v = field(o, name);
  if (!v.is_string()) throw std::invalid_argument(std::string(name) + " must be a string");
  return std::string(v.as_string());
}

EvmAddress address_field(const json::object& o, std::string_view name) {
  auto a = chains::parse_evm_address(text(o, name));
  if (!a) throw std::invalid_argument(std::string(name) + ": " + a.error().message);
  return *a;
}

Bytes bytes_field(const json::object& o, std::string_view name, bool optional = false) {
  if (optional && !o.contains(name)) return {};
  const std::string t = text(o, name);
  if (!t.starts_with("0x")) throw std::invalid_argument(std::string(name) + " must be 0x hex");
  auto b = from_hex(t);
  if (!b) throw std::invalid_argument(std::string(name) + " must be 0x hex");
  return *b;
}

Uint256 quantity_field(const json::object& o, std::string_view name) {
  auto q = chains::parse_evm_quantity(field(o, name), name);
  if (!q) throw std::invalid_argument(q.error().message);
  return *q;
}

PackedUserOperation op_from_json(const json::object& o) {
  if (const auto* a = o.if_contains("activation")) {
    if (!a->is_object()) throw std::invalid_argument("activation must be an object");
    const auto& act = a->as_object();
    return activation_user_op(address_field(act, "factory"), address_field(act, "owner"), address_field(act, "account"),
                              bytes_field(o, "signature", true));
  }
  PackedUserOperation op;
  op.sender = address_field(o, "sender");
  op.nonce = quantity_field(o, "nonce");
  op.init_code = bytes_field(o, "initCode");
  op.call_data = bytes_field(o, "callData");
  op.verification_gas_limit = quantity_field(o, "verificationGasLimit");
  op.call_gas_limit = quantity_field(o, "callGasLimit");
  op.pre_verification_gas = quantity_field(o, "preVerificationGas");
  op.max_priority_fee_per_gas = quantity_field(o, "maxPriorityFeePerGas");
  op.max_fee_per_gas = quantity_field(o, "maxFeePerGas");
  op.paymaster_and_data = bytes_field(o, "paymasterAndData");
  op.signature = bytes_field(o, "signature");
  for (const auto* q :
       {&op.verification_gas_limit, &op.call_gas_limit, &op.max_priority_fee_per_gas, &op.max_fee_per_gas}) {
    if (q->bit_length() > 128) throw std::invalid_argument("gas limits and fees must fit 128 bits");
  }
  if (!op.init_code.empty() && op.init_code.size() < 20) throw std::invalid_argument("initCode: 0 or >= 20 bytes");
  if (!op.paymaster_and_data.empty() && op.paymaster_and_data.size() < 52) {
    throw std::invalid_argument("paymasterAndData: 0 or >= 52 bytes");
  }
  return op;
}

json::object request(const json::object& req) {
  const auto chain_id = quantity_field(req, "chainId").to_u64();
  if (!chain_id) throw std::invalid_argument("chainId must fit 64 bits");
  const EvmAddress entry_point = address_field(req, "entryPoint");
  const EvmAddress beneficiary = address_field(req, "beneficiary");
  const auto& ops_json = field(req, "ops");
  if (!ops_json.is_array()) throw std::invalid_argument("ops must be an array");
  std::vector<PackedUserOperation> ops;
  json::array out_ops;
  for (const auto& o : ops_json.as_array()) {
    if (!o.is_object()) throw std::invalid_argument("each op must be an object");
    ops.push_back(op_from_json(o.as_object()));
    const auto& op = ops.back();
    const Hash256 hash = user_op_hash_v08(op, entry_point, *chain_id);
    json::object entry{{"userOp", user_op_to_json(op)}, {"hash", to_hex_0x(hash)}};
    if (!op.signature.empty()) entry["recovered"] = recovered_json(hash, op.signature);
    out_ops.push_back(std::move(entry));
  }
  return json::object{{"ops", std::move(out_ops)}, {"handleOpsCall", to_hex_0x(handle_ops_call(ops, beneficiary))}};
}

int request_lines() {
  json::array out;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    try {
      const json::value v = json::parse(line);
      if (!v.is_object()) throw std::invalid_argument("each line must be a JSON object");
      out.push_back(request(v.as_object()));
    } catch (const std::exception& e) {
      out.push_back(json::object{{"error", e.what()}});
    }
  }
  std::cout << json::serialize(out) << '\n';
  return 0;
}

}  // namespace
}  // namespace signerd::smart

int main(int argc, char** argv) {
  return signerd::tools::vector_tool_main(argc, argv, "userop_vectors", 20, signerd::smart::print_vectors, {{"request", signerd::smart::request_lines}});
}

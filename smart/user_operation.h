#pragma once
// The calls that deploy a SimpleAccount (eth-infinitism, ERC-4337), as ABI-encoded bytes, and the v0.8
// UserOperation an owner signs:
// - v0.6 / v0.7: anyone may call SimpleAccountFactory.createAccount(owner, salt); signerd's relayer sends it.
// - v0.8: createAccount is only callable by the EntryPoint's SenderCreator, so the account is deployed by
//   EntryPoint.handleOps([op], beneficiary) with a PackedUserOperation whose initCode is factory || createAccount
//   calldata, signed by the owner over getUserOpHash(op): the EIP-712 digest of the op under the domain
//   {name "ERC4337", version "1", chainId, verifyingContract EntryPoint}. SimpleAccount v0.8 checks the signature
//   as ECDSA.recover(userOpHash, signature) == owner (no EIP-191 prefix; eth_signTypedData_v4 produces it).
//
// The activation op signerd builds (activation_user_op) pays nothing: gas fees 0, so the EntryPoint asks the
// account for no prefund and the relayer, which sends handleOps, pays the gas (the gas tank is charged off chain).
// Its callData is empty, its nonce 0 (key 0; an undeployed account has used none), no paymaster. So the op, and
// the hash the owner signs, depend only on (chain, EntryPoint, factory, owner, the account address).
// Pure functions; thread-safe.
#include <array>
#include <boost/json/object.hpp>
#include <cstdint>
#include <span>

#include "chains/evm.h"
#include "chains/evm_tx.h"
#include "chains/hashes.h"
#include "common/error.h"
#include "common/hex.h"

namespace signerd::smart {

// abi.encodeCall(SimpleAccountFactory.createAccount, (owner, salt)): selector 0x5fbfb9cf || owner || salt (68 bytes).
Bytes create_account_call(const chains::EvmAddress& owner, const chains::Uint256& salt = {});

// ERC-4337 v0.7/v0.8 PackedUserOperation. The two gas limits and the two fees are packed two to a word on chain, so
// each must fit 128 bits (a precondition of the functions below that take an op; asserted). The EntryPoint refuses
// gas values and fees above 120 bits (AA94).
struct PackedUserOperation {
  chains::EvmAddress sender{};
  chains::Uint256 nonce;
  Bytes init_code;  // factory (20 bytes) || factory calldata; empty for a deployed account
  Bytes call_data;
  chains::Uint256 verification_gas_limit;  // 128 bits: the high half of accountGasLimits
  chains::Uint256 call_gas_limit;          // 128 bits: the low half
  chains::Uint256 pre_verification_gas;
  chains::Uint256 max_priority_fee_per_gas;  // 128 bits: the high half of gasFees
  chains::Uint256 max_fee_per_gas;           // 128 bits: the low half
  Bytes paymaster_and_data;
  Bytes signature;
};

// The gas the activation op allows for account creation and validation (verificationGasLimit).
inline constexpr std::uint64_t kActivationVerificationGas = 1'000'000;

// The op signerd submits to activate `account` (the owner's counterfactual address) on a v0.8 network:
// sender = account, nonce 0, initCode = factory || create_account_call(owner, 0), empty callData,
// verificationGasLimit kActivationVerificationGas, callGasLimit 0, preVerificationGas 0, fees 0, no paymaster,
// `signature` as given (empty before the owner signs).
PackedUserOperation activation_user_op(const chains::EvmAddress& factory, const chains::EvmAddress& owner,
                                       const chains::EvmAddress& account, Bytes signature = {});

// EntryPoint v0.8 getUserOpHash(op): keccak256(0x1901 || domainSeparator || structHash), where structHash is
// keccak256(abi.encode(PACKED_USEROP_TYPEHASH, sender, nonce, keccak(initCode), keccak(callData), accountGasLimits,
// preVerificationGas, gasFees, keccak(paymasterAndData))) and the domain is {name "ERC4337", version "1", chainId,
// verifyingContract entry_point}. The op's signature is not hashed. (EIP-7702 init codes, whose first 20 bytes are
// 0x7702 and 18 zero bytes, for which the EntryPoint hashes the sender's delegate instead, are not produced by
// signerd and are hashed as plain bytes.)
chains::Hash256 user_op_hash_v08(const PackedUserOperation& op, const chains::EvmAddress& entry_point,
                                 std::uint64_t chain_id);

// abi.encodeCall(IEntryPoint.handleOps, (ops, beneficiary)) for the v0.7/v0.8 PackedUserOperation tuple
// (address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes)[].
Bytes handle_ops_call(std::span<const PackedUserOperation> ops, const chains::EvmAddress& beneficiary);

// The owner's signature over a 32-byte digest as SimpleAccount v0.8 (OpenZeppelin ECDSA.recover) accepts it:
// 65 bytes r || s || v. Returns the canonical form (v = 27 or 28; v = 0 or 1 is accepted and mapped to 27/28) and
// the address it recovers. kInvalidArgument, with a message a user can act on, for another length, another v, r or
// s zero or not below n, s above n/2 (OpenZeppelin refuses high-s), or a signature that recovers no key.
struct RecoveredSignature {
  Bytes signature;  // canonical 65 bytes
  chains::EvmAddress signer{};
};
Result<RecoveredSignature> recover_signer(const chains::Hash256& digest, std::span<const std::uint8_t> signature);

// JSON of an op as ERC-4337 bundler RPCs (and viem) write a v0.7+ "unpacked" UserOperation: sender (EIP-55), nonce,
// factory, factoryData, callData, callGasLimit, verificationGasLimit, preVerificationGas, maxFeePerGas,
// maxPriorityFeePerGas, paymaster, paymasterVerificationGasLimit, paymasterPostOpGasLimit, paymasterData, signature,
// in that order; factory and factoryData are omitted when init_code is empty, the four paymaster fields when
// paymaster_and_data is. Addresses EIP-55, quantities "0x" hex without leading zeros ("0x0" for zero), bytes "0x"
// lowercase hex. Only ops whose init_code is empty or at least 20 bytes and whose paymaster_and_data is empty or at
// least 52 bytes (paymaster || 16-byte verification gas || 16-byte postOp gas || data; the EntryPoint refuses
// shorter ones, AA93); asserted.
boost::json::object user_op_to_json(const PackedUserOperation& op);

}  // namespace signerd::smart

#pragma once
// EVM transactions: legacy (with or without EIP-155 replay protection), EIP-2930 (type 1, access list) and EIP-1559
// (type 2), read from and written to their raw serialisation and the JSON object ethers v6 calls TransactionLike;
// the digest a key signs (signing_hash) and the signed serialisation that goes on chain. Also the 256-bit integer
// every EVM quantity is, and the integer syntax ethers accepts in JSON (shared with chains/eip712.h).
// Pure functions and value types; thread-safe.
//
// Only canonical input is accepted, for the reason chains/rlp.h gives (a signer must not sign bytes other than the
// ones it was shown): integers without leading zero bytes, exactly the field count of the expected form, a `to` of 0
// or 20 bytes, r and s in [1, n-1] with s <= n/2 (EIP-2), and no signature on an unsigned transaction (or none on a
// signed one). Every refusal is kInvalidArgument with a message that names the field or the fault.
#include <array>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chains/evm.h"
#include "chains/hashes.h"
#include "common/error.h"
#include "common/hex.h"

namespace signerd::chains {

// An unsigned 256-bit integer, the width of an EVM word. A value type; ordered numerically.
class Uint256 {
 public:
  constexpr Uint256() = default;
  static constexpr Uint256 from_u64(std::uint64_t value) {
    Uint256 x;
    x.limbs_[3] = value;
    return x;
  }
  // 2^k for k < 256.
  static Uint256 power_of_two(unsigned k);
  // Big-endian bytes, leading zeros allowed; nullopt when the value needs more than 32 bytes.
  static std::optional<Uint256> from_big_endian(std::span<const std::uint8_t> bytes);

  std::array<std::uint8_t, 32> to_bytes32() const;  // big-endian, zero-padded
  Bytes to_minimal_bytes() const;                   // big-endian without leading zeros; empty for 0
  std::string to_decimal() const;
  bool is_zero() const { return bit_length() == 0; }
  unsigned bit_length() const;  // 0 for 0
  std::optional<std::uint64_t> to_u64() const;

  // *this = *this * multiplier + addend. Returns false, leaving *this unspecified, when the result exceeds 2^256 - 1.
  bool mul_add(std::uint64_t multiplier, std::uint64_t addend);
  // *this += value. Returns false, leaving *this unspecified, when the sum exceeds 2^256 - 1.
  bool add(const Uint256& value);
  // *this -= value. Returns false, leaving *this unspecified, when value > *this.
  bool sub(std::uint64_t value);
  // *this /= divisor (non-zero); returns the remainder.
  std::uint64_t div(std::uint64_t divisor);
  // 2^256 - *this, modulo 2^256: the two's complement encoding of -*this in an EVM word.
  Uint256 negated() const;

  friend auto operator<=>(const Uint256&, const Uint256&) = default;

 private:
  std::array<std::uint64_t, 4> limbs_{};  // most significant first, so the defaulted comparison is numeric
};

// A signed integer as ethers' getBigInt reads it from JSON: a JSON integer within +-(2^53 - 1) (JavaScript's safe
// range; larger JSON numbers were already rounded by any JavaScript client, so they are refused), or a string of
// decimal digits or of "0x"/"0X" + hex digits, either optionally preceded by "-". The magnitude must fit 256 bits.
// kInvalidArgument names `what` (e.g. "transaction.gasLimit").
struct EvmInteger {
  bool negative = false;  // never set for zero
  Uint256 magnitude;
};
Result<EvmInteger> parse_evm_integer(const boost::json::value& value, std::string_view what);
// The same, refusing negative values.
Result<Uint256> parse_evm_quantity(const boost::json::value& value, std::string_view what);

enum class EvmTxType : std::uint8_t { kLegacy = 0, kAccessList = 1, kDynamicFee = 2 };

struct EvmAccessListEntry {
  EvmAddress address{};
  std::vector<Hash256> storage_keys;
  friend bool operator==(const EvmAccessListEntry&, const EvmAccessListEntry&) = default;
};

struct EvmTxSignature {
  Uint256 r;
  Uint256 s;
  int y_parity = 0;  // 0 or 1; a legacy transaction's v is derived from it and chain_id
  friend bool operator==(const EvmTxSignature&, const EvmTxSignature&) = default;
};

// One transaction. Fields that do not belong to `type` are zero/empty in every value the functions below return,
// and are ignored by the serialisers.
struct EvmTransaction {
  EvmTxType type = EvmTxType::kLegacy;
  Uint256 chain_id;  // legacy: zero means no EIP-155 replay protection (v = 27/28), as in ethers
  std::uint64_t nonce = 0;
  Uint256 gas_price;                 // types 0 and 1
  Uint256 max_priority_fee_per_gas;  // type 2
  Uint256 max_fee_per_gas;           // type 2
  Uint256 gas_limit;
  std::optional<EvmAddress> to;  // nullopt: contract creation
  Uint256 value;
  Bytes data;
  std::vector<EvmAccessListEntry> access_list;  // types 1 and 2
  std::optional<EvmTxSignature> signature;
  friend bool operator==(const EvmTransaction&, const EvmTransaction&) = default;
};

// The largest legacy chain ID whose EIP-155 v (chainId * 2 + 36) still fits 256 bits: 2^255 - 19.
Uint256 max_legacy_chain_id();

// Parses an unsigned transaction: 0x01 || rlp([chainId, nonce, gasPrice, gasLimit, to, value, data, accessList]),
// 0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gasLimit, to, value, data, accessList]),
// rlp([nonce, gasPrice, gasLimit, to, value, data]) (pre-EIP-155) or the same + [chainId, 0, 0] (EIP-155, chainId
// non-zero). Refuses a signed transaction, type bytes other than 0x01/0x02 (including EIP-4844 and EIP-7702), a
// block-body wrapped typed transaction, and everything listed at the top of this file.
Result<EvmTransaction> decode_unsigned_transaction(std::span<const std::uint8_t> raw);

// Parses a signed transaction: the typed forms above + [yParity, r, s], or the legacy form + [v, r, s] with v = 27/28
// (chain_id 0) or chainId * 2 + 35 + yParity (chainId >= 1). Refuses unsigned transactions and v values that are
// neither (29..36 included).
Result<EvmTransaction> decode_signed_transaction(std::span<const std::uint8_t> raw);

// Reads an unsigned transaction from ethers' TransactionLike fields: type (0, 1, 2 or "legacy", "eip-2930",
// "berlin", "eip-1559", "london"), chainId, nonce (64 bits), gasPrice, maxFeePerGas, maxPriorityFeePerGas, gasLimit,
// to (checksummed when mixed case; null or absent for contract creation), value, data ("0x" hex), accessList
// ([{address, storageKeys: [32-byte hex]}]). Quantities are JSON integers or strings as parse_evm_quantity reads them,
// and fit 256 bits. null is the same as absent. Without `type` the type is inferred as ethers does: 2 when a
// maxFee field is present, else 1 when gasPrice is (ethers prefers EIP-2930 over legacy). Required: nonce, gasLimit,
// the fee fields of the type, and chainId for types 1 and 2 (legacy without chainId, or with 0, is pre-EIP-155).
// Refused: fields of another type (gasPrice on type 2 too, which ethers ignores), signature, r, s, v, yParity, hash,
// from (which ethers also refuses on an unsigned transaction) and any other unknown field.
Result<EvmTransaction> unsigned_transaction_from_json(const boost::json::object& tx);

// The JSON form: type (number), chainId, nonce, gasLimit, value and the fee fields of the type as decimal strings,
// to (EIP-55 or null), data ("0x" lowercase hex), accessList (types 1 and 2; EIP-55 addresses, lowercase keys), and
// for a signed transaction signature {r, s: "0x" + 64 hex digits, yParity: 0|1, v: decimal string}. Accepted back by
// unsigned_transaction_from_json once the signature is removed.
boost::json::object transaction_to_json(const EvmTransaction& tx);

// The unsigned serialisation (the forms decode_unsigned_transaction reads); tx.signature is ignored. Total.
Bytes serialize_unsigned(const EvmTransaction& tx);

// keccak256(serialize_unsigned(tx)): the digest the sender's key signs.
Hash256 signing_hash(const EvmTransaction& tx);

// The signed serialisation of `tx` (its own signature ignored) with r, s (big-endian) and recid: yParity = recid for
// typed transactions, v = chainId * 2 + 35 + recid for EIP-155 legacy ones, 27 + recid before EIP-155.
// kInvalidArgument when recid is not 0 or 1, r or s is 0 or >= n, s > n/2, or a legacy chain_id exceeds
// max_legacy_chain_id().
Result<Bytes> serialize_signed(const EvmTransaction& tx, const std::array<std::uint8_t, 32>& r,
                               const std::array<std::uint8_t, 32>& s, int recid);
// The same with tx.signature; kInvalidArgument when there is none.
Result<Bytes> serialize_signed(const EvmTransaction& signed_tx);

// keccak256 of a signed serialisation: the transaction hash block explorers show.
Hash256 tx_hash(std::span<const std::uint8_t> signed_serialization);

}  // namespace signerd::chains

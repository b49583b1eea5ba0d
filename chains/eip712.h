#pragma once
// EIP-712 typed structured data: the digest keccak256(0x19 0x01 || domainSeparator || hashStruct(primaryType,
// message)) a wallet signs for eth_signTypedData_v4, computed from the JSON a client sends (ethers' `types`, `domain`
// and `value`). Pure functions; thread-safe.
//
// `types` maps a struct name to its fields, [{"name": ..., "type": ...}, ...]. Field types are `bool`, `address`,
// `string`, `bytes`, `bytesN` (1..32), `uintN`/`intN` (N a multiple of 8, 8..256; bare `uint`/`int` mean the 256-bit
// ones unless `types` defines a struct of that name, as in ethers), a struct name, or any of these followed by array
// suffixes `[]` (dynamic) or `[n]` (fixed, n >= 1): `Person[2][]` is a dynamic array of pairs of Person.
//
// Values follow ethers' TypedDataEncoder: integers as parse_evm_integer (chains/evm_tx.h) reads them, range-checked
// for their width and encoded in two's complement; `address` as "0x" + 40 hex digits (EIP-55 checked when mixed
// case); `bytes`/`bytesN` as "0x" hex (exactly N bytes for bytesN); `string` as a JSON string (hashed as UTF-8);
// `bool` as true/false; structs as objects (fields the type does not declare are ignored, as ethers and MetaMask do);
// arrays as arrays of the declared length.
//
// Refused with kInvalidArgument, the message naming the type and the field or path into the message: a field type
// that names no known type, a struct that contains itself (directly or through others), duplicate field names, type
// or field names that are not identifiers ([A-Za-z_$][A-Za-z0-9_$]*: other characters could make two encodeType
// strings collide), struct names that are base type names, a missing field, a value of the wrong JSON type,
// malformed hex, an integer out of range, an array of the wrong length, a failed address checksum.
//
// Stricter than ethers v6, deliberately: bool must be a JSON bool and present (ethers takes any value's truthiness and
// reads a missing bool as false); names must be identifiers; `[0]` and `[01]` suffixes are refused; a cycle among
// types the primary type does not reach is refused; `bytes` and address values need their "0x".
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "chains/hashes.h"
#include "common/error.h"
#include "common/hex.h"

namespace signerd::chains {

// The primary type as ethers infers it: the one struct in `types`, other than EIP712Domain, that no other struct
// (EIP712Domain aside) uses. kInvalidArgument when there is none or there are several, or when `types` is invalid.
Result<std::string> eip712_primary_type(const boost::json::object& types);

// encodeType(name): "Name(type1 field1,...)" followed by the structs it uses, directly or not, sorted by name.
Result<std::string> eip712_encode_type(const boost::json::object& types, std::string_view name);

// encodeData(name, value): typeHash || the 32-byte encoding of each field.
Result<Bytes> eip712_encode_data(const boost::json::object& types, std::string_view name,
                                 const boost::json::value& value);

// hashStruct(name, value) = keccak256(encodeData(name, value)).
Result<Hash256> eip712_hash_struct(const boost::json::object& types, std::string_view name,
                                   const boost::json::value& value);

// hashStruct(EIP712Domain, domain). When `types` declares EIP712Domain that declaration is used, and `domain` must not
// carry non-null fields it does not declare (they would look signed but not be). Otherwise the type is derived from
// the fields present and non-null, as ethers' TypedDataEncoder.hashDomain does: name (string), version (string),
// chainId (uint256), verifyingContract (address), salt (bytes32), in that order; any other key is refused.
Result<Hash256> eip712_domain_separator(const boost::json::object& types, const boost::json::object& domain);

// keccak256(0x1901 || eip712_domain_separator(types, domain) || eip712_hash_struct(types, primary, message)), where
// primary is `primary_type` when given (any struct in `types` other than EIP712Domain; types it does not reach may
// then be left unused) and eip712_primary_type(types) when not.
Result<Hash256> eip712_hash(const boost::json::object& types, const boost::json::object& domain,
                            const boost::json::value& message, std::optional<std::string> primary_type = std::nullopt);

}  // namespace signerd::chains

// evm_vectors: prints what signerd's EIP-712 and EVM transaction code computes, for ethers to check
// (tests/interop/evm.test.mjs). Not part of the daemon.
//
//   evm_vectors vectors SEED [COUNT]  JSON {seed, typedData: [...], transactions: [...]}: COUNT random typed-data
//                                     documents (deterministic from SEED; nested structs, arrays of structs,
//                                     bytes/string, negative and boundary integers, fixed and nested arrays, domains
//                                     with and without an EIP712Domain type) with their primary type, domain separator,
//                                     hashStruct and digest; and COUNT random transactions of each type (legacy with
//                                     and without EIP-155, EIP-2930, EIP-1559) as the JSON they were read from, with
//                                     their unsigned serialisation, signing hash, a random valid (r, s, recid), the
//                                     signed serialisation and hash, and the signed one decoded back.
//   evm_vectors typed-data            reads one JSON document {types, domain, message, primaryType?} per line on
//                                     stdin; prints a JSON array with {"digest": "0x..."} or {"error": "..."} per line.
//   evm_vectors tx                    reads lines "unsigned HEX", "signed HEX" or "json {...}" (an unsigned
//                                     TransactionLike) on stdin; prints a JSON array with, per line, {"tx": <JSON
//                                     form>, "unsigned": hex, "signingHash": hex, and for signed input "signed"
//                                     (re-encoded) and "hash"} or {"error": "..."}.
// Exit status 0 on success, 2 on a usage error, 1 when a computation on generated input fails (a bug).
#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "chains/tools/vector_tool.h"
#include "chains/eip712.h"
#include "chains/evm.h"
#include "chains/evm_tx.h"
#include "chains/hashes.h"
#include "common/hex.h"

namespace signerd::chains {
namespace {

namespace json = boost::json;

using tools::bug;
using tools::Stream;

template <class T>
T value(Result<T> r, std::string_view what) {
  if (!r) bug(std::string(what) + ": " + r.error().message);
  return std::move(*r);
}

constexpr std::uint64_t kMaxSafe = (std::uint64_t{1} << 53) - 1;

// A value below 2^bits, biased toward the boundaries (0, 1, 2^bits - 1) and short values.
Uint256 random_uint(Stream& rng, unsigned bits) {
  switch (rng.below(6)) {
    case 0: return Uint256{};
    case 1: return Uint256::from_u64(1);
    case 2: {
      if (bits == 256) return *Uint256::from_big_endian(Bytes(32, 0xff));
      Uint256 max = Uint256::power_of_two(bits);
      max.sub(1);
      return max;
    }
    default: {
      const unsigned effective = 1 + static_cast<unsigned>(rng.below(bits));
      Bytes b = rng.bytes(32);
      const unsigned drop = 256 - effective;
      for (unsigned i = 0; i < drop / 8; ++i) b[i] = 0;
      if (drop % 8 != 0) b[drop / 8] &= static_cast<std::uint8_t>(0xff >> (drop % 8));
      return *Uint256::from_big_endian(b);
    }
  }
}

std::string hex_digits(const Uint256& v, Stream& rng) {
  std::string h = to_hex(v.to_minimal_bytes());
  if (h.empty()) h = "0";
  if (h.size() > 1 && h[0] == '0') h.erase(0, 1);
  if (rng.chance(4)) h = "00" + h;  // leading zeros are fine in JSON input
  if (rng.chance(3))
    std::transform(h.begin(), h.end(), h.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
  return h;
}

// An integer in one of the JSON forms parse_evm_integer and ethers' getBigInt both accept.
json::value represent(const Uint256& magnitude, bool negative, Stream& rng) {
  const auto small = magnitude.to_u64();
  if (small && *small <= kMaxSafe && rng.chance(3)) {
    return negative ? json::value(-static_cast<std::int64_t>(*small)) : json::value(*small);
  }
  const std::string sign = negative ? "-" : "";
  if (rng.chance(2)) return json::value(sign + magnitude.to_decimal());
  return json::value(sign + "0x" + hex_digits(magnitude, rng));
}

std::string random_hex(Stream& rng, std::size_t n) {
  std::string h = to_hex_0x(rng.bytes(n));
  if (rng.chance(4))
    std::transform(h.begin() + 2, h.end(), h.begin() + 2, [](char c) { return static_cast<char>(std::toupper(c)); });
  return h;
}

std::string random_address(Stream& rng) {
  EvmAddress a{};
  const Bytes b = rng.bytes(20);
  std::copy(b.begin(), b.end(), a.begin());
  return rng.chance(2) ? eip55_encode(a) : evm_address_lower(a);
}

std::size_t interesting_length(Stream& rng) {
  static constexpr std::size_t kLengths[] = {0, 1, 2, 20, 31, 32, 33, 55, 56, 57, 100};
  return rng.chance(3) ? rng.below(80) : kLengths[rng.below(std::size(kLengths))];
}

// ---- typed data ----

enum class Shape { kNested, kStructArrays, kBytesStrings, kIntegers, kFixedArrays };

struct TypeSpec {
  std::string base;               // "uint8", "Person", ...
  std::vector<std::size_t> dims;  // 0 = dynamic; outermost last
  std::string text() const {
    std::string t = base;
    for (const auto d : dims) t += d == 0 ? "[]" : "[" + std::to_string(d) + "]";
    return t;
  }
};

class TypedDataGenerator {
 public:
  TypedDataGenerator(Stream& rng, Shape shape) : rng_(rng), shape_(shape) {}

  json::object document() {
    const std::size_t n = shape_ == Shape::kNested ? 3 + rng_.below(3) : 1 + rng_.below(4);
    names_ = struct_names(n);
    fields_.assign(n, {});
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t count = 1 + rng_.below(5);
      for (std::size_t f = 0; f < count; ++f) add_field(i, base_field_type());
    }
    // Every struct but the root is used by an earlier one (a DAG with one root, as inference needs); nested shapes
    // chain them.
    for (std::size_t j = 1; j < n; ++j) {
      const std::size_t parent = shape_ == Shape::kNested ? j - 1 : rng_.below(j);
      TypeSpec t{names_[j], {}};
      if (shape_ == Shape::kStructArrays || rng_.chance(4)) t.dims = random_dims();
      add_field(parent, t);
      if (j + 1 < n && rng_.chance(3)) add_field(j, TypeSpec{names_[j + 1 + rng_.below(n - j - 1)], {}});
    }
    json::object types;
    for (std::size_t i = 0; i < n; ++i) {
      json::array fields;
      for (const auto& [name, type] : fields_[i]) fields.push_back(json::object{{"name", name}, {"type", type.text()}});
      types[names_[i]] = std::move(fields);
    }

    json::object domain = random_domain();
    const bool declare_domain = rng_.chance(3);
    if (declare_domain) {
      json::array declared;
      static constexpr std::pair<std::string_view, std::string_view> kOrder[] = {{"name", "string"},
                                                                                 {"version", "string"},
                                                                                 {"chainId", "uint256"},
                                                                                 {"verifyingContract", "address"},
                                                                                 {"salt", "bytes32"}};
      for (const auto& [name, type] : kOrder) {
        if (domain.contains(name)) declared.push_back(json::object{{"name", name}, {"type", type}});
      }
      types["EIP712Domain"] = std::move(declared);
    }

    json::value message = struct_value(0, 0);
    json::object doc;
    doc["types"] = types;
    doc["domain"] = domain;
    doc["message"] = message;
    doc["primaryType"] = value(eip712_primary_type(types), "eip712_primary_type");
    if (doc["primaryType"].as_string() != names_[0]) bug("primary type is not the root");
    doc["domainSeparator"] = to_hex_0x(value(eip712_domain_separator(types, domain), "eip712_domain_separator"));
    doc["structHash"] = to_hex_0x(value(eip712_hash_struct(types, names_[0], message), "eip712_hash_struct"));
    doc["digest"] = to_hex_0x(value(eip712_hash(types, domain, message, std::nullopt), "eip712_hash"));
    doc["declaresDomain"] = declare_domain;
    return doc;
  }

 private:
  std::vector<std::string> struct_names(std::size_t n) {
    static constexpr std::string_view kStems[] = {"Mail",    "Person", "Order", "item", "Asset",  "_Fee",
                                                  "$Permit", "Zed",    "a",     "B2",   "Order_", "Leg"};
    std::vector<std::string> names;
    while (names.size() < n) {
      std::string name = std::string(kStems[rng_.below(std::size(kStems))]);
      if (rng_.chance(2)) name += std::to_string(rng_.below(100));
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    return names;
  }

  std::vector<std::size_t> random_dims() {
    std::vector<std::size_t> dims;
    const std::size_t count = 1 + (rng_.chance(4) ? 1 : 0);
    for (std::size_t i = 0; i < count; ++i) {
      const bool fixed = shape_ == Shape::kFixedArrays ? !rng_.chance(4) : rng_.chance(3);
      dims.push_back(fixed ? 1 + rng_.below(3) : 0);
    }
    return dims;
  }

  TypeSpec base_field_type() {
    TypeSpec t;
    std::size_t pick = rng_.below(10);
    if (shape_ == Shape::kBytesStrings && rng_.chance(2)) pick = 4 + rng_.below(3);
    if (shape_ == Shape::kIntegers && rng_.chance(2)) pick = rng_.below(2);
    switch (pick) {
      case 0: t.base = "int" + std::to_string(8 * (1 + rng_.below(32))); break;
      case 1: t.base = "uint" + std::to_string(8 * (1 + rng_.below(32))); break;
      case 2: t.base = rng_.chance(2) ? "uint" : "int"; break;  // ethers' aliases for the 256-bit ones
      case 3: t.base = "bytes" + std::to_string(1 + rng_.below(32)); break;
      case 4: t.base = "bytes"; break;
      case 5:
      case 6: t.base = "string"; break;
      case 7: t.base = "address"; break;
      case 8: t.base = "bool"; break;
      default: t.base = "uint256"; break;
    }
    if ((shape_ == Shape::kFixedArrays && rng_.chance(2)) || rng_.chance(6)) t.dims = random_dims();
    return t;
  }

  void add_field(std::size_t owner, TypeSpec type) {
    static constexpr std::string_view kFieldStems[] = {"from", "to", "amount",   "data",  "memo",  "wallet",
                                                       "_v",   "$x", "deadline", "nonce", "flags", "salt"};
    for (;;) {
      std::string name = std::string(kFieldStems[rng_.below(std::size(kFieldStems))]) + std::to_string(rng_.below(50));
      const auto& existing = fields_[owner];
      if (std::none_of(existing.begin(), existing.end(), [&](const auto& f) { return f.first == name; })) {
        fields_[owner].emplace_back(std::move(name), std::move(type));
        return;
      }
    }
  }

  json::object random_domain() {
    json::object d;
    if (rng_.chance(4)) return d;
    if (!rng_.chance(4)) d["name"] = random_string();
    if (rng_.chance(2)) d["version"] = std::to_string(rng_.below(5));
    if (!rng_.chance(4))
      d["chainId"] =
          represent(rng_.chance(3) ? random_uint(rng_, 256) : Uint256::from_u64(rng_.below(100000)), false, rng_);
    if (!rng_.chance(3)) d["verifyingContract"] = random_address(rng_);
    if (rng_.chance(3)) d["salt"] = random_hex(rng_, 32);
    return d;
  }

  std::string random_string() {
    static constexpr std::string_view kStrings[] = {"",
                                                    "Hello, Bob!",
                                                    "Grüße",
                                                    "€uro",
                                                    "日本語のテキスト",
                                                    "fox \xF0\x9F\xA6\x8A",
                                                    "quote \" and \\ backslash",
                                                    "a\nb\tc",
                                                    "Ether Mail"};
    if (rng_.chance(3)) return to_hex(rng_.bytes(rng_.below(40)));
    return std::string(kStrings[rng_.below(std::size(kStrings))]);
  }

  json::value struct_value(std::size_t index, int depth) {
    if (depth > 12) bug("typed-data generator recursed too deep");
    json::object o;
    for (const auto& [name, type] : fields_[index]) o[name] = field_value(type, type.dims.size(), depth);
    if (rng_.chance(8)) o["unlistedExtra"] = 1;  // ignored by both sides
    return o;
  }

  json::value field_value(const TypeSpec& type, std::size_t dims, int depth) {
    if (dims > 0) {
      const std::size_t fixed = type.dims[dims - 1];
      const std::size_t n = fixed != 0 ? fixed : rng_.below(depth > 2 ? 2 : 4);
      json::array a;
      for (std::size_t i = 0; i < n; ++i) a.push_back(field_value(type, dims - 1, depth + 1));
      return a;
    }
    const std::string& b = type.base;
    const auto struct_index = std::find(names_.begin(), names_.end(), b);
    if (struct_index != names_.end()) {
      return struct_value(static_cast<std::size_t>(struct_index - names_.begin()), depth + 1);
    }
    if (b == "bool") return json::value(rng_.chance(2));
    if (b == "address") return json::value(random_address(rng_));
    if (b == "string") return json::value(random_string());
    if (b == "bytes") return json::value(random_hex(rng_, interesting_length(rng_)));
    if (b.starts_with("bytes")) return json::value(random_hex(rng_, std::stoul(b.substr(5))));
    const bool is_signed = b.starts_with("int");
    const std::string digits = b.substr(is_signed ? 3 : 4);
    const unsigned bits = digits.empty() ? 256u : static_cast<unsigned>(std::stoul(digits));
    if (!is_signed) return represent(random_uint(rng_, bits), false, rng_);
    const bool negative = rng_.chance(2);
    Uint256 magnitude = random_uint(rng_, bits - 1);                              // below 2^(bits-1)
    if (negative && rng_.chance(5)) magnitude = Uint256::power_of_two(bits - 1);  // the minimum
    return represent(magnitude, negative && !magnitude.is_zero(), rng_);
  }

  Stream& rng_;
  Shape shape_;
  std::vector<std::string> names_;
  std::vector<std::vector<std::pair<std::string, TypeSpec>>> fields_;
};

// ---- transactions ----

Uint256 curve_order() {
  return *Uint256::from_big_endian(*from_hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"));
}

// A uniformly random scalar in [1, n-1].
Uint256 random_scalar(Stream& rng) {
  for (;;) {
    const Uint256 v = *Uint256::from_big_endian(rng.bytes(32));
    if (!v.is_zero() && v < curve_order()) return v;
  }
}

// A random s in [1, n/2] (low-s, as finalize_ecdsa returns it): 255 random bits, redrawn in the rare case above n/2.
Uint256 random_low_s(Stream& rng) {
  Uint256 half = curve_order();
  half.div(2);
  for (;;) {
    Bytes b = rng.bytes(32);
    b[0] &= 0x7f;
    const Uint256 v = *Uint256::from_big_endian(b);
    if (!v.is_zero() && v <= half) return v;
  }
}

json::object random_transaction(Stream& rng, EvmTxType type) {
  json::object tx;
  const bool explicit_type = type == EvmTxType::kLegacy || !rng.chance(3);  // else ethers' inference decides
  if (explicit_type) tx["type"] = static_cast<int>(type);
  static constexpr std::uint64_t kNonces[] = {0, 1, 0x7f, 0x80, 0xff, 0x100, kMaxSafe};
  const std::uint64_t nonce =
      rng.chance(2) ? kNonces[rng.below(std::size(kNonces))] : (rng.u64() & kMaxSafe) >> rng.below(53);
  tx["nonce"] = rng.chance(2) ? json::value(nonce) : represent(Uint256::from_u64(nonce), false, rng);
  auto quantity = [&](unsigned max_bits) { return random_uint(rng, max_bits); };
  if (type == EvmTxType::kLegacy) {
    if (!rng.chance(4)) {
      Uint256 chain = rng.chance(2) ? Uint256::from_u64(1 + rng.below(100000)) : quantity(248);
      if (chain.is_zero()) chain = Uint256::from_u64(1);
      tx["chainId"] = represent(chain, false, rng);
    } else if (rng.chance(2)) {
      tx["chainId"] = 0;  // pre-EIP-155, as absent
    }
  } else {
    tx["chainId"] = represent(rng.chance(2) ? Uint256::from_u64(rng.below(100000)) : quantity(256), false, rng);
  }
  if (type == EvmTxType::kDynamicFee) {
    Uint256 max_fee = quantity(256), priority = quantity(256);
    if (priority > max_fee) std::swap(priority, max_fee);  // ethers 6.17 refuses priority > max
    tx["maxFeePerGas"] = represent(max_fee, false, rng);
    tx["maxPriorityFeePerGas"] = represent(priority, false, rng);
  } else {
    tx["gasPrice"] = represent(quantity(256), false, rng);
  }
  tx["gasLimit"] = represent(quantity(256), false, rng);
  if (rng.chance(5)) {
    if (rng.chance(2)) tx["to"] = nullptr;
  } else {
    tx["to"] = random_address(rng);
  }
  if (!rng.chance(4)) tx["value"] = represent(quantity(256), false, rng);
  if (!rng.chance(4)) tx["data"] = random_hex(rng, interesting_length(rng));
  if (type != EvmTxType::kLegacy && !rng.chance(3)) {
    json::array list;
    const std::size_t n = rng.below(4);
    for (std::size_t i = 0; i < n; ++i) {
      json::array keys;
      const std::size_t k = rng.below(4);
      for (std::size_t j = 0; j < k; ++j) keys.push_back(json::string(to_hex_0x(rng.bytes(32))));
      list.push_back(json::object{{"address", random_address(rng)}, {"storageKeys", std::move(keys)}});
    }
    tx["accessList"] = std::move(list);
  }
  return tx;
}

json::object transaction_vector(Stream& rng, EvmTxType type) {
  const json::object input = random_transaction(rng, type);
  const EvmTransaction tx = value(unsigned_transaction_from_json(input), "unsigned_transaction_from_json");
  if (tx.type != type) bug("inferred the wrong type");
  const Uint256 r = random_scalar(rng);
  const Uint256 s = random_low_s(rng);
  const int recid = static_cast<int>(rng.below(2));
  const Bytes unsigned_bytes = serialize_unsigned(tx);
  const Bytes signed_bytes = value(serialize_signed(tx, r.to_bytes32(), s.to_bytes32(), recid), "serialize_signed");
  const EvmTransaction decoded = value(decode_signed_transaction(signed_bytes), "decode_signed_transaction");
  const EvmTransaction decoded_unsigned =
      value(decode_unsigned_transaction(unsigned_bytes), "decode_unsigned_transaction");
  if (decoded_unsigned != tx) bug("unsigned round trip differs");
  if (value(serialize_signed(decoded), "serialize_signed(decoded)") != signed_bytes) bug("signed round trip differs");

  json::object v;
  v["input"] = input;
  v["unsigned"] = to_hex_0x(unsigned_bytes);
  v["signingHash"] = to_hex_0x(signing_hash(tx));
  v["r"] = to_hex_0x(r.to_bytes32());
  v["s"] = to_hex_0x(s.to_bytes32());
  v["recid"] = recid;
  v["signed"] = to_hex_0x(signed_bytes);
  v["hash"] = to_hex_0x(tx_hash(signed_bytes));
  v["decoded"] = transaction_to_json(decoded);
  return v;
}

int print_vectors(const std::string& seed, std::size_t count) {
  Stream rng(seed);
  json::array typed;
  for (std::size_t i = 0; i < count; ++i) {
    TypedDataGenerator generator(rng, static_cast<Shape>(i % 5));
    typed.push_back(generator.document());
  }
  json::array txs;
  for (std::size_t i = 0; i < count; ++i) {
    for (const EvmTxType type : {EvmTxType::kLegacy, EvmTxType::kAccessList, EvmTxType::kDynamicFee}) {
      txs.push_back(transaction_vector(rng, type));
    }
  }
  json::object out;
  out["seed"] = seed;
  out["typedData"] = std::move(typed);
  out["transactions"] = std::move(txs);
  std::cout << json::serialize(out) << '\n';
  return 0;
}

// ---- line modes ----

int hash_typed_data_lines() {
  json::array out;
  std::string line;
  while (std::getline(std::cin, line)) {
    boost::system::error_code ec;
    const json::value doc = json::parse(line, ec);
    if (ec || !doc.is_object()) {
      out.push_back(json::object{{"error", "not a JSON object"}});
      continue;
    }
    const json::object& o = doc.get_object();
    const json::value* types = o.if_contains("types");
    const json::value* domain = o.if_contains("domain");
    const json::value* message = o.if_contains("message");
    const json::value* primary = o.if_contains("primaryType");
    if (types == nullptr || !types->is_object() || domain == nullptr || !domain->is_object() || message == nullptr) {
      out.push_back(json::object{{"error", "needs types, domain (objects) and message"}});
      continue;
    }
    std::optional<std::string> primary_type;
    if (primary != nullptr && primary->is_string()) primary_type = std::string(primary->get_string());
    auto digest = eip712_hash(types->get_object(), domain->get_object(), *message, primary_type);
    if (digest) {
      out.push_back(json::object{{"digest", to_hex_0x(*digest)}});
    } else {
      out.push_back(json::object{{"error", digest.error().message}});
    }
  }
  std::cout << json::serialize(out) << '\n';
  return 0;
}

int transaction_lines() {
  json::array out;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const std::size_t space = line.find(' ');
    const std::string mode = line.substr(0, space);
    const std::string arg = space == std::string::npos ? "" : line.substr(space + 1);
    Result<EvmTransaction> tx = fail(ErrorCode::kInvalidArgument, "usage: unsigned HEX | signed HEX | json {...}");
    if (mode == "json") {
      boost::system::error_code ec;
      const json::value doc = json::parse(arg, ec);
      if (!ec && doc.is_object()) tx = unsigned_transaction_from_json(doc.get_object());
    } else if (mode == "unsigned" || mode == "signed") {
      const std::string_view digits = std::string_view(arg).starts_with("0x") ? std::string_view(arg).substr(2) : arg;
      const auto bytes = from_hex(digits);
      if (!bytes) {
        tx = fail(ErrorCode::kInvalidArgument, "not hex");
      } else {
        tx = mode == "signed" ? decode_signed_transaction(*bytes) : decode_unsigned_transaction(*bytes);
      }
    }
    if (!tx) {
      out.push_back(json::object{{"error", tx.error().message}});
      continue;
    }
    json::object r;
    r["tx"] = transaction_to_json(*tx);
    r["unsigned"] = to_hex_0x(serialize_unsigned(*tx));
    r["signingHash"] = to_hex_0x(signing_hash(*tx));
    if (tx->signature) {
      const Bytes signed_bytes = value(serialize_signed(*tx), "serialize_signed");
      r["signed"] = to_hex_0x(signed_bytes);
      r["hash"] = to_hex_0x(tx_hash(signed_bytes));
    }
    out.push_back(std::move(r));
  }
  std::cout << json::serialize(out) << '\n';
  return 0;
}

}  // namespace
}  // namespace signerd::chains

int main(int argc, char** argv) {
  return signerd::tools::vector_tool_main(argc, argv, "evm_vectors", 20, signerd::chains::print_vectors, {{"typed-data", signerd::chains::hash_typed_data_lines}, {"tx", signerd::chains::transaction_lines}});
}

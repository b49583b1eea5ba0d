#include "chains/evm_tx.h"

#include <algorithm>
#include <bit>
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <cstdio>
#include <utility>

#include "chains/rlp.h"

namespace signerd::chains {

// ---- Uint256 -------------------------------------------------------------------------------------------------------

Uint256 Uint256::power_of_two(unsigned k) {
  Uint256 x;
  x.limbs_[3 - k / 64] = std::uint64_t{1} << (k % 64);
  return x;
}

std::optional<Uint256> Uint256::from_big_endian(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty() && bytes.front() == 0) bytes = bytes.subspan(1);
  if (bytes.size() > 32) return std::nullopt;
  Uint256 x;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const std::size_t bit = 8 * (bytes.size() - 1 - i);  // position of this byte's lowest bit
    x.limbs_[3 - bit / 64] |= std::uint64_t{bytes[i]} << (bit % 64);
  }
  return x;
}

std::array<std::uint8_t, 32> Uint256::to_bytes32() const {
  std::array<std::uint8_t, 32> out{};
  for (std::size_t limb = 0; limb < 4; ++limb) {
    for (std::size_t b = 0; b < 8; ++b) out[limb * 8 + b] = static_cast<std::uint8_t>(limbs_[limb] >> (56 - 8 * b));
  }
  return out;
}

Bytes Uint256::to_minimal_bytes() const {
  const auto full = to_bytes32();
  const auto first = std::find_if(full.begin(), full.end(), [](std::uint8_t b) { return b != 0; });
  return Bytes(first, full.end());
}

std::string Uint256::to_decimal() const {
  if (is_zero()) return "0";
  Uint256 x = *this;
  std::string digits;
  while (!x.is_zero()) digits.push_back(static_cast<char>('0' + x.div(10)));
  std::reverse(digits.begin(), digits.end());
  return digits;
}

unsigned Uint256::bit_length() const {
  for (std::size_t i = 0; i < 4; ++i) {
    if (limbs_[i] != 0) return static_cast<unsigned>(64 * (3 - i) + 64 - std::countl_zero(limbs_[i]));
  }
  return 0;
}

std::optional<std::uint64_t> Uint256::to_u64() const {
  if (limbs_[0] != 0 || limbs_[1] != 0 || limbs_[2] != 0) return std::nullopt;
  return limbs_[3];
}

bool Uint256::mul_add(std::uint64_t multiplier, std::uint64_t addend) {
  unsigned __int128 carry = addend;
  for (std::size_t i = 4; i-- > 0;) {
    const unsigned __int128 product = static_cast<unsigned __int128>(limbs_[i]) * multiplier + carry;
    limbs_[i] = static_cast<std::uint64_t>(product);
    carry = product >> 64;
  }
  return carry == 0;
}

bool Uint256::add(const Uint256& value) {
  unsigned __int128 carry = 0;
  for (std::size_t i = 4; i-- > 0;) {
    const unsigned __int128 sum = static_cast<unsigned __int128>(limbs_[i]) + value.limbs_[i] + carry;
    limbs_[i] = static_cast<std::uint64_t>(sum);
    carry = sum >> 64;
  }
  return carry == 0;
}

bool Uint256::sub(std::uint64_t value) {
  if (*this < from_u64(value)) return false;
  std::uint64_t borrow = value;
  for (std::size_t i = 4; i-- > 0 && borrow != 0;) {
    const std::uint64_t before = limbs_[i];
    limbs_[i] = before - borrow;
    borrow = before < borrow ? 1 : 0;
  }
  return true;
}

std::uint64_t Uint256::div(std::uint64_t divisor) {
  unsigned __int128 remainder = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const unsigned __int128 current = (remainder << 64) | limbs_[i];
    limbs_[i] = static_cast<std::uint64_t>(current / divisor);
    remainder = current % divisor;
  }
  return static_cast<std::uint64_t>(remainder);
}

Uint256 Uint256::negated() const {
  Uint256 x;
  for (std::size_t i = 0; i < 4; ++i) x.limbs_[i] = ~limbs_[i];
  x.mul_add(1, 1);  // wraps to 0 for 0, as 2^256 mod 2^256 should
  return x;
}

// ---- integers from JSON --------------------------------------------------------------------------------------------

namespace {

std::unexpected<Error> invalid(std::string message) { return fail(ErrorCode::kInvalidArgument, std::move(message)); }

constexpr std::int64_t kMaxSafeInteger = (std::int64_t{1} << 53) - 1;

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

}  // namespace

Result<EvmInteger> parse_evm_integer(const boost::json::value& value, std::string_view what) {
  const std::string name(what);
  auto from_signed = [](std::int64_t v) {
    EvmInteger out;
    out.negative = v < 0;
    out.magnitude = Uint256::from_u64(v < 0 ? static_cast<std::uint64_t>(-v) : static_cast<std::uint64_t>(v));
    return out;
  };
  if (value.is_int64() || value.is_uint64()) {
    if (value.is_uint64() && value.get_uint64() > static_cast<std::uint64_t>(kMaxSafeInteger)) {
      return invalid(name + ": JSON number beyond 2^53 - 1 (JavaScript cannot hold it exactly); give a string");
    }
    const std::int64_t v = value.is_int64() ? value.get_int64() : static_cast<std::int64_t>(value.get_uint64());
    if (v > kMaxSafeInteger || v < -kMaxSafeInteger) {
      return invalid(name + ": JSON number beyond 2^53 - 1 (JavaScript cannot hold it exactly); give a string");
    }
    return from_signed(v);
  }
  if (value.is_double()) {
    const double d = value.get_double();
    if (!std::isfinite(d) || d != std::trunc(d)) return invalid(name + ": not an integer");
    if (std::fabs(d) > static_cast<double>(kMaxSafeInteger)) {
      return invalid(name + ": JSON number beyond 2^53 - 1 (JavaScript cannot hold it exactly); give a string");
    }
    return from_signed(static_cast<std::int64_t>(d));
  }
  if (!value.is_string()) return invalid(name + ": expected an integer (a JSON number, or a decimal or 0x string)");

  std::string_view text = value.get_string();
  EvmInteger out;
  if (text.starts_with('-')) {
    out.negative = true;
    text.remove_prefix(1);
  }
  const bool hex = text.starts_with("0x") || text.starts_with("0X");
  if (hex) text.remove_prefix(2);
  if (text.empty()) return invalid(name + ": no digits in \"" + std::string(value.get_string()) + "\"");
  for (const char c : text) {
    const bool ok = hex ? is_hex_digit(c) : (c >= '0' && c <= '9');
    if (!ok) {
      return invalid(name + ": \"" + std::string(value.get_string()) + "\" is not a " + (hex ? "hex" : "decimal") +
                     " integer");
    }
    if (!out.magnitude.mul_add(hex ? 16 : 10, static_cast<std::uint64_t>(hex ? hex_value(c) : c - '0'))) {
      return invalid(name + ": does not fit 256 bits");
    }
  }
  if (out.magnitude.is_zero()) out.negative = false;
  return out;
}

Result<Uint256> parse_evm_quantity(const boost::json::value& value, std::string_view what) {
  auto parsed = parse_evm_integer(value, what);
  if (!parsed) return std::unexpected(std::move(parsed.error()));
  if (parsed->negative) return invalid(std::string(what) + ": must not be negative");
  return parsed->magnitude;
}

// ---- transactions --------------------------------------------------------------------------------------------------

namespace {

namespace json = boost::json;

// secp256k1's group order n, and n / 2 (EIP-2's bound on s).
Uint256 curve_order() {
  static const Uint256 n =
      *Uint256::from_big_endian(*from_hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"));
  return n;
}
Uint256 half_curve_order() {
  static const Uint256 half = [] {
    Uint256 h = curve_order();
    h.div(2);
    return h;
  }();
  return half;
}

const char* type_name(EvmTxType type) {
  switch (type) {
    case EvmTxType::kLegacy: return "legacy";
    case EvmTxType::kAccessList: return "EIP-2930 (type 1)";
    case EvmTxType::kDynamicFee: return "EIP-1559 (type 2)";
  }
  return "?";
}

Result<void> check_signature_values(const Uint256& r, const Uint256& s) {
  if (r.is_zero() || r >= curve_order()) return invalid("signature r must be in [1, n-1]");
  if (s.is_zero() || s >= curve_order()) return invalid("signature s must be in [1, n-1]");
  if (s > half_curve_order()) return invalid("signature s must be at most n/2 (EIP-2 low-s)");
  return {};
}

RlpItem rlp_uint(const Uint256& v) { return RlpItem::bytes(v.to_minimal_bytes()); }

RlpItem rlp_access_list(const std::vector<EvmAccessListEntry>& list) {
  std::vector<RlpItem> entries;
  entries.reserve(list.size());
  for (const auto& entry : list) {
    std::vector<RlpItem> keys;
    keys.reserve(entry.storage_keys.size());
    for (const auto& key : entry.storage_keys) keys.push_back(RlpItem::bytes(std::span(key)));
    entries.push_back(RlpItem::list({RlpItem::bytes(std::span(entry.address)), RlpItem::list(std::move(keys))}));
  }
  return RlpItem::list(std::move(entries));
}

// The fields of `tx.type`'s unsigned form, before any EIP-155 or signature fields.
std::vector<RlpItem> payload_fields(const EvmTransaction& tx) {
  std::vector<RlpItem> f;
  if (tx.type != EvmTxType::kLegacy) f.push_back(rlp_uint(tx.chain_id));
  f.push_back(RlpItem::uint(tx.nonce));
  if (tx.type == EvmTxType::kDynamicFee) {
    f.push_back(rlp_uint(tx.max_priority_fee_per_gas));
    f.push_back(rlp_uint(tx.max_fee_per_gas));
  } else {
    f.push_back(rlp_uint(tx.gas_price));
  }
  f.push_back(rlp_uint(tx.gas_limit));
  f.push_back(tx.to ? RlpItem::bytes(std::span(*tx.to)) : RlpItem::bytes(Bytes{}));
  f.push_back(rlp_uint(tx.value));
  f.push_back(RlpItem::bytes(tx.data));
  if (tx.type != EvmTxType::kLegacy) f.push_back(rlp_access_list(tx.access_list));
  return f;
}

Bytes envelope(EvmTxType type, std::vector<RlpItem> fields) {
  const Bytes body = rlp_encode(RlpItem::list(std::move(fields)));
  if (type == EvmTxType::kLegacy) return body;
  Bytes out;
  out.reserve(body.size() + 1);
  out.push_back(static_cast<std::uint8_t>(type));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// ---- decoding ----

class FieldReader {
 public:
  FieldReader(const std::vector<RlpItem>& fields, const char* kind) : fields_(fields), kind_(kind) {}

  Result<const Bytes*> bytes(std::size_t i, const char* name) const {
    if (fields_[i].is_list()) return invalid(prefix(name) + "is a list, expected a byte string");
    return &fields_[i].as_bytes();
  }
  Result<Uint256> uint(std::size_t i, const char* name, std::size_t max_bytes = 32) const {
    auto b = bytes(i, name);
    if (!b) return std::unexpected(std::move(b.error()));
    const Bytes& v = **b;
    if (!v.empty() && v[0] == 0) return invalid(prefix(name) + "integer has a leading zero byte (not canonical)");
    if (v.size() > max_bytes) {
      return invalid(prefix(name) + "integer of " + std::to_string(v.size()) + " bytes exceeds " +
                     std::to_string(max_bytes * 8) + " bits");
    }
    return *Uint256::from_big_endian(v);
  }
  Result<std::uint64_t> u64(std::size_t i, const char* name) const {
    auto v = uint(i, name, 8);
    if (!v) return std::unexpected(std::move(v.error()));
    return *v->to_u64();
  }
  Result<std::optional<EvmAddress>> to(std::size_t i) const {
    auto b = bytes(i, "to");
    if (!b) return std::unexpected(std::move(b.error()));
    if ((*b)->empty()) return std::optional<EvmAddress>{};
    if ((*b)->size() != 20)
      return invalid(prefix("to") + "must be empty or 20 bytes, not " + std::to_string((*b)->size()));
    EvmAddress a{};
    std::copy((*b)->begin(), (*b)->end(), a.begin());
    return std::optional<EvmAddress>{a};
  }
  Result<std::vector<EvmAccessListEntry>> access_list(std::size_t i) const {
    if (!fields_[i].is_list()) return invalid(prefix("accessList") + "is not a list");
    std::vector<EvmAccessListEntry> out;
    const auto& entries = fields_[i].as_list();
    for (std::size_t e = 0; e < entries.size(); ++e) {
      const std::string where = prefix("accessList") + "entry " + std::to_string(e) + " ";
      if (!entries[e].is_list() || entries[e].as_list().size() != 2) {
        return invalid(where + "is not a [address, storageKeys] pair");
      }
      const auto& pair = entries[e].as_list();
      if (pair[0].is_list() || pair[0].as_bytes().size() != 20) return invalid(where + "has an invalid address");
      if (!pair[1].is_list()) return invalid(where + "storage keys are not a list");
      EvmAccessListEntry entry;
      std::copy(pair[0].as_bytes().begin(), pair[0].as_bytes().end(), entry.address.begin());
      for (const RlpItem& key : pair[1].as_list()) {
        if (key.is_list() || key.as_bytes().size() != 32)
          return invalid(where + "has a storage key that is not 32 bytes");
        Hash256 k{};
        std::copy(key.as_bytes().begin(), key.as_bytes().end(), k.begin());
        entry.storage_keys.push_back(k);
      }
      out.push_back(std::move(entry));
    }
    return out;
  }

 private:
  std::string prefix(const char* name) const { return std::string(kind_) + " transaction: " + name + " "; }
  const std::vector<RlpItem>& fields_;
  const char* kind_;
};

#define SIGNERD_TRY_ASSIGN(lhs, expr)                                       \
  do {                                                                      \
    auto _signerd_r = (expr);                                               \
    if (!_signerd_r) return std::unexpected(std::move(_signerd_r.error())); \
    lhs = std::move(*_signerd_r);                                           \
  } while (0)

// Reads the fields of the typed transaction `type` (unsigned length `base`) and, when signed, [yParity, r, s].
Result<EvmTransaction> decode_typed(EvmTxType type, const std::vector<RlpItem>& f, bool want_signed) {
  const char* kind = type_name(type);
  const std::size_t base = type == EvmTxType::kAccessList ? 8 : 9;
  if (f.size() != base && f.size() != base + 3) {
    return invalid(std::string(kind) + " transaction: " + std::to_string(f.size()) + " fields, expected " +
                   std::to_string(base) + " (unsigned) or " + std::to_string(base + 3) + " (signed)");
  }
  if (want_signed && f.size() == base)
    return invalid(std::string(kind) + " transaction is unsigned, expected a signed one");
  if (!want_signed && f.size() != base) {
    return invalid(std::string(kind) + " transaction already carries a signature, expected an unsigned one");
  }
  const FieldReader r(f, kind);
  EvmTransaction tx;
  tx.type = type;
  std::size_t i = 0;
  SIGNERD_TRY_ASSIGN(tx.chain_id, r.uint(i++, "chainId"));
  SIGNERD_TRY_ASSIGN(tx.nonce, r.u64(i++, "nonce"));
  if (type == EvmTxType::kAccessList) {
    SIGNERD_TRY_ASSIGN(tx.gas_price, r.uint(i++, "gasPrice"));
  } else {
    SIGNERD_TRY_ASSIGN(tx.max_priority_fee_per_gas, r.uint(i++, "maxPriorityFeePerGas"));
    SIGNERD_TRY_ASSIGN(tx.max_fee_per_gas, r.uint(i++, "maxFeePerGas"));
  }
  SIGNERD_TRY_ASSIGN(tx.gas_limit, r.uint(i++, "gasLimit"));
  SIGNERD_TRY_ASSIGN(tx.to, r.to(i++));
  SIGNERD_TRY_ASSIGN(tx.value, r.uint(i++, "value"));
  const Bytes* data = nullptr;
  SIGNERD_TRY_ASSIGN(data, r.bytes(i++, "data"));
  tx.data = *data;
  SIGNERD_TRY_ASSIGN(tx.access_list, r.access_list(i++));
  if (!want_signed) return tx;

  Uint256 y_parity;
  EvmTxSignature sig;
  SIGNERD_TRY_ASSIGN(y_parity, r.uint(i++, "yParity"));
  if (y_parity > Uint256::from_u64(1)) return invalid(std::string(kind) + " transaction: yParity must be 0 or 1");
  sig.y_parity = static_cast<int>(*y_parity.to_u64());
  SIGNERD_TRY_ASSIGN(sig.r, r.uint(i++, "r"));
  SIGNERD_TRY_ASSIGN(sig.s, r.uint(i++, "s"));
  if (auto ok = check_signature_values(sig.r, sig.s); !ok) {
    return invalid(std::string(kind) + " transaction: " + ok.error().message);
  }
  tx.signature = sig;
  return tx;
}

Result<EvmTransaction> decode_legacy(const std::vector<RlpItem>& f, bool want_signed) {
  const char* kind = "legacy";
  if (f.size() != 6 && f.size() != 9) {
    return invalid("legacy transaction: " + std::to_string(f.size()) +
                   " fields, expected 6 (pre-EIP-155 unsigned) or 9 (EIP-155 unsigned, or signed)");
  }
  const FieldReader r(f, kind);
  EvmTransaction tx;
  tx.type = EvmTxType::kLegacy;
  SIGNERD_TRY_ASSIGN(tx.nonce, r.u64(0, "nonce"));
  SIGNERD_TRY_ASSIGN(tx.gas_price, r.uint(1, "gasPrice"));
  SIGNERD_TRY_ASSIGN(tx.gas_limit, r.uint(2, "gasLimit"));
  SIGNERD_TRY_ASSIGN(tx.to, r.to(3));
  SIGNERD_TRY_ASSIGN(tx.value, r.uint(4, "value"));
  const Bytes* data = nullptr;
  SIGNERD_TRY_ASSIGN(data, r.bytes(5, "data"));
  tx.data = *data;

  if (f.size() == 6) {
    if (want_signed) return invalid("legacy transaction is unsigned (6 fields), expected a signed one");
    return tx;
  }
  Uint256 v, sig_r, sig_s;
  SIGNERD_TRY_ASSIGN(v, r.uint(6, "v"));
  SIGNERD_TRY_ASSIGN(sig_r, r.uint(7, "r"));
  SIGNERD_TRY_ASSIGN(sig_s, r.uint(8, "s"));
  const bool has_signature = !sig_r.is_zero() || !sig_s.is_zero();
  if (!want_signed) {
    if (has_signature) return invalid("legacy transaction already carries a signature, expected an unsigned one");
    if (v.is_zero()) {
      return invalid("legacy transaction: EIP-155 form with chainId 0 (not canonical: use the 6-field form)");
    }
    if (v > max_legacy_chain_id()) return invalid("legacy transaction: chainId too large for an EIP-155 v");
    tx.chain_id = v;
    return tx;
  }
  if (!has_signature)
    return invalid("legacy transaction is an unsigned EIP-155 one (r = s = 0), expected a signed one");

  EvmTxSignature sig;
  if (v == Uint256::from_u64(27) || v == Uint256::from_u64(28)) {
    sig.y_parity = static_cast<int>(*v.to_u64() - 27);
  } else if (v >= Uint256::from_u64(37)) {
    Uint256 chain = v;
    chain.sub(35);
    sig.y_parity = static_cast<int>(chain.div(2));
    tx.chain_id = chain;
  } else {
    return invalid("legacy transaction: v = " + v.to_decimal() + " is neither 27/28 nor an EIP-155 value (>= 37)");
  }
  sig.r = sig_r;
  sig.s = sig_s;
  if (auto ok = check_signature_values(sig.r, sig.s); !ok) return invalid("legacy transaction: " + ok.error().message);
  tx.signature = sig;
  return tx;
}

Result<EvmTransaction> decode(std::span<const std::uint8_t> raw, bool want_signed) {
  if (raw.empty()) return invalid("transaction: empty input");
  const std::uint8_t first = raw[0];
  EvmTxType type = EvmTxType::kLegacy;
  if (first == 0x01 || first == 0x02) {
    type = static_cast<EvmTxType>(first);
    raw = raw.subspan(1);
  } else if (first >= 0x80 && first < 0xc0) {
    return invalid(
        "transaction: an RLP byte string, not a transaction (a typed transaction wrapped for a block "
        "body? remove the wrapping)");
  } else if (first < 0xc0) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", first);
    return invalid(std::string("transaction: unsupported transaction type ") + hex +
                   " (supported: legacy, 0x01 EIP-2930, 0x02 EIP-1559)");
  }
  auto item = rlp_decode(raw);
  if (!item) return invalid(std::string(type_name(type)) + " transaction: " + item.error().message);
  if (!item->is_list()) return invalid(std::string(type_name(type)) + " transaction: payload is not an RLP list");
  const auto& fields = item->as_list();
  return type == EvmTxType::kLegacy ? decode_legacy(fields, want_signed) : decode_typed(type, fields, want_signed);
}

// ---- JSON ----

Result<EvmAddress> json_address(const json::value& v, const std::string& what) {
  if (!v.is_string()) return invalid(what + ": expected an address string");
  auto a = parse_evm_address(v.get_string());
  if (!a) return invalid(what + ": " + a.error().message);
  return *a;
}

Result<Bytes> json_hex(const json::value& v, const std::string& what) {
  if (!v.is_string()) return invalid(what + ": expected a 0x hex string");
  const std::string_view s = v.get_string();
  if (!s.starts_with("0x")) return invalid(what + ": hex must start with 0x");
  auto b = from_hex(s.substr(2));
  if (!b) return invalid(what + ": malformed hex (odd length or a non-hex digit)");
  return *b;
}

Result<std::vector<EvmAccessListEntry>> json_access_list(const json::value& v) {
  if (!v.is_array()) return invalid("transaction.accessList: expected an array of {address, storageKeys}");
  std::vector<EvmAccessListEntry> out;
  const auto& entries = v.get_array();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::string where = "transaction.accessList[" + std::to_string(i) + "]";
    if (!entries[i].is_object()) return invalid(where + ": expected {address, storageKeys}");
    const auto& o = entries[i].get_object();
    for (const auto& kv : o) {
      if (kv.key() != "address" && kv.key() != "storageKeys") {
        return invalid(where + ": unknown field \"" + std::string(kv.key()) + "\"");
      }
    }
    const json::value* address = o.if_contains("address");
    const json::value* keys = o.if_contains("storageKeys");
    if (address == nullptr || keys == nullptr) return invalid(where + ": needs address and storageKeys");
    EvmAccessListEntry entry;
    SIGNERD_TRY_ASSIGN(entry.address, json_address(*address, where + ".address"));
    if (!keys->is_array()) return invalid(where + ".storageKeys: expected an array");
    for (std::size_t k = 0; k < keys->get_array().size(); ++k) {
      const std::string key_where = where + ".storageKeys[" + std::to_string(k) + "]";
      Bytes key;
      SIGNERD_TRY_ASSIGN(key, json_hex(keys->get_array()[k], key_where));
      if (key.size() != 32) return invalid(key_where + ": a storage key is 32 bytes");
      Hash256 h{};
      std::copy(key.begin(), key.end(), h.begin());
      entry.storage_keys.push_back(h);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

Result<EvmTxType> json_type(const json::value& v) {
  if (v.is_string()) {
    const std::string_view s = v.get_string();
    if (s == "legacy") return EvmTxType::kLegacy;
    if (s == "berlin" || s == "eip-2930") return EvmTxType::kAccessList;
    if (s == "london" || s == "eip-1559") return EvmTxType::kDynamicFee;
  } else if (v.is_int64() || v.is_uint64()) {
    const std::uint64_t t = v.is_int64() ? static_cast<std::uint64_t>(v.get_int64()) : v.get_uint64();
    if (t <= 2) return static_cast<EvmTxType>(t);
  }
  return invalid("transaction.type: unsupported (expected 0, 1, 2, \"legacy\", \"eip-2930\" or \"eip-1559\")");
}

}  // namespace

Uint256 max_legacy_chain_id() {
  Uint256 m = Uint256::power_of_two(255);
  m.sub(19);
  return m;
}

Result<EvmTransaction> decode_unsigned_transaction(std::span<const std::uint8_t> raw) { return decode(raw, false); }

Result<EvmTransaction> decode_signed_transaction(std::span<const std::uint8_t> raw) { return decode(raw, true); }

Result<EvmTransaction> unsigned_transaction_from_json(const json::object& in) {
  static constexpr std::string_view kKnown[] = {
      "type",     "chainId", "nonce", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas",
      "gasLimit", "to",      "value", "data",     "accessList"};
  static constexpr std::string_view kSignedOnly[] = {"signature", "r", "s", "v", "yParity", "hash", "from"};
  auto present = [&](std::string_view key) -> const json::value* {
    const json::value* v = in.if_contains(key);
    return (v == nullptr || v->is_null()) ? nullptr : v;
  };
  for (const auto& kv : in) {
    const std::string_view key = kv.key();
    if (std::find(std::begin(kKnown), std::end(kKnown), key) != std::end(kKnown)) continue;
    if (kv.value().is_null()) continue;
    if (std::find(std::begin(kSignedOnly), std::end(kSignedOnly), key) != std::end(kSignedOnly)) {
      return invalid("transaction." + std::string(key) + ": an unsigned transaction cannot carry it");
    }
    return invalid("transaction: unknown field \"" + std::string(key) + "\"");
  }

  EvmTransaction tx;
  const bool has_fee = present("maxFeePerGas") || present("maxPriorityFeePerGas");
  if (const json::value* t = present("type")) {
    SIGNERD_TRY_ASSIGN(tx.type, json_type(*t));
  } else if (has_fee) {
    tx.type = EvmTxType::kDynamicFee;
  } else if (present("gasPrice")) {
    tx.type = EvmTxType::kAccessList;  // ethers' inference: types [0, 1] are possible and it picks the highest
  } else {
    tx.type = EvmTxType::kDynamicFee;
  }
  const std::string kind = type_name(tx.type);

  auto quantity = [&](std::string_view key, Uint256& out) -> Result<void> {
    const json::value* v = present(key);
    if (v == nullptr) return invalid("transaction." + std::string(key) + ": required for a " + kind + " transaction");
    SIGNERD_TRY_ASSIGN(out, parse_evm_quantity(*v, "transaction." + std::string(key)));
    return {};
  };
  auto refuse = [&](std::string_view key) -> Result<void> {
    if (present(key)) return invalid("transaction." + std::string(key) + ": not a field of a " + kind + " transaction");
    return {};
  };
#define SIGNERD_TRY(expr)                                                   \
  do {                                                                      \
    auto _signerd_r = (expr);                                               \
    if (!_signerd_r) return std::unexpected(std::move(_signerd_r.error())); \
  } while (0)

  if (tx.type == EvmTxType::kDynamicFee) {
    SIGNERD_TRY(refuse("gasPrice"));
    SIGNERD_TRY(quantity("maxPriorityFeePerGas", tx.max_priority_fee_per_gas));
    SIGNERD_TRY(quantity("maxFeePerGas", tx.max_fee_per_gas));
  } else {
    SIGNERD_TRY(refuse("maxFeePerGas"));
    SIGNERD_TRY(refuse("maxPriorityFeePerGas"));
    SIGNERD_TRY(quantity("gasPrice", tx.gas_price));
  }
  if (tx.type == EvmTxType::kLegacy) {
    SIGNERD_TRY(refuse("accessList"));
    if (present("chainId")) {
      SIGNERD_TRY(quantity("chainId", tx.chain_id));
      if (tx.chain_id > max_legacy_chain_id()) {
        return invalid("transaction.chainId: too large for a legacy transaction's EIP-155 v");
      }
    }
  } else {
    SIGNERD_TRY(quantity("chainId", tx.chain_id));
    if (const json::value* list = present("accessList")) SIGNERD_TRY_ASSIGN(tx.access_list, json_access_list(*list));
  }
  Uint256 nonce;
  SIGNERD_TRY(quantity("nonce", nonce));
  if (!nonce.to_u64()) return invalid("transaction.nonce: does not fit 64 bits");
  tx.nonce = *nonce.to_u64();
  SIGNERD_TRY(quantity("gasLimit", tx.gas_limit));
  if (const json::value* v = present("value"))
    SIGNERD_TRY_ASSIGN(tx.value, parse_evm_quantity(*v, "transaction.value"));
  if (const json::value* to = present("to")) {
    EvmAddress a{};
    SIGNERD_TRY_ASSIGN(a, json_address(*to, "transaction.to"));
    tx.to = a;
  }
  if (const json::value* data = present("data")) SIGNERD_TRY_ASSIGN(tx.data, json_hex(*data, "transaction.data"));
#undef SIGNERD_TRY
  return tx;
}

json::object transaction_to_json(const EvmTransaction& tx) {
  json::object o;
  o["type"] = static_cast<int>(tx.type);
  o["chainId"] = tx.chain_id.to_decimal();
  o["nonce"] = std::to_string(tx.nonce);
  if (tx.type == EvmTxType::kDynamicFee) {
    o["maxPriorityFeePerGas"] = tx.max_priority_fee_per_gas.to_decimal();
    o["maxFeePerGas"] = tx.max_fee_per_gas.to_decimal();
  } else {
    o["gasPrice"] = tx.gas_price.to_decimal();
  }
  o["gasLimit"] = tx.gas_limit.to_decimal();
  o["to"] = tx.to ? json::value(eip55_encode(*tx.to)) : json::value(nullptr);
  o["value"] = tx.value.to_decimal();
  o["data"] = to_hex_0x(tx.data);
  if (tx.type != EvmTxType::kLegacy) {
    json::array list;
    for (const auto& entry : tx.access_list) {
      json::array keys;
      for (const auto& k : entry.storage_keys) keys.push_back(json::string(to_hex_0x(k)));
      list.push_back(json::object{{"address", eip55_encode(entry.address)}, {"storageKeys", std::move(keys)}});
    }
    o["accessList"] = std::move(list);
  }
  if (tx.signature) {
    Uint256 v = Uint256::from_u64(static_cast<std::uint64_t>(tx.signature->y_parity));
    if (tx.type == EvmTxType::kLegacy) {
      if (tx.chain_id.is_zero()) {
        v.mul_add(1, 27);
      } else {
        v = tx.chain_id;
        v.mul_add(2, 35 + static_cast<std::uint64_t>(tx.signature->y_parity));
      }
    }
    o["signature"] = json::object{{"r", to_hex_0x(tx.signature->r.to_bytes32())},
                                  {"s", to_hex_0x(tx.signature->s.to_bytes32())},
                                  {"yParity", tx.signature->y_parity},
                                  {"v", v.to_decimal()}};
  }
  return o;
}

Bytes serialize_unsigned(const EvmTransaction& tx) {
  std::vector<RlpItem> fields = payload_fields(tx);
  if (tx.type == EvmTxType::kLegacy && !tx.chain_id.is_zero()) {
    fields.push_back(rlp_uint(tx.chain_id));
    fields.push_back(RlpItem::bytes(Bytes{}));
    fields.push_back(RlpItem::bytes(Bytes{}));
  }
  return envelope(tx.type, std::move(fields));
}

Hash256 signing_hash(const EvmTransaction& tx) { return keccak256(serialize_unsigned(tx)); }

Result<Bytes> serialize_signed(const EvmTransaction& tx, const std::array<std::uint8_t, 32>& r,
                               const std::array<std::uint8_t, 32>& s, int recid) {
  if (recid != 0 && recid != 1) return invalid("signature recovery id must be 0 or 1, not " + std::to_string(recid));
  const Uint256 r_value = *Uint256::from_big_endian(r);
  const Uint256 s_value = *Uint256::from_big_endian(s);
  if (auto ok = check_signature_values(r_value, s_value); !ok) return std::unexpected(std::move(ok.error()));

  std::vector<RlpItem> fields = payload_fields(tx);
  Uint256 v = Uint256::from_u64(static_cast<std::uint64_t>(recid));
  if (tx.type == EvmTxType::kLegacy) {
    if (tx.chain_id.is_zero()) {
      v.mul_add(1, 27);
    } else {
      if (tx.chain_id > max_legacy_chain_id()) return invalid("legacy transaction: chainId too large for an EIP-155 v");
      v = tx.chain_id;
      v.mul_add(2, 35 + static_cast<std::uint64_t>(recid));
    }
  }
  fields.push_back(rlp_uint(v));
  fields.push_back(rlp_uint(r_value));
  fields.push_back(rlp_uint(s_value));
  return envelope(tx.type, std::move(fields));
}

Result<Bytes> serialize_signed(const EvmTransaction& signed_tx) {
  if (!signed_tx.signature) return invalid("transaction has no signature");
  return serialize_signed(signed_tx, signed_tx.signature->r.to_bytes32(), signed_tx.signature->s.to_bytes32(),
                          signed_tx.signature->y_parity);
}

Hash256 tx_hash(std::span<const std::uint8_t> signed_serialization) { return keccak256(signed_serialization); }

#undef SIGNERD_TRY_ASSIGN

}  // namespace signerd::chains

#include "chains/eip712.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <cstring>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "chains/evm.h"
#include "chains/evm_tx.h"

namespace signerd::chains {
namespace {

namespace json = boost::json;

constexpr std::string_view kDomainType = "EIP712Domain";
// A guard against pathological documents (recursion over the type graph is as deep as the number of structs).
constexpr std::size_t kMaxStructs = 1024;
constexpr std::size_t kMaxFixedArrayLength = 1u << 20;

std::unexpected<Error> invalid(std::string message) { return fail(ErrorCode::kInvalidArgument, std::move(message)); }

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool is_identifier(std::string_view s) {
  auto first = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '$'; };
  auto rest = [&](char c) { return first(c) || (c >= '0' && c <= '9'); };
  return !s.empty() && first(s[0]) && std::all_of(s.begin() + 1, s.end(), rest);
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "uint8", "int256", "bytes32" and their malformed cousins ("uint7", "bytes0", "uint08"): names ethers reserves.
bool looks_sized(std::string_view s, std::string_view prefix) {
  return s.starts_with(prefix) && all_digits(s.substr(prefix.size()));
}
bool is_reserved_name(std::string_view s) {
  return s == "bool" || s == "address" || s == "string" || s == "bytes" || looks_sized(s, "uint") ||
         looks_sized(s, "int") || looks_sized(s, "bytes");
}

enum class Base { kStruct, kUint, kInt, kBytesN, kBytes, kString, kAddress, kBool };

struct FieldType {
  Base base = Base::kStruct;
  unsigned width = 0;             // bits for kUint/kInt, bytes for kBytesN
  std::string struct_name;        // kStruct
  std::vector<std::size_t> dims;  // 0 = dynamic; the outermost dimension is the last, as written
  std::string text;               // the type as encodeType writes it (uint/int aliases expanded)
  std::string base_text;          // `text` without the array suffixes
};

struct Field {
  std::string name;
  FieldType type;
};

std::string field_label(const std::string& path, const FieldType& type, std::size_t dims) {
  std::string t = type.base_text;
  for (std::size_t i = 0; i < dims; ++i) t += type.dims[i] == 0 ? "[]" : "[" + std::to_string(type.dims[i]) + "]";
  return path + " (" + t + ")";
}

// The validated `types` object: every field type resolved, no cycles. Lives for one call.
class TypedData {
 public:
  static Result<TypedData> parse(const json::object& types) {
    TypedData td;
    if (types.size() > kMaxStructs) return invalid("types: more than " + std::to_string(kMaxStructs) + " structs");
    for (const auto& kv : types) {
      const std::string name(kv.key());
      if (!is_identifier(name)) return invalid("types: struct name " + quoted(name) + " is not an identifier");
      if (is_reserved_name(name)) return invalid("types: struct name " + quoted(name) + " is a base type's name");
      td.structs_[name];
    }
    for (const auto& kv : types) {
      const std::string name(kv.key());
      if (!kv.value().is_array()) return invalid("types." + name + ": expected an array of {name, type}");
      std::vector<Field>& fields = td.structs_[name];
      std::set<std::string> seen;
      const auto& list = kv.value().get_array();
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string where = "types." + name + "[" + std::to_string(i) + "]";
        const json::object* f = list[i].if_object();
        const json::value* fname = f ? f->if_contains("name") : nullptr;
        const json::value* ftype = f ? f->if_contains("type") : nullptr;
        if (fname == nullptr || ftype == nullptr || !fname->is_string() || !ftype->is_string()) {
          return invalid(where + ": expected {\"name\": string, \"type\": string}");
        }
        const std::string field_name(fname->get_string());
        if (!is_identifier(field_name)) {
          return invalid(where + ": field name " + quoted(field_name) + " is not an identifier");
        }
        if (!seen.insert(field_name).second) {
          return invalid("types." + name + ": duplicate field name " + quoted(field_name));
        }
        auto type = td.parse_type(ftype->get_string(), types);
        if (!type) return invalid("types." + name + "." + field_name + ": " + type.error().message);
        fields.push_back(Field{field_name, std::move(*type)});
      }
    }
    if (auto acyclic = td.check_acyclic(); !acyclic) return std::unexpected(std::move(acyclic.error()));
    return td;
  }

  bool has(std::string_view name) const { return structs_.contains(std::string(name)); }

  Result<std::string> primary_type() const {
    std::set<std::string> used;
    for (const auto& [name, fields] : structs_) {
      if (name == kDomainType) continue;
      for (const Field& f : fields) {
        if (f.type.base == Base::kStruct) used.insert(f.type.struct_name);
      }
    }
    std::vector<std::string> candidates;
    for (const auto& [name, fields] : structs_) {
      if (name != kDomainType && !used.contains(name)) candidates.push_back(name);
    }
    if (candidates.empty())
      return invalid("types: no primary type (no struct besides EIP712Domain that others do not use)");
    if (candidates.size() > 1) {
      std::string list;
      for (const auto& c : candidates) list += (list.empty() ? "" : ", ") + quoted(c);
      return invalid("types: ambiguous primary type (unused by the others: " + list + ")");
    }
    return candidates.front();
  }

  std::string encode_type(const std::string& name) const {
    std::set<std::string> deps;  // std::string order is byte order: UTF-16 order for the identifiers allowed
    collect(name, deps);
    deps.erase(name);
    std::string out = encode_one(name);
    for (const auto& d : deps) out += encode_one(d);
    return out;
  }

  Result<Bytes> encode_data(const std::string& name, const json::value& value, const std::string& path) const {
    const json::object* object = value.if_object();
    if (object == nullptr) return invalid(path + " (" + name + "): expected a JSON object");
    const Hash256 type_hash = this->type_hash(name);
    Bytes out(type_hash.begin(), type_hash.end());
    for (const Field& f : structs_.at(name)) {
      const std::string field_path = path + "." + f.name;
      const json::value* v = object->if_contains(f.name);
      if (v == nullptr) {
        return invalid(field_label(field_path, f.type, f.type.dims.size()) + ": missing field of struct " + name);
      }
      auto word = encode_value(f.type, f.type.dims.size(), *v, field_path);
      if (!word) return std::unexpected(std::move(word.error()));
      out.insert(out.end(), word->begin(), word->end());
    }
    return out;
  }

  Result<Hash256> hash_struct(const std::string& name, const json::value& value, const std::string& path) const {
    auto data = encode_data(name, value, path);
    if (!data) return std::unexpected(std::move(data.error()));
    return keccak256(*data);
  }

  const std::vector<Field>& fields(const std::string& name) const { return structs_.at(name); }

 private:
  Result<FieldType> parse_type(std::string_view text, const json::object& types) const {
    FieldType t;
    const std::size_t bracket = text.find('[');
    std::string_view base = text.substr(0, bracket);
    std::string_view suffix = bracket == std::string_view::npos ? std::string_view{} : text.substr(bracket);
    while (!suffix.empty()) {
      const std::size_t close = suffix.find(']');
      if (suffix[0] != '[' || close == std::string_view::npos) return invalid("malformed type " + quoted(text));
      const std::string_view n = suffix.substr(1, close - 1);
      if (n.empty()) {
        t.dims.push_back(0);
      } else {
        if (!all_digits(n) || n[0] == '0' || n.size() > 7) {
          return invalid("array length in " + quoted(text) + " must be a decimal number from 1 (no leading zeros)");
        }
        const std::size_t length = std::stoul(std::string(n));
        if (length > kMaxFixedArrayLength) return invalid("array length in " + quoted(text) + " is too large");
        t.dims.push_back(length);
      }
      suffix.remove_prefix(close + 1);
    }

    auto sized = [&](std::string_view prefix, unsigned max, unsigned multiple) -> std::optional<unsigned> {
      const std::string_view digits = base.substr(prefix.size());
      if (digits.empty() || digits[0] == '0' || digits.size() > 3) return std::nullopt;
      const unsigned n = static_cast<unsigned>(std::stoul(std::string(digits)));
      if (n == 0 || n > max || n % multiple != 0) return std::nullopt;
      return n;
    };
    if (base == "bool") {
      t.base = Base::kBool;
    } else if (base == "address") {
      t.base = Base::kAddress;
    } else if (base == "string") {
      t.base = Base::kString;
    } else if (base == "bytes") {
      t.base = Base::kBytes;
    } else if (looks_sized(base, "bytes")) {
      const auto n = sized("bytes", 32, 1);
      if (!n) return invalid("invalid bytes width in " + quoted(text) + " (bytes1 .. bytes32)");
      t.base = Base::kBytesN;
      t.width = *n;
    } else if (looks_sized(base, "uint") || looks_sized(base, "int")) {
      const bool is_unsigned = base.starts_with("u");
      const auto n = sized(is_unsigned ? "uint" : "int", 256, 8);
      if (!n) return invalid("invalid integer width in " + quoted(text) + " (a multiple of 8 from 8 to 256)");
      t.base = is_unsigned ? Base::kUint : Base::kInt;
      t.width = *n;
    } else if ((base == "uint" || base == "int") && !types.contains(base)) {
      t.base = base == "uint" ? Base::kUint : Base::kInt;  // ethers' aliases
      t.width = 256;
      base = base == "uint" ? "uint256" : "int256";
    } else if (has(base)) {
      t.base = Base::kStruct;
      t.struct_name = std::string(base);
    } else {
      return invalid("unknown type " + quoted(base));
    }
    t.base_text = std::string(base);
    t.text = t.base_text + std::string(bracket == std::string_view::npos ? "" : text.substr(bracket));
    return t;
  }

  Result<void> check_acyclic() const {
    enum class State { kNew, kActive, kDone };
    std::map<std::string, State> state;
    // Depth-first; the recursion is at most kMaxStructs deep.
    auto visit = [&](auto&& self, const std::string& name) -> Result<void> {
      state[name] = State::kActive;
      for (const Field& f : structs_.at(name)) {
        if (f.type.base != Base::kStruct) continue;
        const State s = state[f.type.struct_name];
        if (s == State::kActive) {
          return invalid("types: circular type reference: " + name + "." + f.name + " has type " + f.type.text);
        }
        if (s == State::kNew) {
          if (auto r = self(self, f.type.struct_name); !r) return r;
        }
      }
      state[name] = State::kDone;
      return {};
    };
    for (const auto& [name, fields] : structs_) {
      if (state[name] == State::kNew) {
        if (auto r = visit(visit, name); !r) return r;
      }
    }
    return {};
  }

  void collect(const std::string& name, std::set<std::string>& out) const {
    if (!out.insert(name).second) return;
    for (const Field& f : structs_.at(name)) {
      if (f.type.base == Base::kStruct) collect(f.type.struct_name, out);
    }
  }

  std::string encode_one(const std::string& name) const {
    std::string out = name + "(";
    bool first = true;
    for (const Field& f : structs_.at(name)) {
      if (!first) out += ",";
      first = false;
      out += f.type.text + " " + f.name;
    }
    return out + ")";
  }

  Hash256 type_hash(const std::string& name) const {
    auto it = type_hashes_.find(name);
    if (it == type_hashes_.end()) it = type_hashes_.emplace(name, keccak256(as_bytes(encode_type(name)))).first;
    return it->second;
  }

  // The 32-byte word of `value` as the type `type` with only its first `dims` array dimensions.
  Result<Hash256> encode_value(const FieldType& type, std::size_t dims, const json::value& value,
                               const std::string& path) const {
    const std::string label = field_label(path, type, dims);
    if (dims > 0) {
      const json::array* array = value.if_array();
      if (array == nullptr) return invalid(label + ": expected a JSON array");
      const std::size_t expected = type.dims[dims - 1];
      if (expected != 0 && array->size() != expected) {
        return invalid(label + ": array length mismatch: expected " + std::to_string(expected) + " elements, got " +
                       std::to_string(array->size()));
      }
      Bytes concatenated;
      concatenated.reserve(32 * array->size());
      for (std::size_t i = 0; i < array->size(); ++i) {
        auto word = encode_value(type, dims - 1, (*array)[i], path + "[" + std::to_string(i) + "]");
        if (!word) return word;
        concatenated.insert(concatenated.end(), word->begin(), word->end());
      }
      return keccak256(concatenated);
    }

    Hash256 word{};
    switch (type.base) {
      case Base::kStruct: return hash_struct(type.struct_name, value, path);
      case Base::kBool:
        if (!value.is_bool()) return invalid(label + ": expected true or false");
        word[31] = value.get_bool() ? 1 : 0;
        return word;
      case Base::kAddress: {
        if (!value.is_string()) return invalid(label + ": expected an address string");
        auto address = parse_evm_address(value.get_string());
        if (!address) return invalid(label + ": " + address.error().message);
        std::copy(address->begin(), address->end(), word.begin() + 12);
        return word;
      }
      case Base::kString:
        if (!value.is_string()) return invalid(label + ": expected a JSON string");
        return keccak256(as_bytes(value.get_string()));
      case Base::kBytes:
      case Base::kBytesN: {
        if (!value.is_string() || !value.get_string().starts_with("0x")) {
          return invalid(label + ": expected a 0x hex string");
        }
        const auto bytes = from_hex(std::string_view(value.get_string()).substr(2));
        if (!bytes) return invalid(label + ": malformed hex (odd length or a non-hex digit)");
        if (type.base == Base::kBytes) return keccak256(*bytes);
        if (bytes->size() != type.width) {
          return invalid(label + ": expected " + std::to_string(type.width) + " bytes, got " +
                         std::to_string(bytes->size()));
        }
        std::copy(bytes->begin(), bytes->end(), word.begin());
        return word;
      }
      case Base::kUint:
      case Base::kInt: {
        auto n = parse_evm_integer(value, label);
        if (!n) return std::unexpected(std::move(n.error()));
        const bool is_signed = type.base == Base::kInt;
        const unsigned magnitude_bits = n->magnitude.bit_length();
        bool in_range = false;
        if (!is_signed) {
          in_range = !n->negative && magnitude_bits <= type.width;
        } else if (!n->negative) {
          in_range = magnitude_bits < type.width;
        } else {
          in_range = magnitude_bits < type.width || n->magnitude == Uint256::power_of_two(type.width - 1);
        }
        if (!in_range) return invalid(label + ": value out of range for " + type.base_text);
        return n->negative ? n->magnitude.negated().to_bytes32() : n->magnitude.to_bytes32();
      }
    }
    return word;
  }

  std::map<std::string, std::vector<Field>> structs_;
  mutable std::map<std::string, Hash256> type_hashes_;  // TypedData lives within one call: no sharing
};

Result<std::string> resolve_primary(const TypedData& td, const std::optional<std::string>& primary_type) {
  if (!primary_type) return td.primary_type();
  if (*primary_type == kDomainType) return invalid("primaryType: EIP712Domain cannot be the primary type");
  if (!td.has(*primary_type)) return invalid("primaryType: unknown type " + quoted(*primary_type));
  return *primary_type;
}

}  // namespace

Result<std::string> eip712_primary_type(const json::object& types) {
  auto td = TypedData::parse(types);
  if (!td) return std::unexpected(std::move(td.error()));
  return td->primary_type();
}

Result<std::string> eip712_encode_type(const json::object& types, std::string_view name) {
  auto td = TypedData::parse(types);
  if (!td) return std::unexpected(std::move(td.error()));
  if (!td->has(name)) return invalid("unknown type " + quoted(name));
  return td->encode_type(std::string(name));
}

Result<Bytes> eip712_encode_data(const json::object& types, std::string_view name, const json::value& value) {
  auto td = TypedData::parse(types);
  if (!td) return std::unexpected(std::move(td.error()));
  if (!td->has(name)) return invalid("unknown type " + quoted(name));
  return td->encode_data(std::string(name), value, "value");
}

Result<Hash256> eip712_hash_struct(const json::object& types, std::string_view name, const json::value& value) {
  auto td = TypedData::parse(types);
  if (!td) return std::unexpected(std::move(td.error()));
  if (!td->has(name)) return invalid("unknown type " + quoted(name));
  return td->hash_struct(std::string(name), value, "value");
}

Result<Hash256> eip712_domain_separator(const json::object& types, const json::object& domain) {
  const std::string domain_type(kDomainType);
  if (types.contains(kDomainType)) {
    auto td = TypedData::parse(types);
    if (!td) return std::unexpected(std::move(td.error()));
    for (const auto& kv : domain) {
      if (kv.value().is_null()) continue;
      const auto& fields = td->fields(domain_type);
      if (std::none_of(fields.begin(), fields.end(), [&](const Field& f) { return f.name == kv.key(); })) {
        return invalid("domain." + std::string(kv.key()) + ": not a field of the EIP712Domain type in types");
      }
    }
    return td->hash_struct(domain_type, domain, "domain");
  }

  static constexpr std::pair<std::string_view, std::string_view> kFields[] = {{"name", "string"},
                                                                              {"version", "string"},
                                                                              {"chainId", "uint256"},
                                                                              {"verifyingContract", "address"},
                                                                              {"salt", "bytes32"}};
  for (const auto& kv : domain) {
    if (std::none_of(std::begin(kFields), std::end(kFields), [&](const auto& f) { return f.first == kv.key(); })) {
      return invalid("domain." + std::string(kv.key()) +
                     ": unknown domain field (EIP712Domain has name, version, chainId, verifyingContract, salt)");
    }
  }
  json::array declared;
  json::object present;
  for (const auto& [name, type] : kFields) {
    const json::value* v = domain.if_contains(name);
    if (v == nullptr || v->is_null()) continue;
    declared.push_back(json::object{{"name", name}, {"type", type}});
    present[name] = *v;
  }
  auto td = TypedData::parse(json::object{{kDomainType, std::move(declared)}});
  if (!td) return std::unexpected(std::move(td.error()));
  return td->hash_struct(domain_type, present, "domain");
}

Result<Hash256> eip712_hash(const json::object& types, const json::object& domain, const json::value& message,
                            std::optional<std::string> primary_type) {
  auto td = TypedData::parse(types);
  if (!td) return std::unexpected(std::move(td.error()));
  auto primary = resolve_primary(*td, primary_type);
  if (!primary) return std::unexpected(std::move(primary.error()));
  auto separator = eip712_domain_separator(types, domain);
  if (!separator) return std::unexpected(std::move(separator.error()));
  auto struct_hash = td->hash_struct(*primary, message, "message");
  if (!struct_hash) return std::unexpected(std::move(struct_hash.error()));
  Bytes preimage{0x19, 0x01};
  preimage.insert(preimage.end(), separator->begin(), separator->end());
  preimage.insert(preimage.end(), struct_hash->begin(), struct_hash->end());
  return keccak256(preimage);
}

}  // namespace signerd::chains

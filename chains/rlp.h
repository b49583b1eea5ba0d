#pragma once
// Recursive Length Prefix (Ethereum Yellow Paper, appendix B): the encoding of Ethereum transactions and of the
// CREATE address preimage. Pure functions; thread-safe.
//
// Only canonical encodings exist in both directions: rlp_encode always produces the shortest form, and rlp_decode
// refuses every other form (a single byte below 0x80 wrapped in a 0x81 prefix, a long form for a payload under 56
// bytes, a length with leading zero bytes), because a signer that accepted two encodings of one transaction would
// sign bytes the caller did not show it.
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "common/error.h"
#include "common/hex.h"

namespace signerd::chains {

// One RLP item: a byte string or a list of items. A value type; the default is the empty byte string.
class RlpItem {
 public:
  RlpItem() = default;
  static RlpItem bytes(Bytes value) { return RlpItem(std::move(value)); }
  static RlpItem bytes(std::span<const std::uint8_t> value) { return RlpItem(Bytes(value.begin(), value.end())); }
  static RlpItem list(std::vector<RlpItem> items) { return RlpItem(std::move(items)); }
  // An unsigned integer as Ethereum encodes scalars: big-endian without leading zero bytes, so 0 is the empty string.
  static RlpItem uint(std::uint64_t value);

  bool is_list() const { return std::holds_alternative<std::vector<RlpItem>>(value_); }
  // Preconditions: !is_list() for as_bytes(), is_list() for as_list() (checked by std::get).
  const Bytes& as_bytes() const { return std::get<Bytes>(value_); }
  const std::vector<RlpItem>& as_list() const { return std::get<std::vector<RlpItem>>(value_); }

  friend bool operator==(const RlpItem& a, const RlpItem& b) { return a.value_ == b.value_; }

 private:
  explicit RlpItem(Bytes value) : value_(std::move(value)) {}
  explicit RlpItem(std::vector<RlpItem> items) : value_(std::move(items)) {}
  std::variant<Bytes, std::vector<RlpItem>> value_;
};

// Lists nested deeper than this are refused by rlp_decode (it recurses once per level).
inline constexpr std::size_t kRlpMaxDepth = 64;

// The canonical encoding of `item`. Total.
Bytes rlp_encode(const RlpItem& item);

// Decodes exactly one item that must span all of `encoded`. kInvalidArgument, with the offset of the fault, when the
// input is empty, truncated (a length points past the end of the input or of the enclosing list), has trailing bytes,
// is not canonical (see above), or nests lists deeper than kRlpMaxDepth.
Result<RlpItem> rlp_decode(std::span<const std::uint8_t> encoded);

}  // namespace signerd::chains

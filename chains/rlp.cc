#include "chains/rlp.h"

#include <string>

namespace signerd::chains {
namespace {

// Big-endian bytes of `value` without leading zeros (empty for 0).
Bytes minimal_big_endian(std::uint64_t value) {
  Bytes out;
  for (; value != 0; value >>= 8) out.insert(out.begin(), static_cast<std::uint8_t>(value & 0xff));
  return out;
}

// The prefix of a payload of `length` bytes: `short_base` + length below 56, else (short_base + 55 + n) followed by
// the n-byte length.
void append_header(Bytes& out, std::uint8_t short_base, std::size_t length) {
  if (length < 56) {
    out.push_back(static_cast<std::uint8_t>(short_base + length));
    return;
  }
  const Bytes len = minimal_big_endian(length);
  out.push_back(static_cast<std::uint8_t>(short_base + 55 + len.size()));
  out.insert(out.end(), len.begin(), len.end());
}

void encode_into(Bytes& out, const RlpItem& item) {
  if (!item.is_list()) {
    const Bytes& b = item.as_bytes();
    if (b.size() == 1 && b[0] < 0x80) {
      out.push_back(b[0]);
      return;
    }
    append_header(out, 0x80, b.size());
    out.insert(out.end(), b.begin(), b.end());
    return;
  }
  Bytes payload;
  for (const RlpItem& child : item.as_list()) encode_into(payload, child);
  append_header(out, 0xc0, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
}

std::unexpected<Error> invalid(std::string what, std::size_t offset) {
  return fail(ErrorCode::kInvalidArgument, "RLP: " + what + " at offset " + std::to_string(offset));
}

class Decoder {
 public:
  explicit Decoder(std::span<const std::uint8_t> in) : in_(in) {}

  std::string where(std::size_t end) const { return end == in_.size() ? "the input" : "the enclosing list"; }

  // Decodes the item starting at `pos`, which must end at or before `end`; advances `pos` past it.
  Result<RlpItem> item(std::size_t& pos, std::size_t end, std::size_t depth) {
    if (pos >= end) return invalid("input ends where an item should start", pos);
    const std::size_t at = pos;
    const std::uint8_t prefix = in_[pos++];
    if (prefix < 0x80) return RlpItem::bytes(Bytes{prefix});

    const bool is_list = prefix >= 0xc0;
    const std::uint8_t base = is_list ? 0xc0 : 0x80;
    std::size_t length = 0;
    if (prefix - base < 56) {
      length = prefix - base;
    } else {
      const std::size_t length_size = prefix - base - 55;  // 1..8
      if (length_size > end - pos) return invalid("length runs past the end of " + where(end), at);
      if (in_[pos] == 0) return invalid("length has a leading zero byte", at);
      for (std::size_t i = 0; i < length_size; ++i) length = (length << 8) | in_[pos++];
      if (length < 56) return invalid("long form used for a payload shorter than 56 bytes", at);
    }
    if (length > end - pos) {
      return invalid(std::string(is_list ? "list" : "string") + " of " + std::to_string(length) +
                         " bytes runs past the end of " + where(end),
                     at);
    }
    const std::size_t payload_end = pos + length;

    if (!is_list) {
      if (length == 1 && in_[pos] < 0x80) {
        return invalid("single byte below 0x80 must be encoded as itself", at);
      }
      RlpItem out = RlpItem::bytes(in_.subspan(pos, length));
      pos = payload_end;
      return out;
    }
    if (depth >= kRlpMaxDepth) return invalid("lists nested deeper than " + std::to_string(kRlpMaxDepth), at);
    std::vector<RlpItem> children;
    while (pos < payload_end) {
      auto child = item(pos, payload_end, depth + 1);
      if (!child) return child;
      children.push_back(std::move(*child));
    }
    return RlpItem::list(std::move(children));
  }

 private:
  std::span<const std::uint8_t> in_;
};

}  // namespace

RlpItem RlpItem::uint(std::uint64_t value) { return RlpItem(minimal_big_endian(value)); }

Bytes rlp_encode(const RlpItem& item) {
  Bytes out;
  encode_into(out, item);
  return out;
}

Result<RlpItem> rlp_decode(std::span<const std::uint8_t> encoded) {
  Decoder decoder(encoded);
  std::size_t pos = 0;
  auto item = decoder.item(pos, encoded.size(), 0);
  if (!item) return item;
  if (pos != encoded.size()) {
    return invalid(std::to_string(encoded.size() - pos) + " trailing bytes after the item", pos);
  }
  return item;
}

}  // namespace signerd::chains

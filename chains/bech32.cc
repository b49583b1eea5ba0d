#include "chains/bech32.h"

#include <algorithm>
#include <array>

namespace signerd::chains {
namespace {

constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr std::uint32_t kBech32Const = 1;
constexpr std::uint32_t kBech32mConst = 0x2bc830a3;
constexpr std::size_t kMaxLength = 90;

std::uint32_t polymod(std::span<const std::uint8_t> values) {
  constexpr std::array<std::uint32_t, 5> kGen = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3};
  std::uint32_t chk = 1;
  for (const std::uint8_t v : values) {
    const std::uint32_t top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (int i = 0; i < 5; ++i) {
      if ((top >> i) & 1) chk ^= kGen[static_cast<std::size_t>(i)];
    }
  }
  return chk;
}

// hrp expanded as BIP-173 specifies, followed by `data`.
std::vector<std::uint8_t> checksum_input(std::string_view hrp, std::span<const std::uint8_t> data) {
  std::vector<std::uint8_t> v;
  v.reserve(hrp.size() * 2 + 1 + data.size() + 6);
  for (const char c : hrp) v.push_back(static_cast<std::uint8_t>(static_cast<unsigned char>(c) >> 5));
  v.push_back(0);
  for (const char c : hrp) v.push_back(static_cast<std::uint8_t>(static_cast<unsigned char>(c) & 31));
  v.insert(v.end(), data.begin(), data.end());
  return v;
}

std::uint32_t variant_const(Bech32Variant variant) {
  return variant == Bech32Variant::kBech32 ? kBech32Const : kBech32mConst;
}

std::unexpected<Error> invalid(std::string_view text, const std::string& why) {
  return fail(ErrorCode::kInvalidArgument, "invalid bech32 string '" + std::string(text) + "': " + why);
}

}  // namespace

Result<std::string> bech32_encode(std::string_view hrp, std::span<const std::uint8_t> data5, Bech32Variant variant) {
  if (hrp.empty()) return fail(ErrorCode::kInvalidArgument, "bech32: empty human-readable part");
  for (const char c : hrp) {
    if (c < 33 || c > 126 || (c >= 'A' && c <= 'Z')) {
      return fail(ErrorCode::kInvalidArgument, "bech32: the human-readable part must be lower-case printable ASCII");
    }
  }
  if (std::any_of(data5.begin(), data5.end(), [](std::uint8_t v) { return v >= 32; })) {
    return fail(ErrorCode::kInvalidArgument, "bech32: a data value is not 5 bits");
  }
  if (hrp.size() + 1 + data5.size() + 6 > kMaxLength) {
    return fail(ErrorCode::kInvalidArgument, "bech32: the result would exceed 90 characters");
  }
  std::vector<std::uint8_t> values = checksum_input(hrp, data5);
  values.insert(values.end(), 6, 0);
  const std::uint32_t mod = polymod(values) ^ variant_const(variant);
  std::string out(hrp);
  out += '1';
  for (const std::uint8_t v : data5) out += kCharset[v];
  for (int i = 0; i < 6; ++i) out += kCharset[(mod >> (5 * (5 - i))) & 31];
  return out;
}

Result<Bech32Decoded> bech32_decode(std::string_view text) {
  if (text.size() > kMaxLength) return invalid(text, "longer than 90 characters");
  bool lower = false;
  bool upper = false;
  for (const char c : text) {
    if (c < 33 || c > 126) return invalid(text, "character outside printable ASCII");
    lower = lower || (c >= 'a' && c <= 'z');
    upper = upper || (c >= 'A' && c <= 'Z');
  }
  if (lower && upper) return invalid(text, "mixed case");
  const std::size_t sep = text.rfind('1');
  if (sep == std::string_view::npos) return invalid(text, "no separator '1'");
  if (sep == 0) return invalid(text, "empty human-readable part");
  if (text.size() - sep - 1 < 6) return invalid(text, "checksum shorter than 6 characters");

  Bech32Decoded out;
  out.hrp.reserve(sep);
  for (const char c : text.substr(0, sep)) out.hrp += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  std::vector<std::uint8_t> values;
  for (char c : text.substr(sep + 1)) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const std::size_t v = kCharset.find(c);
    if (v == std::string_view::npos) return invalid(text, std::string("character '") + c + "' is not in the alphabet");
    values.push_back(static_cast<std::uint8_t>(v));
  }
  const std::uint32_t check = polymod(checksum_input(out.hrp, values));
  if (check == kBech32Const) {
    out.variant = Bech32Variant::kBech32;
  } else if (check == kBech32mConst) {
    out.variant = Bech32Variant::kBech32m;
  } else {
    return invalid(text, "bad checksum");
  }
  values.resize(values.size() - 6);
  out.data = std::move(values);
  return out;
}

std::optional<std::vector<std::uint8_t>> convert_bits(std::span<const std::uint8_t> in, int from, int to, bool pad) {
  std::uint32_t acc = 0;
  int bits = 0;
  const std::uint32_t max = (1u << to) - 1;
  std::vector<std::uint8_t> out;
  for (const std::uint8_t v : in) {
    if ((v >> from) != 0) return std::nullopt;
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & max));
    }
    acc &= (1u << bits) - 1;  // keep only the bits not yet emitted
  }
  if (pad) {
    if (bits > 0) out.push_back(static_cast<std::uint8_t>((acc << (to - bits)) & max));
  } else if (bits >= from || ((acc << (to - bits)) & max) != 0) {
    return std::nullopt;
  }
  return out;
}

namespace {

std::optional<std::string> program_error(const WitnessProgram& p) {
  if (p.version < 0 || p.version > 16) return "witness version " + std::to_string(p.version) + " is not 0..16";
  if (p.program.size() < 2 || p.program.size() > 40) {
    return "witness program of " + std::to_string(p.program.size()) + " bytes is not 2..40";
  }
  if (p.version == 0 && p.program.size() != 20 && p.program.size() != 32) {
    return "a version 0 witness program must be 20 or 32 bytes, not " + std::to_string(p.program.size());
  }
  return std::nullopt;
}

}  // namespace

Result<std::string> segwit_address_encode(std::string_view hrp, const WitnessProgram& program) {
  if (auto why = program_error(program)) return fail(ErrorCode::kInvalidArgument, "segwit address: " + *why);
  std::vector<std::uint8_t> data5{static_cast<std::uint8_t>(program.version)};
  const auto regrouped = convert_bits(program.program, 8, 5, true);
  data5.insert(data5.end(), regrouped->begin(), regrouped->end());
  return bech32_encode(hrp, data5, program.version == 0 ? Bech32Variant::kBech32 : Bech32Variant::kBech32m);
}

Result<WitnessProgram> segwit_address_decode(std::string_view hrp, std::string_view address) {
  auto decoded = bech32_decode(address);
  if (!decoded) return std::unexpected(std::move(decoded.error()));
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidArgument, "invalid segwit address '" + std::string(address) + "': " + why);
  };
  if (decoded->hrp != hrp)
    return bad("human-readable part is '" + decoded->hrp + "', expected '" + std::string(hrp) + "'");
  if (decoded->data.empty()) return bad("empty data part");
  WitnessProgram out;
  out.version = decoded->data[0];
  const auto program = convert_bits(std::span(decoded->data).subspan(1), 5, 8, false);
  if (!program) return bad("bad padding in the 5-to-8 bit conversion");
  out.program = std::move(*program);
  if (auto why = program_error(out)) return bad(*why);
  const Bech32Variant expected = out.version == 0 ? Bech32Variant::kBech32 : Bech32Variant::kBech32m;
  if (decoded->variant != expected) {
    return bad(out.version == 0 ? "version 0 must use Bech32, not Bech32m"
                                : "versions 1..16 must use Bech32m, not Bech32");
  }
  return out;
}

}  // namespace signerd::chains

#include "chains/base58.h"

#include <algorithm>
#include <array>

#include "chains/hashes.h"

namespace signerd::chains {
namespace {

constexpr std::string_view kAlphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

std::array<std::uint8_t, 4> checksum(std::span<const std::uint8_t> payload) {
  const Hash256 h = sha256(sha256(payload));
  return {h[0], h[1], h[2], h[3]};
}

}  // namespace

std::string base58_encode(std::span<const std::uint8_t> bytes) {
  const std::size_t zeros = static_cast<std::size_t>(
      std::find_if(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b != 0; }) - bytes.begin());
  // Base-58 digits of the rest, least significant first; log(256)/log(58) < 1.37.
  std::vector<std::uint8_t> digits;
  digits.reserve((bytes.size() - zeros) * 137 / 100 + 1);
  for (std::size_t i = zeros; i < bytes.size(); ++i) {
    std::uint32_t carry = bytes[i];
    for (std::uint8_t& d : digits) {
      carry += static_cast<std::uint32_t>(d) << 8;
      d = static_cast<std::uint8_t>(carry % 58);
      carry /= 58;
    }
    for (; carry != 0; carry /= 58) digits.push_back(static_cast<std::uint8_t>(carry % 58));
  }
  std::string out(zeros, '1');
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) out += kAlphabet[*it];
  return out;
}

Result<Bytes> base58_decode(std::string_view text) {
  if (text.size() > kBase58MaxDecode) {
    return fail(ErrorCode::kInvalidArgument, "base58: input longer than " + std::to_string(kBase58MaxDecode));
  }
  const std::size_t ones =
      static_cast<std::size_t>(std::find_if(text.begin(), text.end(), [](char c) { return c != '1'; }) - text.begin());
  // Bytes of the rest, least significant first.
  Bytes bytes;
  for (std::size_t i = ones; i < text.size(); ++i) {
    const std::size_t value = kAlphabet.find(text[i]);
    if (value == std::string_view::npos) {
      return fail(ErrorCode::kInvalidArgument,
                  "base58: character at offset " + std::to_string(i) + " is not in the alphabet");
    }
    std::uint32_t carry = static_cast<std::uint32_t>(value);
    for (std::uint8_t& b : bytes) {
      carry += static_cast<std::uint32_t>(b) * 58;
      b = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    for (; carry != 0; carry >>= 8) bytes.push_back(static_cast<std::uint8_t>(carry & 0xff));
  }
  Bytes out(ones, 0);
  out.insert(out.end(), bytes.rbegin(), bytes.rend());
  return out;
}

std::string base58check_encode(std::span<const std::uint8_t> payload) {
  Bytes data(payload.begin(), payload.end());
  const auto sum = checksum(payload);
  data.insert(data.end(), sum.begin(), sum.end());
  return base58_encode(data);
}

Result<Bytes> base58check_decode(std::string_view text) {
  auto data = base58_decode(text);
  if (!data) return data;
  if (data->size() < 4) return fail(ErrorCode::kInvalidArgument, "base58check: shorter than its 4-byte checksum");
  const std::span<const std::uint8_t> payload(data->data(), data->size() - 4);
  const auto sum = checksum(payload);
  if (!std::equal(sum.begin(), sum.end(), data->end() - 4)) {
    return fail(ErrorCode::kInvalidArgument, "base58check: checksum mismatch");
  }
  data->resize(data->size() - 4);
  return data;
}

}  // namespace signerd::chains

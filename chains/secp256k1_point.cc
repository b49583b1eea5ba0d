#include "chains/secp256k1_point.h"

#include <secp256k1.h>

#include <string>

namespace signerd::chains {
namespace {

template <std::size_t N>
Result<std::array<std::uint8_t, N>> reserialize(std::span<const std::uint8_t> sec1, unsigned int flags) {
  const bool compressed = sec1.size() == 33 && (sec1[0] == 0x02 || sec1[0] == 0x03);
  const bool uncompressed = sec1.size() == 65 && sec1[0] == 0x04;
  if (!compressed && !uncompressed) {
    return fail(ErrorCode::kInvalidArgument,
                "a secp256k1 public key must be SEC1, 33 bytes (02/03 prefix) or 65 bytes (04 prefix); got " +
                    std::to_string(sec1.size()) + " bytes");
  }
  secp256k1_pubkey point;
  if (!secp256k1_ec_pubkey_parse(secp256k1_context_static, &point, sec1.data(), sec1.size())) {
    return fail(ErrorCode::kInvalidArgument, "the secp256k1 public key is not a point on the curve");
  }
  std::array<std::uint8_t, N> out{};
  std::size_t len = out.size();
  secp256k1_ec_pubkey_serialize(secp256k1_context_static, out.data(), &len, &point, flags);
  return out;
}

}  // namespace

Result<Secp256k1Compressed> secp256k1_compressed(std::span<const std::uint8_t> sec1) {
  return reserialize<33>(sec1, SECP256K1_EC_COMPRESSED);
}

Result<Secp256k1Uncompressed> secp256k1_uncompressed(std::span<const std::uint8_t> sec1) {
  return reserialize<65>(sec1, SECP256K1_EC_UNCOMPRESSED);
}

}  // namespace signerd::chains

#include "chains/hashes.h"

#include <cryptopp/keccak.h>
#include <cryptopp/ripemd.h>
#include <openssl/sha.h>

namespace signerd::chains {

Hash256 keccak256(std::span<const std::uint8_t> data) {
  static_assert(CryptoPP::Keccak_256::DIGESTSIZE == 32);
  Hash256 out{};
  CryptoPP::Keccak_256 h;  // per call: Crypto++ hash objects are not thread-safe
  h.CalculateDigest(out.data(), data.data(), data.size());
  return out;
}

Hash256 sha256(std::span<const std::uint8_t> data) {
  Hash256 out{};
  SHA256(data.data(), data.size(), out.data());
  return out;
}

Hash160 ripemd160(std::span<const std::uint8_t> data) {
  static_assert(CryptoPP::RIPEMD160::DIGESTSIZE == 20);
  Hash160 out{};
  CryptoPP::RIPEMD160 h;
  h.CalculateDigest(out.data(), data.data(), data.size());
  return out;
}

Hash160 hash160(std::span<const std::uint8_t> data) { return ripemd160(sha256(data)); }

}  // namespace signerd::chains

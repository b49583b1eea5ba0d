#include "common/ids.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace signerd {
namespace {

constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
constexpr int kRandomChars = 26;

bool is_group(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

}  // namespace

std::string make_entity_id(std::string_view prefix) {
  std::string chars;
  chars.reserve(kRandomChars);
  std::array<std::uint8_t, 64> pool{};
  while (chars.size() < kRandomChars) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1) {
      throw std::runtime_error("the system random number generator failed");
    }
    for (std::uint8_t b : pool) {
      if (b >= 252) continue;  // rejection sampling keeps the 36 symbols uniform (252 = 7 * 36)
      chars += kAlphabet[b % 36];
      if (chars.size() == kRandomChars) break;
    }
  }
  std::string id(prefix);
  id += '-';
  id += chars.substr(0, 5);
  id += '-';
  id += chars.substr(5, 5);
  id += '-';
  id += chars.substr(10, 16);
  return id;
}

bool is_entity_id(std::string_view id, std::string_view prefix) {
  if (!id.starts_with(prefix) || id.size() <= prefix.size() || id[prefix.size()] != '-') return false;
  id.remove_prefix(prefix.size() + 1);
  if (id.size() < 5 + 1 + 5 + 1 + 14 || id.size() > 5 + 1 + 5 + 1 + 16) return false;
  if (id[5] != '-' || id[11] != '-') return false;
  return is_group(id.substr(0, 5)) && is_group(id.substr(6, 5)) && is_group(id.substr(12));
}

}  // namespace signerd

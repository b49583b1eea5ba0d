#include "common/ids.h"

#include <openssl/rand.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace signerd {
namespace {

constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
constexpr std::size_t kRandomChars = 26;
constexpr std::size_t kTimeChars = 9;  // milliseconds since 1970 in base 36: 36^9 ms is about 3,300 years

bool is_group(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

// Appends `count` uniformly random base-36 characters to `chars`.
void append_random(std::string& chars, std::size_t count) {
  const std::size_t want = chars.size() + count;
  std::array<std::uint8_t, 64> pool{};
  while (chars.size() < want) {
    if (RAND_bytes(pool.data(), static_cast<int>(pool.size())) != 1) {
      throw std::runtime_error("the system random number generator failed");
    }
    for (std::uint8_t b : pool) {
      if (b >= 252) continue;  // rejection sampling keeps the 36 symbols uniform (252 = 7 * 36)
      chars += kAlphabet[b % 36];
      if (chars.size() == want) break;
    }
  }
}

std::string format_id(std::string_view prefix, std::string_view chars) {
  std::string id(prefix);
  id += '-';
  id += chars.substr(0, 5);
  id += '-';
  id += chars.substr(5, 5);
  id += '-';
  id += chars.substr(10, 16);
  return id;
}

}  // namespace

std::string make_entity_id(std::string_view prefix) {
  std::string chars;
  chars.reserve(kRandomChars);
  append_random(chars, kRandomChars);
  return format_id(prefix, chars);
}

std::string make_ordered_entity_id(std::string_view prefix) {
  using namespace std::chrono;
  auto ms = static_cast<std::uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
  std::string chars(kTimeChars, '0');
  for (std::size_t i = kTimeChars; i-- > 0 && ms > 0; ms /= 36) chars[i] = kAlphabet[ms % 36];
  append_random(chars, kRandomChars - kTimeChars);
  return format_id(prefix, chars);
}

bool is_entity_id(std::string_view id, std::string_view prefix) {
  if (!id.starts_with(prefix) || id.size() <= prefix.size() || id[prefix.size()] != '-') return false;
  id.remove_prefix(prefix.size() + 1);
  if (id.size() < 5 + 1 + 5 + 1 + 14 || id.size() > 5 + 1 + 5 + 1 + 16) return false;
  if (id[5] != '-' || id[11] != '-') return false;
  return is_group(id.substr(0, 5)) && is_group(id.substr(6, 5)) && is_group(id.substr(12));
}

}  // namespace signerd

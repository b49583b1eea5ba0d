#include "smart/amount.h"

#include <algorithm>

namespace signerd::smart {

Result<std::string> parse_amount(std::string_view text, std::string_view field) {
  const std::string name(field);
  if (text.empty()) return fail(ErrorCode::kInvalidArgument, name + " must not be empty");
  if (text.front() == '-') return fail(ErrorCode::kInvalidArgument, name + " must not be negative");
  if (text.front() == '+') return fail(ErrorCode::kInvalidArgument, name + " must be digits only, without a sign");
  for (char c : text) {
    if (c == '.' || c == ',') {
      return fail(ErrorCode::kInvalidArgument,
                  name + " must be a whole number of the token's smallest unit (no fraction)");
    }
    if (c < '0' || c > '9') {
      return fail(ErrorCode::kInvalidArgument, name + " must be a decimal integer string (digits 0-9 only)");
    }
  }
  if (text.size() > 1 && text.front() == '0') {
    return fail(ErrorCode::kInvalidArgument, name + " must not have leading zeros");
  }
  if (compare_amounts(text, kMaxUint256) > 0) {
    return fail(ErrorCode::kInvalidArgument, name + " must not exceed 2^256 - 1");
  }
  return std::string(text);
}

int compare_amounts(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

Result<std::string> add_amounts(std::string_view a, std::string_view b) {
  std::string out;
  out.reserve(std::max(a.size(), b.size()) + 1);
  int carry = 0;
  for (std::size_t i = 0; i < std::max(a.size(), b.size()) || carry; ++i) {
    int digit = carry;
    if (i < a.size()) digit += a[a.size() - 1 - i] - '0';
    if (i < b.size()) digit += b[b.size() - 1 - i] - '0';
    out.push_back(static_cast<char>('0' + digit % 10));
    carry = digit / 10;
  }
  std::reverse(out.begin(), out.end());
  if (compare_amounts(out, kMaxUint256) > 0) {
    return fail(ErrorCode::kInvalidArgument, "the sum would exceed 2^256 - 1");
  }
  return out;
}

Result<std::string> subtract_amounts(std::string_view a, std::string_view b) {
  if (compare_amounts(a, b) < 0) return fail(ErrorCode::kInvalidArgument, "the difference would be negative");
  std::string out;
  out.reserve(a.size());
  int borrow = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    int digit = (a[a.size() - 1 - i] - '0') - borrow;
    if (i < b.size()) digit -= b[b.size() - 1 - i] - '0';
    borrow = digit < 0 ? 1 : 0;
    out.push_back(static_cast<char>('0' + digit + 10 * borrow));
  }
  while (out.size() > 1 && out.back() == '0') out.pop_back();
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace signerd::smart

#pragma once
// Token amounts in the smallest unit, as decimal strings: no floating point anywhere. An amount is a canonical
// non-negative integer below 2^256 (a uint256), written without sign, leading zeros, fraction or exponent ("0" is
// zero). Pure and thread-safe.
#include <string>
#include <string_view>

#include "common/error.h"

namespace signerd::smart {

// 2^256 - 1 in decimal.
inline constexpr std::string_view kMaxUint256 =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";

// The canonical form of `text`, or kInvalidArgument naming `field` and the problem: empty, a sign, a fraction, an
// exponent, another non-digit, a leading zero (other than "0" itself), or a value above 2^256 - 1.
Result<std::string> parse_amount(std::string_view text, std::string_view field = "amount");

// a + b for canonical amounts; kInvalidArgument when the sum exceeds 2^256 - 1.
Result<std::string> add_amounts(std::string_view a, std::string_view b);

// a - b for canonical amounts with a >= b (asserted by the kInvalidArgument it returns otherwise).
Result<std::string> subtract_amounts(std::string_view a, std::string_view b);

// <0, 0, >0 as a is less than, equal to or greater than b (canonical amounts).
int compare_amounts(std::string_view a, std::string_view b);

}  // namespace signerd::smart

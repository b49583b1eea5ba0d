#include "smart/app_signature.h"

#include <openssl/crypto.h>

#include <cstdio>
#include <ctime>

namespace signerd::smart {
namespace {

constexpr std::int64_t kNanos = 1'000'000'000;

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

Error unauthenticated(std::string message) { return Error{ErrorCode::kUnauthenticated, std::move(message), {}}; }

}  // namespace

std::string signing_string(std::string_view timestamp, std::string_view method, std::string_view target,
                           std::string_view body) {
  std::string out;
  out.reserve(timestamp.size() + method.size() + target.size() + body.size() + 3);
  out.append(timestamp).append("\n").append(method).append("\n").append(target).append("\n").append(body);
  return out;
}

std::optional<std::int64_t> parse_rfc3339_ns(std::string_view s) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) || s[7] != '-' ||
      !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, hour) ||
      s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t fraction_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t begin = pos;
    std::int64_t scale = kNanos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (pos - begin < 9) {
        scale /= 10;
        fraction_ns += (s[pos] - '0') * scale;
      }
      ++pos;
    }
    if (pos == begin || pos - begin > 18) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  std::int64_t offset_s = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_s = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                               std::min(second, 59) - offset_s;
  return seconds * kNanos + fraction_ns;
}

std::string format_rfc3339_ns(std::int64_t unix_ns) {
  std::int64_t seconds = unix_ns / kNanos;
  std::int64_t nanos = unix_ns % kNanos;
  if (nanos < 0) {
    nanos += kNanos;
    --seconds;
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(nanos));
  return buf;
}

Result<void> AppSignatureVerifier::verify(const AppRequest& r, std::int64_t now_ns, const Mac& mac,
                                          const Remember& remember) {
  if (r.app_id.empty()) return std::unexpected(unauthenticated("the X-APP-ID header is required"));
  if (r.timestamp.empty()) return std::unexpected(unauthenticated("the X-TIMESTAMP header is required"));
  if (r.signature.empty()) return std::unexpected(unauthenticated("the X-SIGNATURE header is required"));
  if (r.app_id.size() > 64) return std::unexpected(unauthenticated("X-APP-ID is not an application id"));
  const auto at = parse_rfc3339_ns(r.timestamp);
  if (!at) return std::unexpected(unauthenticated("X-TIMESTAMP must be an RFC 3339 date-time"));
  const std::int64_t window_ns = window_.count() * kNanos;
  if (*at > now_ns + window_ns || *at < now_ns - window_ns) {
    return std::unexpected(unauthenticated("X-TIMESTAMP is more than " + std::to_string(window_.count()) +
                                           " s away from the server's clock"));
  }
  std::string signature(r.signature);
  for (char& c : signature) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  const auto provided = from_hex(signature);
  if (signature.size() != 64 || signature.starts_with("0x") || !provided) {
    return std::unexpected(unauthenticated("X-SIGNATURE must be 64 hex digits (HMAC-SHA256)"));
  }
  const std::string message = signing_string(r.timestamp, r.method, r.target, r.body);
  auto expected = mac(r.app_id, as_bytes(message));
  if (!expected) {
    if (expected.error().code == ErrorCode::kNotFound) {
      return std::unexpected(unauthenticated("X-APP-ID names no application"));
    }
    return std::unexpected(expected.error());
  }
  if (expected->size() != provided->size() ||
      CRYPTO_memcmp(expected->data(), provided->data(), provided->size()) != 0) {
    return std::unexpected(unauthenticated("X-SIGNATURE does not verify"));
  }

  const std::int64_t forget_after = *at + window_ns;
  auto key = std::pair{std::string(r.app_id), std::move(signature)};
  {
    std::lock_guard lock(mutex_);
    while (!expiry_.empty() && expiry_.begin()->first < now_ns) {
      seen_.erase(expiry_.begin()->second);
      expiry_.erase(expiry_.begin());
    }
    if (seen_.contains(key)) return std::unexpected(unauthenticated("this request was already received (replay)"));
    if (seen_.size() >= max_remembered_) {
      return fail(ErrorCode::kResourceExhausted, "too many signed requests in the last " +
                                                     std::to_string(window_.count()) + " s; retry later");
    }
    seen_.emplace(key, forget_after);
    expiry_.emplace(forget_after, key);
  }
  if (!remember) return {};
  // Outside the lock: a durable write. The memory entry above already refuses a concurrent duplicate.
  auto recorded = remember(key.first, key.second, forget_after);
  if (recorded && *recorded) return {};
  {
    std::lock_guard lock(mutex_);
    if (!recorded) {  // not remembered anywhere: the same request may be sent again
      seen_.erase(key);
      for (auto [it, end] = expiry_.equal_range(forget_after); it != end; ++it) {
        if (it->second == key) {
          expiry_.erase(it);
          break;
        }
      }
    }
  }
  if (!recorded) return std::unexpected(recorded.error());
  return std::unexpected(unauthenticated("this request was already received (replay)"));
}

}  // namespace signerd::smart

#pragma once
// The request signature of smart-account applications (../shared/reference/smart-accounts.md):
//   X-SIGNATURE = lowercase hex of HMAC-SHA256(app secret,
//                 X-TIMESTAMP + "\n" + method + "\n" + request target (path and query, as sent) + "\n" + raw body)
// A request is refused (kUnauthenticated, 401) when a header is missing or malformed, its X-TIMESTAMP (RFC 3339) is
// more than the window (300 s) from the daemon's clock, the signature does not verify, or the same (app id,
// signature) was already accepted inside the window (a replay).
//
// The HMAC itself is computed by whoever holds the app's key (the HSM in signerd), through `Mac` below, so the
// secret never has to be in this process. Thread-safety: AppSignatureVerifier may be used from many threads.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/error.h"
#include "common/hex.h"

namespace signerd::smart {

// What the signature covers, with the headers as received (absent ones empty).
struct AppRequest {
  std::string_view app_id;     // X-APP-ID
  std::string_view timestamp;  // X-TIMESTAMP
  std::string_view signature;  // X-SIGNATURE
  std::string_view method;     // "POST"
  std::string_view target;     // "/api/v1/smart-account?owner=0x…", as sent
  std::string_view body;       // raw bytes
};

// timestamp + "\n" + method + "\n" + target + "\n" + body.
std::string signing_string(std::string_view timestamp, std::string_view method, std::string_view target,
                           std::string_view body);

// RFC 3339 date-time ("2025-01-02T03:04:05Z", fractional seconds and "+hh:mm"/"-hh:mm" offsets allowed; "t"/"z"
// and a space separator as RFC 3339 permits) as nanoseconds since the Unix epoch; nullopt when malformed.
std::optional<std::int64_t> parse_rfc3339_ns(std::string_view text);

// RFC 3339 in UTC with nanoseconds: "2025-01-02T03:04:05.123456789Z".
std::string format_rfc3339_ns(std::int64_t unix_ns);

// Computes HMAC-SHA256 with the key of `app_id` over `message`. kNotFound when there is no such app.
using Mac = std::function<Result<Bytes>(std::string_view app_id, std::span<const std::uint8_t> message)>;

// Records an accepted (app id, lowercase signature) durably until `forget_after_ns`: true when it was new, false when
// it was already recorded (a replay from before a restart). Errors pass through.
using Remember = std::function<Result<bool>(std::string_view app_id, std::string_view signature,
                                            std::int64_t forget_after_ns)>;

class AppSignatureVerifier {
 public:
  explicit AppSignatureVerifier(std::chrono::seconds window = std::chrono::seconds(300),
                                std::size_t max_remembered = 1 << 20)
      : window_(window), max_remembered_(max_remembered) {}

  // Checks `request` at `now_ns` (Unix nanoseconds) and, when it is good, remembers its signature so the same
  // request is refused until its timestamp leaves the window: in memory, and through `remember` (when given) in
  // storage that survives a restart. Errors are kUnauthenticated with a message that says which check failed
  // (never the expected signature); kResourceExhausted when too many signatures are remembered; kUnavailable and
  // kInternal pass through from `mac` and `remember` (the request is then not remembered, so it may be retried).
  Result<void> verify(const AppRequest& request, std::int64_t now_ns, const Mac& mac,
                      const Remember& remember = nullptr);

  std::chrono::seconds window() const { return window_; }

 private:
  const std::chrono::seconds window_;
  const std::size_t max_remembered_;
  std::mutex mutex_;
  // (app id, lowercase signature) -> Unix ns after which the timestamp check alone refuses it; guarded by mutex_.
  std::map<std::pair<std::string, std::string>, std::int64_t> seen_;
  std::multimap<std::int64_t, std::pair<std::string, std::string>> expiry_;  // guarded by mutex_
};

}  // namespace signerd::smart

#include "common/time_format.h"

#include <ctime>

#include <fmt/format.h>

namespace signerd {

std::string format_iso8601(Timestamp t) {
  const auto ms = to_unix_millis(t);
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

std::int64_t to_unix_millis(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Timestamp from_unix_millis(std::int64_t ms) { return Timestamp(std::chrono::milliseconds(ms)); }

}  // namespace signerd

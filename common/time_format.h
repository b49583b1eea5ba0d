#pragma once
#include <chrono>
#include <string>

namespace signerd {

using Timestamp = std::chrono::system_clock::time_point;

// ISO 8601 in UTC with milliseconds, as Dfns dates are written: "2023-04-14T20:41:28.715Z".
std::string format_iso8601(Timestamp t);

// Milliseconds since the Unix epoch, as the store keeps times.
std::int64_t to_unix_millis(Timestamp t);
Timestamp from_unix_millis(std::int64_t ms);

}  // namespace signerd

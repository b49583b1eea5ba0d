#pragma once
// Latency samples and their summary, shared by the benchmark tools. Not thread-safe: each worker thread records into
// its own vector and the vectors are merged after the threads have joined, so recording costs one push_back.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace signerd::bench {

struct LatencySummary {
  std::size_t count = 0;
  double mean_us = 0;
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double max_us = 0;
};

// Nearest-rank percentile of a sorted, non-empty sample set: the smallest sample with at least q of all samples at
// or below it.
inline std::int64_t nearest_rank(const std::vector<std::int64_t>& sorted, double q) {
  const auto n = sorted.size();
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
  rank = std::clamp<std::size_t>(rank, 1, n);
  return sorted[rank - 1];
}

// Summarises per-request latencies given in nanoseconds. Takes the samples by value because it sorts them.
inline LatencySummary summarize(std::vector<std::int64_t> samples_ns) {
  LatencySummary s;
  s.count = samples_ns.size();
  if (samples_ns.empty()) return s;
  std::sort(samples_ns.begin(), samples_ns.end());
  double sum = 0;
  for (auto v : samples_ns) sum += static_cast<double>(v);
  constexpr double kNsPerUs = 1000.0;
  s.mean_us = sum / static_cast<double>(s.count) / kNsPerUs;
  s.p50_us = static_cast<double>(nearest_rank(samples_ns, 0.50)) / kNsPerUs;
  s.p90_us = static_cast<double>(nearest_rank(samples_ns, 0.90)) / kNsPerUs;
  s.p99_us = static_cast<double>(nearest_rank(samples_ns, 0.99)) / kNsPerUs;
  s.max_us = static_cast<double>(samples_ns.back()) / kNsPerUs;
  return s;
}

// A number with a fixed count of decimals, as JSON and the human lines print it.
inline std::string fixed(double v, int decimals = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// A JSON string literal; the tools only quote names they chose or short server messages.
inline std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace signerd::bench

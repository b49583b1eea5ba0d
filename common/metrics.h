#pragma once
// signerd's metrics: counters, gauges and histograms with labels, rendered in Prometheus's text exposition format
// (version 0.0.4) for GET /metrics. Written here because Debian 12 packages no Prometheus client library.
//
// Thread-safety: every member function may be called from any thread. Recording takes one mutex and updates a map
// entry: cheap next to an HSM operation or a request. Label values must be bounded sets (routes as templates, curve
// names, status codes, PKCS#11 return code names): never ids or user input.
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace signerd::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Registry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  // Declares a metric (its HELP and TYPE lines). Recording into an undeclared name declares it without help.
  void describe(std::string_view name, Type type, std::string_view help,
                std::vector<double> buckets = {});

  void add(std::string_view name, const Labels& labels, double by = 1);     // counters
  void set(std::string_view name, const Labels& labels, double value);      // gauges
  void observe(std::string_view name, const Labels& labels, double value);  // histograms

  // A function run at the start of render(), to set gauges from state that is cheaper to read than to track.
  void add_collector(std::function<void(Registry&)> collector);

  std::string render();

 private:
  struct Series {
    double value = 0;                   // counters and gauges
    std::vector<std::uint64_t> counts;  // histograms: per bucket (cumulated on render)
    std::uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, Series> series;  // key: rendered labels
  };
  Family& family(std::string_view name, Type type);

  std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;          // guarded by mutex_
  std::vector<std::function<void(Registry&)>> collectors_;      // guarded by mutex_
};

// The process's registry.
Registry& registry();

// Default latency buckets in seconds: 100 µs to 10 s.
std::vector<double> latency_buckets();

}  // namespace signerd::metrics

#include "common/metrics.h"

#include <cmath>
#include <sstream>

#include <fmt/format.h>

namespace signerd::metrics {
namespace {

std::string escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string render_labels(const Labels& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) out += ',';
    out += k;
    out += "=\"";
    out += escape(v);
    out += '"';
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string with_label(const std::string& labels, std::string_view extra) {
  if (labels.empty()) return std::string(extra);
  return labels + "," + std::string(extra);
}

}  // namespace

Registry& registry() {
  static Registry r;
  return r;
}

std::vector<double> latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
}

Registry::Family& Registry::family(std::string_view name, Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family f;
    f.type = type;
    if (type == Type::kHistogram) f.buckets = latency_buckets();
    it = families_.emplace(std::string(name), std::move(f)).first;
  }
  return it->second;
}

void Registry::describe(std::string_view name, Type type, std::string_view help, std::vector<double> buckets) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, type);
  f.type = type;
  f.help = help;
  if (!buckets.empty()) f.buckets = std::move(buckets);
}

void Registry::add(std::string_view name, const Labels& labels, double by) {
  std::lock_guard lock(mutex_);
  family(name, Type::kCounter).series[render_labels(labels)].value += by;
}

void Registry::set(std::string_view name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  family(name, Type::kGauge).series[render_labels(labels)].value = value;
}

void Registry::observe(std::string_view name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, Type::kHistogram);
  Series& s = f.series[render_labels(labels)];
  if (s.counts.empty()) s.counts.assign(f.buckets.size(), 0);
  for (std::size_t i = 0; i < f.buckets.size(); ++i) {
    if (value <= f.buckets[i]) {
      ++s.counts[i];
      break;
    }
  }
  ++s.count;
  s.sum += value;
}

void Registry::add_collector(std::function<void(Registry&)> collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::render() {
  std::vector<std::function<void(Registry&)>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c(*this);

  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " +
           (f.type == Type::kCounter ? "counter" : f.type == Type::kGauge ? "gauge" : "histogram") + "\n";
    for (const auto& [labels, s] : f.series) {
      if (f.type != Type::kHistogram) {
        out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(s.value) + "\n";
        continue;
      }
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < f.buckets.size(); ++i) {
        cumulative += s.counts[i];
        out += name + "_bucket{" + with_label(labels, "le=\"" + number(f.buckets[i]) + "\"") + "} " +
               std::to_string(cumulative) + "\n";
      }
      out += name + "_bucket{" + with_label(labels, "le=\"+Inf\"") + "} " + std::to_string(s.count) + "\n";
      out += name + "_sum" + (labels.empty() ? "" : "{" + labels + "}") + " " + number(s.sum) + "\n";
      out += name + "_count" + (labels.empty() ? "" : "{" + labels + "}") + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

}  // namespace signerd::metrics

#include "common/log.h"

#include <spdlog/spdlog.h>

#include <string>

namespace signerd {
namespace {

// Not registered with spdlog: spdlog::set_level() and friends then leave the components' levels alone.
using Loggers = std::array<std::shared_ptr<spdlog::logger>, kLogComponents.size()>;

Loggers& loggers() {
  static Loggers all = [] {
    Loggers made;
    const auto base = spdlog::default_logger();
    for (std::size_t i = 0; i < kLogComponents.size(); ++i) {
      made[i] = std::make_shared<spdlog::logger>(std::string(log_component_name(kLogComponents[i])),
                                                 base->sinks().begin(), base->sinks().end());
      made[i]->set_level(base->level());
    }
    return made;
  }();
  return all;
}

}  // namespace

spdlog::logger& log(LogComponent c) { return *loggers()[static_cast<std::size_t>(c)]; }

void install_log_sinks(std::shared_ptr<spdlog::logger> base) {
  for (auto& logger : loggers()) logger->sinks() = base->sinks();
  spdlog::set_default_logger(std::move(base));
}

}  // namespace signerd

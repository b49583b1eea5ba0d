#include "common/log.h"

#include <spdlog/spdlog.h>

#include <algorithm>
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

namespace signerd {

std::string log_quoted(std::string_view text, std::size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 8);
  std::size_t taken = 0;
  for (const char c : text) {
    if (taken == max_bytes) {
      out += "...";
      break;
    }
    ++taken;
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace signerd

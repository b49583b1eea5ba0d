#pragma once
// Per-component logging: one spdlog logger per component of signerd, each with its own level, all writing through
// the default logger's sinks (so one stream and one pattern). Lines stay key=value: "request method=GET path=/keys".
// config [log] components = { server = "warn", ... } sets a component's level; the others follow log.level.
//
// The names below are what the configuration accepts. log() needs the signerd_log library (and spdlog's headers to
// call the logger); the names do not.
//
// Thread-safety: log() may be called from any thread; install_log_sinks() and level changes are for start-up and
// the SIGHUP handler (spdlog's own level setting is atomic, so a change races benignly with logging threads).
#include <spdlog/fwd.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace signerd {

enum class LogComponent { kHsm, kStore, kApi, kServer, kIdentity };

inline constexpr std::array<LogComponent, 5> kLogComponents{
    LogComponent::kHsm, LogComponent::kStore, LogComponent::kApi, LogComponent::kServer, LogComponent::kIdentity};

// "hsm", "store", "api", "server", "identity": the spdlog logger's name and the key in [log] components.
constexpr std::string_view log_component_name(LogComponent c) {
  switch (c) {
    case LogComponent::kHsm: return "hsm";
    case LogComponent::kStore: return "store";
    case LogComponent::kApi: return "api";
    case LogComponent::kServer: return "server";
    case LogComponent::kIdentity: return "identity";
  }
  return "unknown";
}

constexpr std::optional<LogComponent> log_component_named(std::string_view name) {
  for (auto c : kLogComponents) {
    if (log_component_name(c) == name) return c;
  }
  return std::nullopt;
}

// `text` made safe to put between the quotes of a key="value" log field: quotes, backslashes and control
// characters escaped (\", \\, \n, \xNN), and cut to `max_bytes` with "..." appended. For values a client chose
// (an error's reason that quotes a credential id or a path), so that no one can forge a line or a field.
std::string log_quoted(std::string_view text, std::size_t max_bytes = 256);

// The component's logger. Until install_log_sinks() it writes where spdlog's default logger wrote when it was first
// asked for; its level starts as the default logger's.
spdlog::logger& log(LogComponent c);

// Makes `base` spdlog's default logger and points every component logger at its sinks. Call at start-up, before
// other threads log.
void install_log_sinks(std::shared_ptr<spdlog::logger> base);

}  // namespace signerd

#pragma once
// signerctl apps: smart-account applications (the apps that sign POST /api/v1/smart-account requests with
// X-APP-ID / X-TIMESTAMP / X-SIGNATURE). For the local administrator over the Unix socket.
#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "cli/api_call.h"

namespace signerd::cli {

struct AppsCommands {
  CLI::App* create = nullptr;
  std::string name;
  std::string secret_out;
};

// Adds `apps create --name N [--secret-out FILE]` to `app`.
void add_apps_commands(CLI::App& app, AppsCommands& commands);

// Runs the parsed apps command; nullopt when none was given.
std::optional<int> run_apps_commands(const DaemonContext& ctx, const AppsCommands& commands);

}  // namespace signerd::cli

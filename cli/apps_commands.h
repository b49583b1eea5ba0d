#pragma once
// signerctl apps: smart-account applications (the apps that sign POST /api/v1/smart-account requests with
// X-APP-ID / X-TIMESTAMP / X-SIGNATURE): create, list, revoke. For the local administrator over the Unix socket;
// over --url the daemon refuses them (401 without a token, 403 with one: exit 6).
#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "cli/api_call.h"

namespace signerd::cli {

struct AppsCommands {
  CLI::App* create = nullptr;
  CLI::App* list = nullptr;
  CLI::App* revoke = nullptr;
  // create
  std::string name;
  std::string secret_out;
  // list; an option given is one whose count() is not 0
  unsigned limit = 0;
  CLI::Option* limit_option = nullptr;
  std::string page_token;
  CLI::Option* page_token_option = nullptr;
  bool all = false;
  // revoke
  std::string app_id;
};

// Adds `apps create --name N [--secret-out FILE]`, `apps list [--limit N] [--page-token T] [--all]` and
// `apps revoke APP_ID` to `app`.
void add_apps_commands(CLI::App& app, AppsCommands& commands);

// Runs the parsed apps command; nullopt when none was given.
std::optional<int> run_apps_commands(const DaemonContext& ctx, const AppsCommands& commands);

}  // namespace signerd::cli

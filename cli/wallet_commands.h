#pragma once
// signerctl wallets: create, list, read and delegate wallets (a key's address on one network, dfns-api.md §3). Each
// prints its result to stdout (the daemon's JSON as is with --json, readable lines otherwise), errors to stderr, and
// returns an exit code from cli/exit_codes.h. Over --url a change is signed with the token's credential (user-action
// signing, api_call.h send()).
#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "cli/api_call.h"

namespace signerd::cli {

struct WalletsCommands {
  CLI::App* create = nullptr;
  CLI::App* list = nullptr;
  CLI::App* get = nullptr;
  CLI::App* delegate = nullptr;
  // create; an option given is one whose count() is not 0
  std::string network;
  std::string name;
  CLI::Option* name_option = nullptr;
  std::string key_id;
  CLI::Option* key_id_option = nullptr;
  bool delay_delegation = false;
  std::vector<std::string> tags;
  // list
  unsigned limit = 0;
  CLI::Option* limit_option = nullptr;
  std::string page_token;
  CLI::Option* page_token_option = nullptr;
  bool all = false;
  std::string owner;
  CLI::Option* owner_option = nullptr;
  // get, delegate
  std::string wallet_id;
  std::string user_id;
};

// Adds `wallets create|list|get|delegate` to `app`.
void add_wallets_commands(CLI::App& app, WalletsCommands& commands);

// Runs the parsed wallets command; nullopt when none was given.
std::optional<int> run_wallets_commands(const DaemonContext& ctx, const WalletsCommands& commands);

}  // namespace signerd::cli

#pragma once
// The signerctl commands for keys and the daemon's health. Each prints its result to stdout (the daemon's
// JSON as is with `json`, readable lines otherwise), errors to stderr (the daemon's error.message), and returns an
// exit code from cli/exit_codes.h.
#include <optional>
#include <string>

#include "cli/api_call.h"

namespace signerd::cli {

// GET /healthz, then GET /readyz when the daemon has it (404: not reported).
int run_status(const DaemonContext& ctx);

int run_keys_create(const DaemonContext& ctx, const std::string& scheme, const std::string& curve,
                    const std::optional<std::string>& name);

// One page (limit and page_token when set), or every page with `all` (then --json prints {"items":[...]}).
int run_keys_list(const DaemonContext& ctx, std::optional<unsigned> limit, const std::optional<std::string>& page_token,
                  bool all);

int run_keys_get(const DaemonContext& ctx, const std::string& key_id);

// nullopt clears the name.
int run_keys_rename(const DaemonContext& ctx, const std::string& key_id, const std::optional<std::string>& name);

int run_keys_archive(const DaemonContext& ctx, const std::string& key_id);

struct SignArgs {
  std::string key_id;
  bool is_hash = true;  // kind Hash (payload is the 32-byte digest) or Message
  std::string payload;  // hex, as given; the daemon validates it
  std::optional<std::string> external_id;
};
int run_keys_sign(const DaemonContext& ctx, const SignArgs& args);

}  // namespace signerd::cli

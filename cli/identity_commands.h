#pragma once
// The signerctl commands for the daemon's identities (dfns-api.md §1): service accounts, users, permissions and
// their assignments. Each prints its result (the daemon's JSON as is with `json`, readable lines otherwise), errors
// to stderr, and returns an exit code from cli/exit_codes.h.
//
// Over the Unix socket the caller is the local administrator (an OS user in auth.unix_allowed_uids, no token). Over
// TCP a token holder may do what its permissions allow, and signs every change with its credential (user-action
// signing, api_call.h send()); without --cred-id and --credential-key-file a change stops with kExitUsage before
// anything is sent.
#include <optional>
#include <string>
#include <vector>

#include "cli/api_call.h"

namespace signerd::cli {

struct ServiceAccountCreateArgs {
  std::string name;
  std::string public_key_file;  // PEM; a private key is refused before anything is sent
  bool admin = false;           // assign the built-in "Admin" permission (looked up by name)
  std::optional<std::string> permission_id;
  std::optional<int> days_valid;
  // Write the access token to this new file (O_CREAT|O_EXCL, mode 0600) instead of printing it; it is created
  // before the request, so an existing file stops the command before any account is made.
  std::optional<std::string> token_out;
};
// POST /auth/service-accounts. Prints the account and its access token, which the daemon shows only this once.
int run_service_accounts_create(const DaemonContext& ctx, const ServiceAccountCreateArgs& args);
int run_service_accounts_list(const DaemonContext& ctx);
// DELETE /auth/service-accounts/ID: archives the account and revokes its tokens for good.
int run_service_accounts_revoke(const DaemonContext& ctx, const std::string& id);
// PUT /auth/service-accounts/ID/activate|deactivate; a deactivated account's tokens get 401 until it is activated.
int run_service_accounts_set_active(const DaemonContext& ctx, const std::string& id, bool active);

struct UserCreateArgs {
  std::string email;
  std::string kind;                            // "EndUser" | "CustomerEmployee"
  std::optional<std::string> public_key_file;  // registers a Key credential at once
};
int run_users_create(const DaemonContext& ctx, const UserCreateArgs& args);
int run_users_list(const DaemonContext& ctx);

int run_permissions_list(const DaemonContext& ctx);
int run_permissions_create(const DaemonContext& ctx, const std::string& name,
                           const std::vector<std::string>& operations);
// POST /permissions/PERMISSION_ID/assignments {identityId}.
int run_permissions_assign(const DaemonContext& ctx, const std::string& permission_id, const std::string& identity_id);
// DELETE /permissions/PERMISSION_ID/assignments/ASSIGNMENT_ID.
int run_permissions_revoke(const DaemonContext& ctx, const std::string& permission_id,
                           const std::string& assignment_id);

}  // namespace signerd::cli

// signerctl: signerd's command-line tool. Talks to a running daemon over its API (status, keys, wallets,
// service-accounts, users, permissions, audit, apps) and to the HSM directly (hsm init-token, hsm check). Exit
// codes: cli/exit_codes.h (and `signerctl --help`).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

#include "cli/apps_commands.h"
#include "cli/audit_commands.h"
#include "cli/daemon_commands.h"
#include "cli/exit_codes.h"
#include "cli/hsm_commands.h"
#include "cli/identity_commands.h"
#include "cli/wallet_commands.h"
#include "common/host.h"
#include "common/secret.h"

namespace {

using namespace signerd;
using namespace signerd::cli;

constexpr const char* kDefaultSocket = "/run/signerd/signerd.sock";

struct GlobalOptions {
  std::string socket;
  std::string url;
  std::string token_file;
  std::string token_on_argv;  // refused: only here to say why
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string cred_id;
  std::string credential_key_file;
  bool json = false;
  double timeout_seconds = 30;
};

// The daemon connection the global options describe. nullopt (after printing why) on a usage error.
std::optional<DaemonContext> daemon_context(const GlobalOptions& g, const CLI::App& app) {
  Endpoint endpoint;
  if (app.count("--url") > 0) {
    auto parsed = Endpoint::parse_url(g.url);
    if (!parsed) {
      std::fprintf(stderr, "signerctl: %s\n", parsed.error().message.c_str());
      return std::nullopt;
    }
    endpoint = std::move(*parsed);
  } else if (app.count("--socket") > 0) {
    endpoint.unix_socket = g.socket;
  } else if (const char* env = std::getenv("SIGNERD_SOCKET"); env != nullptr && *env != '\0') {
    endpoint.unix_socket = env;
  } else {
    endpoint.unix_socket = kDefaultSocket;
  }
  std::optional<SecretString> token;
  if (app.count("--token-file") > 0) {
    auto read = read_secret_file(g.token_file, /*allow_group_readable=*/true);
    if (!read) {
      std::fprintf(stderr, "signerctl: %s\n", read.error().message.c_str());
      return std::nullopt;
    }
    if (read->empty()) {
      std::fprintf(stderr, "signerctl: token file %s is empty\n", g.token_file.c_str());
      return std::nullopt;
    }
    token = std::move(*read);
  }
  // signerd refuses TCP beyond loopback without TLS, so a plain http:// peer elsewhere is a proxy or an impostor:
  // it must not get the account's token (nor the user actions signed with it).
  if (token && !endpoint.is_unix() && !endpoint.tls && !is_loopback_host(endpoint.host)) {
    std::fprintf(stderr,
                 "signerctl: refusing to send the --token-file token over plain http:// to %s, which is not "
                 "loopback; use https:// (signerd serves TCP beyond loopback only with TLS)\n",
                 endpoint.host.c_str());
    return std::nullopt;
  }
  for (const char* tls_only : {"--cacert", "--cert", "--key"}) {
    if (app.count(tls_only) > 0 && !endpoint.tls) {
      std::fprintf(stderr, "signerctl: %s is for https:// URLs\n", tls_only);
      return std::nullopt;
    }
  }
  std::optional<CredentialSigner> signer;
  if (app.count("--credential-key-file") > 0) {
    auto loaded = CredentialSigner::load(g.credential_key_file, g.cred_id);
    if (!loaded) {
      std::fprintf(stderr, "signerctl: %s\n", loaded.error().message.c_str());
      return std::nullopt;
    }
    signer = std::move(*loaded);
  }
  const auto timeout = std::chrono::milliseconds(static_cast<long long>(g.timeout_seconds * 1000));
  auto client = HttpClient::create(std::move(endpoint), std::move(token), timeout,
                                   TlsOptions{.ca_file = g.ca_file, .cert_file = g.cert_file, .key_file = g.key_file});
  if (!client) {
    std::fprintf(stderr, "signerctl: %s\n", client.error().message.c_str());
    return std::nullopt;
  }
  return DaemonContext{std::move(*client), g.json, std::move(signer)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"signerctl: the command-line tool of signerd"};
  app.footer(std::string("\nEach command has --help.\n\n") + kExitCodesHelp);
  app.require_subcommand(1);
  // Global options may also come after the subcommand (signerctl keys list --json).
  app.fallthrough();

  GlobalOptions g;
  auto* socket_opt =
      app.add_option("--socket", g.socket,
                     "signerd's Unix socket (default: $SIGNERD_SOCKET, else " + std::string(kDefaultSocket) + ")");
  auto* url_opt = app.add_option(
      "--url", g.url,
      "reach signerd over TCP instead: http://host:port, or https://host:port (TLS; the daemon's certificate and "
      "host name are always verified)");
  auto* token_file_opt =
      app.add_option("--token-file", g.token_file,
                     "file holding a bearer token (a service account's, from `service-accounts create`) for --url; "
                     "the token is never taken on the command line")
          ->needs(url_opt);
  socket_opt->excludes(url_opt);
  app.add_option("--cacert", g.ca_file,
                 "for https:// URLs: trust only the CA certificates in this PEM file (default: the system's trust "
                 "store)")
      ->needs(url_opt);
  auto* cert_opt = app.add_option("--cert", g.cert_file,
                                  "for https:// URLs: present this PEM client certificate (chain) to a daemon that "
                                  "requires one (its tls_client_ca_file)")
                       ->needs(url_opt);
  auto* key_opt = app.add_option("--key", g.key_file,
                                 "the --cert certificate's unencrypted PEM private key, in a file other users cannot "
                                 "read (mode 0600 or 0640)")
                      ->needs(url_opt);
  cert_opt->needs(key_opt);
  key_opt->needs(cert_opt);
  auto* cred_id_opt = app.add_option("--cred-id", g.cred_id,
                                     "the credential of the --token-file's account (its credId) that signs every "
                                     "change over --url (user-action signing)")
                          ->needs(token_file_opt);
  auto* credential_key_opt =
      app.add_option("--credential-key-file", g.credential_key_file,
                     "PEM private key of that credential (EC P-256 or secp256k1, Ed25519, RSA), in a file other "
                     "users cannot read (mode 0600 or 0640)")
          ->needs(token_file_opt);
  cred_id_opt->needs(credential_key_opt);
  credential_key_opt->needs(cred_id_opt);
  app.add_option("--token", g.token_on_argv)->group("");  // hidden: refused with an explanation
  app.add_flag("--json", g.json, "print the daemon's JSON as is (hsm check: its report as JSON)");
  app.add_option("--timeout", g.timeout_seconds, "seconds to wait for the daemon, per request")
      ->check(CLI::Range(0.001, 3600.0))
      ->capture_default_str();

  // status
  auto* status_cmd = app.add_subcommand("status", "is the daemon alive (GET /healthz) and ready (GET /readyz)?");

  // keys
  auto* keys_cmd = app.add_subcommand("keys", "create, read, rename, archive keys and sign with them");
  keys_cmd->require_subcommand(1);

  auto* create_cmd = keys_cmd->add_subcommand("create", "create a key inside the HSM (POST /keys)");
  std::string scheme, curve, create_name;
  create_cmd->add_option("--scheme", scheme, "ECDSA or EdDSA")->required()->check(CLI::IsMember({"ECDSA", "EdDSA"}));
  create_cmd->add_option("--curve", curve, "secp256k1, secp256r1 (ECDSA) or ed25519 (EdDSA)")
      ->required()
      ->check(CLI::IsMember({"secp256k1", "secp256r1", "ed25519"}));
  auto* create_name_opt = create_cmd->add_option("--name", create_name, "a name for the key");

  auto* list_cmd = keys_cmd->add_subcommand("list", "list keys, newest first (GET /keys)");
  unsigned limit = 0;
  std::string page_token;
  bool list_all = false;
  auto* limit_opt =
      list_cmd->add_option("--limit", limit, "page size (default: the daemon's)")->check(CLI::Range(1u, 1000000u));
  auto* page_token_opt = list_cmd->add_option("--page-token", page_token, "start at this nextPageToken");
  list_cmd->add_flag("--all", list_all, "follow nextPageToken to the last page");

  std::string key_id;
  auto* get_cmd = keys_cmd->add_subcommand("get", "read a key (GET /keys/KEY_ID)");
  get_cmd->add_option("KEY_ID", key_id, "the key's id")->required();

  auto* rename_cmd = keys_cmd->add_subcommand("rename", "rename a key or clear its name (PUT /keys/KEY_ID)");
  rename_cmd->add_option("KEY_ID", key_id, "the key's id")->required();
  std::string new_name;
  bool clear_name = false;
  auto* name_opt = rename_cmd->add_option("--name", new_name, "the new name");
  auto* clear_opt = rename_cmd->add_flag("--clear", clear_name, "remove the name");
  name_opt->excludes(clear_opt);

  auto* archive_cmd = keys_cmd->add_subcommand("archive", "archive a key: it can no longer sign (DELETE /keys/KEY_ID)");
  archive_cmd->add_option("KEY_ID", key_id, "the key's id")->required();

  auto* sign_cmd = keys_cmd->add_subcommand("sign", "sign with a key (POST /keys/KEY_ID/signatures)");
  sign_cmd->add_option("KEY_ID", key_id, "the key's id")->required();
  std::string hash, message, external_id;
  auto* hash_opt = sign_cmd->add_option("--hash", hash, "a 32-byte digest in hex, 0x-prefixed (ECDSA keys)");
  auto* message_opt = sign_cmd->add_option("--message", message, "the message in hex, 0x-prefixed (EdDSA keys)");
  hash_opt->excludes(message_opt);
  auto* external_id_opt = sign_cmd->add_option("--external-id", external_id,
                                               "makes the request idempotent: a retry returns the first result");

  WalletsCommands wallets;
  add_wallets_commands(app, wallets);

  // service-accounts
  auto* sa_cmd =
      app.add_subcommand("service-accounts",
                         "create, list, deactivate, activate and revoke service accounts (machine users with a token)");
  sa_cmd->require_subcommand(1);
  auto* sa_create = sa_cmd->add_subcommand(
      "create", "create a service account and its access token, shown only once (POST /auth/service-accounts)");
  ServiceAccountCreateArgs sa_args;
  sa_create->add_option("--name", sa_args.name, "the account's name, unique in the organisation")->required();
  sa_create
      ->add_option("--public-key-file", sa_args.public_key_file,
                   "PEM public key of the account's credential (openssl pkey -pubout); it signs the account's "
                   "user actions")
      ->required();
  auto* sa_admin_opt =
      sa_create->add_flag("--admin", sa_args.admin, "assign the built-in \"Admin\" permission (every operation)");
  std::string sa_permission;
  auto* sa_permission_opt = sa_create->add_option("--permission", sa_permission, "assign this permission (pm-…)");
  sa_admin_opt->excludes(sa_permission_opt);
  int sa_days = 0;
  auto* sa_days_opt =
      sa_create->add_option("--days-valid", sa_days, "the token's lifetime in days (default: the daemon's, 730)");
  std::string sa_token_out;
  auto* sa_token_out_opt = sa_create->add_option(
      "--token-out", sa_token_out,
      "write the access token to this new file (mode 0600) instead of printing it; an existing file is an error");

  auto* sa_list = sa_cmd->add_subcommand("list", "list service accounts (GET /auth/service-accounts)");
  std::string sa_id;
  auto* sa_revoke = sa_cmd->add_subcommand(
      "revoke", "archive a service account and revoke its tokens for good (DELETE /auth/service-accounts/ID)");
  sa_revoke->add_option("ID", sa_id, "the account's userId (us-…)")->required();
  auto* sa_deactivate = sa_cmd->add_subcommand(
      "deactivate", "deactivate a service account: its tokens get 401 until it is activated (PUT …/ID/deactivate)");
  sa_deactivate->add_option("ID", sa_id, "the account's userId (us-…)")->required();
  auto* sa_activate =
      sa_cmd->add_subcommand("activate", "activate a deactivated service account again (PUT …/ID/activate)");
  sa_activate->add_option("ID", sa_id, "the account's userId (us-…)")->required();

  // users
  auto* users_cmd = app.add_subcommand("users", "create and list users (organisation employees and end users)");
  users_cmd->require_subcommand(1);
  auto* users_create = users_cmd->add_subcommand("create", "create a user (POST /auth/users)");
  UserCreateArgs user_args;
  std::string user_key_file;
  users_create->add_option("--email", user_args.email, "the user's username (an email address)")->required();
  users_create->add_option("--kind", user_args.kind, "EndUser or CustomerEmployee")
      ->required()
      ->check(CLI::IsMember({"EndUser", "CustomerEmployee"}));
  auto* user_key_opt = users_create->add_option("--public-key-file", user_key_file,
                                                "PEM public key: registers the user's Key credential at once");
  auto* users_list = users_cmd->add_subcommand("list", "list users, not service accounts (GET /auth/users)");

  // permissions
  auto* perm_cmd = app.add_subcommand("permissions", "list and create permissions, assign and revoke them");
  perm_cmd->require_subcommand(1);
  auto* perm_list = perm_cmd->add_subcommand("list", "list permissions (GET /permissions)");
  auto* perm_create = perm_cmd->add_subcommand("create", "create a permission (POST /permissions)");
  std::string perm_name;
  std::vector<std::string> perm_operations;
  perm_create->add_option("--name", perm_name, "the permission's name")->required();
  perm_create->add_option("--operation", perm_operations, "an operation it allows, e.g. Keys:Read; repeat for more")
      ->required();
  std::string perm_id, perm_target;
  auto* perm_assign =
      perm_cmd->add_subcommand("assign", "give an identity a permission (POST /permissions/PERMISSION_ID/assignments)");
  perm_assign->add_option("PERMISSION_ID", perm_id, "the permission (pm-…)")->required();
  perm_assign->add_option("IDENTITY_ID", perm_target, "the user or service account (us-…)")->required();
  auto* perm_revoke = perm_cmd->add_subcommand(
      "revoke", "remove an assignment (DELETE /permissions/PERMISSION_ID/assignments/ASSIGNMENT_ID)");
  perm_revoke->add_option("PERMISSION_ID", perm_id, "the permission (pm-…)")->required();
  perm_revoke->add_option("ASSIGNMENT_ID", perm_target, "the assignment (as-…), as assign printed it")->required();

  // audit
  auto* audit_cmd = app.add_subcommand("audit", "read the audit trail and check its hash chain");
  audit_cmd->require_subcommand(1);
  auto* audit_tail = audit_cmd->add_subcommand("tail", "the newest records, oldest first (GET /audit?limit=N)");
  unsigned audit_lines = 20;
  audit_tail->add_option("-n,--lines", audit_lines, "how many records")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  auto* audit_verify = audit_cmd->add_subcommand(
      "verify",
      "read the whole trail and check its hash chain; exit 8 when it is broken (a record altered, removed or "
      "inserted)");

  AppsCommands apps;
  add_apps_commands(app, apps);

  // hsm
  auto* hsm_cmd = app.add_subcommand("hsm", "work with the HSM directly (no daemon)");
  hsm_cmd->require_subcommand(1);
  auto* init = hsm_cmd->add_subcommand(
      "init-token", "initialise a development token (SoftHSM) with PINs read from files, never from argv");
  std::string module = "/usr/lib/softhsm/libsofthsm2.so", label, so_pin_file, pin_file;
  init->add_option("--module", module, "PKCS#11 module")->capture_default_str();
  init->add_option("--label", label, "token label (at most 32 bytes)")->required();
  init->add_option("--so-pin-file", so_pin_file, "file holding the security officer PIN (mode 0600)")->required();
  init->add_option("--pin-file", pin_file, "file holding the user PIN (mode 0600)")->required();

  auto* check = hsm_cmd->add_subcommand(
      "check",
      "check a token for signerd: module and slots, the mechanisms signerd needs, and with --pin-file a login and a "
      "scan for private keys that could leave the token");
  HsmCheckArgs check_args;
  check->add_option("--module", check_args.module, "PKCS#11 module")->required();
  auto* label_opt = check->add_option("--token-label", check_args.token_label, "the token's label");
  auto* serial_opt = check->add_option("--token-serial", check_args.token_serial, "the token's serial number");
  label_opt->excludes(serial_opt);
  std::string check_pin_file;
  auto* check_pin_opt =
      check->add_option("--pin-file", check_pin_file, "file holding the user PIN (mode 0600 or 0640)");

  try {
    app.parse(argc, argv);
    if (app.count("--token") > 0) {
      throw CLI::ValidationError("--token",
                                 "the bearer token is never taken on the command line (other users can read argv); "
                                 "put it in a file and pass --token-file FILE");
    }
    if (rename_cmd->parsed() && name_opt->count() == 0 && !clear_name) {
      throw CLI::RequiredError("keys rename needs --name N or --clear");
    }
    if (sign_cmd->parsed() && hash_opt->count() == 0 && message_opt->count() == 0) {
      throw CLI::RequiredError("keys sign needs --hash 0x... or --message 0x...");
    }
    if (check->parsed() && label_opt->count() == 0 && serial_opt->count() == 0) {
      throw CLI::RequiredError("hsm check needs --token-label L or --token-serial S");
    }
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }

  if (init->parsed()) return run_hsm_init_token(module, label, so_pin_file, pin_file);
  if (check->parsed()) {
    if (check_pin_opt->count() > 0) check_args.pin_file = check_pin_file;
    check_args.json = g.json;
    return run_hsm_check(check_args);
  }

  auto ctx = daemon_context(g, app);
  if (!ctx) return kExitUsage;
  if (status_cmd->parsed()) return run_status(*ctx);
  if (create_cmd->parsed()) {
    return run_keys_create(*ctx, scheme, curve,
                           create_name_opt->count() > 0 ? std::optional(create_name) : std::nullopt);
  }
  if (list_cmd->parsed()) {
    return run_keys_list(*ctx, limit_opt->count() > 0 ? std::optional(limit) : std::nullopt,
                         page_token_opt->count() > 0 ? std::optional(page_token) : std::nullopt, list_all);
  }
  if (get_cmd->parsed()) return run_keys_get(*ctx, key_id);
  if (sa_create->parsed()) {
    if (sa_permission_opt->count() > 0) sa_args.permission_id = sa_permission;
    if (sa_days_opt->count() > 0) sa_args.days_valid = sa_days;
    if (sa_token_out_opt->count() > 0) sa_args.token_out = sa_token_out;
    return run_service_accounts_create(*ctx, sa_args);
  }
  if (sa_list->parsed()) return run_service_accounts_list(*ctx);
  if (sa_revoke->parsed()) return run_service_accounts_revoke(*ctx, sa_id);
  if (sa_deactivate->parsed()) return run_service_accounts_set_active(*ctx, sa_id, false);
  if (sa_activate->parsed()) return run_service_accounts_set_active(*ctx, sa_id, true);
  if (users_create->parsed()) {
    if (user_key_opt->count() > 0) user_args.public_key_file = user_key_file;
    return run_users_create(*ctx, user_args);
  }
  if (users_list->parsed()) return run_users_list(*ctx);
  if (perm_list->parsed()) return run_permissions_list(*ctx);
  if (perm_create->parsed()) return run_permissions_create(*ctx, perm_name, perm_operations);
  if (perm_assign->parsed()) return run_permissions_assign(*ctx, perm_id, perm_target);
  if (perm_revoke->parsed()) return run_permissions_revoke(*ctx, perm_id, perm_target);
  if (audit_tail->parsed()) return run_audit_tail(*ctx, audit_lines);
  if (audit_verify->parsed()) return run_audit_verify(*ctx);
  if (auto code = run_apps_commands(*ctx, apps)) return *code;
  if (auto code = run_wallets_commands(*ctx, wallets)) return *code;

  if (rename_cmd->parsed()) {
    return run_keys_rename(*ctx, key_id, clear_name ? std::nullopt : std::optional(new_name));
  }
  if (archive_cmd->parsed()) return run_keys_archive(*ctx, key_id);
  if (sign_cmd->parsed()) {
    SignArgs args{key_id, hash_opt->count() > 0, hash_opt->count() > 0 ? hash : message,
                  external_id_opt->count() > 0 ? std::optional(external_id) : std::nullopt};
    return run_keys_sign(*ctx, args);
  }
  return kExitUsage;
}

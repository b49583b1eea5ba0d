#include "cli/identity_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string_view>

#include "cli/exit_codes.h"

namespace signerd::cli {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxPemBytes = 16 * 1024;  // the daemon's limit for a public key

// The PEM public key in `path`. A private key is refused: it must never leave this host.
std::expected<std::string, int> read_public_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    print_err("cannot read public key file " + path + ": " + std::strerror(errno));
    return std::unexpected(kExitUsage);
  }
  std::string pem;
  char buf[4096];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    pem.append(buf, static_cast<std::size_t>(in.gcount()));
    if (pem.size() > kMaxPemBytes) {
      print_err("public key file " + path + " is larger than 16 KiB; is it a PEM public key?");
      return std::unexpected(kExitUsage);
    }
  }
  if (pem.find("PRIVATE KEY") != std::string::npos) {
    ::explicit_bzero(pem.data(), pem.size());
    print_err(path + " holds a private key, which signerctl never sends; give its public key (openssl pkey -in " +
              path + " -pubout)");
    return std::unexpected(kExitUsage);
  }
  if (pem.find("-----BEGIN PUBLIC KEY-----") == std::string::npos) {
    print_err(path + " is not a PEM public key (-----BEGIN PUBLIC KEY-----)");
    return std::unexpected(kExitUsage);
  }
  return pem;
}

// The file --token-out names: created (O_EXCL, 0600) before the request, removed again unless the token was
// written to it.
class TokenFile {
 public:
  static std::expected<TokenFile, int> create(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      const int err = errno;
      print_err("cannot create token file " + path + ": " + std::strerror(err) +
                (err == EEXIST ? " (signerctl never overwrites a token file)" : ""));
      return std::unexpected(kExitUsage);
    }
    ::fchmod(fd, 0600);  // whatever the umask
    return TokenFile(path, fd);
  }
  TokenFile(TokenFile&& other) noexcept
      : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), kept_(other.kept_) {}
  TokenFile(const TokenFile&) = delete;
  TokenFile& operator=(const TokenFile&) = delete;
  TokenFile& operator=(TokenFile&&) = delete;
  ~TokenFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!kept_ && !path_.empty()) ::unlink(path_.c_str());
  }

  // Writes token + "\n" and syncs it. An error message on failure.
  std::optional<std::string> write(std::string_view token) {
    std::string text(token);
    text += '\n';
    std::size_t done = 0;
    std::optional<std::string> error;
    while (done < text.size()) {
      const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error = std::strerror(errno);
        break;
      }
      done += static_cast<std::size_t>(n);
    }
    ::explicit_bzero(text.data(), text.size());
    if (!error && ::fsync(fd_) != 0) error = std::strerror(errno);
    if (!error && ::close(std::exchange(fd_, -1)) != 0) error = std::strerror(errno);
    if (!error) kept_ = true;
    return error;
  }
  const std::string& path() const { return path_; }

 private:
  TokenFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
  bool kept_ = false;
};

const json::value kNull;

const json::value& member(const json::value& v, std::string_view key) {
  const auto* f = find(v, key);
  return f ? *f : kNull;
}

const json::array& array_member(const json::value& v, std::string_view key) {
  static const json::array kEmpty;
  const auto* f = find(v, key);
  return f && f->is_array() ? f->as_array() : kEmpty;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator = ", ") {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += separator;
    out += p;
  }
  return out;
}

bool is_true(const json::value& v, std::string_view key) {
  const auto* f = find(v, key);
  return f && f->is_bool() && f->as_bool();
}

// userInfo's state: Archived, Active or Inactive.
std::string user_status(const json::value& user) {
  if (field(user, "status") == "Archived") return "Archived";
  return is_true(user, "isActive") ? "Active" : "Inactive";
}

// "Admin (pm-…), Readers (pm-…)" from permissionAssignments.
std::string permissions_text(const json::value& user, bool with_ids) {
  std::vector<std::string> out;
  for (const auto& a : array_member(user, "permissionAssignments")) {
    out.push_back(with_ids ? field(a, "permissionName") + " (" + field(a, "permissionId") + ", assignment " +
                                 field(a, "assignmentId") + ")"
                           : field(a, "permissionName"));
  }
  return join(out);
}

std::string first_credential_id(const json::value& user) {
  const auto& creds = array_member(user, "credentials");
  return creds.empty() ? std::string() : field(creds.front(), "credentialId");
}

void print_user(const json::value& user) {
  print_fields({{"userId", field(user, "userId")},
                {"username", field(user, "username")},
                {"kind", field(user, "kind")},
                {"status", user_status(user)},
                {"orgId", field(user, "orgId")},
                {"externalId", field(user, "externalId")},
                {"permissions", permissions_text(user, true)},
                {"credId", first_credential_id(user)},
                {"dateCreated", field(user, "dateCreated")}});
}

// A service account {userInfo, accessTokens}, and with `access_token` (create only) that line last.
void print_service_account(const json::value& account, std::optional<std::string_view> access_token = std::nullopt) {
  const auto& user = member(account, "userInfo");
  Fields fields{{"userId", field(user, "userId")},
                {"name", field(user, "name")},
                {"status", user_status(user)},
                {"orgId", field(user, "orgId")},
                {"externalId", field(user, "externalId")},
                {"permissions", permissions_text(user, true)},
                {"dateCreated", field(user, "dateCreated")}};
  for (const auto& t : array_member(account, "accessTokens")) {
    fields.emplace_back("credId", field(t, "credId"));
    fields.emplace_back("tokenId", field(t, "tokenId") + (is_true(t, "isActive") ? " (active)" : " (inactive)"));
    fields.emplace_back("expires", field(t, "dateExpires"));
  }
  fields.emplace_back("accessToken", "");  // counts for the alignment; printed below without a copy
  print_fields(fields);
  if (access_token) {
    std::size_t width = 0;
    for (const auto& [name, value] : fields) width = std::max(width, name.size());
    std::printf("%-*s  %.*s\n", static_cast<int>(width), "accessToken", static_cast<int>(access_token->size()),
                access_token->data());
  }
}

void print_items_table(const json::value& reply, const std::vector<std::string>& header,
                       const std::function<std::vector<std::string>(const json::value&)>& row) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : array_member(reply, "items")) rows.push_back(row(item));
  print_table(header, rows);
}

std::string operations_summary(const json::value& permission) {
  std::vector<std::string> ops;
  for (const auto& op : array_member(permission, "operations")) ops.push_back(scalar_text(op));
  if (ops.size() <= 3) return join(ops, ",");
  return ops[0] + "," + ops[1] + ",… (" + std::to_string(ops.size()) + " operations)";
}

void print_permission(const json::value& p) {
  print_fields({{"id", field(p, "id")},
                {"name", field(p, "name")},
                {"status", field(p, "status")},
                {"immutable", is_true(p, "isImmutable") ? "yes" : "no"},
                {"dateCreated", field(p, "dateCreated")},
                {"dateUpdated", field(p, "dateUpdated")}});
  std::printf("operations:\n");
  for (const auto& op : array_member(p, "operations")) std::printf("  %s\n", scalar_text(op).c_str());
}

void print_assignment(const json::value& a) {
  print_fields({{"id", field(a, "id")},
                {"permissionId", field(a, "permissionId")},
                {"identityId", field(a, "identityId")},
                {"dateCreated", field(a, "dateCreated")}});
}

std::string service_account_path(const std::string& id) { return "/auth/service-accounts/" + percent_encode(id); }
std::string assignments_path(const std::string& permission_id) {
  return "/permissions/" + percent_encode(permission_id) + "/assignments";
}

// The id of the active permission named `name` (GET /permissions).
std::expected<std::string, int> permission_id_by_name(const DaemonContext& ctx, const std::string& name) {
  auto list = fetch_json(ctx, "GET", "/permissions");
  if (!list) return std::unexpected(list.error());
  for (const auto& p : array_member(*list, "items")) {
    if (field(p, "name") == name && field(p, "status") == "Active") return field(p, "id");
  }
  print_err("the daemon has no active permission named \"" + name + "\"");
  return std::unexpected(kExitNotFound);
}

}  // namespace

int run_service_accounts_create(const DaemonContext& ctx, const ServiceAccountCreateArgs& args) {
  // Before the token file or GET /permissions: a change that cannot be signed stops here, with nothing sent.
  if (auto refused = refuse_unsigned_change(ctx, "POST", "/auth/service-accounts")) return *refused;
  auto pem = read_public_key_file(args.public_key_file);
  if (!pem) return pem.error();
  std::optional<TokenFile> token_file;
  if (args.token_out) {
    auto created = TokenFile::create(*args.token_out);
    if (!created) return created.error();
    token_file.emplace(std::move(*created));
  }
  json::object body{{"name", args.name}, {"publicKey", *pem}};
  if (args.admin) {
    auto id = permission_id_by_name(ctx, "Admin");
    if (!id) return id.error();
    body["permissionId"] = *id;
  } else if (args.permission_id) {
    body["permissionId"] = *args.permission_id;
  }
  if (args.days_valid) body["daysValid"] = *args.days_valid;

  const std::string target = "/auth/service-accounts";
  auto response = send(ctx, "POST", target, json::serialize(body));
  if (!response) return response.error();
  struct Wipe {  // the reply carries the access token
    std::string& s;
    ~Wipe() { ::explicit_bzero(s.data(), s.size()); }
  } wipe_body{response->body};
  if (response->status < 200 || response->status >= 300) return http_failure(ctx, *response, target);
  auto reply = parse_json(response->body);
  if (!reply) {
    print_err("the reply to POST " + target + " is not JSON; the account may exist: see `service-accounts list`");
    return kExitFailed;
  }
  const std::string user_id = field(member(*reply, "userInfo"), "userId");
  // Every accessTokens[].accessToken (create returns one), wiped when this function returns.
  std::vector<json::string*> tokens;
  if (auto* list = reply->is_object() ? reply->as_object().if_contains("accessTokens") : nullptr;
      list && list->is_array()) {
    for (auto& t : list->as_array()) {
      auto* token = t.is_object() ? t.as_object().if_contains("accessToken") : nullptr;
      if (token && token->is_string()) tokens.push_back(&token->as_string());
    }
  }
  struct WipeTokens {
    std::vector<json::string*>& tokens;
    ~WipeTokens() {
      for (auto* t : tokens) ::explicit_bzero(t->data(), t->size());
    }
  } wipe_tokens{tokens};
  if (tokens.empty() || tokens.front()->empty()) {
    print_err("service account " + user_id + " was created but the reply carries no access token; revoke it with " +
              "`signerctl service-accounts revoke " + user_id + "`");
    return kExitFailed;
  }
  const std::string_view token(tokens.front()->data(), tokens.front()->size());
  if (token_file) {
    if (auto error = token_file->write(token)) {
      print_err("service account " + user_id + " was created but its token could not be written to " +
                token_file->path() + ": " + *error + "; revoke it with `signerctl service-accounts revoke " + user_id +
                "`");
      return kExitFailed;
    }
  }

  if (ctx.json) {
    if (!token_file) {
      print_out(response->body);
      return kExitOk;
    }
    // Without the token, which is in the file: blank it, then drop the field.
    for (auto* t : tokens) ::explicit_bzero(t->data(), t->size());
    tokens.clear();
    for (auto& t : reply->as_object()["accessTokens"].as_array()) {
      if (t.is_object()) t.as_object().erase("accessToken");
    }
    print_out(json::serialize(*reply));
    return kExitOk;
  }
  std::printf("service account created\n");
  if (token_file) {
    print_service_account(*reply, "written to " + token_file->path() + " (mode 0600)");
    return kExitOk;
  }
  print_service_account(*reply, token);
  std::printf(
      "\nThe access token is shown only this once: signerd keeps only its id. Store it now in a file of mode 0600\n"
      "(or create the next account with --token-out FILE) and give that file to --token-file.\n");
  return kExitOk;
}

int run_service_accounts_list(const DaemonContext& ctx) {
  return exchange(ctx, "GET", "/auth/service-accounts", std::nullopt, [](const json::value& reply) {
    print_items_table(reply, {"ID", "NAME", "STATUS", "CREATED", "PERMISSIONS"}, [](const json::value& a) {
      const auto& u = member(a, "userInfo");
      return std::vector<std::string>{field(u, "userId"), field(u, "name"), user_status(u), field(u, "dateCreated"),
                                      permissions_text(u, false)};
    });
  });
}

int run_service_accounts_revoke(const DaemonContext& ctx, const std::string& id) {
  return exchange(ctx, "DELETE", service_account_path(id), std::nullopt,
                  [](const json::value& account) { print_service_account(account); });
}

int run_service_accounts_set_active(const DaemonContext& ctx, const std::string& id, bool active) {
  const std::string verb = active ? "activate" : "deactivate";
  return exchange(ctx, "PUT", service_account_path(id) + "/" + verb, "{}",
                  [](const json::value& account) { print_service_account(account); });
}

int run_users_create(const DaemonContext& ctx, const UserCreateArgs& args) {
  json::object body{{"email", args.email}, {"kind", args.kind}};
  if (args.public_key_file) {
    auto pem = read_public_key_file(*args.public_key_file);
    if (!pem) return pem.error();
    body["publicKey"] = *pem;
  }
  return exchange(ctx, "POST", "/auth/users", json::serialize(body), print_user);
}

int run_users_list(const DaemonContext& ctx) {
  return exchange(ctx, "GET", "/auth/users", std::nullopt, [](const json::value& reply) {
    print_items_table(reply, {"ID", "USERNAME", "KIND", "STATUS", "CREATED", "PERMISSIONS"}, [](const json::value& u) {
      return std::vector<std::string>{field(u, "userId"), field(u, "username"),    field(u, "kind"),
                                      user_status(u),     field(u, "dateCreated"), permissions_text(u, false)};
    });
  });
}

int run_permissions_list(const DaemonContext& ctx) {
  return exchange(ctx, "GET", "/permissions", std::nullopt, [](const json::value& reply) {
    print_items_table(reply, {"ID", "NAME", "STATUS", "OPERATIONS"}, [](const json::value& p) {
      std::string status = field(p, "status");
      if (is_true(p, "isImmutable")) status += ", built-in";
      return std::vector<std::string>{field(p, "id"), field(p, "name"), status, operations_summary(p)};
    });
  });
}

int run_permissions_create(const DaemonContext& ctx, const std::string& name,
                           const std::vector<std::string>& operations) {
  json::array ops;
  for (const auto& op : operations) ops.emplace_back(op);
  const json::object body{{"name", name}, {"operations", std::move(ops)}};
  return exchange(ctx, "POST", "/permissions", json::serialize(body), print_permission);
}

int run_permissions_assign(const DaemonContext& ctx, const std::string& permission_id, const std::string& identity_id) {
  const json::object body{{"identityId", identity_id}};
  return exchange(ctx, "POST", assignments_path(permission_id), json::serialize(body), print_assignment);
}

int run_permissions_revoke(const DaemonContext& ctx, const std::string& permission_id,
                           const std::string& assignment_id) {
  return exchange(ctx, "DELETE", assignments_path(permission_id) + "/" + percent_encode(assignment_id), std::nullopt,
                  print_assignment);
}

}  // namespace signerd::cli

#include "cli/apps_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstring>
#include <vector>

#include "cli/exit_codes.h"

namespace signerd::cli {
namespace {

namespace json = boost::json;

// Creates `path` (O_EXCL, mode 0600) before the request, so an existing file stops the command before an app is made.
std::optional<int> open_secret_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int err = errno;
    print_err("cannot create secret file " + path + ": " + std::strerror(err) +
              (err == EEXIST ? " (signerctl never overwrites a secret file)" : ""));
    return std::nullopt;
  }
  ::fchmod(fd, 0600);
  return fd;
}

bool write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return ::fsync(fd) == 0;
}

int run_create(const DaemonContext& ctx, const AppsCommands& c) {
  std::optional<int> fd;
  if (!c.secret_out.empty()) {
    fd = open_secret_file(c.secret_out);
    if (!fd) return kExitUsage;
  }
  struct Close {
    std::optional<int>& fd;
    const std::string& path;
    bool keep = false;
    ~Close() {
      if (!fd) return;
      ::close(*fd);
      if (!keep) ::unlink(path.c_str());
    }
  } close_file{fd, c.secret_out};

  auto response = send(ctx, "POST", "/smart-account-apps", json::serialize(json::object{{"name", c.name}}));
  if (!response) return response.error();
  struct Wipe {  // the reply carries the secret
    std::string& s;
    ~Wipe() { ::explicit_bzero(s.data(), s.size()); }
  } wipe_body{response->body};
  if (response->status < 200 || response->status >= 300) return http_failure(ctx, *response, "/smart-account-apps");
  auto reply = parse_json(response->body);
  if (!reply || !find(*reply, "secret")) {
    print_err("the reply to POST /smart-account-apps is not the app; it may exist without its secret shown");
    return kExitFailed;
  }
  json::string& secret = reply->as_object()["secret"].as_string();
  struct WipeSecret {
    json::string& s;
    ~WipeSecret() { ::explicit_bzero(s.data(), s.size()); }
  } wipe_secret{secret};
  if (fd) {
    if (!write_all(*fd, std::string(secret.c_str()) + "\n")) {
      print_err("cannot write the secret to " + c.secret_out + "; the app " + field(*reply, "appId") +
                " exists but its secret is lost: create another app");
      return kExitFailed;
    }
    close_file.keep = true;
    reply->as_object().erase("secret");
    reply->as_object()["secretFile"] = c.secret_out;
  }
  if (ctx.json) {
    print_out(json::serialize(*reply));
    return kExitOk;
  }
  Fields fields{{"appId", field(*reply, "appId")},
                {"clientId", field(*reply, "clientId")},
                {"name", field(*reply, "name")},
                {"dateCreated", field(*reply, "dateCreated")}};
  if (fd) {
    fields.emplace_back("secretFile", c.secret_out);
  } else {
    fields.emplace_back("secret", std::string(secret.c_str()));
  }
  print_fields(fields);
  if (!fd) print_err("the secret is shown only this once: keep it safe (or use --secret-out FILE next time)");
  return kExitOk;
}

void print_app(const json::value& app) {
  print_fields({{"appId", field(app, "appId")},
                {"clientId", field(app, "clientId")},
                {"name", field(app, "name")},
                {"dateCreated", field(app, "dateCreated")},
                {"dateRevoked", field(app, "dateRevoked")}});
}

void print_app_table(const std::vector<json::value>& apps) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& a : apps) {
    const std::string revoked = field(a, "dateRevoked");
    rows.push_back({field(a, "appId"), field(a, "clientId"), revoked.empty() ? "Active" : "Revoked",
                    field(a, "dateCreated"), revoked, field(a, "name")});
  }
  print_table({"APP ID", "CLIENT ID", "STATUS", "CREATED", "REVOKED", "NAME"}, rows);
}

int run_list(const DaemonContext& ctx, const AppsCommands& c) {
  ListArgs args;
  if (c.limit_option->count() > 0) args.limit = c.limit;
  if (c.page_token_option->count() > 0) args.page_token = c.page_token;
  args.all = c.all;
  return list_pages(ctx, "/smart-account-apps", args, "apps", print_app_table);
}

int run_revoke(const DaemonContext& ctx, const AppsCommands& c) {
  return exchange(ctx, "DELETE", "/smart-account-apps/" + percent_encode(c.app_id), std::nullopt, print_app);
}

}  // namespace

void add_apps_commands(CLI::App& app, AppsCommands& commands) {
  auto* apps = app.add_subcommand("apps", "smart-account applications (they sign /api/v1/smart-account requests)");
  apps->require_subcommand(1);
  commands.create = apps->add_subcommand(
      "create", "create an application: app id, client id and a secret shown only once (POST /smart-account-apps)");
  commands.create->add_option("--name", commands.name, "the application's name")->required();
  commands.create->add_option("--secret-out", commands.secret_out,
                              "write the secret to this new file (mode 0600) instead of printing it; an existing "
                              "file is an error");
  commands.list = apps->add_subcommand(
      "list", "list applications, newest first, revoked ones included; never a secret (GET /smart-account-apps)");
  commands.limit_option = commands.list->add_option("--limit", commands.limit, "page size (default: the daemon's)")
                              ->check(CLI::Range(1u, 1000000u));
  commands.page_token_option =
      commands.list->add_option("--page-token", commands.page_token, "start at this nextPageToken");
  commands.list->add_flag("--all", commands.all, "follow nextPageToken to the last page");
  commands.revoke =
      apps->add_subcommand("revoke",
                           "revoke an application for good: its signed requests get 401 and its HSM key is destroyed "
                           "(DELETE /smart-account-apps/APP_ID)");
  commands.revoke->add_option("APP_ID", commands.app_id, "the application's appId")->required();
}

std::optional<int> run_apps_commands(const DaemonContext& ctx, const AppsCommands& commands) {
  if (commands.create && commands.create->parsed()) return run_create(ctx, commands);
  if (commands.list && commands.list->parsed()) return run_list(ctx, commands);
  if (commands.revoke && commands.revoke->parsed()) return run_revoke(ctx, commands);
  return std::nullopt;
}

}  // namespace signerd::cli

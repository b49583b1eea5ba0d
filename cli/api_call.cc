#include "cli/api_call.h"

#include <openssl/crypto.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <set>

#include "cli/exit_codes.h"

namespace signerd::cli {

namespace json = boost::json;

void print_out(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (text.empty() || text.back() != '\n') std::fputc('\n', stdout);
}

void print_err(const std::string& message) { std::fprintf(stderr, "signerctl: %s\n", message.c_str()); }

std::optional<json::value> parse_json(std::string_view body) {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec) return std::nullopt;
  return v;
}

const json::value* find(const json::value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  return v.as_object().if_contains(key);
}

std::string scalar_text(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_null()) return "null";
  return json::serialize(v);
}

std::string field(const json::value& v, std::string_view key) {
  const auto* f = find(v, key);
  return f ? scalar_text(*f) : std::string();
}

int transport_failure(const Error& error) {
  print_err(error.message);
  return error.code == ErrorCode::kInvalidArgument ? kExitUsage : exit_code_for(error.code);
}

namespace {

bool is_apps_path(std::string_view path) {
  return path == "/smart-account-apps" || path.starts_with("/smart-account-apps/");
}

// What http_failure prints, after `preface` (empty, or what was being done when the daemon refused).
int report_http_failure(const DaemonContext& ctx, const HttpResponse& response, std::string_view target,
                        const std::string& preface) {
  const auto body = parse_json(response.body);
  std::string message;
  std::string id;
  if (body) {
    if (const auto* e = find(*body, "error")) {
      message = field(*e, "message");
      id = field(*e, "id");
      // The daemon's reason, when it gives one ("signature does not verify", "token revoked" ...).
      const auto* details = find(*e, "details");
      const auto* reason = details ? find(*details, "reason") : nullptr;
      if (!message.empty() && reason && reason->is_string() && !reason->as_string().empty()) {
        message += ": " + std::string(reason->as_string());
      }
    }
  }
  if (message.empty()) {
    message = response.body.empty() ? "the daemon answered HTTP " + std::to_string(response.status) : response.body;
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
  }
  std::string suffix = "(HTTP " + std::to_string(response.status);
  if (!id.empty()) suffix += ", error id " + id;
  suffix += ")";
  const bool tcp = !ctx.client.endpoint().is_unix();
  const std::string_view path = target.substr(0, target.find('?'));
  const bool refused = response.status == 401 || response.status == 403;
  if (tcp && refused && is_apps_path(path)) {
    suffix +=
        "; apps are the local administrator's alone, with or without a token: run `signerctl apps ...` over the "
        "Unix socket (--socket or $SIGNERD_SOCKET, no --url) as an OS user in auth.unix_allowed_uids";
  } else if (response.status == 401 && tcp && !ctx.client.has_token()) {
    suffix += "; over TCP give a service account's token with --token-file FILE";
  } else if (response.status == 403 && tcp && path == "/auth/action") {
    suffix +=
        "; check that --cred-id names a credential of the token's account and --credential-key-file holds its "
        "private key";
  }
  print_err(preface + message + " " + suffix);
  if (ctx.json && body) print_out(response.body);
  return exit_code_for_http(response.status);
}

// The message for a change that needs a user action ctx cannot sign.
std::string unsigned_change_message(std::string_view method, std::string_view path) {
  return std::string(method) + " " + std::string(path) +
         " changes the daemon's state: over TCP a token holder must sign every change (Dfns user-action signing). "
         "Give --cred-id ID and --credential-key-file FILE (the service account's credential: its id and PEM "
         "private key), or run the command over the Unix socket (--socket, no --url) as an OS user in "
         "auth.unix_allowed_uids.";
}

bool needs_user_action(const DaemonContext& ctx, std::string_view method, std::string_view path) {
  return !ctx.client.endpoint().is_unix() && ctx.client.has_token() && user_action_required(method, path);
}

}  // namespace

int http_failure(const DaemonContext& ctx, const HttpResponse& response, std::string_view target) {
  return report_http_failure(ctx, response, target, "");
}

std::optional<int> refuse_unsigned_change(const DaemonContext& ctx, std::string_view method, std::string_view path) {
  if (ctx.signer || !needs_user_action(ctx, method, path)) return std::nullopt;
  print_err(unsigned_change_message(method, path));
  return kExitUsage;
}

std::expected<HttpResponse, int> send(const DaemonContext& ctx, std::string_view method, const std::string& target,
                                      const std::optional<std::string>& body) {
  const std::string_view path = std::string_view(target).substr(0, target.find('?'));
  Headers headers;  // the user action, when the request needs one: wiped after sending
  if (needs_user_action(ctx, method, path)) {
    if (auto refused = refuse_unsigned_change(ctx, method, path)) return std::unexpected(*refused);
    auto ua = obtain_user_action(ctx.client, *ctx.signer, method, path, body ? std::string_view(*body) : "");
    if (!ua) return std::unexpected(transport_failure(ua.error()));
    if (!ua->token) {
      const std::string step_target = ua->refused_step.substr(ua->refused_step.find(' ') + 1);
      return std::unexpected(report_http_failure(ctx, ua->refusal, step_target,
                                                 "user-action signing for " + std::string(method) + " " +
                                                     std::string(path) + " refused at " + ua->refused_step + ": "));
    }
    headers.emplace_back("x-dfns-useraction", std::string(ua->token->view()));
  }
  auto response = ctx.client.request(method, target, body, headers);
  for (auto& [name, value] : headers) OPENSSL_cleanse(value.data(), value.size());
  if (!response) return std::unexpected(transport_failure(response.error()));
  return std::move(*response);
}

void print_fields(const Fields& fields) {
  std::size_t width = 0;
  for (const auto& [name, value] : fields) width = std::max(width, name.size());
  for (const auto& [name, value] : fields) {
    if (value.empty()) continue;
    std::printf("%-*s  %s\n", static_cast<int>(width), name.c_str(), value.c_str());
  }
}

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

std::expected<json::value, int> fetch_json(const DaemonContext& ctx, std::string_view method, const std::string& target,
                                           const std::optional<std::string>& body) {
  auto response = send(ctx, method, target, body);
  if (!response) return std::unexpected(response.error());
  if (response->status < 200 || response->status >= 300) {
    return std::unexpected(http_failure(ctx, *response, target));
  }
  auto value = parse_json(response->body);
  if (!value) {
    print_err("the reply to " + std::string(method) + " " + target + " is not JSON");
    return std::unexpected(kExitFailed);
  }
  return std::move(*value);
}

int list_pages(const DaemonContext& ctx, const std::string& path, const ListArgs& args, std::string_view noun,
               const std::function<void(const std::vector<json::value>&)>& print_rows) {
  std::vector<json::value> items;
  std::optional<std::string> token = args.page_token;
  std::set<std::string> seen_tokens;
  for (;;) {
    std::string target = path;
    char sep = '?';
    auto add = [&](const std::string& parameter) {
      target += sep + parameter;
      sep = '&';
    };
    if (args.limit) add("limit=" + std::to_string(*args.limit));
    for (const auto& parameter : args.query) add(parameter);
    if (token) add("paginationToken=" + percent_encode(*token));
    auto response = send(ctx, "GET", target);
    if (!response) return response.error();
    if (response->status != 200) return http_failure(ctx, *response, target);
    if (ctx.json && !args.all) {
      print_out(response->body);
      return kExitOk;
    }
    const auto page = parse_json(response->body);
    const auto* page_items = page ? find(*page, "items") : nullptr;
    if (page_items == nullptr || !page_items->is_array()) {
      print_err("unexpected reply to GET " + target + ": no items array");
      return kExitFailed;
    }
    for (const auto& item : page_items->as_array()) items.push_back(item);
    const auto* next = find(*page, "nextPageToken");
    token.reset();
    if (next && next->is_string() && !next->as_string().empty()) token = std::string(next->as_string());
    if (!args.all || !token) break;
    if (!seen_tokens.insert(*token).second) {  // a daemon bug must not make us loop forever
      print_err("the daemon returned the same nextPageToken twice; stopping");
      return kExitFailed;
    }
  }
  if (ctx.json) {
    json::array array(items.begin(), items.end());
    print_out(json::serialize(json::object{{"items", std::move(array)}}));
    return kExitOk;
  }
  print_rows(items);
  if (token) {
    std::fflush(stdout);
    std::fprintf(stderr, "more %.*s: use --all, or --page-token %s for the next page\n", static_cast<int>(noun.size()),
                 noun.data(), token->c_str());
  }
  return kExitOk;
}

int exchange(const DaemonContext& ctx, std::string_view method, const std::string& target,
             const std::optional<std::string>& body, const std::function<void(const json::value&)>& print) {
  auto response = send(ctx, method, target, body);
  if (!response) return response.error();
  if (response->status < 200 || response->status >= 300) return http_failure(ctx, *response, target);
  if (ctx.json) {
    print_out(response->body);
    return kExitOk;
  }
  const auto value = parse_json(response->body);
  if (!value) {
    print_out(response->body);
    return kExitOk;
  }
  print(*value);
  return kExitOk;
}

}  // namespace signerd::cli

#include "cli/api_call.h"

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

int http_failure(const DaemonContext& ctx, const HttpResponse& response, std::string_view method) {
  const auto body = parse_json(response.body);
  std::string message;
  std::string id;
  if (body) {
    if (const auto* e = find(*body, "error")) {
      message = field(*e, "message");
      id = field(*e, "id");
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
  if (response.status == 401 && tcp && !ctx.client.has_token()) {
    suffix += "; over TCP give a service account's token with --token-file FILE";
  }
  if (response.status == 403 && tcp && ctx.client.has_token() && method != "GET") {
    suffix +=
        "; token holders must sign every change (user-action signing), which signerctl does not do yet: make "
        "changes over the Unix socket as an OS user in auth.unix_allowed_uids";
  }
  print_err(message + " " + suffix);
  if (ctx.json && body) print_out(response.body);
  return exit_code_for_http(response.status);
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
  auto response = ctx.client.request(method, target, body);
  if (!response) return std::unexpected(transport_failure(response.error()));
  if (response->status < 200 || response->status >= 300) {
    return std::unexpected(http_failure(ctx, *response, method));
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
    auto response = ctx.client.request("GET", target);
    if (!response) return transport_failure(response.error());
    if (response->status != 200) return http_failure(ctx, *response);
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
  auto response = ctx.client.request(method, target, body);
  if (!response) return transport_failure(response.error());
  if (response->status < 200 || response->status >= 300) return http_failure(ctx, *response, method);
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

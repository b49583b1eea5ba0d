#include "cli/daemon_commands.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstdio>
#include <string_view>
#include <vector>

#include "cli/api_call.h"
#include "cli/exit_codes.h"

namespace signerd::cli {
namespace {

namespace json = boost::json;

void print_key(const json::value& key) {
  std::string store;
  if (const auto* s = find(key, "store")) store = field(*s, "kind") + " " + field(*s, "keyId");
  print_fields({{"id", field(key, "id")},
                {"name", field(key, "name")},
                {"scheme", field(key, "scheme")},
                {"curve", field(key, "curve")},
                {"status", field(key, "status")},
                {"publicKey", field(key, "publicKey")},
                {"dateCreated", field(key, "dateCreated")},
                {"dateDeleted", field(key, "dateDeleted")},
                {"store", store}});
}

void print_signature(const json::value& sig) {
  const json::value empty;
  const auto* s = find(sig, "signature");
  const json::value& signature = s ? *s : empty;
  print_fields({{"id", field(sig, "id")},
                {"keyId", field(sig, "keyId")},
                {"status", field(sig, "status")},
                {"reason", field(sig, "reason")},
                {"r", field(signature, "r")},
                {"s", field(signature, "s")},
                {"recid", field(signature, "recid")},
                {"encoded", field(signature, "encoded")},
                {"externalId", field(sig, "externalId")},
                {"dateRequested", field(sig, "dateRequested")},
                {"dateSigned", field(sig, "dateSigned")}});
}

void print_key_table(const std::vector<json::value>& keys) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& k : keys) {
    rows.push_back({field(k, "id"), field(k, "scheme"), field(k, "curve"), field(k, "status"), field(k, "dateCreated"),
                    field(k, "name")});
  }
  print_table({"ID", "SCHEME", "CURVE", "STATUS", "CREATED", "NAME"}, rows);
}

std::string key_path(const std::string& key_id) { return "/keys/" + percent_encode(key_id); }

// Flattens a JSON object into "a.b  value" lines, for replies whose shape signerctl does not know (/readyz).
void flatten(const json::value& v, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& out) {
  if (v.is_object() && !v.as_object().empty()) {
    for (const auto& [k, child] : v.as_object()) {
      flatten(child, prefix.empty() ? std::string(k) : prefix + "." + std::string(k), out);
    }
    return;
  }
  out.emplace_back(prefix, scalar_text(v));
}

void print_flat(const json::value& v, const std::string& indent) {
  std::vector<std::pair<std::string, std::string>> lines;
  flatten(v, "", lines);
  std::size_t width = 0;
  for (const auto& [name, value] : lines) width = std::max(width, name.size());
  for (const auto& [name, value] : lines) {
    std::printf("%s%-*s  %s\n", indent.c_str(), static_cast<int>(width), name.c_str(), value.c_str());
  }
}

}  // namespace

int run_status(const DaemonContext& ctx) {
  const std::string where = ctx.client.endpoint().describe();
  auto health = send(ctx, "GET", "/healthz");
  if (!health) return health.error();
  if (health->status != 200) return http_failure(ctx, *health, "/healthz");
  const auto health_json = parse_json(health->body);

  auto ready = send(ctx, "GET", "/readyz");
  if (!ready) return ready.error();
  const auto ready_json = parse_json(ready->body);
  int code = kExitOk;
  if (ready->status != 200 && ready->status != 404 && ready->status != 503) return http_failure(ctx, *ready, "/readyz");
  if (ready->status == 503) code = kExitUnavailable;

  if (ctx.json) {
    json::object out{
        {"endpoint", where}, {"healthz", health_json ? *health_json : json::value(health->body)}, {"readyz", nullptr}};
    if (ready->status != 404) out["readyz"] = ready_json ? *ready_json : json::value(ready->body);
    print_out(json::serialize(out));
    return code;
  }
  const std::string alive = health_json ? field(*health_json, "status") : std::string();
  std::printf("signerd at %s: alive (healthz: %s)\n", where.c_str(), alive.empty() ? "200" : alive.c_str());
  if (ready->status == 404) {
    std::printf("readiness: not reported by this daemon (no /readyz)\n");
  } else {
    std::string message;
    if (ready_json) {
      if (const auto* e = find(*ready_json, "error")) message = field(*e, "message");
    }
    if (ready->status == 200) {
      std::printf("readiness: ready\n");
      // Anything the daemon reports beyond {"status":"ready"}.
      if (ready_json && ready_json->is_object()) {
        json::object rest = ready_json->as_object();
        rest.erase("status");
        if (!rest.empty()) print_flat(rest, "  ");
      }
    } else {
      std::printf("readiness: NOT READY%s\n", message.empty() ? "" : (": " + message).c_str());
    }
  }
  return code;
}

int run_keys_create(const DaemonContext& ctx, const std::string& scheme, const std::string& curve,
                    const std::optional<std::string>& name) {
  json::object body{{"scheme", scheme}, {"curve", curve}};
  if (name) body["name"] = *name;
  return exchange(ctx, "POST", "/keys", json::serialize(body), print_key);
}

int run_keys_list(const DaemonContext& ctx, std::optional<unsigned> limit, const std::optional<std::string>& page_token,
                  bool all) {
  return list_pages(ctx, "/keys", {.limit = limit, .page_token = page_token, .all = all}, "keys", print_key_table);
}

int run_keys_get(const DaemonContext& ctx, const std::string& key_id) {
  return exchange(ctx, "GET", key_path(key_id), std::nullopt, print_key);
}

int run_keys_rename(const DaemonContext& ctx, const std::string& key_id, const std::optional<std::string>& name) {
  json::object body{{"name", nullptr}};
  if (name) body["name"] = *name;
  return exchange(ctx, "PUT", key_path(key_id), json::serialize(body), print_key);
}

int run_keys_archive(const DaemonContext& ctx, const std::string& key_id) {
  return exchange(ctx, "DELETE", key_path(key_id), std::nullopt, print_key);
}

int run_keys_sign(const DaemonContext& ctx, const SignArgs& args) {
  json::object body{{"kind", args.is_hash ? "Hash" : "Message"}, {args.is_hash ? "hash" : "message", args.payload}};
  if (args.external_id) body["externalId"] = *args.external_id;
  return exchange(ctx, "POST", key_path(args.key_id) + "/signatures", json::serialize(body), print_signature);
}

}  // namespace signerd::cli

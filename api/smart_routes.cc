#include "api/smart_routes.h"

#include <boost/json/serialize.hpp>

#include <openssl/crypto.h>

#include <charconv>
#include <vector>

#include "api/request_body.h"
#include "core/smart_account_service.h"
#include "smart/app_signature.h"
#include "smart/user_operation.h"

namespace signerd::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kPrefix = "/api/v1/smart-account";
constexpr std::string_view kAppsPrefix = "/smart-account-apps";

json::value ns_time(std::optional<std::int64_t> ns) {
  if (!ns) return nullptr;
  return json::value(smart::format_rfc3339_ns(*ns));
}

json::object gas_tank_json(const core::SmartAccount& a) {
  const auto& r = a.record;
  return {{"id", r.gas_tank_id},
          {"createdAt", smart::format_rfc3339_ns(r.date_created_ns)},
          {"updatedAt", ns_time(a.gas_tank_updated_ns)},
          {"ownerId", r.id},
          {"balance", a.balance},
          {"type", "token"},
          {"tokenName", r.gas_tank_token},
          {"decimals", r.gas_tank_decimals}};
}

json::object account_json(const core::SmartAccount& a, const store::SmartAccountNetworkRecord& n) {
  json::object o{{"id", n.id},
                 {"createdAt", smart::format_rfc3339_ns(n.date_created_ns)},
                 {"updatedAt", ns_time(n.date_updated_ns)},
                 {"ownerId", a.record.id},
                 {"status", n.status},
                 {"aaAddress", n.aa_address},
                 {"chainId", n.chain_id},
                 {"network", n.network},
                 {"clientId", a.client_id},
                 {"appId", a.record.app_id},
                 {"version", n.version}};
  if (n.tx_hash) o["txHash"] = *n.tx_hash;
  if (n.failure_reason) o["reason"] = *n.failure_reason;
  if (n.date_deployed_ns) o["deployedAt"] = smart::format_rfc3339_ns(*n.date_deployed_ns);
  if (n.deployed_block) o["blockNumber"] = *n.deployed_block;
  return o;
}

json::object smart_account_json(const core::SmartAccount& a) {
  const auto& r = a.record;
  json::array accounts;
  for (const auto& n : a.accounts) accounts.push_back(account_json(a, n));
  return {{"id", r.id},
          {"createdAt", smart::format_rfc3339_ns(r.date_created_ns)},
          {"updatedAt", ns_time(r.date_updated_ns)},
          {"ownerId", r.owner_id},
          {"provider", r.provider},
          {"clientId", a.client_id},
          {"appId", r.app_id},
          {"gasTanks", json::array{gas_tank_json(a)}},
          {"accounts", std::move(accounts)}};
}

Response envelope(http::status status, std::string_view message, json::value data, unsigned version,
                  bool keep_alive) {
  json::object body{{"status", static_cast<int>(status)}, {"message", message}, {"data", std::move(data)}};
  return json_response(status, json::serialize(body), version, keep_alive);
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

// POST /smart-account-apps {name}.
std::optional<Response> create_app(core::SmartAccountService* service, const Request& request,
                                   const core::Principal& who) {
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  if (!service) {
    return error_response({ErrorCode::kUnavailable, "smart accounts are not available", {}}, version, keep_alive);
  }
  if (who.kind != core::PrincipalKind::kLocalAdmin) {  // before the body: a refusal says nothing about it
    auto refused = service->create_app(who, "");
    return error_response(refused.error(), version, keep_alive);
  }
  auto obj = parse_object(request.body());
  if (!obj) return error_response(obj.error(), version, keep_alive);
  BodyFields f(*obj);
  if (auto r = f.only({"name"}); !r) return error_response(r.error(), version, keep_alive);
  auto name = f.required_string("name");
  if (!name) return error_response(name.error(), version, keep_alive);
  auto created = service->create_app(who, *name);
  if (!created) return error_response(created.error(), version, keep_alive);
  json::object body{{"appId", created->app.id},
                    {"clientId", created->app.client_id},
                    {"name", created->app.name},
                    {"secret", created->secret_hex},
                    {"dateCreated", smart::format_rfc3339_ns(created->app.date_created_ns)}};
  std::string text = json::serialize(body);
  OPENSSL_cleanse(created->secret_hex.data(), created->secret_hex.size());
  auto response = json_response(http::status::ok, std::move(text), version, keep_alive);
  response.set(http::field::cache_control, "no-store");
  return response;
}

// An app as GET /smart-account-apps lists it: never its secret, which only the HSM holds.
json::object app_json(const store::SmartAppRecord& app) {
  json::object o{{"appId", app.id},
                 {"clientId", app.client_id},
                 {"name", app.name},
                 {"dateCreated", smart::format_rfc3339_ns(app.date_created_ns)}};
  if (app.date_revoked_ns) o["dateRevoked"] = smart::format_rfc3339_ns(*app.date_revoked_ns);
  return o;
}

// GET /smart-account-apps?limit&paginationToken.
Response list_apps(core::SmartAccountService& service, const Request& request, const core::Principal& who,
                   unsigned default_page_size, unsigned max_page_size) {
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  if (who.kind != core::PrincipalKind::kLocalAdmin) {  // before the query: a refusal says nothing about it
    return error_response(service.list_apps(who, std::nullopt, 1).error(), version, keep_alive);
  }
  const std::string_view target = request.target();
  const auto qmark = target.find('?');
  auto query = parse_query(qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1));
  if (!query) return error_response({ErrorCode::kInvalidArgument, "malformed query string", {}}, version, keep_alive);
  auto page = page_params(*query, default_page_size, max_page_size);
  if (!page) return error_response(page.error(), version, keep_alive);
  auto apps = service.list_apps(who, page->before, page->limit);
  if (!apps) return error_response(apps.error(), version, keep_alive);
  json::array items;
  for (const auto& app : apps->items) items.push_back(app_json(app));
  json::object body{{"items", std::move(items)}};
  if (apps->next_cursor) body["nextPageToken"] = base64url_encode(as_bytes(std::to_string(*apps->next_cursor)));
  return json_response(http::status::ok, json::serialize(body), version, keep_alive);
}

// DELETE /smart-account-apps/{appId}.
Response revoke_app(core::SmartAccountService& service, const Request& request, const core::Principal& who,
                    std::string_view app_id) {
  auto revoked = service.revoke_app(who, app_id);
  if (!revoked) return error_response(revoked.error(), request.version(), request.keep_alive());
  return json_response(http::status::ok, json::serialize(app_json(*revoked)), request.version(), request.keep_alive());
}

// /smart-account-apps and /smart-account-apps/{appId}: the local administrator's, with Dfns's error body.
Response route_apps(core::SmartAccountService* service, const Request& request, const core::Principal& who,
                    std::string_view path, unsigned default_page_size, unsigned max_page_size) {
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  const auto parts = segments(path);  // "smart-account-apps", [appId]
  const auto method = request.method();
  const bool known = (parts.size() == 1 && (method == http::verb::post || method == http::verb::get)) ||
                     (parts.size() == 2 && method == http::verb::delete_);
  if (!known) {  // api.cc's route table lets only the routes above through; kept so this function stands alone
    return error_response({ErrorCode::kInvalidArgument,
                           "method " + std::string(request.method_string()) + " is not allowed on " + std::string(path),
                           {}},
                          version, keep_alive);
  }
  if (parts.size() == 1 && method == http::verb::post) return *create_app(service, request, who);
  if (!service) {
    return error_response({ErrorCode::kUnavailable, "smart accounts are not available", {}}, version, keep_alive);
  }
  if (parts.size() == 1) return list_apps(*service, request, who, default_page_size, max_page_size);
  return revoke_app(*service, request, who, parts[1]);
}

}  // namespace

bool is_smart_account_path(std::string_view path) {
  return path.starts_with(kPrefix) && (path.size() == kPrefix.size() || path[kPrefix.size()] == '/');
}

Response smart_error_response(const Error& error, unsigned http_version, bool keep_alive) {
  json::value data = nullptr;
  if (!error.details.empty()) data = error.details;
  return envelope(http_status(error.code), error.message, std::move(data), http_version, keep_alive);
}

std::optional<Response> route_smart_accounts(core::SmartAccountService* service, const Request& request,
                                             const core::Principal& who, unsigned default_page_size,
                                             unsigned max_page_size) {
  const std::string_view target = request.target();
  const auto qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  if (path == kAppsPrefix || path.starts_with(std::string(kAppsPrefix) + "/")) {
    return route_apps(service, request, who, path, default_page_size, max_page_size);
  }
  if (!is_smart_account_path(path)) return std::nullopt;

  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  const auto method = request.method();
  auto error = [&](const Error& e) { return smart_error_response(e, version, keep_alive); };
  auto failure = [&](ErrorCode code, std::string message) { return error(Error{code, std::move(message), {}}); };
  if (!service) return failure(ErrorCode::kUnavailable, "smart accounts are not available");

  const auto parts = segments(path);  // "api", "v1", "smart-account", ...
  const bool create = parts.size() == 3 && method == http::verb::post;
  const bool list = parts.size() == 3 && method == http::verb::get;
  const bool get = parts.size() == 4 && method == http::verb::get;
  const bool deposit = parts.size() == 7 && parts[4] == "gas-tanks" && parts[6] == "deposits" &&
                       method == http::verb::post;
  const bool activate = parts.size() == 7 && parts[4] == "accounts" && parts[6] == "activate" &&
                        method == http::verb::post;
  if (!create && !list && !get && !deposit && !activate) {
    const bool known = parts.size() == 3 || parts.size() == 4 ||
                       (parts.size() == 7 && ((parts[4] == "gas-tanks" && parts[6] == "deposits") ||
                                              (parts[4] == "accounts" && parts[6] == "activate")));
    if (known) {
      return failure(ErrorCode::kInvalidArgument, "method " + std::string(request.method_string()) +
                                                      " is not allowed on " + std::string(path));
    }
    return failure(ErrorCode::kNotFound, "no route for " + std::string(path));
  }

  // The app signature is the authentication of every route here.
  const smart::AppRequest signed_request{request["X-APP-ID"], request["X-TIMESTAMP"],    request["X-SIGNATURE"],
                                         request.method_string(), target, request.body()};
  auto app = service->authenticate(signed_request);
  if (!app) return error(app.error());
  core::Principal caller = who;
  caller.id = "app:" + app->id;
  caller.kind = core::PrincipalKind::kAnonymous;
  caller.token_id.reset();
  caller.credential_id.reset();

  if (create) {
    auto obj = parse_object(request.body());
    if (!obj) return error(obj.error());
    BodyFields f(*obj);
    if (auto r = f.only({"owner"}); !r) return error(r.error());
    const auto* owner = obj->if_contains("owner");
    if (!owner) return failure(ErrorCode::kInvalidArgument, "field 'owner' is required");
    if (!owner->is_object()) return failure(ErrorCode::kInvalidArgument, "field 'owner' must be an object");
    BodyFields o(owner->as_object());
    if (auto r = o.only({"id", "provider"}); !r) return failure(ErrorCode::kInvalidArgument, "owner: " + r.error().message);
    auto id = o.required_string("id");
    if (!id) return failure(ErrorCode::kInvalidArgument, "owner: " + id.error().message);
    auto provider = o.required_string("provider");
    if (!provider) return failure(ErrorCode::kInvalidArgument, "owner: " + provider.error().message);
    auto created = service->create_account(*app, caller, *id, *provider);
    if (!created) return error(created.error());
    return envelope(http::status::ok, created->created ? "smart account created" : "smart account already exists",
                    smart_account_json(created->account), version, keep_alive);
  }
  auto query = parse_query(qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1));
  if (!query) return failure(ErrorCode::kInvalidArgument, "malformed query string");
  if (list) {
    auto page = page_params(*query, default_page_size, max_page_size);
    if (!page) return error(page.error());
    const auto owner = query->get("owner");
    auto records = service->list_accounts(
        *app, owner ? std::optional<std::string_view>(*owner) : std::nullopt, page->before, page->limit);
    if (!records) return error(records.error());
    json::array items;
    for (const auto& a : records->items) items.push_back(smart_account_json(a));
    json::object data{{"items", std::move(items)}};
    if (records->next_cursor) {
      data["nextPageToken"] = base64url_encode(as_bytes(std::to_string(*records->next_cursor)));
    }
    return envelope(http::status::ok, "OK", std::move(data), version, keep_alive);
  }
  const std::string id(parts[3]);
  if (get) {
    auto account = service->get_account(*app, id);
    if (!account) return error(account.error());
    return envelope(http::status::ok, "OK", smart_account_json(*account), version, keep_alive);
  }
  if (deposit) {
    auto obj = parse_object(request.body());
    if (!obj) return error(obj.error());
    BodyFields f(*obj);
    if (auto r = f.only({"amount"}); !r) return error(r.error());
    if (const auto* amount = obj->if_contains("amount"); amount && !amount->is_string()) {
      return failure(ErrorCode::kInvalidArgument,
                     "field 'amount' must be a string of decimal digits (the token's smallest unit), not a number");
    }
    auto amount = f.required_string("amount");
    if (!amount) return error(amount.error());
    auto done = service->deposit(*app, caller, id, parts[5], *amount);
    if (!done) return error(done.error());
    json::object entry{{"id", done->entry.id},
                       {"gasTankId", done->entry.gas_tank_id},
                       {"kind", done->entry.kind},
                       {"amount", done->entry.amount},
                       {"balance", done->entry.balance_after},
                       {"createdAt", smart::format_rfc3339_ns(done->entry.date_ns)}};
    return envelope(http::status::ok, "deposit recorded",
                    json::object{{"deposit", std::move(entry)}, {"gasTank", gas_tank_json(done->account)}}, version,
                    keep_alive);
  }
  // Activation: an empty body, {} or {"signature": "0x…"} (v0.8's second call).
  std::optional<std::string> signature;
  if (!request.body().empty()) {
    auto obj = parse_object(request.body());
    if (!obj) return error(obj.error());
    BodyFields f(*obj);
    if (auto r = f.only({"signature"}); !r) return error(r.error());
    if (const auto* sig = obj->if_contains("signature"); sig && !sig->is_null()) {
      if (!sig->is_string()) return failure(ErrorCode::kInvalidArgument, "field 'signature' must be a hex string");
      signature = std::string(sig->as_string());
    }
  }
  auto activated = service->activate(*app, caller, id, parts[5], signature);
  if (!activated) return error(activated.error());
  json::object data{{"gasTank", gas_tank_json(activated->account)}};
  for (const auto& n : activated->account.accounts) {
    if (n.id == activated->account_id) data["account"] = account_json(activated->account, n);
  }
  if (activated->to_sign) {
    const auto& t = *activated->to_sign;
    data["userOpHash"] = to_hex_0x(t.hash);
    data["userOperation"] = smart::user_op_to_json(t.op);
    data["entryPoint"] = chains::eip55_encode(t.entry_point);
    data["chainId"] = t.chain_id;
    return envelope(http::status::ok,
                    "sign userOpHash with the owner's key (ECDSA over the hash as is, no message prefix) and send "
                    "{\"signature\": \"0x…\"} to this URL",
                    std::move(data), version, keep_alive);
  }
  if (activated->on_chain) {
    return envelope(http::status::ok, "the account's code is already on chain: marked deployed, nothing charged",
                    std::move(data), version, keep_alive);
  }
  return envelope(http::status::accepted,
                  activated->sent ? "deployment sent; the account is deployed once the transaction is mined"
                                  : "deployment recorded; the node could not be reached, signerd resends the "
                                    "transaction",
                  std::move(data), version, keep_alive);
}

}  // namespace signerd::api

#include "api/identity_routes.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "api/request_body.h"
#include "common/metrics.h"
#include "common/time_format.h"

namespace signerd::api {
namespace {

namespace json = boost::json;
using http_verb = boost::beast::http::verb;

constexpr std::size_t kMaxNameBytes = 256;
constexpr std::size_t kMaxPemBytes = 16 * 1024;


Error method_not_allowed(http_verb method, std::span<const std::string_view> parts) {
  std::string path;
  for (auto p : parts) path += "/" + std::string(p);
  return Error{ErrorCode::kInvalidArgument,
               "method " + std::string(boost::beast::http::to_string(method)) + " is not allowed on " + path,
               {}};
}

json::array assignments_json(const core::UserView& v) {
  json::array out;
  for (const auto& [a, p] : v.assignments) {
    json::array ops;
    for (const auto& op : p.operations) ops.emplace_back(op);
    out.push_back(json::object{{"permissionName", p.name},
                               {"permissionId", p.id},
                               {"assignmentId", a.id},
                               {"operations", std::move(ops)}});
  }
  return out;
}

// Dfns's userInfo, plus `credentials` (signerd extension: what a client needs to sign with its credential).
json::object user_info_json(const core::UserView& v, const std::string& org_id) {
  const auto& u = v.user;
  json::array credentials;
  for (const auto& c : v.credentials) {
    credentials.push_back(json::object{{"credentialId", c.cred_id},
                                       {"credentialUuid", c.uuid},
                                       {"kind", c.kind},
                                       {"name", c.name},
                                       {"isActive", c.is_active},
                                       {"dateCreated", iso(c.date_created_ms)}});
  }
  json::object o{{"username", u.username},
                 {"name", u.name},
                 {"userId", u.id},
                 {"kind", u.kind},
                 {"credentialUuid", v.credentials.empty() ? std::string() : v.credentials.front().uuid},
                 {"orgId", org_id},
                 {"isActive", u.is_active},
                 {"isServiceAccount", u.is_service_account},
                 {"isRegistered", !v.credentials.empty()},
                 {"isSSORequired", false},
                 {"permissionAssignments", assignments_json(v)},
                 {"credentials", std::move(credentials)},
                 {"dateCreated", iso(u.date_created_ms)}};
  if (u.external_id) o["externalId"] = *u.external_id;
  if (u.archived) o["status"] = "Archived";
  return o;
}

json::object service_account_json(const core::UserView& v, const std::string& org_id,
                                   const std::optional<std::string>& access_token = std::nullopt) {
  json::array tokens;
  const auto now = to_unix_millis(std::chrono::system_clock::now());
  for (const auto& t : v.tokens) {
    if (t.kind != "ServiceAccount") continue;
    std::string public_key;
    for (const auto& c : v.credentials) {
      if (t.cred_id && c.cred_id == *t.cred_id) public_key = c.public_key_pem;
    }
    json::object o{{"dateCreated", iso(t.date_created_ms)},
                   {"credId", t.cred_id.value_or("")},
                   {"isActive", !t.revoked_ms && t.expires_ms > now && v.user.is_active},
                   {"kind", t.kind},
                   {"linkedUserId", v.user.id},
                   {"linkedAppId", ""},
                   {"name", t.name.value_or(v.user.name)},
                   {"orgId", org_id},
                   {"permissionAssignments", assignments_json(v)},
                   {"publicKey", public_key},
                   {"tokenId", t.id},
                   {"dateExpires", iso(t.expires_ms)}};
    if (access_token) o["accessToken"] = *access_token;
    tokens.push_back(std::move(o));
  }
  return {{"userInfo", user_info_json(v, org_id)}, {"accessTokens", std::move(tokens)}};
}

json::object permission_json(const core::PermissionRecord& p) {
  json::array ops;
  for (const auto& op : p.operations) ops.emplace_back(op);
  return {{"id", p.id},
          {"name", p.name},
          {"operations", std::move(ops)},
          {"status", p.status},
          {"isImmutable", p.is_immutable},
          {"isArchived", p.status == "Archived"},
          {"dateCreated", iso(p.date_created_ms)},
          {"dateUpdated", iso(p.date_updated_ms)}};
}

json::object assignment_json(const core::AssignmentRecord& a) {
  return {{"id", a.id},
          {"permissionId", a.permission_id},
          {"identityId", a.identity_id},
          {"isImmutable", false},
          {"dateCreated", iso(a.date_created_ms)},
          {"dateUpdated", iso(a.date_created_ms)}};
}

// firstFactor {kind: "Key", credentialAssertion: {credId, clientData, signature, algorithm?}}.
Result<core::IdentityService::Assertion> decode_first_factor(const json::object& body) {
  const auto* ff = body.if_contains("firstFactor");
  if (!ff || !ff->is_object()) return fail(ErrorCode::kInvalidArgument, "field 'firstFactor' is required (an object)");
  BodyFields f(ff->as_object());
  auto kind = f.required_string("kind");
  if (!kind) return std::unexpected(kind.error());
  if (*kind != "Key") {
    return fail(ErrorCode::kInvalidArgument,
                "credential kind '" + kind->substr(0, 32) + "' is not supported; signerd supports Key credentials");
  }
  if (auto r = f.only({"kind", "credentialAssertion"}); !r) return std::unexpected(r.error());
  const auto* ca = ff->as_object().if_contains("credentialAssertion");
  if (!ca || !ca->is_object()) {
    return fail(ErrorCode::kInvalidArgument, "field 'firstFactor.credentialAssertion' is required (an object)");
  }
  BodyFields a(ca->as_object());
  if (auto r = a.only({"credId", "clientData", "signature", "algorithm"}); !r) return std::unexpected(r.error());
  core::IdentityService::Assertion out;
  for (auto [field, target] : {std::pair{"credId", &out.cred_id}, std::pair{"clientData", &out.client_data},
                               std::pair{"signature", &out.signature}}) {
    auto v = a.required_string(field);
    if (!v) return std::unexpected(v.error());
    if (v->empty() || v->size() > 16384) {
      return fail(ErrorCode::kInvalidArgument, std::string("field '") + field + "' must be 1 to 16384 characters");
    }
    *target = std::move(*v);
  }
  auto algorithm = bounded(a.optional_string("algorithm"), "algorithm", 32);
  if (!algorithm) return std::unexpected(algorithm.error());
  out.algorithm = *algorithm;
  return out;
}

Result<json::value> action_init(core::IdentityService& identity, const core::Principal& who, std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"userActionPayload", "userActionHttpMethod", "userActionHttpPath", "userActionServerKind"});
      !r) {
    return std::unexpected(r.error());
  }
  core::IdentityService::UserActionInit init;
  for (auto [field, target] : {std::pair{"userActionPayload", &init.payload},
                               std::pair{"userActionHttpMethod", &init.method},
                               std::pair{"userActionHttpPath", &init.path}}) {
    auto v = f.required_string(field);
    if (!v) return std::unexpected(v.error());
    *target = std::move(*v);
  }
  auto kind = f.optional_string("userActionServerKind");
  if (!kind) return std::unexpected(kind.error());
  if (*kind && **kind != "Api") {
    return fail(ErrorCode::kInvalidArgument, "userActionServerKind must be \"Api\"");
  }
  auto challenge = identity.init_user_action(who, init);
  if (!challenge) return std::unexpected(challenge.error());
  return json::value(std::move(*challenge));
}

// POST /auth/action and POST /auth/login share a body: {challengeIdentifier, firstFactor, secondFactor?}.
Result<std::pair<std::string, core::IdentityService::Assertion>> decode_signed_challenge(std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"challengeIdentifier", "firstFactor", "secondFactor"}); !r) return std::unexpected(r.error());
  if (f.has("secondFactor")) return fail(ErrorCode::kInvalidArgument, "secondFactor is not supported");
  auto id = f.required_string("challengeIdentifier");
  if (!id) return std::unexpected(id.error());
  auto assertion = decode_first_factor(*obj);
  if (!assertion) return std::unexpected(assertion.error());
  return std::pair{std::move(*id), std::move(*assertion)};
}

Result<json::value> create_service_account(core::IdentityService& identity, const core::Principal& who,
                                           std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"name", "publicKey", "permissionId", "externalId", "daysValid"}); !r) {
    return std::unexpected(r.error());
  }
  core::IdentityService::CreateServiceAccount req;
  auto name = f.required_string("name");
  if (!name) return std::unexpected(name.error());
  req.name = *name;
  auto pem = f.required_string("publicKey");
  if (!pem) return std::unexpected(pem.error());
  if (pem->size() > kMaxPemBytes) return fail(ErrorCode::kInvalidArgument, "field 'publicKey' is too large");
  req.public_key_pem = *pem;
  auto permission = bounded(f.optional_string("permissionId"), "permissionId", kMaxNameBytes);
  if (!permission) return std::unexpected(permission.error());
  req.permission_id = *permission;
  auto external_id = bounded(f.optional_string("externalId"), "externalId", kMaxNameBytes);
  if (!external_id) return std::unexpected(external_id.error());
  req.external_id = *external_id;
  if (const auto* days = obj->if_contains("daysValid")) {
    if (!days->is_int64()) return fail(ErrorCode::kInvalidArgument, "field 'daysValid' must be an integer");
    const auto d = days->as_int64();
    if (d < 1 || d > 730) return fail(ErrorCode::kInvalidArgument, "daysValid must be from 1 to 730");
    req.days_valid = static_cast<int>(d);
  }
  auto created = identity.create_service_account(who, req);
  if (!created) return std::unexpected(created.error());
  return json::value(service_account_json(created->view, identity.org_id(), created->access_token));
}

Result<json::value> update_service_account(core::IdentityService& identity, const core::Principal& who,
                                           std::string_view id, std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"name", "externalId"}); !r) return std::unexpected(r.error());
  auto name = bounded(f.optional_string("name"), "name", kMaxNameBytes);
  if (!name) return std::unexpected(name.error());
  bool present = false;
  auto external_id = bounded(f.nullable_string("externalId", present), "externalId", kMaxNameBytes);
  if (!external_id) return std::unexpected(external_id.error());
  std::optional<std::optional<std::string>> ext;
  if (present) ext = *external_id;
  auto updated = identity.update_service_account(who, id, *name, ext);
  if (!updated) return std::unexpected(updated.error());
  return json::value(service_account_json(*updated, identity.org_id()));
}

Result<json::value> set_active(core::IdentityService& identity, const core::Principal& who, std::string_view id,
                               std::string_view body, bool active) {
  auto obj = parse_object(body, /*empty_ok=*/true);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"force"}); !r) return std::unexpected(r.error());
  if (auto force = f.optional_bool("force"); !force) return std::unexpected(force.error());
  auto updated = identity.set_service_account_active(who, id, active);
  if (!updated) return std::unexpected(updated.error());
  return json::value(service_account_json(*updated, identity.org_id()));
}

Result<json::value> create_user(core::IdentityService& identity, const core::Principal& who, std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"email", "kind", "publicKey", "credentialName", "externalId", "isSSORequired"}); !r) {
    return std::unexpected(r.error());
  }
  core::IdentityService::CreateUser req;
  auto email = f.required_string("email");
  if (!email) return std::unexpected(email.error());
  req.username = *email;
  auto kind = f.required_string("kind");
  if (!kind) return std::unexpected(kind.error());
  req.kind = *kind;
  auto pem = f.optional_string("publicKey");
  if (!pem) return std::unexpected(pem.error());
  if (*pem && (*pem)->size() > kMaxPemBytes) return fail(ErrorCode::kInvalidArgument, "field 'publicKey' is too large");
  req.public_key_pem = *pem;
  auto credential_name = bounded(f.optional_string("credentialName"), "credentialName", kMaxNameBytes);
  if (!credential_name) return std::unexpected(credential_name.error());
  req.credential_name = *credential_name;
  auto external_id = bounded(f.optional_string("externalId"), "externalId", kMaxNameBytes);
  if (!external_id) return std::unexpected(external_id.error());
  req.external_id = *external_id;
  auto sso = f.optional_bool("isSSORequired");
  if (!sso) return std::unexpected(sso.error());
  if (sso->value_or(false)) return fail(ErrorCode::kInvalidArgument, "isSSORequired = true is not supported");
  auto created = identity.create_user(who, req);
  if (!created) return std::unexpected(created.error());
  return json::value(user_info_json(*created, identity.org_id()));
}

Result<std::vector<std::string>> decode_operations(const json::object& obj) {
  const auto* v = obj.if_contains("operations");
  if (!v || !v->is_array() || v->as_array().size() > 256) {
    return fail(ErrorCode::kInvalidArgument, "field 'operations' must be an array of operation names");
  }
  std::vector<std::string> ops;
  for (const auto& op : v->as_array()) {
    if (!op.is_string()) return fail(ErrorCode::kInvalidArgument, "field 'operations' must hold strings");
    ops.emplace_back(op.as_string());
  }
  return ops;
}

Result<json::value> permissions_route(core::IdentityService& identity, const core::Principal& who, http_verb method,
                                      std::span<const std::string_view> parts, std::string_view body) {
  if (parts.size() == 1) {
    if (method == http_verb::get) {
      json::array items;
      for (const auto& p : identity.list_permissions()) items.push_back(permission_json(p));
      return json::value(json::object{{"items", std::move(items)}});
    }
    if (method != http_verb::post) return std::unexpected(method_not_allowed(method, parts));
    auto obj = parse_object(body);
    if (!obj) return std::unexpected(obj.error());
    BodyFields f(*obj);
    if (auto r = f.only({"name", "operations"}); !r) return std::unexpected(r.error());
    auto name = f.required_string("name");
    if (!name) return std::unexpected(name.error());
    auto ops = decode_operations(*obj);
    if (!ops) return std::unexpected(ops.error());
    auto p = identity.create_permission(who, *name, *ops);
    if (!p) return std::unexpected(p.error());
    return json::value(permission_json(*p));
  }
  const std::string id(parts[1]);
  if (parts.size() == 2) {
    if (method == http_verb::get) {
      auto p = identity.get_permission(id);
      if (!p) return std::unexpected(p.error());
      return json::value(permission_json(*p));
    }
    if (method != http_verb::put) return std::unexpected(method_not_allowed(method, parts));
    auto obj = parse_object(body);
    if (!obj) return std::unexpected(obj.error());
    BodyFields f(*obj);
    if (auto r = f.only({"name", "operations"}); !r) return std::unexpected(r.error());
    core::IdentityService::PermissionChange change;
    auto name = f.optional_string("name");
    if (!name) return std::unexpected(name.error());
    change.name = *name;
    if (obj->contains("operations")) {
      auto ops = decode_operations(*obj);
      if (!ops) return std::unexpected(ops.error());
      change.operations = std::move(*ops);
    }
    auto p = identity.update_permission(who, id, change);
    if (!p) return std::unexpected(p.error());
    return json::value(permission_json(*p));
  }
  if (parts.size() == 3 && parts[2] == "archive") {
    if (method != http_verb::put) return std::unexpected(method_not_allowed(method, parts));
    auto obj = parse_object(body);
    if (!obj) return std::unexpected(obj.error());
    BodyFields f(*obj);
    if (auto r = f.only({"isArchived"}); !r) return std::unexpected(r.error());
    auto archived = f.optional_bool("isArchived");
    if (!archived) return std::unexpected(archived.error());
    if (!archived->value_or(false)) {
      return fail(ErrorCode::kInvalidArgument, "isArchived must be true: archived permissions stay archived");
    }
    auto p = identity.archive_permission(who, id);
    if (!p) return std::unexpected(p.error());
    return json::value(permission_json(*p));
  }
  if (parts.size() == 3 && parts[2] == "assignments") {
    if (method == http_verb::get) {
      auto list = identity.list_assignments(id);
      if (!list) return std::unexpected(list.error());
      json::array items;
      for (const auto& a : *list) items.push_back(assignment_json(a));
      return json::value(json::object{{"items", std::move(items)}});
    }
    if (method != http_verb::post) return std::unexpected(method_not_allowed(method, parts));
    auto obj = parse_object(body);
    if (!obj) return std::unexpected(obj.error());
    BodyFields f(*obj);
    if (auto r = f.only({"identityId"}); !r) return std::unexpected(r.error());
    auto identity_id = f.required_string("identityId");
    if (!identity_id) return std::unexpected(identity_id.error());
    auto a = identity.assign_permission(who, id, *identity_id);
    if (!a) return std::unexpected(a.error());
    return json::value(assignment_json(*a));
  }
  if (parts.size() == 4 && parts[2] == "assignments") {
    if (method != http_verb::delete_) return std::unexpected(method_not_allowed(method, parts));
    auto obj = parse_object(body, /*empty_ok=*/true);
    if (!obj) return std::unexpected(obj.error());
    if (auto r = BodyFields(*obj).only({}); !r) return std::unexpected(r.error());
    auto a = identity.revoke_assignment(who, id, parts[3]);
    if (!a) return std::unexpected(a.error());
    return json::value(assignment_json(*a));
  }
  return fail(ErrorCode::kNotFound, "no route");
}

}  // namespace

std::optional<Result<json::value>> route_identity(core::IdentityService& identity, const core::Principal& who,
                                                  http_verb method, std::span<const std::string_view> parts,
                                                  std::string_view body) {
  if (parts.empty()) return std::nullopt;
  if (parts[0] == "permissions") {
    auto r = permissions_route(identity, who, method, parts, body);
    if (!r && r.error().code == ErrorCode::kNotFound && r.error().message == "no route") return std::nullopt;
    return r;
  }
  if (parts[0] != "auth" || parts.size() < 2) return std::nullopt;
  const auto area = parts[1];
  if (parts.size() == 3 && (area == "action" || area == "login") && parts[2] == "init") {
    if (method != http_verb::post) return Result<json::value>(std::unexpected(method_not_allowed(method, parts)));
    if (area == "action") return action_init(identity, who, body);
    auto obj = parse_object(body);
    if (!obj) return Result<json::value>(std::unexpected(obj.error()));
    BodyFields f(*obj);
    if (auto r = f.only({"username", "orgId", "loginCode"}); !r) return Result<json::value>(std::unexpected(r.error()));
    auto username = f.required_string("username");
    if (!username) return Result<json::value>(std::unexpected(username.error()));
    auto org_id = f.required_string("orgId");
    if (!org_id) return Result<json::value>(std::unexpected(org_id.error()));
    auto challenge = identity.init_login(*username, *org_id);
    if (!challenge) return Result<json::value>(std::unexpected(challenge.error()));
    return Result<json::value>(json::value(std::move(*challenge)));
  }
  if (parts.size() == 2 && (area == "action" || area == "login")) {
    if (method != http_verb::post) return Result<json::value>(std::unexpected(method_not_allowed(method, parts)));
    auto signed_challenge = decode_signed_challenge(body);
    if (!signed_challenge) return Result<json::value>(std::unexpected(signed_challenge.error()));
    auto& [id, assertion] = *signed_challenge;
    if (area == "action") {
      auto token = identity.complete_user_action(who, id, assertion);
      metrics::registry().add("signerd_user_actions_total", {{"result", token ? "issued" : "refused"}});
      if (!token) return Result<json::value>(std::unexpected(token.error()));
      return Result<json::value>(json::value(json::object{{"userAction", *token}}));
    }
    auto token = identity.complete_login(id, assertion);
    if (!token) return Result<json::value>(std::unexpected(token.error()));
    return Result<json::value>(json::value(json::object{{"token", *token}}));
  }
  if (area == "service-accounts") {
    if (parts.size() == 2) {
      if (method == http_verb::post) return create_service_account(identity, who, body);
      if (method != http_verb::get) return Result<json::value>(std::unexpected(method_not_allowed(method, parts)));
      json::array items;
      for (const auto& v : identity.list_service_accounts()) items.push_back(service_account_json(v, identity.org_id()));
      return Result<json::value>(json::value(json::object{{"items", std::move(items)}}));
    }
    const std::string id(parts[2]);
    if (parts.size() == 3) {
      Result<core::UserView> view = fail(ErrorCode::kInternal, "");
      switch (method) {
        case http_verb::get: view = identity.get_service_account(id); break;
        case http_verb::put: return update_service_account(identity, who, id, body);
        case http_verb::delete_: {
          auto obj = parse_object(body, /*empty_ok=*/true);
          if (!obj) return Result<json::value>(std::unexpected(obj.error()));
          view = identity.archive_service_account(who, id);
          break;
        }
        default: return Result<json::value>(std::unexpected(method_not_allowed(method, parts)));
      }
      if (!view) return Result<json::value>(std::unexpected(view.error()));
      return Result<json::value>(json::value(service_account_json(*view, identity.org_id())));
    }
    if (parts.size() == 4 && (parts[3] == "activate" || parts[3] == "deactivate")) {
      if (method != http_verb::put) return Result<json::value>(std::unexpected(method_not_allowed(method, parts)));
      return set_active(identity, who, id, body, parts[3] == "activate");
    }
    return std::nullopt;
  }
  if (area == "users") {
    if (parts.size() == 2) {
      if (method == http_verb::post) return create_user(identity, who, body);
      if (method != http_verb::get) return Result<json::value>(std::unexpected(method_not_allowed(method, parts)));
      json::array items;
      for (const auto& v : identity.list_users()) items.push_back(user_info_json(v, identity.org_id()));
      return Result<json::value>(json::value(json::object{{"items", std::move(items)}}));
    }
    if (parts.size() == 3) {
      if (method != http_verb::get) return Result<json::value>(std::unexpected(method_not_allowed(method, parts)));
      auto view = identity.get_user(parts[2]);
      if (!view) return Result<json::value>(std::unexpected(view.error()));
      return Result<json::value>(json::value(user_info_json(*view, identity.org_id())));
    }
  }
  return std::nullopt;
}

}  // namespace signerd::api

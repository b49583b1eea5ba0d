#include "api/legacy_routes.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "common/hex.h"
#include "common/time_format.h"

namespace signerd::api {
namespace {

namespace json = boost::json;
using http_verb = boost::beast::http::verb;

constexpr std::size_t kMaxNameBytes = 256;
constexpr std::size_t kMaxExternalIdBytes = 256;
constexpr std::size_t kMaxIdBytes = 64;
// An EdDSA public key signs the message itself (KeyService's limit); hex doubles it.
constexpr std::size_t kMaxHashHexChars = 2 + 2 * core::KeyService::kMaxMessageBytes;

std::string iso(std::int64_t ms) { return format_iso8601(from_unix_millis(ms)); }

Error method_not_allowed(http_verb method, std::span<const std::string_view> parts) {
  std::string path;
  for (auto p : parts) path += "/" + std::string(p);
  return Error{ErrorCode::kInvalidArgument,
               "method " + std::string(boost::beast::http::to_string(method)) + " is not allowed on " + path,
               {}};
}

Result<std::optional<std::string>> bounded(Result<std::optional<std::string>> v, std::string_view field,
                                           std::size_t max) {
  if (v && *v && (v->value().empty() || v->value().size() > max)) {
    return fail(ErrorCode::kInvalidArgument,
                "field '" + std::string(field) + "' must be 1 to " + std::to_string(max) + " characters");
  }
  return v;
}

// groupSize and groupThreshold are MPC settings: an HSM key has one signer, so only 1 is accepted.
Result<void> check_group(const json::object& obj) {
  for (const char* field : {"groupSize", "groupThreshold"}) {
    const auto* v = obj.if_contains(field);
    if (v && !(v->is_int64() && v->as_int64() == 1) && !(v->is_uint64() && v->as_uint64() == 1)) {
      return fail(ErrorCode::kInvalidArgument,
                  std::string("field '") + field + "' must be 1: an HSM key has a single signer (no MPC group)");
    }
  }
  return {};
}

// --- entities

json::object public_key_json(const store::KeyRecord& k, const std::string& org_id) {
  json::object o{{"id", k.public_key_id.value_or("")},
                 {"publicKey", k.public_key},
                 {"isEddsa", k.scheme == "EdDSA"},
                 {"orgId", org_id},
                 {"signerIds", json::array{}},
                 {"groupThreshold", 1},
                 {"groupSize", 1},
                 // signerd: the state of the key, and the key this public key is a view of.
                 {"status", k.status == store::KeyStatus::kActive ? "Active" : "Disabled"},
                 {"keyId", k.id},
                 {"scheme", k.scheme},
                 {"curve", k.curve},
                 {"dateCreated", iso(k.date_created_ms)}};
  return o;
}

json::object asset_account_json(const core::AssetAccount& full, const std::string& org_id) {
  const auto& a = full.account;
  json::array tags;
  for (const auto& t : a.tags) tags.emplace_back(t);
  json::object o{{"id", a.id},
                 {"orgId", org_id},
                 {"status", store::to_string(a.status)},
                 {"assetSymbol", a.asset_symbol},
                 {"name", a.name.value_or("")},
                 {"dateCreated", iso(a.date_created_ms)},
                 {"dateUpdate", iso(a.date_updated_ms)},
                 {"tags", std::move(tags)},
                 {"groupSize", 1},
                 {"groupThreshold", 1},
                 {"network", a.network}};  // signerd: the Dfns network of the address
  if (a.address) o["address"] = *a.address;
  if (full.key && full.key->public_key_id) {
    o["publicKey"] = full.key->public_key;
    o["publicKeyId"] = *full.key->public_key_id;
  }
  if (a.external_id) o["externalId"] = *a.external_id;
  if (a.reason) o["reason"] = *a.reason;
  return o;
}

// A key signature as the legacy API shows it: {id, orgId, publicKeyId, hash, status "Executed", r, s, recid, ...}.
json::object signature_json(const store::SignatureRecord& s, std::string_view public_key_id,
                            const std::string& org_id) {
  // The signed bytes come back from the canonical request the signature records (Hash, or Message for EdDSA).
  std::string hash;
  boost::system::error_code ec;
  const auto body = json::parse(s.request_body, ec);
  if (!ec && body.is_object()) {
    for (const char* field : {"hash", "message"}) {
      if (const auto* v = body.as_object().if_contains(field); v && v->is_string()) hash = v->as_string();
    }
  }
  json::object initiator{{"kind", s.requester_user_id.starts_with("os-uid-") ? "LocalAdministrator" : "User"},
                         {"userId", s.requester_user_id},
                         {"orgId", org_id}};
  if (s.requester_token_id) initiator["tokenId"] = *s.requester_token_id;
  json::object o{{"id", s.id},
                 {"orgId", org_id},
                 {"publicKeyId", public_key_id},
                 {"keyId", s.key_id},
                 {"hash", hash},
                 {"status", s.status == "Signed" ? "Executed" : s.status},
                 {"initiator", std::move(initiator)},
                 {"dateCreated", iso(s.date_requested_ms)}};
  if (s.r) o["r"] = *s.r;
  if (s.s) o["s"] = *s.s;
  if (s.recid) o["recid"] = *s.recid;
  if (s.encoded) o["encoded"] = *s.encoded;
  if (s.reason) o["reason"] = *s.reason;
  if (s.date_signed_ms) o["dateExecuted"] = iso(*s.date_signed_ms);
  return o;
}

// --- handlers

Result<json::value> create_asset_account(core::AssetAccountService& accounts, core::IdentityService& identity,
                                         const core::Principal& who, std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"assetSymbol", "name", "publicKey", "groupSize", "groupThreshold", "externalId", "tags"}); !r) {
    return std::unexpected(r.error());
  }
  core::CreateAssetAccountRequest req;
  auto symbol = f.optional_string("assetSymbol");
  if (!symbol) return std::unexpected(symbol.error());
  req.asset_symbol = symbol->value_or("");  // empty: refused by core with the list of symbols
  auto name = bounded(f.optional_string("name"), "name", kMaxNameBytes);
  if (!name) return std::unexpected(name.error());
  req.name = *name;
  auto public_key = bounded(f.optional_string("publicKey"), "publicKey", kMaxIdBytes);
  if (!public_key) return std::unexpected(public_key.error());
  req.public_key_id = *public_key;
  auto external_id = bounded(f.optional_string("externalId"), "externalId", kMaxExternalIdBytes);
  if (!external_id) return std::unexpected(external_id.error());
  req.external_id = *external_id;
  auto tags = decode_tags(*obj);
  if (!tags) return std::unexpected(tags.error());
  if (*tags) req.tags = std::move(**tags);
  if (auto r = check_group(*obj); !r) return std::unexpected(r.error());
  // Without publicKey the account creates a public key (and its key).
  if (!req.public_key_id) {
    if (auto r = identity.require(who, "PublicKeys:Create"); !r) return std::unexpected(r.error());
  }
  auto account = accounts.create(who, req);
  if (!account) return std::unexpected(account.error());
  return json::value(asset_account_json(*account, identity.org_id()));
}

Result<json::value> list_asset_accounts(core::AssetAccountService& accounts, core::IdentityService& identity,
                                        const core::Principal& who, const Query& query) {
  std::optional<store::AssetAccountStatus> status;
  if (auto text = query.get("status")) {
    status = store::parse_asset_account_status(*text);
    if (!status) return fail(ErrorCode::kInvalidArgument, "status must be Creating, Enabled or Failed");
  }
  auto list = accounts.list(who, status);
  if (!list) return std::unexpected(list.error());
  json::array items;
  items.reserve(list->size());
  for (const auto& a : *list) items.push_back(asset_account_json(a, identity.org_id()));
  return json::value(json::object{{"items", std::move(items)}});
}

Result<json::value> create_public_key(core::PublicKeyService& keys, core::IdentityService& identity,
                                      const core::Principal& who, std::string_view body) {
  auto obj = parse_object(body, /*empty_ok=*/true);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"isEddsa", "groupSize", "groupThreshold", "externalId", "assetAccountId", "tags"}); !r) {
    return std::unexpected(r.error());
  }
  for (const char* unsupported : {"externalId", "assetAccountId", "tags"}) {
    if (f.has(unsupported)) {
      return fail(ErrorCode::kInvalidArgument, std::string("field '") + unsupported + "' is not supported");
    }
  }
  auto is_eddsa = f.optional_bool("isEddsa");
  if (!is_eddsa) return std::unexpected(is_eddsa.error());
  if (auto r = check_group(*obj); !r) return std::unexpected(r.error());
  auto key = keys.create(who, is_eddsa->value_or(false));
  if (!key) return std::unexpected(key.error());
  return json::value(public_key_json(*key, identity.org_id()));
}

Result<json::value> sign_with_public_key(core::PublicKeyService& keys, core::IdentityService& identity,
                                         const core::Principal& who, std::string_view public_key_id,
                                         std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"hash"}); !r) return std::unexpected(r.error());
  auto hash_hex = f.required_string("hash");
  if (!hash_hex) return std::unexpected(hash_hex.error());
  auto hash = hash_hex->size() <= kMaxHashHexChars ? from_hex(*hash_hex) : std::nullopt;
  if (!hash) {
    return fail(ErrorCode::kInvalidArgument,
                "field 'hash' must be hex: a 32-byte digest for ECDSA keys, the message for EdDSA keys");
  }
  auto sig = keys.sign(who, public_key_id, *hash);
  if (!sig) return std::unexpected(sig.error());
  return json::value(signature_json(*sig, public_key_id, identity.org_id()));
}

std::optional<Result<json::value>> asset_accounts_route(core::AssetAccountService* accounts,
                                                        core::IdentityService& identity, const core::Principal& who,
                                                        http_verb method, std::span<const std::string_view> parts,
                                                        const Query& query, std::string_view body) {
  if (parts.size() < 2 || parts.size() > 3 || parts[1] != "asset-accounts") return std::nullopt;
  if (accounts == nullptr) return fail(ErrorCode::kUnavailable, "asset accounts are not available");
  if (parts.size() == 2) {
    if (method == http_verb::post) return create_asset_account(*accounts, identity, who, body);
    if (method == http_verb::get) return list_asset_accounts(*accounts, identity, who, query);
    return Result<json::value>(std::unexpected(method_not_allowed(method, parts)));
  }
  if (method != http_verb::get) return Result<json::value>(std::unexpected(method_not_allowed(method, parts)));
  auto account = accounts->get(who, parts[2]);
  if (!account) return Result<json::value>(std::unexpected(account.error()));
  return Result<json::value>(asset_account_json(*account, identity.org_id()));
}

std::optional<Result<json::value>> public_keys_route(core::PublicKeyService* keys, core::IdentityService& identity,
                                                     const core::Principal& who, http_verb method,
                                                     std::span<const std::string_view> parts, const Query& query,
                                                     std::string_view body) {
  if (parts.size() > 4) return std::nullopt;
  if (keys == nullptr) return fail(ErrorCode::kUnavailable, "public keys are not available");
  const auto refuse = [&] { return Result<json::value>(std::unexpected(method_not_allowed(method, parts))); };
  if (parts.size() == 1) {
    if (method == http_verb::post) return create_public_key(*keys, identity, who, body);
    if (method != http_verb::get) return refuse();
    auto list = keys->list(who);
    if (!list) return Result<json::value>(std::unexpected(list.error()));
    json::array items;
    items.reserve(list->size());
    for (const auto& k : *list) items.push_back(public_key_json(k, identity.org_id()));
    return Result<json::value>(json::object{{"items", std::move(items)}});
  }
  const std::string public_key_id(parts[1]);
  if (parts.size() == 2) {
    if (method != http_verb::get) return refuse();
    auto key = keys->get(who, public_key_id);
    if (!key) return Result<json::value>(std::unexpected(key.error()));
    return Result<json::value>(public_key_json(*key, identity.org_id()));
  }
  if (parts.size() == 3 && parts[2] == "address") {
    if (method != http_verb::get) return refuse();
    auto code = query.get("network");
    if (!code || code->empty()) {
      return fail(ErrorCode::kInvalidArgument, "query parameter 'network' is required (e.g. network=ETH)");
    }
    auto network = core::legacy_network(*code);
    if (!network) return Result<json::value>(std::unexpected(network.error()));
    auto address = keys->address(who, public_key_id, *network);
    if (!address) return Result<json::value>(std::unexpected(address.error()));
    return Result<json::value>(
        json::object{{"publicKeyId", public_key_id}, {"network", network->code}, {"address", *address}});
  }
  if (parts[2] != "signatures") return std::nullopt;
  // A public key's signatures are key signatures (Keys:Signatures:*, checked by policy_of) made through a public
  // key: reading the public key is needed too, which also keeps end users out.
  if (auto r = identity.require(who, "PublicKeys:Read"); !r) return Result<json::value>(std::unexpected(r.error()));
  if (parts.size() == 3) {
    if (method != http_verb::post) return refuse();
    return sign_with_public_key(*keys, identity, who, public_key_id, body);
  }
  if (method != http_verb::get) return refuse();
  auto sig = keys->get_signature(who, public_key_id, parts[3]);
  if (!sig) return Result<json::value>(std::unexpected(sig.error()));
  return Result<json::value>(signature_json(*sig, public_key_id, identity.org_id()));
}

}  // namespace

std::optional<Result<json::value>> route_legacy(const LegacyServices& services, core::IdentityService& identity,
                                                const core::Principal& who, http_verb method,
                                                std::span<const std::string_view> parts, const Query& query,
                                                std::string_view body) {
  if (parts.empty()) return std::nullopt;
  if (parts[0] == "assets") {
    return asset_accounts_route(services.asset_accounts, identity, who, method, parts, query, body);
  }
  if (parts[0] == "public-keys") {
    return public_keys_route(services.public_keys, identity, who, method, parts, query, body);
  }
  return std::nullopt;
}

}  // namespace signerd::api

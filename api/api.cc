#include "api/api.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/evp.h>

#include <charconv>
#include <vector>

#include "api/identity_routes.h"
#include "api/smart_routes.h"
#include "api/legacy_routes.h"
#include "api/request_body.h"
#include "chains/eip712.h"
#include "chains/evm_tx.h"
#include "common/metrics.h"
#include "common/time_format.h"

namespace signerd::api {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxNameBytes = 256;
constexpr std::size_t kMaxExternalIdBytes = 256;
constexpr std::size_t kMaxNetworkBytes = 64;

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return parts;
}


json::object key_json(const store::KeyRecord& k, const std::vector<store::WalletRecord>& wallets = {}) {
  json::array wallet_refs;
  for (const auto& w : wallets) wallet_refs.push_back(json::object{{"id", w.id}, {"network", w.network}});
  json::object o{{"id", k.id},
                 {"scheme", k.scheme},
                 {"curve", k.curve},
                 {"publicKey", k.public_key},
                 {"status", store::to_string(k.status)},
                 {"custodial", k.custodial},
                 {"dateCreated", iso(k.date_created_ms)},
                 {"store", {{"kind", "Hsm"}, {"keyId", k.id}}},
                 {"wallets", std::move(wallet_refs)}};
  if (k.name) o["name"] = *k.name;
  if (k.date_deleted_ms) o["dateDeleted"] = iso(*k.date_deleted_ms);
  return o;
}

json::object wallet_json(const core::Wallet& full) {
  const auto& w = full.wallet;
  const auto& k = full.key;
  json::array tags;
  for (const auto& t : w.tags) tags.emplace_back(t);
  json::object o{{"id", w.id},
                 {"network", w.network},
                 {"signingKey", {{"id", k.id}, {"scheme", k.scheme}, {"curve", k.curve}, {"publicKey", k.public_key}}},
                 {"status", w.status},
                 {"dateCreated", iso(w.date_created_ms)},
                 {"custodial", w.custodial},
                 {"tags", std::move(tags)}};
  if (k.delegated_to) o["signingKey"].as_object()["delegatedTo"] = *k.delegated_to;
  if (w.address) o["address"] = *w.address;
  if (w.name) o["name"] = *w.name;
  if (w.external_id) o["externalId"] = *w.external_id;
  return o;
}

json::object signature_json(const store::SignatureRecord& s) {
  json::object requester{{"userId", s.requester_user_id}};
  if (s.requester_token_id) requester["tokenId"] = *s.requester_token_id;
  boost::system::error_code ec;
  json::value request_body = json::parse(s.request_body, ec);
  json::object o{{"id", s.id},
                 {"keyId", s.key_id},
                 {"requester", std::move(requester)},
                 {"requestBody", ec ? json::value(json::object{}) : std::move(request_body)},
                 {"status", s.status},
                 {"dateRequested", iso(s.date_requested_ms)}};
  if (s.r && s.s) {
    json::object sig{{"r", *s.r}, {"s", *s.s}};
    if (s.recid) sig["recid"] = *s.recid;
    if (s.encoded) sig["encoded"] = *s.encoded;
    o["signature"] = std::move(sig);
  }
  if (s.reason) o["reason"] = *s.reason;
  if (s.signed_data) o["signedData"] = *s.signed_data;
  if (s.tx_hash) o["txHash"] = *s.tx_hash;
  if (s.network) o["network"] = *s.network;
  if (s.external_id) o["externalId"] = *s.external_id;
  if (s.date_signed_ms) o["dateSigned"] = iso(*s.date_signed_ms);
  return o;
}

std::string page_token(std::int64_t cursor) { return base64url_encode(as_bytes(std::to_string(cursor))); }

Result<PageParams> page_params(const Query& q, const ApiOptions& options) {
  return ::signerd::api::page_params(q, options.default_page_size, options.max_page_size);
}

template <class T, class F>
json::object page_json(const store::Page<T>& page, F&& encode) {
  json::array items;
  items.reserve(page.items.size());
  for (const auto& item : page.items) items.push_back(encode(item));
  json::object o{{"items", std::move(items)}};
  if (page.next_cursor) o["nextPageToken"] = page_token(*page.next_cursor);
  return o;
}

// --- handlers: each returns the JSON to send with 200, or an error.

// GET /keys and GET /wallets ?owner= (a user id or username, as Dfns takes it): the end user whose delegated keys
// to list. An unknown owner owns nothing: the id that matches no key.
Result<std::optional<std::string>> owner_filter(core::IdentityService& identity, const Query& query) {
  auto owner = query.get("owner");
  if (!owner || owner->empty()) return std::optional<std::string>{};
  if (owner->size() > 320) return fail(ErrorCode::kInvalidArgument, "owner must be a user id or username");
  return std::optional<std::string>{identity.find_user_id(*owner).value_or("unknown-owner")};
}

// delegateTo (an end user; needs Keys:Delegate) and delayDelegation, as POST /keys and POST /wallets take them.
Result<std::pair<std::optional<std::string>, bool>> decode_delegation(const BodyFields& f,
                                                                      core::IdentityService& identity,
                                                                      const core::Principal& who) {
  auto delegate_to = bounded(f.optional_string("delegateTo"), "delegateTo", kMaxNameBytes);
  if (!delegate_to) return std::unexpected(delegate_to.error());
  auto delay = f.optional_bool("delayDelegation");
  if (!delay) return std::unexpected(delay.error());
  if (*delegate_to) {
    if (delay->value_or(false)) {
      return fail(ErrorCode::kInvalidArgument, "give delegateTo or delayDelegation: true, not both");
    }
    if (auto r = identity.require(who, "Keys:Delegate"); !r) return std::unexpected(r.error());
    if (auto r = identity.require_end_user(**delegate_to); !r) return std::unexpected(r.error());
  }
  return std::pair{*delegate_to, delay->value_or(false)};
}

// POST /keys/{keyId}/delegate {delegateTo} and POST /wallets/{walletId}/delegate {userId}: the end user to hand
// the key to.
Result<std::string> decode_delegate_target(core::IdentityService& identity, std::string_view body,
                                           std::string_view field) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({field}); !r) return std::unexpected(r.error());
  auto user = f.required_string(field);
  if (!user) return std::unexpected(user.error());
  if (auto r = identity.require_end_user(*user); !r) return std::unexpected(r.error());
  return *user;
}

json::object custody_json(std::string_view key_id, const std::vector<store::CustodyRecord>& records) {
  json::array items;
  for (const auto& c : records) {
    json::object principal{{"userId", c.principal_id}};
    if (c.token_id) principal["tokenId"] = *c.token_id;
    json::object o{{"event", c.custody.event},
                   {"principal", std::move(principal)},
                   {"auditId", c.audit_seq},
                   {"date", iso(c.date_ms)}};
    if (c.custody.delegated_to) o["delegatedTo"] = *c.custody.delegated_to;
    items.push_back(std::move(o));
  }
  return {{"keyId", key_id}, {"items", std::move(items)}};
}

json::object audit_json(const AuditRecord& r) {
  const auto& e = r.entry;
  json::array affected;
  for (const auto& id : e.affected_ids) affected.emplace_back(id);
  json::object o{{"seq", r.seq},
                 {"date", iso(e.time_ms)},
                 {"timeMs", e.time_ms},
                 {"principalId", e.principal_id},
                 {"tokenId", e.token_id ? json::value(*e.token_id) : json::value(nullptr)},
                 {"credentialId", e.credential_id ? json::value(*e.credential_id) : json::value(nullptr)},
                 {"method", e.method},
                 {"path", e.path},
                 {"bodySha256", e.body_sha256},
                 {"outcome", e.outcome},
                 {"affectedIds", std::move(affected)},
                 {"prevHash", r.prev_hash},
                 {"hash", r.hash}};
  return o;
}

Result<json::value> create_key(core::KeyService& keys, core::IdentityService& identity, const core::Principal& who,
                               std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"scheme", "curve", "name", "masterKey", "deriveFrom", "storeId", "delegateTo",
                       "delayDelegation"});
      !r) {
    return std::unexpected(r.error());
  }
  auto scheme = f.required_string("scheme");
  if (!scheme) return std::unexpected(scheme.error());
  auto curve = f.required_string("curve");
  if (!curve) return std::unexpected(curve.error());
  auto name = bounded(f.optional_string("name"), "name", kMaxNameBytes);
  if (!name) return std::unexpected(name.error());
  for (const char* unsupported : {"deriveFrom", "storeId"}) {
    if (f.has(unsupported)) {
      return fail(ErrorCode::kInvalidArgument, std::string("field '") + unsupported + "' is not supported yet");
    }
  }
  auto master = f.optional_bool("masterKey");
  if (!master) return std::unexpected(master.error());
  if (master->value_or(false)) return fail(ErrorCode::kInvalidArgument, "field 'masterKey' = true is not supported yet");
  auto delegation = decode_delegation(f, identity, who);
  if (!delegation) return std::unexpected(delegation.error());
  auto key = keys.create_key(who, {*scheme, *curve, *name, delegation->first, delegation->second});
  if (!key) return std::unexpected(key.error());
  return key_json(*key);
}

Result<json::value> rename_key(core::KeyService& keys, const core::Principal& who, std::string_view key_id,
                               std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"name"}); !r) return std::unexpected(r.error());
  bool present = false;
  auto name = bounded(f.nullable_string("name", present), "name", kMaxNameBytes);
  if (!name) return std::unexpected(name.error());
  if (!present) return fail(ErrorCode::kInvalidArgument, "field 'name' is required (a string, or null to clear it)");
  auto key = keys.rename_key(who, key_id, *name);
  if (!key) return std::unexpected(key.error());
  return key_json(*key);
}

Result<json::value> archive_key(core::KeyService& keys, const core::Principal& who, std::string_view key_id,
                                std::string_view body) {
  auto obj = parse_object(body, /*empty_ok=*/true);  // the Dfns SDK sends "{}" on DELETE
  if (!obj) return std::unexpected(obj.error());
  if (auto r = BodyFields(*obj).only({}); !r) return std::unexpected(r.error());
  auto key = keys.archive_key(who, key_id);
  if (!key) return std::unexpected(key.error());
  return key_json(*key);
}

// The key with its wallets, as GET /keys/{keyId} shows it.
Result<json::value> key_with_wallets(core::WalletService& wallets, Result<json::value> key, std::string_view key_id) {
  if (!key) return key;
  auto list = wallets.wallets_of_key(key_id);
  if (!list) return std::unexpected(list.error());
  json::array refs;
  for (const auto& w : *list) refs.push_back(json::object{{"id", w.id}, {"network", w.network}});
  key->as_object()["wallets"] = std::move(refs);
  return key;
}

Result<json::value> create_wallet(core::WalletService& wallets, core::IdentityService& identity,
                                  const core::Principal& who, std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"network", "name", "signingKey", "delegateTo", "delayDelegation", "externalId", "tags"}); !r) {
    return std::unexpected(r.error());
  }
  core::CreateWalletRequest req;
  auto network = f.required_string("network");
  if (!network) return std::unexpected(network.error());
  if (network->empty() || network->size() > kMaxNetworkBytes) {
    return fail(ErrorCode::kInvalidArgument, "unsupported network: " + network->substr(0, kMaxNetworkBytes));
  }
  req.network = *network;
  auto name = bounded(f.optional_string("name"), "name", kMaxNameBytes);
  if (!name) return std::unexpected(name.error());
  req.name = *name;
  auto external_id = bounded(f.optional_string("externalId"), "externalId", kMaxExternalIdBytes);
  if (!external_id) return std::unexpected(external_id.error());
  req.external_id = *external_id;
  auto tags = decode_tags(*obj);
  if (!tags) return std::unexpected(tags.error());
  if (*tags) req.tags = std::move(**tags);
  auto delegation = decode_delegation(f, identity, who);
  if (!delegation) return std::unexpected(delegation.error());
  req.delegate_to = delegation->first;
  req.delay_delegation = delegation->second;
  if (const auto* sk = obj->if_contains("signingKey")) {
    if (!sk->is_object()) return fail(ErrorCode::kInvalidArgument, "field 'signingKey' must be an object");
    BodyFields k(sk->as_object());
    if (auto r = k.only({"id", "scheme", "curve", "storeId", "deriveFrom"}); !r) {
      return fail(ErrorCode::kInvalidArgument, "signingKey: " + r.error().message);
    }
    for (const char* unsupported : {"storeId", "deriveFrom"}) {
      if (k.has(unsupported)) {
        return fail(ErrorCode::kInvalidArgument,
                    std::string("field 'signingKey.") + unsupported + "' is not supported yet");
      }
    }
    for (auto [field, target] : {std::pair{"id", &req.key_id}, std::pair{"scheme", &req.scheme},
                                 std::pair{"curve", &req.curve}}) {
      auto v = bounded(k.optional_string(field), std::string("signingKey.") + field, kMaxNameBytes);
      if (!v) return std::unexpected(v.error());
      *target = *v;
    }
  }
  auto wallet = wallets.create_wallet(who, req);
  if (!wallet) return std::unexpected(wallet.error());
  return wallet_json(*wallet);
}

Result<json::value> update_wallet(core::WalletService& wallets, const core::Principal& who, std::string_view wallet_id,
                                  std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"name", "externalId"}); !r) return std::unexpected(r.error());
  store::Store::WalletUpdate update;
  bool present = false;
  auto name = bounded(f.nullable_string("name", present), "name", kMaxNameBytes);
  if (!name) return std::unexpected(name.error());
  if (present) update.name = *name;
  present = false;
  auto external_id = bounded(f.nullable_string("externalId", present), "externalId", kMaxExternalIdBytes);
  if (!external_id) return std::unexpected(external_id.error());
  if (present) update.external_id = *external_id;
  auto wallet = wallets.update_wallet(who, wallet_id, update);
  if (!wallet) return std::unexpected(wallet.error());
  return wallet_json(*wallet);
}

// PUT adds the tags, DELETE removes them; both answer {}.
Result<json::value> change_tags(core::WalletService& wallets, const core::Principal& who, std::string_view wallet_id,
                                std::string_view body, bool add) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  if (auto r = BodyFields(*obj).only({"tags"}); !r) return std::unexpected(r.error());
  auto tags = decode_tags(*obj);
  if (!tags) return std::unexpected(tags.error());
  if (!*tags) return fail(ErrorCode::kInvalidArgument, "field 'tags' is required");
  auto wallet = add ? wallets.add_tags(who, wallet_id, **tags) : wallets.remove_tags(who, wallet_id, **tags);
  if (!wallet) return std::unexpected(wallet.error());
  return json::value(json::object{});
}

// The fields every signature request may carry besides its payload: network, blockchainKind, externalId. They are
// copied into `req` and into the canonical form.
Result<void> decode_common_fields(const BodyFields& f, core::SignatureRequest& req, json::object& canonical) {
  auto network = bounded(f.optional_string("network"), "network", kMaxNetworkBytes);
  if (!network) return std::unexpected(network.error());
  auto blockchain_kind = bounded(f.optional_string("blockchainKind"), "blockchainKind", kMaxNetworkBytes);
  if (!blockchain_kind) return std::unexpected(blockchain_kind.error());
  auto external_id = bounded(f.optional_string("externalId"), "externalId", kMaxExternalIdBytes);
  if (!external_id) return std::unexpected(external_id.error());
  req.network = *network;
  req.blockchain_kind = *blockchain_kind;
  req.external_id = *external_id;
  if (req.network) canonical["network"] = *req.network;
  if (req.blockchain_kind) canonical["blockchainKind"] = *req.blockchain_kind;
  if (req.external_id) canonical["externalId"] = *req.external_id;
  return {};
}

// Eip712 {types, domain, message} and Transaction {transaction: unsigned hex | object}: both become a secp256k1
// signature over a digest computed here (EIP-712) or in core (the transaction's signing hash).
Result<core::SignatureRequest> decode_evm_request(const json::object& obj, const std::string& kind) {
  BodyFields f(obj);
  core::SignatureRequest req;
  json::object canonical{{"kind", kind}};
  if (kind == "Eip712") {
    if (auto r = f.only({"kind", "types", "domain", "message", "network", "blockchainKind", "externalId"}); !r) {
      return std::unexpected(r.error());
    }
    for (const char* field : {"types", "domain", "message"}) {
      const auto* v = obj.if_contains(field);
      if (!v) return fail(ErrorCode::kInvalidArgument, std::string("field '") + field + "' is required");
      if (!v->is_object()) return fail(ErrorCode::kInvalidArgument, std::string("field '") + field + "' must be an object");
    }
    auto digest = chains::eip712_hash(obj.at("types").as_object(), obj.at("domain").as_object(), obj.at("message"));
    if (!digest) return std::unexpected(Error{ErrorCode::kInvalidArgument, "Eip712: " + digest.error().message, {}});
    req.kind = core::SignatureKind::kEip712;
    req.payload.assign(digest->begin(), digest->end());
    canonical["types"] = obj.at("types");
    canonical["domain"] = obj.at("domain");
    canonical["message"] = obj.at("message");
  } else {
    if (auto r = f.only({"kind", "transaction", "network", "blockchainKind", "externalId"}); !r) {
      return std::unexpected(r.error());
    }
    const auto* v = obj.if_contains("transaction");
    if (!v) return fail(ErrorCode::kInvalidArgument, "field 'transaction' is required");
    Result<chains::EvmTransaction> tx = fail(ErrorCode::kInvalidArgument, "");
    if (v->is_string()) {
      auto raw = from_hex(v->as_string());
      if (!raw || raw->empty()) return fail(ErrorCode::kInvalidArgument, "field 'transaction' must be hex");
      tx = chains::decode_unsigned_transaction(*raw);
    } else if (v->is_object()) {
      tx = chains::unsigned_transaction_from_json(v->as_object());
    } else {
      return fail(ErrorCode::kInvalidArgument,
                  "field 'transaction' must be an unsigned serialized transaction (hex) or a transaction object");
    }
    if (!tx) return std::unexpected(Error{ErrorCode::kInvalidArgument, "transaction: " + tx.error().message, {}});
    req.kind = core::SignatureKind::kTransaction;
    // Canonical: the unsigned serialisation, so hex and object forms of one transaction compare equal.
    canonical["transaction"] = to_hex_0x(chains::serialize_unsigned(*tx));
    req.transaction = std::move(*tx);
  }
  if (auto r = decode_common_fields(f, req, canonical); !r) return std::unexpected(r.error());
  req.canonical_body = json::serialize(canonical);
  return req;
}

Result<core::SignatureRequest> decode_signature_request(std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  auto kind = f.required_string("kind");
  if (!kind) return std::unexpected(kind.error());
  core::SignatureRequest req;
  std::string_view payload_field;
  if (*kind == "Hash") {
    req.kind = core::SignatureKind::kHash;
    payload_field = "hash";
  } else if (*kind == "Message") {
    req.kind = core::SignatureKind::kMessage;
    payload_field = "message";
  } else if (*kind == "Eip191") {
    req.kind = core::SignatureKind::kEip191;
    payload_field = "message";
  } else if (*kind == "Eip712" || *kind == "Transaction") {
    return decode_evm_request(*obj, *kind);
  } else {
    return fail(ErrorCode::kInvalidArgument, "signature kind '" + *kind +
                                                 "' is not supported; supported kinds: Hash, Message, Eip191, "
                                                 "Eip712, Transaction");
  }
  if (auto r = f.only({"kind", payload_field, "network", "blockchainKind", "externalId"}); !r) {
    return std::unexpected(r.error());
  }
  auto payload_hex = f.required_string(payload_field);
  if (!payload_hex) return std::unexpected(payload_hex.error());
  auto payload = from_hex(*payload_hex);
  if (!payload) {
    return fail(ErrorCode::kInvalidArgument, "field '" + std::string(payload_field) + "' must be hex");
  }
  req.payload = std::move(*payload);
  // Canonical form: fixed field order, payload as lowercase 0x-hex. It is echoed as requestBody and hashed to tell
  // an externalId retry from a conflicting request.
  json::object canonical{{"kind", *kind}, {payload_field, to_hex_0x(req.payload)}};
  if (auto r = decode_common_fields(f, req, canonical); !r) return std::unexpected(r.error());
  req.canonical_body = json::serialize(canonical);
  return req;
}

}  // namespace

std::string route_of(std::string_view target) {
  const auto parts = split_path(target.substr(0, target.find('?')));
  if (parts.empty()) return "other";
  // Each known route as a template; "*" matches one id segment.
  static const std::vector<std::vector<std::string_view>> kRoutes = {
      {"healthz"}, {"readyz"}, {"metrics"}, {"audit"},
      {"keys"}, {"keys", "{keyId}"}, {"keys", "{keyId}", "signatures"},
      {"keys", "{keyId}", "signatures", "{signatureId}"}, {"keys", "{keyId}", "delegate"},
      {"keys", "{keyId}", "custody"},
      {"wallets"}, {"wallets", "{walletId}"}, {"wallets", "{walletId}", "tags"},
      {"wallets", "{walletId}", "delegate"},
      {"auth", "action", "init"}, {"auth", "action"}, {"auth", "login", "init"}, {"auth", "login"},
      {"auth", "service-accounts"}, {"auth", "service-accounts", "{serviceAccountId}"},
      {"auth", "service-accounts", "{serviceAccountId}", "activate"},
      {"auth", "service-accounts", "{serviceAccountId}", "deactivate"},
      {"auth", "users"}, {"auth", "users", "{userId}"},
      {"permissions"}, {"permissions", "{permissionId}"}, {"permissions", "{permissionId}", "archive"},
      {"permissions", "{permissionId}", "assignments"},
      {"permissions", "{permissionId}", "assignments", "{assignmentId}"},
      {"smart-account-apps"}, {"smart-account-apps", "{appId}"},
      {"api", "v1", "smart-account"}, {"api", "v1", "smart-account", "{id}"},
      {"api", "v1", "smart-account", "{id}", "gas-tanks", "{gasTankId}", "deposits"},
      {"api", "v1", "smart-account", "{id}", "accounts", "{accountId}", "activate"},
      {"assets", "asset-accounts"}, {"assets", "asset-accounts", "{assetAccountId}"},
      {"public-keys"}, {"public-keys", "{publicKeyId}"}, {"public-keys", "{publicKeyId}", "address"},
      {"public-keys", "{publicKeyId}", "signatures"}, {"public-keys", "{publicKeyId}", "signatures", "{signatureId}"},
  };
  for (const auto& route : kRoutes) {
    if (route.size() != parts.size()) continue;
    bool match = true;
    for (std::size_t i = 0; i < route.size() && match; ++i) {
      match = route[i].front() == '{' || route[i] == parts[i];  // the first matching template wins
    }
    if (!match) continue;
    std::string out;
    for (auto segment : route) {
      out += '/';
      out += segment;
    }
    return out;
  }
  return "other";
}

namespace {

// What a route needs before it runs: a permission (empty: none beyond authentication), a user-action signature
// from token holders (mutations), and whether it also serves callers without credentials.
struct RoutePolicy {
  std::string_view operation;
  bool user_action = true;
  bool anonymous = false;
};

std::optional<RoutePolicy> policy_of(http::verb method, std::string_view route) {
  using V = http::verb;
  struct Row {
    V method;
    std::string_view route;
    RoutePolicy policy;
  };
  static const Row kRows[] = {
      {V::get, "/healthz", {"", false, true}},
      {V::get, "/readyz", {"", false, true}},
      {V::get, "/metrics", {"", false, true}},
      {V::get, "/audit", {"Auth:Logs:Read", false}},
      {V::post, "/keys", {"Keys:Create"}},
      {V::get, "/keys", {"Keys:Read", false}},
      {V::get, "/keys/{keyId}", {"Keys:Read", false}},
      {V::put, "/keys/{keyId}", {"Keys:Update"}},
      {V::delete_, "/keys/{keyId}", {"Keys:Delete"}},
      {V::post, "/keys/{keyId}/signatures", {"Keys:Signatures:Create"}},
      {V::get, "/keys/{keyId}/signatures", {"Keys:Signatures:Read", false}},
      {V::get, "/keys/{keyId}/signatures/{signatureId}", {"Keys:Signatures:Read", false}},
      {V::post, "/keys/{keyId}/delegate", {"Keys:Delegate"}},
      {V::get, "/keys/{keyId}/custody", {"Keys:Read", false}},
      {V::post, "/wallets", {"Wallets:Create"}},
      {V::get, "/wallets", {"Wallets:Read", false}},
      {V::get, "/wallets/{walletId}", {"Wallets:Read", false}},
      {V::put, "/wallets/{walletId}", {"Wallets:Update"}},
      {V::put, "/wallets/{walletId}/tags", {"Wallets:Tags:Add"}},
      {V::delete_, "/wallets/{walletId}/tags", {"Wallets:Tags:Delete"}},
      {V::post, "/wallets/{walletId}/delegate", {"Wallets:Delegate"}},
      {V::post, "/auth/action/init", {"", false}},
      {V::post, "/auth/action", {"", false}},
      {V::post, "/auth/login/init", {"", false, true}},
      {V::post, "/auth/login", {"", false, true}},
      {V::post, "/auth/service-accounts", {"Auth:ServiceAccounts:Create"}},
      {V::get, "/auth/service-accounts", {"Auth:ServiceAccounts:Read", false}},
      {V::get, "/auth/service-accounts/{serviceAccountId}", {"Auth:ServiceAccounts:Read", false}},
      {V::put, "/auth/service-accounts/{serviceAccountId}", {"Auth:ServiceAccounts:Update"}},
      {V::delete_, "/auth/service-accounts/{serviceAccountId}", {"Auth:ServiceAccounts:Delete"}},
      {V::put, "/auth/service-accounts/{serviceAccountId}/activate", {"Auth:ServiceAccounts:Activate"}},
      {V::put, "/auth/service-accounts/{serviceAccountId}/deactivate", {"Auth:ServiceAccounts:Deactivate"}},
      {V::post, "/auth/users", {"Auth:Users:Create"}},
      {V::get, "/auth/users", {"Auth:Users:Read", false}},
      {V::get, "/auth/users/{userId}", {"Auth:Users:Read", false}},
      {V::post, "/permissions", {"Permissions:Create"}},
      {V::get, "/permissions", {"Permissions:Read", false}},
      {V::get, "/permissions/{permissionId}", {"Permissions:Read", false}},
      {V::put, "/permissions/{permissionId}", {"Permissions:Update"}},
      {V::put, "/permissions/{permissionId}/archive", {"Permissions:Archive"}},
      {V::post, "/permissions/{permissionId}/assignments", {"Permissions:Assign"}},
      {V::get, "/permissions/{permissionId}/assignments", {"Permissions:Assignments:Read", false}},
      {V::delete_, "/permissions/{permissionId}/assignments/{assignmentId}", {"Permissions:Revoke"}},
      // The apps: the local administrator only (core::SmartAccountService checks it first). Smart-account routes
      // authenticate by the app's signature (api/smart_routes.h), not by a principal.
      {V::post, "/smart-account-apps", {"", false}},
      {V::get, "/smart-account-apps", {"", false}},
      {V::delete_, "/smart-account-apps/{appId}", {"", false}},
      {V::post, "/api/v1/smart-account", {"", false, true}},
      {V::get, "/api/v1/smart-account", {"", false, true}},
      {V::get, "/api/v1/smart-account/{id}", {"", false, true}},
      {V::post, "/api/v1/smart-account/{id}/gas-tanks/{gasTankId}/deposits", {"", false, true}},
      {V::post, "/api/v1/smart-account/{id}/accounts/{accountId}/activate", {"", false, true}},
      // The legacy API (api/legacy_routes.cc): an asset account without publicKey also needs PublicKeys:Create, and
      // a public key's signatures also need PublicKeys:Read.
      {V::post, "/assets/asset-accounts", {"AssetAccounts:Create"}},
      {V::get, "/assets/asset-accounts", {"AssetAccounts:Read", false}},
      {V::get, "/assets/asset-accounts/{assetAccountId}", {"AssetAccounts:Read", false}},
      {V::post, "/public-keys", {"PublicKeys:Create"}},
      {V::get, "/public-keys", {"PublicKeys:Read", false}},
      {V::get, "/public-keys/{publicKeyId}", {"PublicKeys:Read", false}},
      {V::get, "/public-keys/{publicKeyId}/address", {"PublicKeys:Read", false}},
      {V::post, "/public-keys/{publicKeyId}/signatures", {"Keys:Signatures:Create"}},
      {V::get, "/public-keys/{publicKeyId}/signatures/{signatureId}", {"Keys:Signatures:Read", false}},
  };
  for (const auto& row : kRows) {
    if (row.method == method && row.route == route) return row.policy;
  }
  return std::nullopt;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return to_hex(std::span<const std::uint8_t>(digest, size));
}

bool is_mutation(http::verb method) {
  return method == http::verb::post || method == http::verb::put || method == http::verb::delete_;
}

}  // namespace

void Api::handle(const Request& request, const core::Principal& authenticated, Reply reply) const {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const auto method = request.method();
  auto shared_who = std::make_shared<core::Principal>(authenticated);
  core::Principal& who = *shared_who;
  who.method = std::string(request.method_string());
  who.path = std::string(path);
  if (is_mutation(method)) who.body_sha256 = sha256_hex(request.body());

  // Failed mutations by an authenticated caller are audited too (outcome and all, and the user action's credential
  // once known), from whichever thread replies.
  if (is_mutation(method) && who.kind != core::PrincipalKind::kAnonymous && options_.audit_failure) {
    reply = [reply = std::move(reply), shared_who, audit = options_.audit_failure](Response response) {
      if (response.result_int() >= 400) {
        auto entry = core::audit_entry(*shared_who, {});
        entry.outcome = "error " + std::to_string(response.result_int());
        audit(std::move(entry));
      }
      reply(std::move(response));
    };
  }
  const auto fail_with = [&](const Error& e) {
    // Smart-account routes answer with their envelope, refusals included.
    reply(is_smart_account_path(path) ? smart_error_response(e, request.version(), request.keep_alive())
                                      : error_response(e, request.version(), request.keep_alive()));
  };

  // Deny by default: a (method, route) without a policy is never routed.
  const std::string route_template = route_of(target);
  const auto policy = policy_of(method, route_template);
  if (!policy) {
    if (route_template == "other") return fail_with({ErrorCode::kNotFound, "no route for " + std::string(path), {}});
    return fail_with({ErrorCode::kInvalidArgument,
                      "method " + std::string(request.method_string()) + " is not allowed on " + std::string(path),
                      {}});
  }
  {
    if (who.kind == core::PrincipalKind::kAnonymous && !policy->anonymous) {
      return fail_with({ErrorCode::kUnauthenticated, "Not Authorized.", {}});
    }
    if (!policy->operation.empty()) {
      if (auto allowed = identity_.require(who, policy->operation); !allowed) return fail_with(allowed.error());
    }
    if (method == http::verb::post && route_template == "/wallets/{walletId}/delegate") {
      // Delegating a wallet delegates its key.
      if (auto allowed = identity_.require(who, "Keys:Delegate"); !allowed) return fail_with(allowed.error());
    }
    const bool token_holder = who.kind == core::PrincipalKind::kServiceAccount ||
                              who.kind == core::PrincipalKind::kOrgUser || who.kind == core::PrincipalKind::kEndUser;
    if (policy->user_action && token_holder) {
      const auto header = request["x-dfns-useraction"];
      auto cred = identity_.consume_user_action(
          who, header.empty() ? std::nullopt : std::optional<std::string_view>(header), who.method, who.path,
          who.body_sha256);
      metrics::registry().add("signerd_user_actions_total", {{"result", cred ? "consumed" : "refused"}});
      if (!cred) return fail_with(cred.error());
      who.credential_id = std::move(*cred);
    }
  }

  if (auto response = route(request, who, reply)) reply(std::move(*response));
}

std::optional<Response> Api::route(const Request& request, const core::Principal& who, const Reply& reply) const {
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  const std::string_view target = request.target();
  const auto qmark = target.find('?');
  const std::string_view path = target.substr(0, qmark);
  auto query = parse_query(qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1));
  if (!query) {
    return error_response({ErrorCode::kInvalidArgument, "malformed query string", {}}, version, keep_alive);
  }
  const auto parts = split_path(path);
  const auto method = request.method();

  auto respond = [version, keep_alive](Result<json::value> result) {
    if (!result) return error_response(result.error(), version, keep_alive);
    return json_response(http::status::ok, json::serialize(*result), version, keep_alive);
  };
  auto method_not_allowed = [&] {
    return error_response({ErrorCode::kInvalidArgument,
                           std::string("method ") + std::string(request.method_string()) + " is not allowed on " +
                               std::string(path),
                           {}},
                          version, keep_alive);
  };

  if (parts.size() == 1 && parts[0] == "healthz") {
    if (method != http::verb::get) return method_not_allowed();
    return respond(json::value(json::object{{"status", "ok"}}));
  }
  if (parts.size() == 1 && parts[0] == "readyz") {
    if (method != http::verb::get) return method_not_allowed();
    if (options_.readiness) {
      if (auto ready = options_.readiness(); !ready) {
        return error_response({ErrorCode::kUnavailable, "not ready: " + ready.error().message, {}}, version,
                              keep_alive);
      }
    }
    return respond(json::value(json::object{{"status", "ready"}}));
  }
  if (parts.size() == 1 && parts[0] == "metrics") {
    if (method != http::verb::get) return method_not_allowed();
    Response res{http::status::ok, version};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.keep_alive(keep_alive);
    res.body() = metrics::registry().render();
    res.prepare_payload();
    return res;
  }

  if (!parts.empty() && parts[0] == "keys") {
    if (parts.size() == 1) {
      if (method == http::verb::post) return respond(create_key(keys_, identity_, who, request.body()));
      if (method == http::verb::get) {
        auto page = page_params(*query, options_);
        if (!page) return respond(std::unexpected(page.error()));
        auto owner = owner_filter(identity_, *query);
        if (!owner) return respond(std::unexpected(owner.error()));
        auto keys = keys_.list_keys(who, page->before, page->limit, *owner);
        if (!keys) return respond(std::unexpected(keys.error()));
        return respond(json::value(page_json(*keys, [](const store::KeyRecord& k) { return key_json(k); })));
      }
      return method_not_allowed();
    }
    const std::string key_id(parts[1]);
    if (parts.size() == 2) {
      switch (method) {
        case http::verb::get: {
          auto key = keys_.get_key(who, key_id);
          if (!key) return respond(std::unexpected(key.error()));
          return respond(key_with_wallets(wallets_, json::value(key_json(*key)), key_id));
        }
        case http::verb::put:
          return respond(key_with_wallets(wallets_, rename_key(keys_, who, key_id, request.body()), key_id));
        case http::verb::delete_:
          return respond(key_with_wallets(wallets_, archive_key(keys_, who, key_id, request.body()), key_id));
        default: return method_not_allowed();
      }
    }
    if (parts[2] == "signatures" && parts.size() == 3) {
      if (method == http::verb::post) {
        auto req = decode_signature_request(request.body());
        if (!req) return respond(std::unexpected(req.error()));
        keys_.sign_async(who, key_id, *req, [reply, respond](Result<core::SignOutcome> outcome) {
          if (!outcome) return reply(respond(std::unexpected(std::move(outcome.error()))));
          reply(respond(json::value(signature_json(outcome->signature))));
        });
        return std::nullopt;
      }
      if (method == http::verb::get) {
        auto page = page_params(*query, options_);
        if (!page) return respond(std::unexpected(page.error()));
        auto sigs = keys_.list_signatures(who, key_id, page->before, page->limit);
        if (!sigs) return respond(std::unexpected(sigs.error()));
        auto o = page_json(*sigs, signature_json);
        o["keyId"] = key_id;
        return respond(json::value(std::move(o)));
      }
      return method_not_allowed();
    }
    if (parts[2] == "signatures" && parts.size() == 4) {
      if (method != http::verb::get) return method_not_allowed();
      auto sig = keys_.get_signature(who, key_id, parts[3]);
      if (!sig) return respond(std::unexpected(sig.error()));
      return respond(json::value(signature_json(*sig)));
    }
    if (parts.size() == 3 && parts[2] == "delegate") {
      if (method != http::verb::post) return method_not_allowed();
      auto user = decode_delegate_target(identity_, request.body(), "delegateTo");
      if (!user) return respond(std::unexpected(user.error()));
      auto key = keys_.delegate_key(who, key_id, *user);
      if (!key) return respond(std::unexpected(key.error()));
      return respond(json::value(json::object{{"keyId", key->id}, {"status", "Delegated"}}));
    }
    if (parts.size() == 3 && parts[2] == "custody") {
      if (method != http::verb::get) return method_not_allowed();
      auto records = keys_.custody(who, key_id);
      if (!records) return respond(std::unexpected(records.error()));
      return respond(json::value(custody_json(key_id, *records)));
    }
  }
  if (!parts.empty() && parts[0] == "wallets") {
    if (parts.size() == 1) {
      if (method == http::verb::post) return respond(create_wallet(wallets_, identity_, who, request.body()));
      if (method == http::verb::get) {
        auto page = page_params(*query, options_);
        if (!page) return respond(std::unexpected(page.error()));
        auto owner = owner_filter(identity_, *query);
        if (!owner) return respond(std::unexpected(owner.error()));
        auto wallets = wallets_.list_wallets(who, page->before, page->limit, *owner);
        if (!wallets) return respond(std::unexpected(wallets.error()));
        return respond(json::value(page_json(*wallets, wallet_json)));
      }
      return method_not_allowed();
    }
    const std::string wallet_id(parts[1]);
    if (parts.size() == 2) {
      switch (method) {
        case http::verb::get: {
          auto wallet = wallets_.get_wallet(who, wallet_id);
          if (!wallet) return respond(std::unexpected(wallet.error()));
          return respond(json::value(wallet_json(*wallet)));
        }
        case http::verb::put: return respond(update_wallet(wallets_, who, wallet_id, request.body()));
        default: return method_not_allowed();
      }
    }
    if (parts.size() == 3 && parts[2] == "tags") {
      switch (method) {
        case http::verb::put: return respond(change_tags(wallets_, who, wallet_id, request.body(), true));
        case http::verb::delete_: return respond(change_tags(wallets_, who, wallet_id, request.body(), false));
        default: return method_not_allowed();
      }
    }
    if (parts.size() == 3 && parts[2] == "delegate") {
      if (method != http::verb::post) return method_not_allowed();
      auto user = decode_delegate_target(identity_, request.body(), "userId");
      if (!user) return respond(std::unexpected(user.error()));
      auto wallet = wallets_.delegate_wallet(who, wallet_id, *user);
      if (!wallet) return respond(std::unexpected(wallet.error()));
      return respond(json::value(json::object{{"walletId", wallet->wallet.id}, {"status", "Delegated"}}));
    }
  }
  if (parts.size() == 1 && parts[0] == "audit") {
    if (method != http::verb::get) return method_not_allowed();
    auto page = page_params(*query, options_);
    if (!page) return respond(std::unexpected(page.error()));
    if (!options_.audit_page) return respond(fail(ErrorCode::kUnavailable, "the audit trail is not available"));
    auto records = options_.audit_page(page->before, page->limit);
    if (!records) return respond(std::unexpected(records.error()));
    return respond(json::value(page_json(*records, audit_json)));
  }
  if (auto smart = route_smart_accounts(options_.smart_accounts, request, who, options_.default_page_size,
                                        options_.max_page_size)) {
    return smart;
  }
  if (auto identity = route_identity(identity_, who, method, parts, request.body())) {
    return respond(std::move(*identity));
  }
  if (auto legacy = route_legacy({options_.asset_accounts, options_.public_keys}, identity_, who, method, parts,
                                 *query, request.body())) {
    return respond(std::move(*legacy));
  }
  return error_response({ErrorCode::kNotFound, "no route for " + std::string(path), {}}, version, keep_alive);
}

}  // namespace signerd::api

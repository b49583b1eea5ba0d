#include "api/api.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <vector>

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

std::string iso(std::int64_t ms) { return format_iso8601(from_unix_millis(ms)); }

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

struct PageParams {
  std::optional<std::int64_t> before;
  int limit = 0;
};

Result<PageParams> page_params(const Query& q, const ApiOptions& options) {
  PageParams p;
  p.limit = static_cast<int>(options.default_page_size);
  if (auto limit = q.get("limit")) {
    int v = 0;
    const auto [end, ec] = std::from_chars(limit->data(), limit->data() + limit->size(), v);
    if (ec != std::errc{} || end != limit->data() + limit->size() || v < 1 ||
        v > static_cast<int>(options.max_page_size)) {
      return fail(ErrorCode::kInvalidArgument,
                  "limit must be an integer from 1 to " + std::to_string(options.max_page_size));
    }
    p.limit = v;
  }
  if (auto token = q.get("paginationToken"); token && !token->empty()) {
    auto raw = base64url_decode(*token);
    std::int64_t v = 0;
    bool ok = raw && !raw->empty() && raw->size() <= 20;
    if (ok) {
      const char* b = reinterpret_cast<const char*>(raw->data());
      const auto [end, ec] = std::from_chars(b, b + raw->size(), v);
      ok = ec == std::errc{} && end == b + raw->size() && v > 0;
    }
    if (!ok) return fail(ErrorCode::kInvalidArgument, "paginationToken is not valid");
    p.before = v;
  }
  return p;
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

Result<std::optional<std::string>> bounded(Result<std::optional<std::string>> v, std::string_view field,
                                           std::size_t max) {
  if (v && *v && (v->value().empty() || v->value().size() > max)) {
    return fail(ErrorCode::kInvalidArgument,
                "field '" + std::string(field) + "' must be 1 to " + std::to_string(max) + " characters");
  }
  return v;
}

// --- handlers: each returns the JSON to send with 200, or an error.

Result<json::value> create_key(core::KeyService& keys, const core::Principal& who, std::string_view body) {
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
  for (const char* unsupported : {"deriveFrom", "storeId", "delegateTo"}) {
    if (f.has(unsupported)) {
      return fail(ErrorCode::kInvalidArgument, std::string("field '") + unsupported + "' is not supported yet");
    }
  }
  for (const char* flag : {"masterKey", "delayDelegation"}) {
    auto v = f.optional_bool(flag);
    if (!v) return std::unexpected(v.error());
    if (v->value_or(false)) {
      return fail(ErrorCode::kInvalidArgument, std::string("field '") + flag + "' = true is not supported yet");
    }
  }
  auto key = keys.create_key(who, {*scheme, *curve, *name});
  if (!key) return std::unexpected(key.error());
  return key_json(*key);
}

Result<json::value> rename_key(core::KeyService& keys, std::string_view key_id, std::string_view body) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  BodyFields f(*obj);
  if (auto r = f.only({"name"}); !r) return std::unexpected(r.error());
  bool present = false;
  auto name = bounded(f.nullable_string("name", present), "name", kMaxNameBytes);
  if (!name) return std::unexpected(name.error());
  if (!present) return fail(ErrorCode::kInvalidArgument, "field 'name' is required (a string, or null to clear it)");
  auto key = keys.rename_key(key_id, *name);
  if (!key) return std::unexpected(key.error());
  return key_json(*key);
}

Result<json::value> archive_key(core::KeyService& keys, std::string_view key_id, std::string_view body) {
  auto obj = parse_object(body, /*empty_ok=*/true);  // the Dfns SDK sends "{}" on DELETE
  if (!obj) return std::unexpected(obj.error());
  if (auto r = BodyFields(*obj).only({}); !r) return std::unexpected(r.error());
  auto key = keys.archive_key(key_id);
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

constexpr std::size_t kMaxTags = 50;
constexpr std::size_t kMaxTagBytes = 256;

// tags: an array of 1 to 256-character strings, at most kMaxTags.
Result<std::optional<std::vector<std::string>>> decode_tags(const json::object& obj) {
  const auto* v = obj.if_contains("tags");
  if (!v) return std::nullopt;
  if (!v->is_array() || v->as_array().size() > kMaxTags) {
    return fail(ErrorCode::kInvalidArgument,
                "field 'tags' must be an array of at most " + std::to_string(kMaxTags) + " strings");
  }
  std::vector<std::string> tags;
  for (const auto& t : v->as_array()) {
    if (!t.is_string() || t.as_string().empty() || t.as_string().size() > kMaxTagBytes) {
      return fail(ErrorCode::kInvalidArgument,
                  "field 'tags' must hold strings of 1 to " + std::to_string(kMaxTagBytes) + " characters");
    }
    tags.emplace_back(t.as_string());
  }
  return tags;
}

Result<json::value> create_wallet(core::WalletService& wallets, const core::Principal& who, std::string_view body) {
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
  if (f.has("delegateTo")) return fail(ErrorCode::kInvalidArgument, "field 'delegateTo' is not supported yet");
  auto delay = f.optional_bool("delayDelegation");
  if (!delay) return std::unexpected(delay.error());
  if (delay->value_or(false)) {
    return fail(ErrorCode::kInvalidArgument, "field 'delayDelegation' = true is not supported yet");
  }
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

Result<json::value> update_wallet(core::WalletService& wallets, std::string_view wallet_id, std::string_view body) {
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
  auto wallet = wallets.update_wallet(wallet_id, update);
  if (!wallet) return std::unexpected(wallet.error());
  return wallet_json(*wallet);
}

// PUT adds the tags, DELETE removes them; both answer {}.
Result<json::value> change_tags(core::WalletService& wallets, std::string_view wallet_id, std::string_view body,
                                bool add) {
  auto obj = parse_object(body);
  if (!obj) return std::unexpected(obj.error());
  if (auto r = BodyFields(*obj).only({"tags"}); !r) return std::unexpected(r.error());
  auto tags = decode_tags(*obj);
  if (!tags) return std::unexpected(tags.error());
  if (!*tags) return fail(ErrorCode::kInvalidArgument, "field 'tags' is required");
  auto wallet = add ? wallets.add_tags(wallet_id, **tags) : wallets.remove_tags(wallet_id, **tags);
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
  if (parts.size() == 1 && (parts[0] == "healthz" || parts[0] == "readyz" || parts[0] == "metrics" ||
                            parts[0] == "keys" || parts[0] == "wallets")) {
    std::string route = "/";  // built in two steps: g++ 12 -O3 misreports "/" + string (GCC bug 105651)
    route += parts[0];
    return route;
  }
  if (!parts.empty() && parts[0] == "keys") {
    if (parts.size() == 2) return "/keys/{keyId}";
    if (parts.size() == 3 && parts[2] == "signatures") return "/keys/{keyId}/signatures";
    if (parts.size() == 4 && parts[2] == "signatures") return "/keys/{keyId}/signatures/{signatureId}";
  }
  if (!parts.empty() && parts[0] == "wallets") {
    if (parts.size() == 2) return "/wallets/{walletId}";
    if (parts.size() == 3 && parts[2] == "tags") return "/wallets/{walletId}/tags";
  }
  return "other";
}

void Api::handle(const Request& request, const core::Principal& who, Reply reply) const {
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
      if (method == http::verb::post) return respond(create_key(keys_, who, request.body()));
      if (method == http::verb::get) {
        auto page = page_params(*query, options_);
        if (!page) return respond(std::unexpected(page.error()));
        auto keys = keys_.list_keys(page->before, page->limit);
        if (!keys) return respond(std::unexpected(keys.error()));
        return respond(json::value(page_json(*keys, [](const store::KeyRecord& k) { return key_json(k); })));
      }
      return method_not_allowed();
    }
    const std::string key_id(parts[1]);
    if (parts.size() == 2) {
      switch (method) {
        case http::verb::get: {
          auto key = keys_.get_key(key_id);
          if (!key) return respond(std::unexpected(key.error()));
          return respond(key_with_wallets(wallets_, json::value(key_json(*key)), key_id));
        }
        case http::verb::put: return respond(key_with_wallets(wallets_, rename_key(keys_, key_id, request.body()), key_id));
        case http::verb::delete_:
          return respond(key_with_wallets(wallets_, archive_key(keys_, key_id, request.body()), key_id));
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
        auto sigs = keys_.list_signatures(key_id, page->before, page->limit);
        if (!sigs) return respond(std::unexpected(sigs.error()));
        auto o = page_json(*sigs, signature_json);
        o["keyId"] = key_id;
        return respond(json::value(std::move(o)));
      }
      return method_not_allowed();
    }
    if (parts[2] == "signatures" && parts.size() == 4) {
      if (method != http::verb::get) return method_not_allowed();
      auto sig = keys_.get_signature(key_id, parts[3]);
      if (!sig) return respond(std::unexpected(sig.error()));
      return respond(json::value(signature_json(*sig)));
    }
  }
  if (!parts.empty() && parts[0] == "wallets") {
    if (parts.size() == 1) {
      if (method == http::verb::post) return respond(create_wallet(wallets_, who, request.body()));
      if (method == http::verb::get) {
        auto page = page_params(*query, options_);
        if (!page) return respond(std::unexpected(page.error()));
        auto wallets = wallets_.list_wallets(page->before, page->limit);
        if (!wallets) return respond(std::unexpected(wallets.error()));
        return respond(json::value(page_json(*wallets, wallet_json)));
      }
      return method_not_allowed();
    }
    const std::string wallet_id(parts[1]);
    if (parts.size() == 2) {
      switch (method) {
        case http::verb::get: {
          auto wallet = wallets_.get_wallet(wallet_id);
          if (!wallet) return respond(std::unexpected(wallet.error()));
          return respond(json::value(wallet_json(*wallet)));
        }
        case http::verb::put: return respond(update_wallet(wallets_, wallet_id, request.body()));
        default: return method_not_allowed();
      }
    }
    if (parts.size() == 3 && parts[2] == "tags") {
      switch (method) {
        case http::verb::put: return respond(change_tags(wallets_, wallet_id, request.body(), true));
        case http::verb::delete_: return respond(change_tags(wallets_, wallet_id, request.body(), false));
        default: return method_not_allowed();
      }
    }
  }
  return error_response({ErrorCode::kNotFound, "no route for " + std::string(path), {}}, version, keep_alive);
}

}  // namespace signerd::api

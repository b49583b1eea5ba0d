#include "core/identity.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <tuple>
#include <unordered_map>

#include "common/hex.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/time_format.h"
#include "core/credential_key.h"
#include "core/jwt.h"

namespace signerd::core {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxNameBytes = 256;
constexpr std::size_t kMaxUsernameBytes = 320;
constexpr std::size_t kMaxPayloadBytes = 1 << 20;
constexpr std::size_t kMaxTokenCache = 10000;
constexpr int kMaxDaysValid = 730;

std::int64_t now_ms() { return to_unix_millis(std::chrono::system_clock::now()); }

std::string random_b64url(std::size_t bytes) {
  Bytes b(bytes);
  RAND_bytes(b.data(), static_cast<int>(b.size()));
  return base64url_encode(b);
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return to_hex(std::span<const std::uint8_t>(digest, size));
}

Error denied_user_action(std::string reason) {
  Error e{ErrorCode::kPermissionDenied, "user action signature is missing or invalid", {}};
  e.details["reason"] = std::move(reason);
  return e;
}

Error bad_challenge() { return Error{ErrorCode::kInvalidArgument, "Challenge token is not valid.", {}}; }

// Identity lines name principals, permissions and assignments by id. Never a token, a user-action token, a
// challenge, a credential's key, a username or a name.
spdlog::logger& identity_log() { return signerd::log(LogComponent::kIdentity); }

// The reason an error carries for the client (details.reason), else its message, quoted for a log line (it can
// quote what the client sent: a credential id, a path).
std::string reason_of(const Error& e) {
  if (const auto* reason = e.details.if_contains("reason"); reason != nullptr && reason->is_string()) {
    return log_quoted(reason->as_string());
  }
  return log_quoted(e.message);
}

// --- JSON documents of the identity objects

json::value opt(const std::optional<std::string>& s) { return s ? json::value(*s) : json::value(nullptr); }
json::value opt(const std::optional<std::int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }

std::optional<std::string> get_opt_string(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}
std::string get_string(const json::object& o, std::string_view k) { return get_opt_string(o, k).value_or(""); }
std::int64_t get_int(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  return v && v->is_int64() ? v->as_int64() : 0;
}
std::optional<std::int64_t> get_opt_int(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  if (!v || !v->is_int64()) return std::nullopt;
  return v->as_int64();
}
bool get_bool(const json::object& o, std::string_view k, bool fallback) {
  const auto* v = o.if_contains(k);
  return v && v->is_bool() ? v->as_bool() : fallback;
}

json::object to_doc(const UserRecord& u) {
  return {{"id", u.id},
          {"username", u.username},
          {"name", u.name},
          {"kind", u.kind},
          {"isServiceAccount", u.is_service_account},
          {"isActive", u.is_active},
          {"archived", u.archived},
          {"externalId", opt(u.external_id)},
          {"dateCreated", u.date_created_ms}};
}
UserRecord user_from(const json::object& o) {
  return {get_string(o, "id"),       get_string(o, "username"),          get_string(o, "name"),
          get_string(o, "kind"),     get_bool(o, "isServiceAccount", false), get_bool(o, "isActive", false),
          get_bool(o, "archived", false), get_opt_string(o, "externalId"), get_int(o, "dateCreated")};
}
json::object to_doc(const CredentialRecord& c) {
  return {{"uuid", c.uuid},   {"credId", c.cred_id},         {"userId", c.user_id},
          {"kind", c.kind},   {"name", c.name},              {"publicKey", c.public_key_pem},
          {"isActive", c.is_active}, {"dateCreated", c.date_created_ms}};
}
CredentialRecord credential_from(const json::object& o) {
  return {get_string(o, "uuid"), get_string(o, "credId"),    get_string(o, "userId"),
          get_string(o, "kind"), get_string(o, "name"),      get_string(o, "publicKey"),
          get_bool(o, "isActive", false), get_int(o, "dateCreated")};
}
json::object to_doc(const TokenRecord& t) {
  return {{"id", t.id},
          {"userId", t.user_id},
          {"kind", t.kind},
          {"name", opt(t.name)},
          {"credId", opt(t.cred_id)},
          {"dateCreated", t.date_created_ms},
          {"expires", t.expires_ms},
          {"revoked", opt(t.revoked_ms)}};
}
TokenRecord token_from(const json::object& o) {
  return {get_string(o, "id"),          get_string(o, "userId"),      get_string(o, "kind"),
          get_opt_string(o, "name"),    get_opt_string(o, "credId"),  get_int(o, "dateCreated"),
          get_int(o, "expires"),        get_opt_int(o, "revoked")};
}
json::object to_doc(const PermissionRecord& p) {
  json::array ops;
  for (const auto& op : p.operations) ops.emplace_back(op);
  return {{"id", p.id},         {"name", p.name},
          {"operations", ops},  {"status", p.status},
          {"isImmutable", p.is_immutable}, {"dateCreated", p.date_created_ms},
          {"dateUpdated", p.date_updated_ms}};
}
PermissionRecord permission_from(const json::object& o) {
  PermissionRecord p{get_string(o, "id"), get_string(o, "name"), {}, get_string(o, "status"),
                     get_bool(o, "isImmutable", false), get_int(o, "dateCreated"), get_int(o, "dateUpdated")};
  if (const auto* ops = o.if_contains("operations"); ops && ops->is_array()) {
    for (const auto& op : ops->as_array()) {
      if (op.is_string()) p.operations.emplace_back(op.as_string());
    }
  }
  return p;
}

struct Assignment {
  AssignmentRecord record;
  std::optional<std::int64_t> revoked_ms;
};
json::object to_doc(const Assignment& a) {
  return {{"id", a.record.id},
          {"permissionId", a.record.permission_id},
          {"identityId", a.record.identity_id},
          {"dateCreated", a.record.date_created_ms},
          {"revoked", opt(a.revoked_ms)}};
}
Assignment assignment_from(const json::object& o) {
  return {{get_string(o, "id"), get_string(o, "permissionId"), get_string(o, "identityId"), get_int(o, "dateCreated")},
          get_opt_int(o, "revoked")};
}

template <class T>
store::IdentityObject object_of(std::string kind, std::string id, const T& record) {
  return {std::move(kind), std::move(id), json::serialize(to_doc(record)), 0};
}

struct Org {
  std::string id;
  std::string token_key_id;
  std::string token_public_key;  // hex, 32 bytes; empty until the HSM key exists
  std::string admin_permission_id;
  std::int64_t date_created_ms = 0;
};
store::IdentityObject org_object(const Org& org) {
  json::object o{{"id", org.id},
                 {"tokenKeyId", org.token_key_id},
                 {"tokenPublicKey", org.token_public_key},
                 {"adminPermissionId", org.admin_permission_id},
                 {"dateCreated", org.date_created_ms}};
  return {"org", "org", json::serialize(o), 0};
}

enum class Purpose { kUserAction, kLogin };

struct Challenge {
  Purpose purpose;
  std::string challenge;
  std::string user_id;
  std::optional<std::string> token_id;
  std::string method, path, payload_sha256;
  std::vector<std::string> allowed_cred_ids;
  std::int64_t expires_ms = 0;
};

struct UserAction {
  std::string user_id;
  std::optional<std::string> token_id;
  std::string cred_id;
  std::string method, path, body_sha256;
  std::int64_t expires_ms = 0;
};

struct CachedToken {
  Principal principal;
  std::int64_t expires_ms = 0;
};

}  // namespace

const std::vector<std::string>& known_operations() {
  static const std::vector<std::string> ops = {
      "Keys:Create",          "Keys:Read",
      "Keys:Update",          "Keys:Delete",
      "Keys:Delegate",        "Keys:Signatures:Create",
      "Keys:Signatures:Read", "Wallets:Create",
      "Wallets:Read",         "Wallets:Update",
      "Wallets:Delegate",     "Wallets:Tags:Add",
      "Wallets:Tags:Delete",  "AssetAccounts:Create",
      "AssetAccounts:Read",   "PublicKeys:Create",
      "PublicKeys:Read",      "Auth:ServiceAccounts:Create",
      "Auth:ServiceAccounts:Read", "Auth:ServiceAccounts:Update",
      "Auth:ServiceAccounts:Activate", "Auth:ServiceAccounts:Deactivate",
      "Auth:ServiceAccounts:Delete", "Auth:Users:Create",
      "Auth:Users:Read",      "Permissions:Create",
      "Permissions:Read",     "Permissions:Update",
      "Permissions:Archive",  "Permissions:Assign",
      "Permissions:Revoke",   "Permissions:Assignments:Read", "Auth:Logs:Read",
  };
  return ops;
}

const std::vector<std::string>& end_user_operations() {
  static const std::vector<std::string> ops = {"Keys:Read",   "Keys:Update",         "Keys:Delete",
                                               "Keys:Signatures:Create", "Keys:Signatures:Read", "Wallets:Read"};
  return ops;
}

AuditEntry audit_entry(const Principal& who, std::vector<std::string> affected_ids) {
  AuditEntry e;
  e.time_ms = now_ms();
  e.principal_id = who.id;
  e.token_id = who.token_id;
  e.credential_id = who.credential_id;
  e.method = who.method;
  e.path = who.path;
  e.body_sha256 = who.body_sha256;
  e.outcome = "ok";
  e.affected_ids = std::move(affected_ids);
  return e;
}

struct IdentityService::Impl {
  Impl(hsm::Hsm& h, store::Store& s, IdentityOptions o) : hsm(h), store(s), options(std::move(o)) {}

  hsm::Hsm& hsm;
  store::Store& store;
  IdentityOptions options;
  Org org;
  Bytes token_public_key;

  // Identity state: read under a shared lock; changed under write_mu (held across the durable write, so checks and
  // the change they guard are one step) and an exclusive lock of mu (only while the maps change).
  std::mutex write_mu;
  mutable std::shared_mutex mu;
  std::map<std::string, UserRecord> users;                // by id
  std::map<std::string, std::string> user_by_name;        // username -> id
  std::map<std::string, CredentialRecord> credentials;    // by uuid
  std::map<std::string, std::string> credential_by_id;    // credId -> uuid
  // Parsed once (PEM parsing costs ~0.3 ms in OpenSSL 3.0, on every user action otherwise). By uuid.
  std::map<std::string, std::shared_ptr<const CredentialKey>> credential_keys;
  std::map<std::string, TokenRecord> tokens;              // by id
  std::map<std::string, PermissionRecord> permissions;    // by id
  std::map<std::string, Assignment> assignments;          // by id

  // Short-lived state, in memory only.
  std::mutex flight_mu;
  std::unordered_map<std::string, Challenge> challenges;        // by challengeIdentifier
  std::unordered_map<std::string, UserAction> user_actions;     // by sha256 of the token
  std::unordered_map<std::string, std::size_t> pending;         // challenges and user actions per owner_key
  std::size_t pending_logins = 0;
  std::int64_t last_sweep_ms = 0;
  std::unordered_map<std::string, std::int64_t> used_actions;   // sha256 of used tokens -> when they would expire
  static constexpr std::size_t kMaxUsedRemembered = 200000;
  mutable std::mutex cache_mu;
  mutable std::unordered_map<std::string, CachedToken> token_cache;  // by sha256 of the bearer token

  // --- loading

  void apply(const store::IdentityObject& o, const json::object& doc) {
    if (o.kind == "org") {
      org = {get_string(doc, "id"), get_string(doc, "tokenKeyId"), get_string(doc, "tokenPublicKey"),
             get_string(doc, "adminPermissionId"), get_int(doc, "dateCreated")};
    } else if (o.kind == "user") {
      auto u = user_from(doc);
      user_by_name[u.username] = u.id;
      users[u.id] = std::move(u);
    } else if (o.kind == "credential") {
      auto c = credential_from(doc);
      credential_by_id[c.cred_id] = c.uuid;
      if (auto key = CredentialKey::from_pem(c.public_key_pem)) {
        credential_keys[c.uuid] = std::make_shared<const CredentialKey>(std::move(*key));
      } else {
        credential_keys.erase(c.uuid);  // refused again, with the reason, when it is used
      }
      credentials[c.uuid] = std::move(c);
    } else if (o.kind == "token") {
      auto t = token_from(doc);
      tokens[t.id] = std::move(t);
    } else if (o.kind == "permission") {
      auto p = permission_from(doc);
      permissions[p.id] = std::move(p);
    } else if (o.kind == "assignment") {
      auto a = assignment_from(doc);
      assignments[a.record.id] = std::move(a);
    }
  }

  // Persists `objects` with `audit`, then applies them to the maps. Call with write_mu held.
  Result<void> commit(const std::vector<store::IdentityObject>& objects, const AuditEntry* audit) {
    if (auto r = store.put_identity_objects(objects, audit); !r) return r;
    std::unique_lock lock(mu);
    for (const auto& o : objects) apply(o, json::parse(o.json).as_object());
    return {};
  }

  Result<void> bootstrap() {
    // First start: the org record is written before the HSM key is made, so a crash in between is finished here
    // on the next start (the key id is known, the key is looked up or generated).
    if (org.id.empty()) {
      org.id = make_entity_id("or");
      org.token_key_id = make_entity_id("jwt");
      org.date_created_ms = now_ms();
      if (auto r = store.put_identity_objects({org_object(org)}, nullptr); !r) return r;
      identity_log().info("organisation created org={} token_key={}", org.id, org.token_key_id);
    }
    if (org.token_public_key.empty()) {
      auto existing = hsm.find_public_key(org.token_key_id, hsm::Curve::kEd25519);
      if (!existing) return std::unexpected(existing.error());
      Bytes key;
      if (*existing) {
        key = std::move(**existing);
      } else {
        auto made = hsm.generate_key(org.token_key_id, hsm::Curve::kEd25519);
        if (!made) return std::unexpected(made.error());
        key = std::move(*made);
      }
      org.token_public_key = to_hex(key);
      if (auto r = store.put_identity_objects({org_object(org)}, nullptr); !r) return r;
    }
    if (org.admin_permission_id.empty()) {
      PermissionRecord admin{make_entity_id("pm"), "Admin", known_operations(), "Active", true, now_ms(), now_ms()};
      org.admin_permission_id = admin.id;
      std::lock_guard w(write_mu);
      if (auto r = commit({object_of("permission", admin.id, admin), org_object(org)}, nullptr); !r) return r;
      identity_log().info("permission created permission={} operations={} builtin=Admin", admin.id,
                          admin.operations.size());
    }
    auto key = from_hex(org.token_public_key);
    if (!key || key->size() != 32) return fail(ErrorCode::kInternal, "identity: the token key's public key is malformed");
    token_public_key = std::move(*key);
    return {};
  }

  // --- lookups (call with mu held, shared or exclusive)

  const UserRecord* user(std::string_view id) const {
    auto it = users.find(std::string(id));
    return it == users.end() ? nullptr : &it->second;
  }

  std::vector<std::string> active_cred_ids(std::string_view user_id) const {
    std::vector<std::string> ids;
    for (const auto& [uuid, c] : credentials) {
      if (c.user_id == user_id && c.is_active) ids.push_back(c.cred_id);
    }
    return ids;
  }

  UserView view(const UserRecord& u) const {
    UserView v{u, {}, {}, {}};
    for (const auto& [uuid, c] : credentials) {
      if (c.user_id == u.id) v.credentials.push_back(c);
    }
    for (const auto& [id, t] : tokens) {
      if (t.user_id == u.id) v.tokens.push_back(t);
    }
    for (const auto& [id, a] : assignments) {
      if (a.record.identity_id != u.id || a.revoked_ms) continue;
      if (auto p = permissions.find(a.record.permission_id); p != permissions.end()) {
        v.assignments.emplace_back(a.record, p->second);
      }
    }
    return v;
  }

  static PrincipalKind kind_of(const UserRecord& u) {
    if (u.is_service_account) return PrincipalKind::kServiceAccount;
    return u.kind == "EndUser" ? PrincipalKind::kEndUser : PrincipalKind::kOrgUser;
  }

  // --- tokens

  // Signs a JWT for `t` in the HSM.
  Result<std::string> sign_token(const TokenRecord& t, const UserRecord& u) {
    json::object payload{{"iss", options.issuer},
                         {"aud", options.issuer},
                         {"sub", u.id},
                         {"iat", t.date_created_ms / 1000},
                         {"exp", t.expires_ms / 1000},
                         {"jti", t.id},
                         {"https://custom/username", u.username},
                         {"https://custom/app_metadata",
                          {{"userId", u.id}, {"orgId", org.id}, {"tokenKind", t.kind}, {"tokenId", t.id}}}};
    const std::string input = jwt_signing_input(org.token_key_id, payload);
    auto signature = hsm.sign(org.token_key_id, hsm::Curve::kEd25519, as_bytes(input));
    if (!signature) return std::unexpected(signature.error());
    return jwt_assemble(input, *signature);
  }

  // --- challenges

  // Stores a challenge and returns its document. Refuses when too many are pending.
  Result<json::object> open_challenge(Challenge c) {
    const auto now = now_ms();
    c.challenge = base64url_encode(as_bytes(to_hex(random_bytes(32))));
    c.expires_ms = now + options.challenge_ttl.count() * 1000;
    const std::string identifier = random_b64url(32);
    json::array keys;
    for (const auto& id : c.allowed_cred_ids) keys.push_back(json::object{{"type", "public-key"}, {"id", id}});
    json::object doc{{"challenge", c.challenge},
                     {"challengeIdentifier", identifier},
                     {"supportedCredentialKinds",
                      json::array{json::object{{"kind", "Key"}, {"factor", "first"}, {"requiresSecondFactor", false}}}},
                     {"userVerification", "required"},
                     {"attestation", "none"},
                     {"allowCredentials",
                      {{"key", std::move(keys)}, {"webauthn", json::array{}}, {"passwordProtectedKey", json::array{}}}},
                     {"externalAuthenticationUrl", ""}};
    // Bounded three ways, so no one caller (login needs no token) can crowd out the others: per user and
    // purpose, login challenges as a whole, and everything pending.
    const std::string owner = owner_key(c.purpose, c.user_id);
    std::lock_guard lock(flight_mu);
    sweep(now);
    auto& mine = pending[owner];
    const bool login = c.purpose == Purpose::kLogin;
    if (mine >= kMaxPendingPerUser || (login && pending_logins >= options.max_pending_challenges / 4) ||
        challenges.size() + user_actions.size() >= options.max_pending_challenges) {
      return fail(ErrorCode::kResourceExhausted, "too many pending challenges; retry later");
    }
    ++mine;
    if (login) ++pending_logins;
    challenges.emplace(identifier, std::move(c));
    return doc;
  }

  static constexpr std::size_t kMaxPendingPerUser = 32;

  static std::string owner_key(Purpose purpose, std::string_view user_id) {
    return std::string(purpose == Purpose::kLogin ? "login:" : "action:") + std::string(user_id);
  }

  // Forgets one pending item of `owner` (call with flight_mu held).
  void release(const std::string& owner, bool login) {
    if (auto it = pending.find(owner); it != pending.end() && --it->second == 0) pending.erase(it);
    if (login && pending_logins > 0) --pending_logins;
  }

  static Bytes random_bytes(std::size_t n) {
    Bytes b(n);
    RAND_bytes(b.data(), static_cast<int>(n));
    return b;
  }

  // Drops what expired, at most once a second (call with flight_mu held).
  void sweep(std::int64_t now) {
    if (now - last_sweep_ms < 1000) return;
    last_sweep_ms = now;
    for (auto it = challenges.begin(); it != challenges.end();) {
      if (it->second.expires_ms > now) {
        ++it;
        continue;
      }
      release(owner_key(it->second.purpose, it->second.user_id), it->second.purpose == Purpose::kLogin);
      it = challenges.erase(it);
    }
    for (auto it = user_actions.begin(); it != user_actions.end();) {
      if (it->second.expires_ms > now) {
        ++it;
        continue;
      }
      release("token:" + it->second.user_id, false);
      it = user_actions.erase(it);
    }
    std::erase_if(used_actions, [now](const auto& e) { return e.second <= now; });
  }

  // Takes the challenge (single use, whatever the outcome) and checks the assertion against it.
  Result<Challenge> redeem(std::string_view identifier, const Assertion& a, Purpose purpose) {
    Challenge c;
    {
      std::lock_guard lock(flight_mu);
      auto it = challenges.find(std::string(identifier));
      if (it == challenges.end()) return std::unexpected(bad_challenge());
      c = std::move(it->second);
      challenges.erase(it);
      release(owner_key(c.purpose, c.user_id), c.purpose == Purpose::kLogin);
    }
    if (c.purpose != purpose || c.expires_ms <= now_ms()) return std::unexpected(bad_challenge());
    if (std::find(c.allowed_cred_ids.begin(), c.allowed_cred_ids.end(), a.cred_id) == c.allowed_cred_ids.end()) {
      return std::unexpected(denied_user_action("credential " + a.cred_id.substr(0, 64) +
                                                " is not allowed for this challenge"));
    }
    std::string pem;
    std::shared_ptr<const CredentialKey> parsed_key;
    {
      std::shared_lock lock(mu);
      auto uuid = credential_by_id.find(a.cred_id);
      if (uuid == credential_by_id.end()) return std::unexpected(denied_user_action("unknown credential"));
      const auto& cred = credentials.at(uuid->second);
      if (!cred.is_active || cred.user_id != c.user_id) {
        return std::unexpected(denied_user_action("credential is not active for this user"));
      }
      pem = cred.public_key_pem;
      if (auto k = credential_keys.find(uuid->second); k != credential_keys.end()) parsed_key = k->second;
    }
    auto client_data = base64url_decode(a.client_data);
    if (!client_data) return std::unexpected(denied_user_action("clientData is not base64url"));
    boost::system::error_code ec;
    auto parsed = json::parse(std::string_view(reinterpret_cast<const char*>(client_data->data()), client_data->size()), ec);
    if (ec || !parsed.is_object()) return std::unexpected(denied_user_action("clientData is not a JSON object"));
    const auto& cd = parsed.as_object();
    if (get_string(cd, "type") != "key.get") return std::unexpected(denied_user_action("clientData.type is not key.get"));
    if (get_string(cd, "challenge") != c.challenge) {
      return std::unexpected(denied_user_action("clientData.challenge is not the issued challenge"));
    }
    auto signature = base64url_decode(a.signature);
    if (!signature) return std::unexpected(denied_user_action("signature is not base64url"));
    if (!parsed_key) {
      auto key = CredentialKey::from_pem(pem);
      if (!key) return std::unexpected(key.error());
      parsed_key = std::make_shared<const CredentialKey>(std::move(*key));
    }
    auto verified = parsed_key->verify(*client_data, *signature, a.algorithm);
    if (!verified) {
      if (verified.error().code == ErrorCode::kInvalidArgument) return std::unexpected(verified.error());
      return std::unexpected(denied_user_action("signature does not verify"));
    }
    return c;
  }

  bool has_permission(const Principal& who, std::string_view op) const {
    switch (who.kind) {
      case PrincipalKind::kLocalAdmin: return true;
      case PrincipalKind::kAnonymous: return false;
      case PrincipalKind::kEndUser: {
        const auto& ops = end_user_operations();
        return std::find(ops.begin(), ops.end(), op) != ops.end();
      }
      case PrincipalKind::kServiceAccount:
      case PrincipalKind::kOrgUser: break;
    }
    std::shared_lock lock(mu);
    for (const auto& [id, a] : assignments) {
      if (a.record.identity_id != who.id || a.revoked_ms) continue;
      auto p = permissions.find(a.record.permission_id);
      if (p == permissions.end() || p->second.status != "Active") continue;
      // The built-in Admin holds every operation, including ones a later release adds.
      if (p->first == org.admin_permission_id) return true;
      if (std::find(p->second.operations.begin(), p->second.operations.end(), op) != p->second.operations.end()) {
        return true;
      }
    }
    return false;
  }

  // No one hands out more than they hold: assigning a permission, or creating or widening one, needs every
  // operation it grants (the local administrator holds all of them).
  Result<void> require_all(const Principal& who, const PermissionRecord& p) const {
    if (who.kind == PrincipalKind::kLocalAdmin) return {};
    const auto& ops = p.id == org.admin_permission_id ? known_operations() : p.operations;
    for (const auto& op : ops) {
      if (!has_permission(who, op)) {
        Error e{ErrorCode::kPermissionDenied,
                "permission denied: granting " + op + " needs holding it (no one grants more than they hold)", {}};
        e.details["permission"] = op;
        return std::unexpected(std::move(e));
      }
    }
    return {};
  }

  Result<void> require(const Principal& who, std::string_view op) const {
    if (has_permission(who, op)) return {};
    Error e{ErrorCode::kPermissionDenied, "permission denied: " + std::string(op) + " is required", {}};
    e.details["permission"] = std::string(op);
    return std::unexpected(std::move(e));
  }

  // Checks a username or name for a new or renamed user: length and uniqueness. Call with write_mu held.
  Result<void> check_username(std::string_view name, std::size_t max, std::string_view field) const {
    if (name.empty() || name.size() > max) {
      return fail(ErrorCode::kInvalidArgument,
                  "field '" + std::string(field) + "' must be 1 to " + std::to_string(max) + " characters");
    }
    std::shared_lock lock(mu);
    if (user_by_name.count(std::string(name))) {
      return fail(ErrorCode::kConflict, std::string(field) + " '" + std::string(name) + "' is already in use");
    }
    return {};
  }

  Result<UserRecord> service_account(std::string_view id) const {
    std::shared_lock lock(mu);
    const auto* u = user(id);
    if (!u || !u->is_service_account) return fail(ErrorCode::kNotFound, "service account " + std::string(id) + " not found");
    return *u;
  }

  Result<PermissionRecord> permission(std::string_view id) const {
    std::shared_lock lock(mu);
    auto it = permissions.find(std::string(id));
    if (it == permissions.end()) return fail(ErrorCode::kNotFound, "permission " + std::string(id) + " not found");
    return it->second;
  }
};

IdentityService::IdentityService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IdentityService::~IdentityService() = default;

Result<std::unique_ptr<IdentityService>> IdentityService::open(hsm::Hsm& hsm, store::Store& store,
                                                               IdentityOptions options) {
  auto impl = std::make_unique<Impl>(hsm, store, std::move(options));
  auto objects = store.load_identity_objects();
  if (!objects) return std::unexpected(objects.error());
  for (const auto& o : *objects) {
    boost::system::error_code ec;
    auto doc = json::parse(o.json, ec);
    if (ec || !doc.is_object()) {
      return fail(ErrorCode::kInternal, "identity: stored " + o.kind + " " + o.id + " is not a JSON object");
    }
    impl->apply(o, doc.as_object());
  }
  // Login tokens that expired need not stay in memory (their rows stay in the store, as history).
  const auto now = now_ms();
  std::erase_if(impl->tokens, [now](const auto& t) { return t.second.kind == "Temp" && t.second.expires_ms <= now; });
  if (auto r = impl->bootstrap(); !r) return std::unexpected(r.error());
  return std::unique_ptr<IdentityService>(new IdentityService(std::move(impl)));
}

const std::string& IdentityService::org_id() const { return impl_->org.id; }
const std::string& IdentityService::admin_permission_id() const { return impl_->org.admin_permission_id; }

Result<Principal> IdentityService::authenticate_bearer(std::string_view token) const {
  auto principal = authenticate(token);
  if (!principal && identity_log().should_log(spdlog::level::debug)) {
    identity_log().debug("authentication refused reason=\"{}\"", reason_of(principal.error()));
  }
  return principal;
}

Result<Principal> IdentityService::authenticate(std::string_view token) const {
  auto unauthorized = [](std::string reason) -> Result<Principal> {
    Error e{ErrorCode::kUnauthenticated, "Not Authorized.", {}};
    e.details["reason"] = std::move(reason);
    return std::unexpected(std::move(e));
  };
  if (token.empty() || token.size() > 8192) return unauthorized("malformed token");
  const auto now = now_ms();
  const std::string digest = sha256_hex(token);
  std::optional<CachedToken> cached;
  {
    std::lock_guard lock(impl_->cache_mu);
    if (auto it = impl_->token_cache.find(digest); it != impl_->token_cache.end()) cached = it->second;
  }
  if (!cached) {
    auto payload = jwt_verify(token, impl_->org.token_key_id, impl_->token_public_key);
    if (!payload) return std::unexpected(payload.error());
    const auto* meta_v = payload->if_contains("https://custom/app_metadata");
    if (!meta_v || !meta_v->is_object()) return unauthorized("token has no app_metadata");
    const auto& meta = meta_v->as_object();
    if (get_string(*payload, "iss") != impl_->options.issuer || get_string(meta, "orgId") != impl_->org.id) {
      return unauthorized("token was not issued by this organisation");
    }
    const auto* exp = payload->if_contains("exp");
    if (!exp || !exp->is_int64()) return unauthorized("token has no expiry");
    cached = CachedToken{Principal{.id = get_string(meta, "userId"), .token_id = get_string(meta, "tokenId")},
                         exp->as_int64() * 1000};
    std::lock_guard lock(impl_->cache_mu);
    if (impl_->token_cache.size() >= kMaxTokenCache) impl_->token_cache.clear();
    impl_->token_cache.emplace(digest, *cached);
  }
  if (cached->expires_ms <= now) return unauthorized("token expired");
  // Revocation and deactivation apply at once: checked on every request, in memory.
  std::shared_lock lock(impl_->mu);
  auto t = impl_->tokens.find(*cached->principal.token_id);
  if (t == impl_->tokens.end() || t->second.user_id != cached->principal.id) return unauthorized("unknown token");
  if (t->second.revoked_ms) return unauthorized("token revoked");
  if (t->second.expires_ms <= now) return unauthorized("token expired");
  const auto* u = impl_->user(cached->principal.id);
  if (!u || !u->is_active || u->archived) return unauthorized("user is not active");
  Principal p = cached->principal;
  p.kind = Impl::kind_of(*u);
  return p;
}

bool IdentityService::has_permission(const Principal& who, std::string_view operation) const {
  return impl_->has_permission(who, operation);
}

Result<void> IdentityService::require(const Principal& who, std::string_view operation) const {
  return impl_->require(who, operation);
}

std::optional<std::string> IdentityService::find_user_id(std::string_view id_or_username) const {
  std::shared_lock lock(impl_->mu);
  if (impl_->user(id_or_username)) return std::string(id_or_username);
  if (auto it = impl_->user_by_name.find(std::string(id_or_username)); it != impl_->user_by_name.end()) {
    return it->second;
  }
  return std::nullopt;
}

Result<void> IdentityService::require_end_user(std::string_view user_id) const {
  std::shared_lock lock(impl_->mu);
  const auto* u = impl_->user(user_id);
  if (!u || u->kind != "EndUser" || u->is_service_account || !u->is_active || u->archived) {
    return fail(ErrorCode::kInvalidArgument,
                "delegateTo: " + std::string(user_id.substr(0, 64)) + " is not an active end user of this organisation");
  }
  return {};
}

Result<boost::json::object> IdentityService::init_user_action(const Principal& who, const UserActionInit& init) {
  if (who.kind == PrincipalKind::kAnonymous || who.kind == PrincipalKind::kLocalAdmin) {
    return fail(ErrorCode::kUnauthenticated,
                "User does not have a credential that can be used to sign the user action.");
  }
  if (init.method != "POST" && init.method != "PUT" && init.method != "DELETE") {
    return fail(ErrorCode::kInvalidArgument, "userActionHttpMethod must be POST, PUT or DELETE");
  }
  if (init.path.empty() || init.path.front() != '/' || init.path.size() > 2048) {
    return fail(ErrorCode::kInvalidArgument, "userActionHttpPath must be an absolute path");
  }
  if (init.payload.size() > kMaxPayloadBytes) return fail(ErrorCode::kInvalidArgument, "userActionPayload is too large");
  Challenge c;
  c.purpose = Purpose::kUserAction;
  c.user_id = who.id;
  c.token_id = who.token_id;
  c.method = init.method;
  c.path = init.path;
  c.payload_sha256 = sha256_hex(init.payload);
  {
    std::shared_lock lock(impl_->mu);
    c.allowed_cred_ids = impl_->active_cred_ids(who.id);
  }
  if (c.allowed_cred_ids.empty()) {
    return fail(ErrorCode::kUnauthenticated,
                "User does not have a credential that can be used to sign the user action.");
  }
  return impl_->open_challenge(std::move(c));
}

Result<std::string> IdentityService::complete_user_action(const Principal& who, std::string_view challenge_identifier,
                                                          const Assertion& assertion) {
  auto c = impl_->redeem(challenge_identifier, assertion, Purpose::kUserAction);
  if (!c) return std::unexpected(c.error());
  if (c->user_id != who.id || c->token_id != who.token_id) return std::unexpected(bad_challenge());
  const std::string token = "ua-" + random_b64url(32);
  UserAction ua{who.id, who.token_id, assertion.cred_id, c->method, c->path, c->payload_sha256,
                now_ms() + impl_->options.user_action_ttl.count() * 1000};
  std::lock_guard lock(impl_->flight_mu);
  impl_->sweep(now_ms());
  auto& mine = impl_->pending["token:" + who.id];
  if (mine >= Impl::kMaxPendingPerUser ||
      impl_->challenges.size() + impl_->user_actions.size() >= impl_->options.max_pending_challenges) {
    return fail(ErrorCode::kResourceExhausted, "too many unused user actions; retry later");
  }
  ++mine;
  impl_->user_actions.emplace(sha256_hex(token), std::move(ua));
  identity_log().debug("user action issued principal={}", who.id);
  return token;
}

Result<std::string> IdentityService::consume_user_action(const Principal& who, std::optional<std::string_view> token,
                                                         std::string_view method, std::string_view path,
                                                         std::string_view body_sha256) {
  auto consumed = consume(who, token, method, path, body_sha256);
  if (!consumed && identity_log().should_log(spdlog::level::debug)) {
    identity_log().debug("user action refused principal={} method={} reason=\"{}\"", who.id, method,
                         reason_of(consumed.error()));
  }
  return consumed;
}

Result<std::string> IdentityService::consume(const Principal& who, std::optional<std::string_view> token,
                                             std::string_view method, std::string_view path,
                                             std::string_view body_sha256) {
  if (!token || token->empty()) return std::unexpected(denied_user_action("the x-dfns-useraction header is missing"));
  if (token->size() > 512) return std::unexpected(denied_user_action("unknown user action"));
  const std::string digest = sha256_hex(*token);
  std::lock_guard lock(impl_->flight_mu);
  auto it = impl_->user_actions.find(digest);
  if (it == impl_->user_actions.end()) {
    if (impl_->used_actions.contains(digest)) return fail(ErrorCode::kInvalidArgument, "user action has already been used");
    return std::unexpected(denied_user_action("unknown user action"));
  }
  auto& ua = it->second;
  if (ua.expires_ms <= now_ms()) return std::unexpected(denied_user_action("user action expired"));
  if (ua.user_id != who.id || ua.token_id != who.token_id) {
    return std::unexpected(denied_user_action("user action belongs to another caller"));
  }
  if (ua.method != method || ua.path != path) {
    return std::unexpected(denied_user_action("user action was signed for " + ua.method + " " + ua.path));
  }
  if (ua.body_sha256 != body_sha256) {
    return std::unexpected(denied_user_action("user action was signed for another request body"));
  }
  // Used: it leaves the pending set (and its owner's quota) and is remembered, until it would have expired, only to
  // tell a replay (400) from a made-up token (403). Bounded: when full the memory is dropped, and replays of the
  // forgotten ones get 403 instead, still refused.
  std::string cred_id = std::move(ua.cred_id);
  if (impl_->used_actions.size() >= Impl::kMaxUsedRemembered) impl_->used_actions.clear();
  impl_->used_actions.emplace(digest, ua.expires_ms);
  impl_->release("token:" + ua.user_id, false);
  impl_->user_actions.erase(it);
  return cred_id;
}

Result<boost::json::object> IdentityService::init_login(std::string_view username, std::string_view org_id) {
  if (org_id != impl_->org.id) return fail(ErrorCode::kUnauthenticated, "Not Authorized. Unknown orgId.");
  Challenge c;
  c.purpose = Purpose::kLogin;
  {
    std::shared_lock lock(impl_->mu);
    auto id = impl_->user_by_name.find(std::string(username));
    const UserRecord* u = id == impl_->user_by_name.end() ? nullptr : impl_->user(id->second);
    if (u && !u->is_service_account && u->is_active && !u->archived) {
      c.user_id = u->id;
      c.allowed_cred_ids = impl_->active_cred_ids(u->id);
    }
  }
  if (c.allowed_cred_ids.empty()) {
    return fail(ErrorCode::kUnauthenticated, "User does not have a credential that can be used to log in.");
  }
  return impl_->open_challenge(std::move(c));
}

Result<std::string> IdentityService::complete_login(std::string_view challenge_identifier, const Assertion& assertion) {
  auto c = impl_->redeem(challenge_identifier, assertion, Purpose::kLogin);
  if (!c) {
    identity_log().debug("login refused reason=\"{}\"", reason_of(c.error()));
    return std::unexpected(c.error());
  }
  std::lock_guard w(impl_->write_mu);
  UserRecord u;
  {
    std::shared_lock lock(impl_->mu);
    const auto* found = impl_->user(c->user_id);
    if (!found || !found->is_active || found->archived) return fail(ErrorCode::kUnauthenticated, "Not Authorized.");
    u = *found;
  }
  const auto now = now_ms();
  TokenRecord t{make_entity_id("to"), u.id, "Temp", std::nullopt, assertion.cred_id, now,
                now + impl_->options.login_token_ttl.count() * 1000, std::nullopt};
  auto jwt = impl_->sign_token(t, u);
  if (!jwt) return std::unexpected(jwt.error());
  Principal who{.id = u.id, .token_id = std::nullopt, .kind = Impl::kind_of(u), .credential_id = assertion.cred_id,
                .method = "POST", .path = "/auth/login"};
  const auto audit = audit_entry(who, {t.id});
  if (auto r = impl_->commit({object_of("token", t.id, t)}, &audit); !r) return std::unexpected(r.error());
  identity_log().info("login user={} kind={} ttl_s={}", u.id, u.kind, impl_->options.login_token_ttl.count());
  return *jwt;
}

Result<IdentityService::CreatedServiceAccount> IdentityService::create_service_account(
    const Principal& who, const CreateServiceAccount& request) {
  auto key = CredentialKey::from_pem(request.public_key_pem);
  if (!key) return std::unexpected(Error{ErrorCode::kInvalidArgument, "publicKey: " + key.error().message, {}});
  const int days = request.days_valid.value_or(kMaxDaysValid);
  if (days < 1 || days > kMaxDaysValid) {
    return fail(ErrorCode::kInvalidArgument, "daysValid must be from 1 to " + std::to_string(kMaxDaysValid));
  }
  std::lock_guard w(impl_->write_mu);
  if (auto r = impl_->check_username(request.name, kMaxNameBytes, "name"); !r) return std::unexpected(r.error());
  if (request.permission_id) {
    if (auto r = impl_->require(who, "Permissions:Assign"); !r) return std::unexpected(r.error());
    auto p = impl_->permission(*request.permission_id);
    if (!p) return std::unexpected(p.error());
    if (p->status != "Active") return fail(ErrorCode::kInvalidArgument, "permission " + p->id + " is archived");
    if (auto r = impl_->require_all(who, *p); !r) return std::unexpected(r.error());
  }
  const auto now = now_ms();
  UserRecord u{make_entity_id("us"), request.name, request.name, "CustomerEmployee", true, true, false,
               request.external_id, now};
  CredentialRecord c{make_entity_id("cr"), base64url_encode(as_bytes(make_entity_id("ci"))), u.id, "Key", request.name,
                     key->pem(), true, now};
  TokenRecord t{make_entity_id("to"), u.id, "ServiceAccount", request.name, c.cred_id, now,
                now + std::int64_t{days} * 86'400'000, std::nullopt};
  std::vector<store::IdentityObject> objects{object_of("user", u.id, u), object_of("credential", c.uuid, c),
                                             object_of("token", t.id, t)};
  std::vector<std::string> affected{u.id, c.uuid, t.id};
  if (request.permission_id) {
    Assignment a{{make_entity_id("as"), *request.permission_id, u.id, now}, std::nullopt};
    objects.push_back(object_of("assignment", a.record.id, a));
    affected.push_back(a.record.id);
  }
  auto jwt = impl_->sign_token(t, u);
  if (!jwt) return std::unexpected(jwt.error());
  const auto audit = audit_entry(who, affected);
  if (auto r = impl_->commit(objects, &audit); !r) return std::unexpected(r.error());
  identity_log().info("service account created user={} permission={} days_valid={} principal={}", u.id,
                      request.permission_id.value_or("none"), days, who.id);
  std::shared_lock lock(impl_->mu);
  return CreatedServiceAccount{impl_->view(*impl_->user(u.id)), *jwt};
}

std::vector<UserView> IdentityService::list_service_accounts() const {
  std::shared_lock lock(impl_->mu);
  std::vector<UserView> out;
  for (const auto& [id, u] : impl_->users) {
    if (u.is_service_account) out.push_back(impl_->view(u));
  }
  std::sort(out.begin(), out.end(), [](const UserView& a, const UserView& b) {
    return std::tie(a.user.date_created_ms, a.user.id) < std::tie(b.user.date_created_ms, b.user.id);
  });
  return out;
}

Result<UserView> IdentityService::get_service_account(std::string_view id) const {
  auto u = impl_->service_account(id);
  if (!u) return std::unexpected(u.error());
  std::shared_lock lock(impl_->mu);
  return impl_->view(*u);
}

Result<UserView> IdentityService::update_service_account(const Principal& who, std::string_view id,
                                                         std::optional<std::string> name,
                                                         std::optional<std::optional<std::string>> external_id) {
  std::lock_guard w(impl_->write_mu);
  auto u = impl_->service_account(id);
  if (!u) return std::unexpected(u.error());
  if (u->archived) return fail(ErrorCode::kInvalidArgument, "service account " + u->id + " is archived");
  std::vector<store::IdentityObject> objects;
  if (name && *name != u->username) {
    if (auto r = impl_->check_username(*name, kMaxNameBytes, "name"); !r) return std::unexpected(r.error());
    {
      std::unique_lock lock(impl_->mu);
      impl_->user_by_name.erase(u->username);
    }
    u->username = *name;
    u->name = *name;
  }
  if (external_id) u->external_id = *external_id;
  const auto audit = audit_entry(who, {u->id});
  if (auto r = impl_->commit({object_of("user", u->id, *u)}, &audit); !r) {
    std::unique_lock lock(impl_->mu);  // put the old name back
    const auto& current = impl_->users.at(u->id);
    impl_->user_by_name[current.username] = current.id;
    return std::unexpected(r.error());
  }
  identity_log().debug("service account updated user={} principal={}", u->id, who.id);
  std::shared_lock lock(impl_->mu);
  return impl_->view(*impl_->user(u->id));
}

Result<UserView> IdentityService::set_service_account_active(const Principal& who, std::string_view id, bool active) {
  std::lock_guard w(impl_->write_mu);
  auto u = impl_->service_account(id);
  if (!u) return std::unexpected(u.error());
  if (u->archived) return fail(ErrorCode::kInvalidArgument, "service account " + u->id + " is archived");
  u->is_active = active;
  const auto audit = audit_entry(who, {u->id});
  if (auto r = impl_->commit({object_of("user", u->id, *u)}, &audit); !r) return std::unexpected(r.error());
  identity_log().info("service account {} user={} principal={}", active ? "activated" : "deactivated", u->id, who.id);
  std::shared_lock lock(impl_->mu);
  return impl_->view(*impl_->user(u->id));
}

Result<UserView> IdentityService::archive_service_account(const Principal& who, std::string_view id) {
  std::lock_guard w(impl_->write_mu);
  auto u = impl_->service_account(id);
  if (!u) return std::unexpected(u.error());
  if (u->archived) return fail(ErrorCode::kInvalidArgument, "service account " + u->id + " is already archived");
  u->archived = true;
  u->is_active = false;
  std::vector<store::IdentityObject> objects{object_of("user", u->id, *u)};
  std::vector<std::string> affected{u->id};
  const auto now = now_ms();
  {
    std::shared_lock lock(impl_->mu);
    for (const auto& [tid, t] : impl_->tokens) {
      if (t.user_id != u->id || t.revoked_ms) continue;
      TokenRecord revoked = t;
      revoked.revoked_ms = now;
      objects.push_back(object_of("token", tid, revoked));
      affected.push_back(tid);
    }
  }
  const auto audit = audit_entry(who, affected);
  if (auto r = impl_->commit(objects, &audit); !r) return std::unexpected(r.error());
  identity_log().info("service account archived user={} tokens_revoked={} principal={}", u->id, objects.size() - 1,
                      who.id);
  std::shared_lock lock(impl_->mu);
  return impl_->view(*impl_->user(u->id));
}

Result<UserView> IdentityService::create_user(const Principal& who, const CreateUser& request) {
  if (request.kind != "EndUser" && request.kind != "CustomerEmployee") {
    return fail(ErrorCode::kInvalidArgument, "field 'kind' must be \"EndUser\" or \"CustomerEmployee\"");
  }
  std::optional<CredentialKey> key;
  if (request.public_key_pem) {
    auto k = CredentialKey::from_pem(*request.public_key_pem);
    if (!k) return std::unexpected(Error{ErrorCode::kInvalidArgument, "publicKey: " + k.error().message, {}});
    key = std::move(*k);
  }
  if (request.credential_name && (request.credential_name->empty() || request.credential_name->size() > kMaxNameBytes)) {
    return fail(ErrorCode::kInvalidArgument, "field 'credentialName' must be 1 to 256 characters");
  }
  std::lock_guard w(impl_->write_mu);
  if (auto r = impl_->check_username(request.username, kMaxUsernameBytes, "email"); !r) {
    return std::unexpected(r.error());
  }
  const auto now = now_ms();
  UserRecord u{make_entity_id("us"), request.username, request.username, request.kind, false, true, false,
               request.external_id, now};
  std::vector<store::IdentityObject> objects{object_of("user", u.id, u)};
  std::vector<std::string> affected{u.id};
  if (key) {
    CredentialRecord c{make_entity_id("cr"), base64url_encode(as_bytes(make_entity_id("ci"))), u.id, "Key",
                       request.credential_name.value_or("Key"), key->pem(), true, now};
    objects.push_back(object_of("credential", c.uuid, c));
    affected.push_back(c.uuid);
  }
  const auto audit = audit_entry(who, affected);
  if (auto r = impl_->commit(objects, &audit); !r) return std::unexpected(r.error());
  identity_log().info("user created user={} kind={} credential={} principal={}", u.id, u.kind, key.has_value(), who.id);
  std::shared_lock lock(impl_->mu);
  return impl_->view(*impl_->user(u.id));
}

std::vector<UserView> IdentityService::list_users() const {
  std::shared_lock lock(impl_->mu);
  std::vector<UserView> out;
  for (const auto& [id, u] : impl_->users) {
    if (!u.is_service_account) out.push_back(impl_->view(u));
  }
  std::sort(out.begin(), out.end(), [](const UserView& a, const UserView& b) {
    return std::tie(a.user.date_created_ms, a.user.id) < std::tie(b.user.date_created_ms, b.user.id);
  });
  return out;
}

Result<UserView> IdentityService::get_user(std::string_view id) const {
  std::shared_lock lock(impl_->mu);
  const auto* u = impl_->user(id);
  if (!u || u->is_service_account) return fail(ErrorCode::kNotFound, "user " + std::string(id) + " not found");
  return impl_->view(*u);
}

namespace {

Result<void> check_operations(const std::vector<std::string>& ops) {
  if (ops.empty()) return fail(ErrorCode::kInvalidArgument, "field 'operations' must name at least one operation");
  const auto& known = known_operations();
  for (const auto& op : ops) {
    if (std::find(known.begin(), known.end(), op) == known.end()) {
      return fail(ErrorCode::kInvalidArgument, "unknown operation '" + op.substr(0, 64) + "'");
    }
  }
  return {};
}

Result<void> check_permission_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return fail(ErrorCode::kInvalidArgument, "field 'name' must be 1 to 256 characters");
  }
  return {};
}

}  // namespace

Result<PermissionRecord> IdentityService::create_permission(const Principal& who, std::string name,
                                                            std::vector<std::string> ops) {
  if (auto r = check_permission_name(name); !r) return std::unexpected(r.error());
  if (auto r = check_operations(ops); !r) return std::unexpected(r.error());
  std::sort(ops.begin(), ops.end());
  ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
  std::lock_guard w(impl_->write_mu);
  {
    std::shared_lock lock(impl_->mu);
    for (const auto& [id, p] : impl_->permissions) {
      if (p.name == name) return fail(ErrorCode::kConflict, "a permission named '" + name + "' already exists");
    }
  }
  const auto now = now_ms();
  PermissionRecord p{make_entity_id("pm"), std::move(name), std::move(ops), "Active", false, now, now};
  if (auto r = impl_->require_all(who, p); !r) return std::unexpected(r.error());
  const auto audit = audit_entry(who, {p.id});
  if (auto r = impl_->commit({object_of("permission", p.id, p)}, &audit); !r) return std::unexpected(r.error());
  identity_log().info("permission created permission={} operations={} principal={}", p.id, p.operations.size(), who.id);
  return p;
}

Result<PermissionRecord> IdentityService::get_permission(std::string_view id) const { return impl_->permission(id); }

std::vector<PermissionRecord> IdentityService::list_permissions() const {
  std::shared_lock lock(impl_->mu);
  std::vector<PermissionRecord> out;
  for (const auto& [id, p] : impl_->permissions) out.push_back(p);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.date_created_ms, a.id) < std::tie(b.date_created_ms, b.id);
  });
  return out;
}

Result<PermissionRecord> IdentityService::update_permission(const Principal& who, std::string_view id,
                                                            const PermissionChange& change) {
  std::lock_guard w(impl_->write_mu);
  auto p = impl_->permission(id);
  if (!p) return std::unexpected(p.error());
  if (p->is_immutable) return fail(ErrorCode::kInvalidArgument, "permission " + p->id + " is immutable");
  if (p->status != "Active") return fail(ErrorCode::kInvalidArgument, "permission " + p->id + " is archived");
  if (change.name) {
    if (auto r = check_permission_name(*change.name); !r) return std::unexpected(r.error());
    std::shared_lock lock(impl_->mu);
    for (const auto& [other_id, other] : impl_->permissions) {
      if (other.name == *change.name && other_id != p->id) {
        return fail(ErrorCode::kConflict, "a permission named '" + *change.name + "' already exists");
      }
    }
    p->name = *change.name;
  }
  if (change.operations) {
    if (auto r = check_operations(*change.operations); !r) return std::unexpected(r.error());
    p->operations = *change.operations;
    std::sort(p->operations.begin(), p->operations.end());
    p->operations.erase(std::unique(p->operations.begin(), p->operations.end()), p->operations.end());
    if (auto r = impl_->require_all(who, *p); !r) return std::unexpected(r.error());
  }
  p->date_updated_ms = now_ms();
  const auto audit = audit_entry(who, {p->id});
  if (auto r = impl_->commit({object_of("permission", p->id, *p)}, &audit); !r) return std::unexpected(r.error());
  identity_log().info("permission updated permission={} operations={} principal={}", p->id, p->operations.size(),
                      who.id);
  return *p;
}

Result<PermissionRecord> IdentityService::archive_permission(const Principal& who, std::string_view id) {
  std::lock_guard w(impl_->write_mu);
  auto p = impl_->permission(id);
  if (!p) return std::unexpected(p.error());
  if (p->is_immutable) return fail(ErrorCode::kInvalidArgument, "permission " + p->id + " is immutable");
  if (p->status == "Archived") return fail(ErrorCode::kInvalidArgument, "permission " + p->id + " is already archived");
  p->status = "Archived";
  p->date_updated_ms = now_ms();
  const auto audit = audit_entry(who, {p->id});
  if (auto r = impl_->commit({object_of("permission", p->id, *p)}, &audit); !r) return std::unexpected(r.error());
  identity_log().info("permission archived permission={} principal={}", p->id, who.id);
  return *p;
}

Result<AssignmentRecord> IdentityService::assign_permission(const Principal& who, std::string_view permission_id,
                                                            std::string_view identity_id) {
  std::lock_guard w(impl_->write_mu);
  auto p = impl_->permission(permission_id);
  if (!p) return std::unexpected(p.error());
  if (p->status != "Active") return fail(ErrorCode::kInvalidArgument, "permission " + p->id + " is archived");
  if (auto r = impl_->require_all(who, *p); !r) return std::unexpected(r.error());
  {
    std::shared_lock lock(impl_->mu);
    const auto* u = impl_->user(identity_id);
    if (!u) return fail(ErrorCode::kNotFound, "identity " + std::string(identity_id.substr(0, 64)) + " not found");
    if (u->kind == "EndUser") {
      return fail(ErrorCode::kInvalidArgument, "end users act on their delegated keys only; they take no permissions");
    }
    for (const auto& [id, a] : impl_->assignments) {
      if (a.record.permission_id == p->id && a.record.identity_id == identity_id && !a.revoked_ms) {
        Error e{ErrorCode::kConflict, "permission " + p->id + " is already assigned to " + u->id, {}};
        e.details["assignmentId"] = id;
        return std::unexpected(std::move(e));
      }
    }
  }
  Assignment a{{make_entity_id("as"), p->id, std::string(identity_id), now_ms()}, std::nullopt};
  const auto audit = audit_entry(who, {a.record.id, p->id, a.record.identity_id});
  if (auto r = impl_->commit({object_of("assignment", a.record.id, a)}, &audit); !r) return std::unexpected(r.error());
  identity_log().info("permission assigned permission={} identity={} assignment={} principal={}", p->id,
                      a.record.identity_id, a.record.id, who.id);
  return a.record;
}

Result<AssignmentRecord> IdentityService::revoke_assignment(const Principal& who, std::string_view permission_id,
                                                            std::string_view assignment_id) {
  std::lock_guard w(impl_->write_mu);
  Assignment a;
  {
    std::shared_lock lock(impl_->mu);
    auto it = impl_->assignments.find(std::string(assignment_id));
    if (it == impl_->assignments.end() || it->second.record.permission_id != permission_id || it->second.revoked_ms) {
      return fail(ErrorCode::kNotFound, "assignment " + std::string(assignment_id.substr(0, 64)) + " not found");
    }
    a = it->second;
  }
  a.revoked_ms = now_ms();
  const auto audit = audit_entry(who, {a.record.id, a.record.permission_id, a.record.identity_id});
  if (auto r = impl_->commit({object_of("assignment", a.record.id, a)}, &audit); !r) return std::unexpected(r.error());
  identity_log().info("permission assignment revoked permission={} identity={} assignment={} principal={}",
                      a.record.permission_id, a.record.identity_id, a.record.id, who.id);
  return a.record;
}

Result<std::vector<AssignmentRecord>> IdentityService::list_assignments(std::string_view permission_id) const {
  if (auto p = impl_->permission(permission_id); !p) return std::unexpected(p.error());
  std::shared_lock lock(impl_->mu);
  std::vector<AssignmentRecord> out;
  for (const auto& [id, a] : impl_->assignments) {
    if (a.record.permission_id == permission_id && !a.revoked_ms) out.push_back(a.record);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.date_created_ms, a.id) < std::tie(b.date_created_ms, b.id);
  });
  return out;
}

}  // namespace signerd::core

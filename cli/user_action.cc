#include "cli/user_action.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <utility>

#include "cli/private_key_file.h"
#include "common/hex.h"

namespace signerd::cli {
namespace {

namespace json = boost::json;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

Error bad_key_file(const std::string& path, const std::string& why) {
  return Error{ErrorCode::kInvalidArgument, "--credential-key-file " + path + ": " + why, {}};
}

// The kinds core/credential_key.h verifies (EC on P-256 or secp256k1, Ed25519, RSA, RSA-PSS); nullopt otherwise.
std::optional<std::string> credential_kind(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC")) {
    std::array<char, 64> group{};
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(), nullptr) != 1) {
      return std::nullopt;
    }
    const std::string_view name(group.data());
    if (name == "prime256v1" || name == "P-256" || name == "secp256k1") return "EC";
    return std::nullopt;
  }
  if (EVP_PKEY_is_a(key, "ED25519")) return "ED25519";
  if (EVP_PKEY_is_a(key, "RSA-PSS")) return "RSA-PSS";
  if (EVP_PKEY_is_a(key, "RSA")) return "RSA";
  return std::nullopt;
}

std::string string_member(const json::value& v, std::string_view key) {
  const auto* o = v.if_object();
  const auto* m = o ? o->if_contains(key) : nullptr;
  return m && m->is_string() ? std::string(m->as_string()) : std::string();
}

Error unexpected_reply(std::string_view step, std::string_view missing) {
  return Error{
      ErrorCode::kInternal, "unexpected reply to " + std::string(step) + ": no " + std::string(missing) + " in it", {}};
}

}  // namespace

bool user_action_required(std::string_view method, std::string_view path) {
  if (method != "POST" && method != "PUT" && method != "DELETE") return false;
  const auto under = [&](std::string_view prefix) {
    return path == prefix || (path.starts_with(prefix) && path[prefix.size()] == '/');
  };
  return !(under("/auth/action/init") || under("/auth/action") || under("/auth/login/init") || under("/auth/login") ||
           under("/smart-account-apps") || under("/api/v1/smart-account"));
}

Result<CredentialSigner> CredentialSigner::load(const std::string& key_file, std::string cred_id) {
  auto key = read_private_key_file("--credential-key-file", key_file);
  if (!key) return std::unexpected(key.error());
  CredentialSigner signer;
  signer.key_ = std::move(*key);
  auto kind = credential_kind(signer.key_.get());
  if (!kind) {
    return std::unexpected(
        bad_key_file(key_file, "unsupported key type (credentials are EC P-256 or secp256k1, Ed25519 or RSA keys)"));
  }
  signer.kind_ = std::move(*kind);
  signer.cred_id_ = std::move(cred_id);
  return signer;
}

Result<std::string> CredentialSigner::sign_b64url(std::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  // Ed25519 signs the message itself; the others a SHA-256 digest of it, as Node's crypto.sign does by default.
  const EVP_MD* md = kind_ == "ED25519" ? nullptr : EVP_sha256();
  const auto* data = reinterpret_cast<const unsigned char*>(message.data());
  std::size_t size = 0;
  ERR_clear_error();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, data, message.size()) != 1) {
    ERR_clear_error();
    return fail(ErrorCode::kInternal, "OpenSSL cannot sign with the credential key");
  }
  Bytes signature(size);
  if (EVP_DigestSign(ctx.get(), signature.data(), &size, data, message.size()) != 1) {
    ERR_clear_error();
    return fail(ErrorCode::kInternal, "OpenSSL cannot sign with the credential key");
  }
  signature.resize(size);
  return base64url_encode(signature);
}

Result<UserAction> obtain_user_action(const HttpClient& client, const CredentialSigner& signer, std::string_view method,
                                      std::string_view path, std::string_view payload) {
  constexpr std::string_view kInitStep = "POST /auth/action/init";
  constexpr std::string_view kActionStep = "POST /auth/action";
  const json::object init{{"userActionPayload", payload},
                          {"userActionHttpMethod", method},
                          {"userActionHttpPath", path},
                          {"userActionServerKind", "Api"}};
  auto challenge_reply = client.request("POST", "/auth/action/init", json::serialize(init));
  if (!challenge_reply) return std::unexpected(challenge_reply.error());
  if (challenge_reply->status != 200) return UserAction{std::nullopt, std::string(kInitStep), *challenge_reply};
  boost::system::error_code ec;
  const json::value doc = json::parse(challenge_reply->body, ec);
  if (ec) return std::unexpected(unexpected_reply(kInitStep, "JSON"));
  const std::string challenge = string_member(doc, "challenge");
  const std::string identifier = string_member(doc, "challengeIdentifier");
  if (challenge.empty()) return std::unexpected(unexpected_reply(kInitStep, "challenge"));
  if (identifier.empty()) return std::unexpected(unexpected_reply(kInitStep, "challengeIdentifier"));

  // As @dfns/sdk-keysigner does: sign only for a credential the challenge allows.
  std::string allowed;
  bool ours = false;
  const auto* allow = doc.as_object().if_contains("allowCredentials");
  const auto* keys = allow && allow->is_object() ? allow->as_object().if_contains("key") : nullptr;
  if (keys && keys->is_array()) {
    for (const auto& k : keys->as_array()) {
      const std::string id = string_member(k, "id");
      if (id.empty()) continue;
      ours = ours || id == signer.cred_id();
      allowed += (allowed.empty() ? "" : ", ") + id;
    }
  }
  if (!ours) {
    return fail(ErrorCode::kPermissionDenied,
                "--cred-id " + signer.cred_id() + " is not an active Key credential of the token's account (" +
                    (allowed.empty() ? std::string("it has none") : "the daemon allows " + allowed) + ")");
  }

  // Exactly these two members in this order, compact: what the keysigner signs and the daemon parses.
  const std::string client_data = json::serialize(json::object{{"type", "key.get"}, {"challenge", challenge}});
  auto signature = signer.sign_b64url(client_data);
  if (!signature) return std::unexpected(signature.error());
  const json::object assertion{{"challengeIdentifier", identifier},
                               {"firstFactor",
                                {{"kind", "Key"},
                                 {"credentialAssertion",
                                  {{"credId", signer.cred_id()},
                                   {"clientData", base64url_encode(as_bytes(client_data))},
                                   {"signature", *signature}}}}}};
  auto action_reply = client.request("POST", "/auth/action", json::serialize(assertion));
  if (!action_reply) return std::unexpected(action_reply.error());
  if (action_reply->status != 200) return UserAction{std::nullopt, std::string(kActionStep), *action_reply};
  json::value action = json::parse(action_reply->body, ec);
  OPENSSL_cleanse(action_reply->body.data(), action_reply->body.size());
  if (ec) return std::unexpected(unexpected_reply(kActionStep, "JSON"));
  auto* token = action.is_object() ? action.as_object().if_contains("userAction") : nullptr;
  if (!token || !token->is_string() || token->as_string().empty()) {
    return std::unexpected(unexpected_reply(kActionStep, "userAction"));
  }
  UserAction done;
  done.token.emplace(std::string(token->as_string()));
  OPENSSL_cleanse(token->as_string().data(), token->as_string().size());
  return done;
}

}  // namespace signerd::cli

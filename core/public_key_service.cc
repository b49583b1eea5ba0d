#include "core/public_key_service.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/ids.h"

namespace signerd::core {
namespace {

// Pages of this size are read until the list ends: the legacy list is not paginated.
constexpr int kListPage = 500;

Error not_found(std::string_view public_key_id) {
  return Error{ErrorCode::kNotFound, "public key " + std::string(public_key_id) + " not found", {}};
}

}  // namespace

Result<void> require_org_principal(const Principal& who, std::string_view what) {
  if (who.kind == PrincipalKind::kEndUser) {
    return fail(ErrorCode::kPermissionDenied,
                "permission denied: " + std::string(what) + " belong to the organisation, not to end users");
  }
  return {};
}

Result<store::KeyRecord> PublicKeyService::create(const Principal& who, bool is_eddsa) {
  if (auto r = require_org_principal(who, "public keys"); !r) return std::unexpected(r.error());
  CreateKeyRequest request;
  request.scheme = is_eddsa ? "EdDSA" : "ECDSA";
  request.curve = is_eddsa ? "ed25519" : "secp256k1";
  request.public_key_id = make_entity_id("pk");
  return keys_.create_key(who, request);
}

Result<store::KeyRecord> PublicKeyService::get(const Principal& who, std::string_view public_key_id) {
  if (auto r = require_org_principal(who, "public keys"); !r) return std::unexpected(r.error());
  auto key = store_.get_key_by_public_key_id(public_key_id);
  if (!key) return std::unexpected(key.error());
  if (!*key || (*key)->status == store::KeyStatus::kCreating || (*key)->status == store::KeyStatus::kFailed) {
    return std::unexpected(not_found(public_key_id));
  }
  return std::move(**key);
}

Result<std::vector<store::KeyRecord>> PublicKeyService::list(const Principal& who) {
  if (auto r = require_org_principal(who, "public keys"); !r) return std::unexpected(r.error());
  std::vector<store::KeyRecord> out;
  std::optional<std::int64_t> before;
  do {
    auto page = store_.list_public_keys(before, kListPage);
    if (!page) return std::unexpected(page.error());
    for (auto& key : page->items) out.push_back(std::move(key));
    before = page->next_cursor;
  } while (before);
  return out;
}

Result<std::string> PublicKeyService::address(const Principal& who, std::string_view public_key_id,
                                              const LegacyNetwork& network) {
  auto key = get(who, public_key_id);
  if (!key) return std::unexpected(key.error());
  return legacy_address(network, key->curve, key->public_key);
}

Result<store::SignatureRecord> PublicKeyService::sign(const Principal& who, std::string_view public_key_id,
                                                      const Bytes& hash) {
  auto key = get(who, public_key_id);
  if (!key) return std::unexpected(key.error());
  if (key->status == store::KeyStatus::kArchived) {
    return fail(ErrorCode::kInvalidArgument, "public key " + std::string(public_key_id) + " is disabled (key " +
                                                 key->id + " is archived) and cannot sign");
  }
  // An ordinary key signature: Hash for ECDSA (KeyService refuses anything but 32 bytes), the message for EdDSA.
  SignatureRequest request;
  const bool ecdsa = key->scheme == "ECDSA";
  request.kind = ecdsa ? SignatureKind::kHash : SignatureKind::kMessage;
  request.payload = hash;
  const char* field = ecdsa ? "hash" : "message";
  request.canonical_body =
      boost::json::serialize(boost::json::object{{"kind", ecdsa ? "Hash" : "Message"}, {field, to_hex_0x(hash)}});
  auto outcome = keys_.sign(who, key->id, request);
  if (!outcome) return std::unexpected(outcome.error());
  return std::move(outcome->signature);
}

Result<store::SignatureRecord> PublicKeyService::get_signature(const Principal& who, std::string_view public_key_id,
                                                               std::string_view signature_id) {
  auto key = get(who, public_key_id);
  if (!key) return std::unexpected(key.error());
  return keys_.get_signature(who, key->id, signature_id);
}

}  // namespace signerd::core

#pragma once
// Dfns's legacy API (dfns-api.md §4): asset accounts under /assets/asset-accounts and public keys under /public-keys.
// Internal to api/: Api::route calls it for those paths.
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <span>
#include <string_view>

#include "api/request_body.h"
#include "common/error.h"
#include "core/asset_account_service.h"
#include "core/identity.h"
#include "core/principal.h"
#include "core/public_key_service.h"

namespace signerd::api {

// The services behind the legacy routes; null ones make their routes answer 503.
struct LegacyServices {
  core::AssetAccountService* asset_accounts = nullptr;
  core::PublicKeyService* public_keys = nullptr;
};

// The reply to a request under /assets/asset-accounts or /public-keys, or nullopt when no such route exists. The
// caller has already checked the route's permission (api.cc policy_of) and user action; the permissions that depend
// on the request are checked here: PublicKeys:Create for an asset account without publicKey, PublicKeys:Read besides
// Keys:Signatures:* for a public key's signatures.
std::optional<Result<boost::json::value>> route_legacy(const LegacyServices& services, core::IdentityService& identity,
                                                       const core::Principal& who, boost::beast::http::verb method,
                                                       std::span<const std::string_view> parts, const Query& query,
                                                       std::string_view body);

}  // namespace signerd::api

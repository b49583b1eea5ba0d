#pragma once
// The identity half of the API (dfns-api.md §1, Dfns's /permissions): user-action signing, login, service accounts,
// users and permissions. Internal to api/: Api::route calls it for paths under /auth and /permissions.
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <span>
#include <string_view>

#include "common/error.h"
#include "core/identity.h"
#include "core/principal.h"

namespace signerd::api {

// The reply to a request under /auth/… or /permissions/…, or nullopt when no such route exists. The caller has
// already checked the route's permission and user action.
std::optional<Result<boost::json::value>> route_identity(core::IdentityService& identity, const core::Principal& who,
                                                         boost::beast::http::verb method,
                                                         std::span<const std::string_view> parts,
                                                         std::string_view body);

}  // namespace signerd::api

#pragma once
// Smart accounts over HTTP (../shared/reference/smart-accounts.md):
//   POST /api/v1/smart-account                                             create (idempotent per app and owner)
//   GET  /api/v1/smart-account?owner=0x…&limit=&paginationToken=            list the app's records
//   GET  /api/v1/smart-account/{id}
//   POST /api/v1/smart-account/{id}/gas-tanks/{gasTankId}/deposits          {amount}
//   POST /api/v1/smart-account/{id}/accounts/{accountId}/activate
// authenticated by the app signature (X-APP-ID, X-TIMESTAMP, X-SIGNATURE), not by bearer tokens, and answering with
// the envelope {status, message, data} every time, errors included. Plus the local administrator's
//   POST /smart-account-apps {name}                                         a new app and its secret, shown once
//   GET /smart-account-apps?limit=&paginationToken=                        the apps, newest first, never a secret
//   DELETE /smart-account-apps/{appId}                                      revoke: its requests get 401 for good
// which answer like the rest of signerd (Dfns's error body). Internal to api/.
#include <optional>
#include <string_view>

#include "api/api.h"

namespace signerd::core {
class SmartAccountService;
}

namespace signerd::api {

// Whether `path` (no query) is under /api/v1/smart-account, where every reply is an envelope.
bool is_smart_account_path(std::string_view path);

// {"status": <http status>, "message": <error message>, "data": <details, or null>} with that status.
Response smart_error_response(const Error& error, unsigned http_version, bool keep_alive);

// The response for a smart-account route, or nullopt when `request` is not for one. `service` null: smart accounts
// are not available (503).
std::optional<Response> route_smart_accounts(core::SmartAccountService* service, const Request& request,
                                             const core::Principal& who, unsigned default_page_size,
                                             unsigned max_page_size);

}  // namespace signerd::api

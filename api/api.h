#pragma once
// The HTTP/JSON face of signerd: Dfns's Keys API (../shared/reference/dfns-api.md §2) plus health. Decodes and
// validates every request body into core's typed requests, calls core, and encodes entities and errors exactly as
// the reference names them. openapi.yaml beside this file describes every route; a test checks the two agree.
//
// Thread-safety: handle() may run on many threads at once. It blocks (core does HSM and store work): call it from
// worker threads, never from an I/O thread. Signing does not wait for its durable write: its reply comes from the
// store's writer thread once the signature is durable.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <optional>

#include "common/error.h"
#include "core/identity.h"
#include "core/key_service.h"
#include "core/principal.h"
#include "core/wallet_service.h"

namespace signerd::core {
class AssetAccountService;
class PublicKeyService;
}  // namespace signerd::core

namespace signerd::core {
class SmartAccountService;
}  // namespace signerd::core

namespace signerd::api {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

struct ApiOptions {
  unsigned max_page_size = 500;
  unsigned default_page_size = 50;
  // For GET /readyz: succeeds when the daemon can serve (HSM logged in, store writable), else says why.
  std::function<Result<void>()> readiness;
  // Appends the audit record of an authenticated mutating request that failed (nothing changed). Must not block:
  // it may be called from the store's writer thread.
  std::function<void(AuditEntry)> audit_failure;
  // GET /audit: a page of the audit trail, newest first.
  std::function<Result<store::Page<AuditRecord>>(std::optional<std::int64_t> before, int limit)> audit_page;
  // Smart accounts (api/smart_routes.h); null: their routes answer 503.
  core::SmartAccountService* smart_accounts = nullptr;
  // Dfns's legacy asset accounts and public keys (dfns-api.md §4, api/legacy_routes.h); their routes answer 503
  // while unset. Not owned; must outlive the Api.
  core::AssetAccountService* asset_accounts = nullptr;
  core::PublicKeyService* public_keys = nullptr;
};

class Api {
 public:
  Api(core::KeyService& keys, core::WalletService& wallets, core::IdentityService& identity, ApiOptions options)
      : keys_(keys), wallets_(wallets), identity_(identity), options_(std::move(options)) {}

  // Answers one authenticated request by calling `reply` exactly once, with a JSON response for every outcome:
  // before handle() returns, or later from another thread (see above). `request` must stay alive until then.
  // Before the route runs: the route's permission (403 naming it), then, for mutating requests of token holders,
  // the single-use user-action token in x-dfns-useraction bound to this method, path and body (dfns-api.md §1.2).
  // A mutating request that fails after authentication is audited with its outcome.
  using Reply = std::function<void(Response)>;
  void handle(const Request& request, const core::Principal& who, Reply reply) const;

 private:
  // The response, or nullopt when `reply` will be called later.
  std::optional<Response> route(const Request& request, const core::Principal& who, const Reply& reply) const;

  core::KeyService& keys_;
  core::WalletService& wallets_;
  core::IdentityService& identity_;
  ApiOptions options_;
};

// The route template of a request target, for metrics labels: "/keys/{keyId}/signatures", or "other".
std::string route_of(std::string_view target);

// The one mapping from an error to its HTTP status.
http::status http_status(ErrorCode code);

// A response with Dfns's error body {"error":{"id","status","message","details"}}.
Response error_response(const Error& error, unsigned http_version, bool keep_alive);

// A JSON response with the given status.
Response json_response(http::status status, std::string body, unsigned http_version, bool keep_alive);

}  // namespace signerd::api

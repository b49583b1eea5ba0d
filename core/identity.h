#pragma once
// Identity for one organisation per daemon (dfns-api.md §1): principals (service accounts, org users, end users),
// their Key credentials, bearer tokens (EdDSA JWTs signed in the HSM), permissions and their assignments, user-action
// signing (challenge → signed assertion → single-use token bound to one request) and login.
//
// Everything lives in memory and is written through to the store (store::IdentityObject, one JSON document per
// entity) together with its audit record before a change is acknowledged. Challenges and user-action tokens are
// short-lived and held in memory only: a restart invalidates them, which costs a client one retry.
//
// Thread-safety: every member function may be called from many threads at once. Writes block on the store: call
// them from worker threads.
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/audit_chain.h"
#include "common/error.h"
#include "core/principal.h"
#include "hsm/hsm.h"
#include "store/store.h"

namespace signerd::core {

// Every permission operation signerd knows (Dfns's names).
const std::vector<std::string>& known_operations();
// What an end user may do, on keys and wallets delegated to it (and nothing else).
const std::vector<std::string>& end_user_operations();

struct UserRecord {
  std::string id;                       // "us-…"
  std::string username;                 // unique in the org (an email for people; the name for service accounts)
  std::string name;
  std::string kind;                     // "CustomerEmployee" | "EndUser"
  bool is_service_account = false;
  bool is_active = true;
  bool archived = false;
  std::optional<std::string> external_id;
  std::int64_t date_created_ms = 0;
};

struct CredentialRecord {
  std::string uuid;                     // "cr-…"
  std::string cred_id;                  // base64url("ci-…"): what clients name in assertions
  std::string user_id;
  std::string kind = "Key";
  std::string name;
  std::string public_key_pem;
  bool is_active = true;
  std::int64_t date_created_ms = 0;
};

struct TokenRecord {
  std::string id;                       // "to-…"
  std::string user_id;
  std::string kind;                     // "ServiceAccount" | "Temp"
  std::optional<std::string> name;
  std::optional<std::string> cred_id;   // the credential it is linked to (service accounts)
  std::int64_t date_created_ms = 0;
  std::int64_t expires_ms = 0;
  std::optional<std::int64_t> revoked_ms;
};

struct PermissionRecord {
  std::string id;                       // "pm-…"
  std::string name;
  std::vector<std::string> operations;
  std::string status = "Active";        // "Active" | "Archived"
  bool is_immutable = false;
  std::int64_t date_created_ms = 0;
  std::int64_t date_updated_ms = 0;
};

struct AssignmentRecord {
  std::string id;                       // "as-…"
  std::string permission_id;
  std::string identity_id;              // "us-…"
  std::int64_t date_created_ms = 0;
};

// A user with what hangs off it, as the API shows it.
struct UserView {
  UserRecord user;
  std::vector<CredentialRecord> credentials;
  std::vector<TokenRecord> tokens;
  std::vector<std::pair<AssignmentRecord, PermissionRecord>> assignments;
};

struct IdentityOptions {
  std::chrono::seconds challenge_ttl{300};
  std::chrono::seconds user_action_ttl{300};
  std::chrono::seconds login_token_ttl{3600};
  std::chrono::seconds max_service_account_token_ttl{730LL * 24 * 3600};
  // Pending challenges and unused user actions in all (a quarter of it for login challenges, 32 per user and
  // purpose): beyond, new ones are refused (kResourceExhausted, 429) until some are used or expire.
  std::size_t max_pending_challenges = 10000;
  std::string issuer = "signerd";
};

class IdentityService {
 public:
  // Loads every identity object. On the first start it creates the organisation, its token-signing key (Ed25519, in
  // the HSM) and the built-in "Admin" permission (every operation, immutable); a crash in between is finished on
  // the next start.
  static Result<std::unique_ptr<IdentityService>> open(hsm::Hsm& hsm, store::Store& store, IdentityOptions options);
  ~IdentityService();

  const std::string& org_id() const;
  const std::string& admin_permission_id() const;

  // --- authentication and authorization
  // A principal for a bearer token: kUnauthenticated "Not Authorized." (reason in details) when the token is
  // malformed, not ours, expired, revoked, or its user is inactive or archived.
  Result<Principal> authenticate_bearer(std::string_view token) const;
  bool has_permission(const Principal& who, std::string_view operation) const;
  // kPermissionDenied naming the missing operation.
  Result<void> require(const Principal& who, std::string_view operation) const;
  // The id of the user named by id or username; nullopt when there is none.
  std::optional<std::string> find_user_id(std::string_view id_or_username) const;
  // kInvalidArgument unless `user_id` is an active end user of this org.
  Result<void> require_end_user(std::string_view user_id) const;

  // --- user-action signing (dfns-api.md §1.2)
  struct UserActionInit {
    std::string payload;                // userActionPayload: the exact body the real request will carry
    std::string method;                 // userActionHttpMethod
    std::string path;                   // userActionHttpPath
  };
  // The challenge document of POST /auth/action/init. kUnauthenticated when `who` has no usable credential.
  Result<boost::json::object> init_user_action(const Principal& who, const UserActionInit& init);
  struct Assertion {
    std::string cred_id;
    std::string client_data;            // base64url
    std::string signature;              // base64url
    std::optional<std::string> algorithm;
  };
  // Verifies the signed challenge and returns the single-use user-action token. kInvalidArgument "Challenge token is
  // not valid." for unknown, expired, used or someone else's challenges; kPermissionDenied when the credential is
  // not allowed or the signature does not verify.
  Result<std::string> complete_user_action(const Principal& who, std::string_view challenge_identifier,
                                           const Assertion& assertion);
  // Checks and consumes the user-action token of a mutating request. kPermissionDenied "user action signature is
  // missing or invalid" (with a reason) when absent, unknown, expired, or bound to another caller, method, path or
  // body; kInvalidArgument "user action has already been used" on reuse. Returns the credId that signed it.
  Result<std::string> consume_user_action(const Principal& who, std::optional<std::string_view> token,
                                          std::string_view method, std::string_view path,
                                          std::string_view body_sha256);

  // --- login (users with a Key credential: end users, org users)
  Result<boost::json::object> init_login(std::string_view username, std::string_view org_id);
  // The new login token (a JWT, kind "Temp").
  Result<std::string> complete_login(std::string_view challenge_identifier, const Assertion& assertion);

  // --- service accounts
  struct CreateServiceAccount {
    std::string name;
    std::string public_key_pem;
    std::optional<std::string> permission_id;
    std::optional<std::string> external_id;
    std::optional<int> days_valid;      // 1..730, default 730
  };
  struct CreatedServiceAccount {
    UserView view;
    std::string access_token;           // shown once
  };
  // kConflict for a name in use; kInvalidArgument for a bad key or days_valid; kNotFound for an unknown permission;
  // assigning a permission needs Permissions:Assign.
  Result<CreatedServiceAccount> create_service_account(const Principal& who, const CreateServiceAccount& request);
  std::vector<UserView> list_service_accounts() const;
  Result<UserView> get_service_account(std::string_view id) const;  // kNotFound
  Result<UserView> update_service_account(const Principal& who, std::string_view id,
                                          std::optional<std::string> name,
                                          std::optional<std::optional<std::string>> external_id);
  // Deactivated accounts' tokens get 401 until activated again.
  Result<UserView> set_service_account_active(const Principal& who, std::string_view id, bool active);
  // Archives the account and revokes its tokens for good.
  Result<UserView> archive_service_account(const Principal& who, std::string_view id);

  // --- users (org users and end users)
  struct CreateUser {
    std::string username;               // Dfns "email"
    std::string kind;                   // "CustomerEmployee" | "EndUser"
    std::optional<std::string> external_id;
    std::optional<std::string> public_key_pem;  // registers a Key credential at once (signerd extension)
    std::optional<std::string> credential_name;
  };
  Result<UserView> create_user(const Principal& who, const CreateUser& request);
  std::vector<UserView> list_users() const;           // not service accounts
  Result<UserView> get_user(std::string_view id) const;

  // --- permissions
  struct PermissionChange {
    std::optional<std::string> name;
    std::optional<std::vector<std::string>> operations;
  };
  Result<PermissionRecord> create_permission(const Principal& who, std::string name, std::vector<std::string> ops);
  Result<PermissionRecord> get_permission(std::string_view id) const;
  std::vector<PermissionRecord> list_permissions() const;
  Result<PermissionRecord> update_permission(const Principal& who, std::string_view id, const PermissionChange& c);
  Result<PermissionRecord> archive_permission(const Principal& who, std::string_view id);
  Result<AssignmentRecord> assign_permission(const Principal& who, std::string_view permission_id,
                                             std::string_view identity_id);
  Result<AssignmentRecord> revoke_assignment(const Principal& who, std::string_view permission_id,
                                             std::string_view assignment_id);
  Result<std::vector<AssignmentRecord>> list_assignments(std::string_view permission_id) const;

 private:
  struct Impl;
  explicit IdentityService(std::unique_ptr<Impl> impl);
  // authenticate_bearer and consume_user_action without their log line.
  Result<Principal> authenticate(std::string_view token) const;
  Result<std::string> consume(const Principal& who, std::optional<std::string_view> token, std::string_view method,
                              std::string_view path, std::string_view body_sha256);
  std::unique_ptr<Impl> impl_;
};

}  // namespace signerd::core

#pragma once
// A Dfns API client for end-to-end tests, written from the protocol (dfns-api.md §1.2), independent of signerd's
// own code: Key credentials made with OpenSSL, bearer tokens, and user-action signing of every mutating request.
// The official @dfns/sdk drives the same flow in tests/interop; this one lets C++ tests aim at the edges.
#include <boost/json/value.hpp>

#include <memory>
#include <optional>
#include <string>

#include "tests/support/daemon_process.h"

namespace signerd::testing {

// A credential's key pair (OpenSSL): P-256 (ECDSA-SHA256, DER signatures) or Ed25519.
class TestCredential {
 public:
  static TestCredential p256();
  static TestCredential ed25519();
  std::string public_pem() const;
  std::string private_pem() const;
  // base64url of the signature over `message`, as @dfns/sdk-keysigner makes it.
  std::string sign_b64url(std::string_view message) const;

 private:
  std::shared_ptr<void> key_;  // EVP_PKEY*
};

// The answer to one step of the user-action flow: the token, or the reply that refused it.
struct UserActionResult {
  std::optional<std::string> token;
  HttpReply refusal;
};

class DfnsSession {
 public:
  DfnsSession(HttpClient client, std::string bearer, std::string cred_id, TestCredential credential)
      : client_(std::move(client)), bearer_(std::move(bearer)), cred_id_(std::move(cred_id)),
        credential_(std::move(credential)) {}

  // GET with the bearer token.
  HttpReply get(const std::string& target);
  // POST/PUT/DELETE with a fresh user action for exactly this request.
  HttpReply mutate(const std::string& method, const std::string& target, const std::string& body);
  // Any request with the bearer token and the given extra headers (no user action unless given).
  HttpReply raw(const std::string& method, const std::string& target, const std::string& body,
                std::map<std::string, std::string> headers = {});
  // The user-action flow for a request, signed by `signer` (default: this session's credential) as `cred_id`
  // (default: this session's credId).
  UserActionResult user_action(const std::string& method, const std::string& path, const std::string& payload,
                               const TestCredential* signer = nullptr, const std::string* cred_id = nullptr);

  const std::string& bearer() const { return bearer_; }
  const std::string& cred_id() const { return cred_id_; }
  HttpClient& client() { return client_; }

 private:
  HttpClient client_;
  std::string bearer_;
  std::string cred_id_;
  TestCredential credential_;
};

struct ServiceAccount {
  std::string user_id;
  std::string token;
  std::string cred_id;
  TestCredential credential;
};

// Creates a service account through the local administrator (`admin`: a Unix-socket client with no token), with
// the built-in Admin permission or none. Throws std::runtime_error when the daemon refuses.
ServiceAccount create_service_account(HttpClient& admin, const std::string& name, bool with_admin_permission);

// Creates an end user with a Key credential and logs it in over `client` (POST /auth/login/init + /auth/login).
struct EndUser {
  std::string user_id;
  std::string username;
  std::string token;
  std::string cred_id;
  TestCredential credential;
};
EndUser create_end_user(HttpClient& admin, HttpClient& client, const std::string& email);

// The id of the built-in Admin permission.
std::string admin_permission_id(HttpClient& admin);

}  // namespace signerd::testing

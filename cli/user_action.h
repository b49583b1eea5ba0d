#pragma once
// Dfns user-action signing from signerctl's side (dfns-api.md §1.2): over TCP a token holder's every change carries
// a single-use token (x-dfns-useraction) the daemon issues for exactly that method, path and body once the caller
// has signed a challenge with its Key credential:
//   POST /auth/action/init {userActionPayload: the exact body, userActionHttpMethod, userActionHttpPath, "Api"}
//   sign clientData = {"type":"key.get","challenge":<challenge>} with the credential's private key
//   POST /auth/action {challengeIdentifier, firstFactor: {kind: "Key", credentialAssertion: {credId, clientData,
//   signature}}} -> {userAction}
// Both steps go with the caller's bearer token. The signature is what @dfns/sdk-keysigner makes and
// core/credential_key.h verifies: ECDSA over SHA-256, DER (EC keys: P-256, secp256k1); pure Ed25519; RSASSA-PKCS1-v1_5
// with SHA-256 (RSA keys) or PSS (RSA-PSS keys).
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cli/http_client.h"
#include "common/error.h"
#include "common/secret.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace signerd::cli {

// Whether the daemon wants a user action for `method` `path` from a token holder: every POST, PUT and DELETE but
// the user-action and login steps themselves, the smart-account apps (the local administrator's alone) and the
// smart-account routes (signed by an app instead). Mirrors the route policies of api/api.cc.
bool user_action_required(std::string_view method, std::string_view path);

// A Key credential: its id and private key. Immutable after load(); the key never leaves the process, and nothing
// of the file's content appears in an error.
class CredentialSigner {
 public:
  // Reads the PEM private key in `key_file`, which other users must not be able to read (mode 0600 or 0640, the
  // rule of common/secret.h read_secret_file, as for every secret file signerd reads). kInvalidArgument naming the
  // file when it is too open, unreadable, encrypted, not a private key, or of a kind the daemon does not verify.
  static Result<CredentialSigner> load(const std::string& key_file, std::string cred_id);

  const std::string& cred_id() const { return cred_id_; }
  // "EC", "ED25519", "RSA" or "RSA-PSS"
  const std::string& kind() const { return kind_; }
  // base64url of the signature over `message`. kInternal when OpenSSL cannot sign.
  Result<std::string> sign_b64url(std::string_view message) const;

 private:
  std::shared_ptr<evp_pkey_st> key_;
  std::string cred_id_;
  std::string kind_;
};

// The outcome of the flow when the daemon answered every step: the token, or the step it refused and its reply.
struct UserAction {
  std::optional<SecretString> token;  // the x-dfns-useraction value
  std::string refused_step;           // else "POST /auth/action/init" or "POST /auth/action" ...
  HttpResponse refusal;               // ... and the daemon's reply to it
};

// Runs the flow for one request (`path` without its query, `payload` the exact body, "" when none) over `client`,
// which carries the bearer token. Errors: the transport's; kPermissionDenied when the challenge does not allow
// `signer`'s credential (not one of the token's account's active credentials); kInternal when a reply is not what
// the protocol says or OpenSSL cannot sign.
Result<UserAction> obtain_user_action(const HttpClient& client, const CredentialSigner& signer, std::string_view method,
                                      std::string_view path, std::string_view payload);

}  // namespace signerd::cli

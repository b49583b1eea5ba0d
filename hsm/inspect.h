#pragma once
// A read-only inspection of a PKCS#11 module and token for `signerctl hsm check`: what the module is, which slots and
// tokens it shows, whether the token offers the mechanisms signerd needs, and (given the user PIN) whether login works
// and whether any private key on the token could leave it. No PKCS#11 types here: the report is plain data.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/secret.h"

namespace signerd::hsm {

struct InspectRequest {
  std::string module_path;
  std::string token_label;          // select the token by label ...
  std::string token_serial;         // ... or by serial (wins when both are set), as HsmOptions does
  std::optional<SecretString> pin;  // when set: log in (CKU_USER) and scan the private keys
};

struct SlotReport {
  std::uint64_t slot_id = 0;
  std::string description;
  bool token_present = false;
  bool token_initialized = false;
  bool user_pin_initialized = false;
  std::string label, serial, manufacturer, model;  // empty when no token is present
  bool selected = false;                           // the token the request names
};

struct MechanismReport {
  std::string name;                                  // "CKM_ECDSA"
  std::string purpose;                               // what signerd uses it for
  bool offered = false;                              // C_GetMechanismInfo succeeded on the selected token
  std::uint64_t min_key_size = 0, max_key_size = 0;  // bits, as the module reports them
  std::vector<std::string> flags;                    // "sign", "generate_key_pair", "ec_named_curve", ...
  std::string error;  // why it is not offered when the module said something other than CKR_MECHANISM_INVALID
};

// A private key that could leave the token.
struct KeyFinding {
  std::string label;
  std::string id_hex;                 // CKA_ID, lowercase hex
  std::string key_type;               // "EC", "EC_EDWARDS", "RSA", ...
  std::vector<std::string> problems;  // "CKA_EXTRACTABLE=true", "CKA_SENSITIVE=false"
};

enum class LoginOutcome {
  kNotAttempted,  // no PIN given
  kOk,
  kPinRefused,  // incorrect, locked, expired, or on its last try (then not attempted): the operator must fix the PIN
  kFailed,      // any other failure (opening the session, the device)
};

struct InspectReport {
  std::string module_path;
  std::string library_description, library_manufacturer, library_version;  // CK_INFO
  std::string cryptoki_version;                                            // "2.40"
  std::vector<SlotReport> slots;

  bool token_found = false;
  std::string token_error;  // why no token matched (names the tokens present)
  std::uint64_t token_slot = 0;
  std::string token_label, token_serial;

  std::vector<MechanismReport> mechanisms;  // signerd's four, in a fixed order; empty when no token was found

  LoginOutcome login = LoginOutcome::kNotAttempted;
  std::string login_error;  // never contains the PIN

  std::optional<std::uint64_t> private_keys_scanned;  // set when the scan ran (after a successful login)
  std::string scan_error;                             // the scan stopped early
  std::vector<KeyFinding> findings;

  bool mechanisms_ok() const;  // every mechanism offered
  bool ok() const;             // token found, mechanisms ok, login ok or not attempted, scan complete, no findings
};

// Loads the module, C_Initialize's it (C_Finalize afterwards when this call initialised it), and fills the report.
// Read-only: opens a read-only session and creates nothing. Errors (kInvalidArgument) only when the module cannot be
// loaded or initialised; everything after that is recorded in the report.
Result<InspectReport> inspect_token(const InspectRequest& request);

const char* to_string(LoginOutcome outcome);

}  // namespace signerd::hsm

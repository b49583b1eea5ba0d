#pragma once
// The HSM as signerd uses it: one PKCS#11 token, keys created and used inside it, never extracted.
//
// Hsm owns the loaded module (dlopen), the C_Initialize'd library, one long-lived "login" session that holds the
// user login for the application, and a bounded pool of further sessions leased to callers, one operation per
// session at a time. It is the only code in signerd that includes pkcs11.h.
//
// Open at most one Hsm per module in a process: recovery finalises and re-initialises the whole module.
//
// Thread-safety: every public member function is safe to call from many threads at once. Calls block (PKCS#11 is
// blocking): call them from worker threads, never from an I/O thread. At most `sessions` operations run at once;
// further callers wait for a free session up to `lease_timeout`, then get kUnavailable.
//
// Errors (signerd::Error):
//  - kUnavailable: the module reported a session or device failure (CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED,
//    CKR_DEVICE_ERROR, CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_USER_NOT_LOGGED_IN,
//    CKR_CRYPTOKI_NOT_INITIALIZED, CKR_GENERAL_ERROR, ...) or no session was free in time. The failing session is
//    discarded; the next call first recovers (reopen sessions, log in again, and if that fails C_Finalize +
//    C_Initialize + login) without a restart. Retry later.
//  - kNotFound: no private key object with that key id on the token.
//  - kInvalidArgument: the request cannot be done (e.g. data of the wrong length for the mechanism).
//  - kInternal: anything else; the message names the PKCS#11 function and its CKR_ name.
// Messages never contain the PIN.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/hex.h"
#include "common/secret.h"

namespace signerd::hsm {

enum class Curve { kSecp256k1, kP256, kEd25519 };

struct HsmOptions {
  std::string module_path;       // the PKCS#11 module to dlopen
  std::string token_label;       // select the token by label ...
  std::string token_serial;      // ... or by serial number (one of the two must be set; serial wins when both are)
  SecretString pin;              // the user PIN; moved in, wiped when Hsm is destroyed
  unsigned sessions = 2;         // size of the operation session pool (>= 1)
  std::chrono::milliseconds lease_timeout{5000};
};

// What the HSM reports of itself, for readiness checks and `signerctl hsm check`.
struct HsmStatus {
  bool logged_in = false;
  std::string library_description;  // CK_INFO.libraryDescription, trimmed
  std::string token_label;
  std::string token_serial;
  unsigned sessions_total = 0;
  unsigned sessions_in_use = 0;
  std::uint64_t recoveries = 0;     // how many times the module was recovered since start
};

class Hsm {
 public:
  // Loads the module, initialises it with CKF_OS_LOCKING_OK, finds the token and logs in. Start-up errors are
  // kInvalidArgument with a message an operator can act on: "PKCS#11 module not found: <path>", "no token with
  // label 'x' (tokens present: a, b)", "PIN incorrect", "PIN locked", ...
  static Result<std::unique_ptr<Hsm>> open(HsmOptions options);

  Hsm(const Hsm&) = delete;
  Hsm& operator=(const Hsm&) = delete;
  ~Hsm();  // closes sessions, logs out, C_Finalize, dlclose

  // Generates a key pair inside the token. Private key: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN = true,
  // CKA_EXTRACTABLE = false; public key: CKA_TOKEN = true, CKA_VERIFY = true. Both carry CKA_ID = CKA_LABEL = key_id.
  // Returns the public key: for ECDSA curves the uncompressed point (65 bytes, 0x04 || X || Y); for ed25519 the
  // 32-byte key. The caller must use a fresh id: the HSM is not searched for an existing one, because a search
  // costs time proportional to the token's size on some modules (SoftHSM). signerd's key ids are 134-bit random and
  // recorded in the store (unique) before this call. kConflict when the same id is being generated concurrently
  // in this process.
  Result<Bytes> generate_key(std::string_view key_id, Curve curve);

  // The public key of an existing key pair, as generate_key returns it; nullopt when no key pair has that id.
  Result<std::optional<Bytes>> find_public_key(std::string_view key_id, Curve curve);

  // Signs inside the token. ECDSA curves: `data` must be a 32-byte digest, signed as is with CKM_ECDSA; returns raw
  // r || s (64 bytes; s is whatever the HSM produced: normalising to low-s is the caller's job). ed25519: `data` is
  // the message (1..65536 bytes) signed with CKM_EDDSA; returns R || S (64 bytes). Private key handles are cached
  // by key id, so the hot path does not call C_FindObjects.
  Result<Bytes> sign(std::string_view key_id, Curve curve, std::span<const std::uint8_t> data);

  // Destroys the key pair (both objects) with this id; succeeds when there is none. Used by reconciliation.
  Result<void> destroy_key(std::string_view key_id);

  // HMAC-SHA256 keys (smart-account applications' secrets). import_hmac_key stores `secret` (32..512 bytes) in the
  // token as a CKK_GENERIC_SECRET object: CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN, CKA_VERIFY = true,
  // CKA_EXTRACTABLE = false, CKA_ID = CKA_LABEL = key_id, so it never leaves the HSM again. The caller wipes its
  // copy. Fresh ids only, as for generate_key.
  Result<void> import_hmac_key(std::string_view key_id, std::span<const std::uint8_t> secret);
  // HMAC-SHA256 (CKM_SHA256_HMAC) of `data` (at most 1 MiB) with that key: 32 bytes. kNotFound when no secret key
  // has that id. Handles are cached like private keys.
  Result<Bytes> hmac_sha256(std::string_view key_id, std::span<const std::uint8_t> data);

  // Cheap check that the login session is alive (C_GetSessionInfo), recovering when it is not.
  Result<void> check();

  HsmStatus status() const;

 private:
  struct Impl;
  explicit Hsm(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

const char* to_string(Curve curve);

}  // namespace signerd::hsm

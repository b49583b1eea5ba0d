#pragma once
// The rules for keys and signatures: which schemes and curves exist, how a key is created so that a crash never
// loses an acknowledged key or leaves an HSM object without a record, what may be signed with which key, and
// externalId idempotency. No HTTP, no SQL, no PKCS#11 here: the HSM and the store do the work.
//
// Thread-safety: every member function may be called from many threads at once. All of them block (HSM and
// durable store work): call them from worker threads.
#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <unordered_map>
#include <optional>
#include <string>
#include <string_view>

#include "chains/evm_tx.h"
#include "common/error.h"
#include "common/hex.h"
#include "core/principal.h"
#include "hsm/hsm.h"
#include "store/store.h"

namespace signerd::core {

// A (scheme, curve) pair the HSM can do.
struct KeyType {
  std::string scheme;  // "ECDSA" | "EdDSA"
  std::string curve;   // "secp256k1" | "secp256r1" | "ed25519"
  hsm::Curve hsm_curve;
};

// Checks a scheme and curve as a client names them. kInvalidArgument with a message that says what is supported
// for schemes or curves this signer cannot do (Schnorr, DH, stark) or mismatched pairs.
Result<KeyType> parse_key_type(std::string_view scheme, std::string_view curve);

struct CreateKeyRequest {
  std::string scheme;
  std::string curve;
  std::optional<std::string> name;
  std::optional<std::string> delegate_to;  // an end user ("us-…", checked by the caller): non-custodial at once
  bool delay_delegation = false;           // custodial now, delegable once later with delegate_key
  std::optional<std::string> public_key_id;  // the legacy API's "pk-…" id for the key (unique), when it has one
};

// Hash: a 32-byte digest signed as is (ECDSA) or as the message (EdDSA). Message: bytes (EdDSA), or an EIP-191
// personal message when an ECDSA key signs for an EVM network. Eip191: an EIP-191 personal message (secp256k1).
// Eip712: the EIP-712 digest (computed by the caller) in `payload`. Transaction: an unsigned EVM transaction in
// `transaction`; the reply carries the signed serialisation and its hash.
enum class SignatureKind { kHash, kMessage, kEip191, kEip712, kTransaction };

struct SignatureRequest {
  SignatureKind kind = SignatureKind::kHash;
  Bytes payload;                        // the hash (Hash) or the message bytes (Message)
  std::optional<std::string> network;
  std::optional<std::string> blockchain_kind;  // "Evm" binds the request to EVM conventions like an EVM network
  std::optional<std::string> external_id;
  std::optional<chains::EvmTransaction> transaction;  // kind Transaction
  std::string canonical_body;           // the request as canonical JSON: echoed as requestBody, hashed for externalId
};

struct SignOutcome {
  store::SignatureRecord signature;
  bool created = true;                  // false when an externalId retry returned the existing request
};

struct ReconcileReport {
  unsigned activated = 0;  // Creating keys whose HSM object existed: now Active
  unsigned failed = 0;     // Creating keys with no HSM object: now Failed
};

class KeyService {
 public:
  static constexpr std::size_t kMaxMessageBytes = 65536;

  KeyService(hsm::Hsm& hsm, store::Store& store) : hsm_(hsm), store_(store) {}

  // Records the key as Creating, creates it in the HSM under its id, records it as Active (with its audit record and
  // its first custody record, in one transaction). Returns only once the Active record is durable.
  Result<store::KeyRecord> create_key(const Principal& who, const CreateKeyRequest& request);

  // Custody rules, for every call below that names a key: an end user reaches only keys delegated to it (others are
  // kPermissionDenied); org principals read any key, but a delegated key is signed with, renamed and archived only by
  // its end user (kPermissionDenied for everyone else, administrators included).
  //
  // kNotFound for unknown ids and for keys that never became Active (Creating, Failed).
  Result<store::KeyRecord> get_key(const Principal& who, std::string_view key_id);
  // End users see only their keys. With `owner` (an end user's id), only the keys delegated to that user (Dfns's
  // `owner` filter); an end user naming someone else gets an empty page.
  Result<store::Page<store::KeyRecord>> list_keys(const Principal& who, std::optional<std::int64_t> before, int limit,
                                                  std::optional<std::string> owner = std::nullopt);
  // kInvalidArgument for archived keys.
  Result<store::KeyRecord> rename_key(const Principal& who, std::string_view key_id, std::optional<std::string> name);
  // Active -> Archived with dateDeleted; an archived key can no longer sign. kInvalidArgument when already archived.
  Result<store::KeyRecord> archive_key(const Principal& who, std::string_view key_id);
  // Hands a key created with delay_delegation to the end user `user_id` (checked by the caller), once.
  // kInvalidArgument for other keys (as Dfns does), for archived and already delegated keys.
  Result<store::KeyRecord> delegate_key(const Principal& who, std::string_view key_id, std::string_view user_id);
  // The key's custody history, oldest first.
  Result<std::vector<store::CustodyRecord>> custody(const Principal& who, std::string_view key_id);
  // The same key lookup without custody rules, for other services that already checked access.
  Result<store::KeyRecord> lookup(std::string_view key_id);
  // kPermissionDenied unless `who` may read (control = false) or sign with, rename and archive (control = true) `key`.
  static Result<void> check_access(const Principal& who, const store::KeyRecord& key, bool control);

  // Signs in the HSM and records the signature durably before returning it. ECDSA signatures are low-s with the
  // recovery id. With an externalId: the same request again returns the first result (created = false); a
  // different request with the same externalId is kConflict.
  Result<SignOutcome> sign(const Principal& who, std::string_view key_id, const SignatureRequest& request);

  // The same without waiting for the durable write, so the calling thread is free as soon as the HSM has signed.
  // `done` is called exactly once: on the calling thread when the request ends before the store (bad input, HSM
  // failure, externalId replay), otherwise on the store's writer thread once the signature is durable. It must be
  // quick: hand the result to another thread.
  using SignDone = std::function<void(Result<SignOutcome>)>;
  void sign_async(const Principal& who, std::string_view key_id, const SignatureRequest& request, SignDone done);
  Result<store::SignatureRecord> get_signature(const Principal& who, std::string_view key_id,
                                              std::string_view signature_id);
  Result<store::Page<store::SignatureRecord>> list_signatures(const Principal& who, std::string_view key_id,
                                                              std::optional<std::int64_t> before, int limit);

  // Finishes what a crash left half-done: every Creating key becomes Active when the HSM holds its key pair, or
  // Failed when it does not. Run once at start-up, before serving.
  Result<ReconcileReport> reconcile();

 private:
  Result<store::KeyRecord> active_key(const Principal& who, std::string_view key_id);
  void remember(const store::KeyRecord& key);
  // A signature to store, or the earlier result an externalId retry gets.
  struct Prepared {
    std::optional<SignOutcome> replay;
    store::SignatureRecord record;
    std::string curve;
  };
  Result<Prepared> sign_in_hsm(const Principal& who, std::string_view key_id, const SignatureRequest& request);
  // The answer to a request whose externalId is bound to `existing`.
  static Result<SignOutcome> replay(const store::SignatureRecord& existing, std::string_view key_id,
                                    std::string_view digest);

  hsm::Hsm& hsm_;
  store::Store& store_;

  // Keys that became Active (and their later renames and archiving), so the signing path does not read the store.
  // Every change of a key goes through this KeyService, so the cache is exact while one daemon owns the store.
  // Bounded: when full it is emptied and refills from the store.
  static constexpr std::size_t kMaxCachedKeys = 65536;
  mutable std::shared_mutex cache_mutex_;
  std::unordered_map<std::string, store::KeyRecord> cache_;  // guarded by cache_mutex_
};

}  // namespace signerd::core

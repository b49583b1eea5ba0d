#pragma once
// The legacy public keys (dfns-api.md §4). A public key "pk-…" is a second view of one HSM key "key-…": the key row
// records its public key id (store::KeyRecord::public_key_id), given when the key is created through POST
// /public-keys or for an asset account, and never for keys made through /keys or /wallets. Creating a public key
// creates an ordinary custodial key through KeyService, so it is also listed under /keys; signing with it makes an
// ordinary key signature ("sig-…", also listed under /keys/{keyId}/signatures); archiving the key disables it.
//
// Public keys are the organisation's: never delegated, and refused to end users (kPermissionDenied).
//
// Thread-safety: every member function may be called from many threads at once; all of them block (HSM and store).
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/hex.h"
#include "core/asset_symbols.h"
#include "core/key_service.h"
#include "core/principal.h"
#include "store/store.h"

namespace signerd::core {

class PublicKeyService {
 public:
  PublicKeyService(KeyService& keys, store::Store& store) : keys_(keys), store_(store) {}

  // A new key in the HSM: EdDSA ed25519 when `is_eddsa`, else ECDSA secp256k1. Returns it once Active and durable.
  Result<store::KeyRecord> create(const Principal& who, bool is_eddsa);
  // kNotFound for unknown ids and for keys that never became Active.
  Result<store::KeyRecord> get(const Principal& who, std::string_view public_key_id);
  // Every public key, Active and Archived, newest first.
  Result<std::vector<store::KeyRecord>> list(const Principal& who);
  // The key's address on a legacy network. kInvalidArgument when the key's curve does not fit the network.
  Result<std::string> address(const Principal& who, std::string_view public_key_id, const LegacyNetwork& network);
  // Signs `hash`: for ECDSA keys a 32-byte digest, signed as is; for EdDSA keys the message (1..65536 bytes). The
  // signature is durable before it is returned. kInvalidArgument for a wrong length or a disabled (archived) key.
  Result<store::SignatureRecord> sign(const Principal& who, std::string_view public_key_id, const Bytes& hash);
  // A signature made with this public key's key. kNotFound for unknown ids.
  Result<store::SignatureRecord> get_signature(const Principal& who, std::string_view public_key_id,
                                               std::string_view signature_id);

 private:
  KeyService& keys_;
  store::Store& store_;
};

// kPermissionDenied for end users: public keys and asset accounts belong to the organisation.
Result<void> require_org_principal(const Principal& who, std::string_view what);

}  // namespace signerd::core

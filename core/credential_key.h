#pragma once
// A principal's credential public key (dfns-api.md §1.2–1.4): a PEM SubjectPublicKeyInfo of an ECDSA (P-256 or
// secp256k1), Ed25519 or RSA (2048 bits or more) key, and verification of the signatures that Dfns clients
// (@dfns/sdk-keysigner: Node's crypto.sign) make with the matching private key:
//   EC      ECDSA over SHA-256 of the message, DER-encoded (a raw 64-byte r‖s is accepted too); the signature may be
//           high-s (Node does not normalise).
//   Ed25519 pure Ed25519 over the message, 64 bytes.
//   RSA     RSASSA-PKCS1-v1_5 with SHA-256; for "rsa-pss" keys (id-RSASSA-PSS), PSS with SHA-256.
// `algorithm` (Dfns credentialAssertion.algorithm) may choose the digest: "SHA256", "RSA-SHA256" (SHA-256) or
// "SHA512" (SHA-512); anything else is kInvalidArgument. Ed25519 ignores it.
//
// Thread-safety: a CredentialKey is immutable after construction; verify() may run concurrently.
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"

namespace signerd::core {

class CredentialKey {
 public:
  // Parses a PEM public key. kInvalidArgument, naming what is wrong (not PEM, not a public key, unsupported key
  // type or curve, RSA below 2048 bits), for anything else. Input is at most 16 KiB.
  static Result<CredentialKey> from_pem(std::string_view pem);

  // "EcP256" | "EcSecp256k1" | "Ed25519" | "Rsa" | "RsaPss"
  const std::string& kind() const { return kind_; }
  // The key re-encoded as PEM (normalised: what is stored and echoed back).
  const std::string& pem() const { return pem_; }

  // kUnauthenticated "signature does not verify" when the signature is wrong or malformed; kInvalidArgument for an
  // unknown algorithm name.
  Result<void> verify(std::span<const std::uint8_t> message, std::span<const std::uint8_t> signature,
                      std::optional<std::string_view> algorithm = std::nullopt) const;

 private:
  struct KeyDeleter {
    void operator()(void* key) const;
  };
  std::shared_ptr<void> key_;  // EVP_PKEY*
  std::string kind_;
  std::string pem_;
};

}  // namespace signerd::core

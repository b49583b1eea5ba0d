#pragma once
// Compact JWS/JWT with EdDSA (Ed25519, RFC 8037): signerd's bearer tokens. Signing happens in the HSM (the caller
// passes a function that signs the JWS signing input with the token key); verification is local, with the key's
// 32-byte public key, so checking a token costs no HSM round trip.
//
// Thread-safety: free functions, no shared state.
#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/hex.h"

namespace signerd::core {

// base64url(header) "." base64url(payload), with header {"alg":"EdDSA","typ":"JWT","kid":<kid>}.
std::string jwt_signing_input(std::string_view kid, const boost::json::object& payload);

// signing_input "." base64url(signature). `signature` must be 64 bytes (kInvalidArgument otherwise).
Result<std::string> jwt_assemble(std::string_view signing_input, std::span<const std::uint8_t> signature);

// Checks the token's shape (three base64url parts, at most 8 KiB), that its header is {"alg":"EdDSA", "kid":
// `kid`, ...} and that the Ed25519 signature verifies under `public_key` (32 bytes); returns the payload. It does
// NOT check claims (exp, iss, …): the caller does. kUnauthenticated "Not Authorized." with a reason in
// details.reason for every failure (never the token itself).
// An empty `kid` also matches a header without "kid" (as in RFC 8037 A.4); a non-empty one requires it.
Result<boost::json::object> jwt_verify(std::string_view token, std::string_view kid,
                                       std::span<const std::uint8_t> public_key);

}  // namespace signerd::core

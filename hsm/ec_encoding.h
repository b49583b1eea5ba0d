#pragma once
// The DER encodings PKCS#11 uses for elliptic curves: CKA_EC_PARAMS (a curve OID, or for Edwards curves also a
// PrintableString name) and CKA_EC_POINT (the point, normally inside an OCTET STRING). Internal to hsm/.
#include <optional>
#include <span>

#include "common/hex.h"
#include "hsm/hsm.h"

namespace signerd::hsm {

// CKA_EC_PARAMS for generating a key on `curve`: the DER OID. For ed25519 `printable_name` selects the
// PrintableString "edwards25519" that PKCS#11 3.0 also allows and some modules require.
Bytes ec_params(Curve curve, bool printable_name = false);

// The curve a CKA_EC_PARAMS value names (either form for ed25519); nullopt for any other curve.
std::optional<Curve> curve_from_ec_params(std::span<const std::uint8_t> params);

// The public key from CKA_EC_POINT as hsm.h returns it (65-byte uncompressed point, or 32-byte ed25519 key).
// Accepts the DER OCTET STRING PKCS#11 specifies and the bare point some modules return; nullopt for anything else.
std::optional<Bytes> unwrap_ec_point(std::span<const std::uint8_t> ec_point, Curve curve);

// The length of a public key on `curve` as hsm.h returns it.
std::size_t public_key_size(Curve curve);

}  // namespace signerd::hsm

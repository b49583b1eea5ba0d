#include "core/jwt.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>

#include <optional>
#include <string>

namespace signerd::core {
namespace {

constexpr std::size_t kMaxTokenSize = std::size_t{8} * 1024;
constexpr std::size_t kEd25519SignatureSize = 64;
constexpr std::size_t kEd25519PublicKeySize = 32;

std::unexpected<Error> not_authorized(std::string_view reason) {
  Error error{ErrorCode::kUnauthenticated, "Not Authorized.", {}};
  error.details["reason"] = reason;
  return std::unexpected(std::move(error));
}

// Strict base64url as JWS uses it: the URL-safe alphabet, no padding, no whitespace. (base64url_decode alone
// tolerates trailing '='.)
std::optional<Bytes> decode_part(std::string_view part) {
  if (part.empty()) return std::nullopt;
  for (char c : part) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return std::nullopt;
  }
  return base64url_decode(part);
}

std::optional<boost::json::object> parse_object(const Bytes& bytes) {
  boost::system::error_code ec;
  boost::json::value value =
      boost::json::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

bool ed25519_verify(std::span<const std::uint8_t> public_key, std::string_view message,
                    std::span<const std::uint8_t> signature) {
  struct Cleanup {
    EVP_PKEY* key = nullptr;
    EVP_MD_CTX* ctx = nullptr;
    ~Cleanup() {
      EVP_MD_CTX_free(ctx);
      EVP_PKEY_free(key);
      ERR_clear_error();
    }
  } h;
  h.key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.data(), public_key.size());
  h.ctx = EVP_MD_CTX_new();
  if (h.key == nullptr || h.ctx == nullptr) return false;
  if (EVP_DigestVerifyInit(h.ctx, nullptr, nullptr, nullptr, h.key) != 1) return false;
  return EVP_DigestVerify(h.ctx, signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
}

}  // namespace

std::string jwt_signing_input(std::string_view kid, const boost::json::object& payload) {
  boost::json::object header;
  header["alg"] = "EdDSA";
  header["typ"] = "JWT";
  header["kid"] = kid;
  std::string out = base64url_encode(as_bytes(boost::json::serialize(header)));
  out += '.';
  out += base64url_encode(as_bytes(boost::json::serialize(payload)));
  return out;
}

Result<std::string> jwt_assemble(std::string_view signing_input, std::span<const std::uint8_t> signature) {
  if (signature.size() != kEd25519SignatureSize) {
    return fail(ErrorCode::kInvalidArgument,
                "an EdDSA JWT signature must be 64 bytes, got " + std::to_string(signature.size()));
  }
  std::string out(signing_input);
  out += '.';
  out += base64url_encode(signature);
  return out;
}

Result<boost::json::object> jwt_verify(std::string_view token, std::string_view kid,
                                       std::span<const std::uint8_t> public_key) {
  if (token.size() > kMaxTokenSize) return not_authorized("token too large");
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return not_authorized("malformed token");
  }
  const std::string_view header_part = token.substr(0, dot1);
  const std::string_view payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_part = token.substr(dot2 + 1);
  auto header_bytes = decode_part(header_part);
  auto payload_bytes = decode_part(payload_part);
  auto signature = decode_part(signature_part);
  if (!header_bytes || !payload_bytes || !signature) return not_authorized("malformed token");

  auto header = parse_object(*header_bytes);
  if (!header) return not_authorized("header is not a JSON object");
  // Only EdDSA, whatever the token asks for: "none" or "HS256" (the public key as an HMAC secret) are forgeries.
  const auto* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->get_string() != "EdDSA") return not_authorized("unsupported alg");
  // RFC 7515 §4.1.11: extensions marked critical that we do not implement (all of them) make the token invalid.
  if (header->contains("crit")) return not_authorized("unsupported crit");
  const auto* token_kid = header->if_contains("kid");
  if (token_kid == nullptr) {
    if (!kid.empty()) return not_authorized("kid mismatch");
  } else if (!token_kid->is_string() || token_kid->get_string() != kid) {
    return not_authorized("kid mismatch");
  }

  if (public_key.size() != kEd25519PublicKeySize) return not_authorized("invalid verification key");
  if (signature->size() != kEd25519SignatureSize || !ed25519_verify(public_key, token.substr(0, dot2), *signature)) {
    return not_authorized("bad signature");
  }

  // Parsed only once the signature holds: unauthenticated input never reaches the JSON parser beyond the header.
  auto payload = parse_object(*payload_bytes);
  if (!payload) return not_authorized("payload is not a JSON object");
  return std::move(*payload);
}

}  // namespace signerd::core

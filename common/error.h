#pragma once
// The error value every module returns for expected failures (bad input, missing entities, an unavailable HSM).
// Bugs are asserted, not returned. api/ maps an ErrorCode to an HTTP status in one place (api/errors.cc).
#include <boost/json/object.hpp>

#include <expected>
#include <string>
#include <utility>

namespace signerd {

enum class ErrorCode {
  kInvalidArgument,   // the request is wrong; retrying it unchanged will fail again (400)
  kUnauthenticated,   // no or bad credentials (401)
  kPermissionDenied,  // authenticated, not allowed (403)
  kNotFound,          // the entity does not exist (404)
  kConflict,          // conflicts with existing state, e.g. an externalId reused with another body (409)
  kPayloadTooLarge,   // (413)
  kResourceExhausted, // a limit was reached; retry later (429)
  kUnavailable,       // a dependency (HSM, store) is failing; retry later (503)
  kInternal,          // a failure the caller cannot fix and an operator should look at (500)
};

const char* to_string(ErrorCode code);

// A message a user can act on. It never contains secrets (PINs, tokens, key material).
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  boost::json::object details;  // extra structured facts for the API error body; empty by default
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
  return std::unexpected(Error{code, std::move(message), {}});
}

}  // namespace signerd

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/rand.h>

#include "api/api.h"

namespace signerd::api {

http::status http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return http::status::bad_request;
    case ErrorCode::kUnauthenticated: return http::status::unauthorized;
    case ErrorCode::kPermissionDenied: return http::status::forbidden;
    case ErrorCode::kNotFound: return http::status::not_found;
    case ErrorCode::kConflict: return http::status::conflict;
    case ErrorCode::kPayloadTooLarge: return http::status::payload_too_large;
    case ErrorCode::kResourceExhausted: return http::status::too_many_requests;
    case ErrorCode::kUnavailable: return http::status::service_unavailable;
    case ErrorCode::kInternal: return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

Response json_response(http::status status, std::string body, unsigned http_version, bool keep_alive) {
  Response res{status, http_version};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response error_response(const Error& error, unsigned http_version, bool keep_alive) {
  // A random numeric id, as Dfns's error ids are, so a client can quote it and an operator find it in the log.
  std::uint64_t id = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id);
  const auto status = http_status(error.code);
  boost::json::object body{{"error",
                            {{"id", std::to_string(id >> 1)},
                             {"status", static_cast<int>(status)},
                             {"message", error.message},
                             {"details", error.details}}}};
  return json_response(status, boost::json::serialize(body), http_version, keep_alive);
}

}  // namespace signerd::api

#pragma once
// A small blocking HTTP/1.1 client for signerctl: one request per connection (Connection: close), over signerd's
// Unix socket or TCP, with Content-Length bodies. Enough for signerd's JSON API, nothing more: no TLS, no chunked
// bodies, no redirects. Not thread-safe; signerctl is single-threaded.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/secret.h"

namespace signerd::cli {

// Where the daemon listens.
struct Endpoint {
  std::string unix_socket;  // set for a Unix socket ...
  std::string host;         // ... or host and port for TCP
  std::uint16_t port = 0;

  bool is_unix() const { return !unix_socket.empty(); }
  std::string describe() const;  // "unix:/run/signerd/signerd.sock" or "http://127.0.0.1:8420"

  // "http://host[:port][/]" (port 80 when absent; IPv6 hosts in brackets). kInvalidArgument for anything else,
  // https included: signerd serves plain HTTP on loopback.
  static Result<Endpoint> parse_url(std::string_view url);
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
};

class HttpClient {
 public:
  // `bearer_token`, when set, is sent as "Authorization: Bearer <token>" on every request; the request bytes that
  // carry it are wiped after sending.
  HttpClient(Endpoint endpoint, std::optional<SecretString> bearer_token, std::chrono::milliseconds timeout);

  // Sends one request (a JSON body when `body` is set) and reads the whole response. `timeout` bounds the whole
  // exchange, connect included. Errors: kUnavailable when the daemon cannot be reached (no socket, connection
  // refused, reset or closed early, timeout); kInternal when the reply is not HTTP this client understands.
  Result<HttpResponse> request(std::string_view method, std::string_view target,
                               const std::optional<std::string>& body = std::nullopt) const;

  const Endpoint& endpoint() const { return endpoint_; }
  bool has_token() const { return bearer_token_.has_value(); }

 private:
  Endpoint endpoint_;
  std::optional<SecretString> bearer_token_;
  std::chrono::milliseconds timeout_;
};

// Percent-encodes everything but RFC 3986 unreserved characters, for a path segment or a query value.
std::string percent_encode(std::string_view text);

}  // namespace signerd::cli

#pragma once
// A small blocking HTTP/1.1 client for signerctl: one request per connection (Connection: close), over signerd's
// Unix socket, TCP, or TLS on TCP (https://), with Content-Length bodies. Enough for signerd's JSON API, nothing
// more: no chunked bodies, no redirects, no proxies. Not thread-safe; signerctl is single-threaded.
//
// TLS is OpenSSL's, driven directly on the same non-blocking socket and deadline as plain TCP (Beast stays in
// daemon/ and api/). The server's certificate chain and its host name (or IP address) are always verified; there
// is no way to turn that off.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/secret.h"

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace signerd::cli {

// Where the daemon listens.
struct Endpoint {
  std::string unix_socket;  // set for a Unix socket ...
  std::string host;         // ... or host and port for TCP
  std::uint16_t port = 0;
  bool tls = false;  // https://

  bool is_unix() const { return !unix_socket.empty(); }
  // "unix:/run/signerd/signerd.sock", "http://127.0.0.1:8420" or "https://signer.example:8443"
  std::string describe() const;
  // The Host header: "host:port", IPv6 hosts in brackets.
  std::string authority() const;

  // "http://host[:port][/]" (port 80 when absent) or "https://host[:port][/]" (port 443); IPv6 hosts in brackets.
  // kInvalidArgument for anything else.
  static Result<Endpoint> parse_url(std::string_view url);
};

// What an https:// client trusts, and the certificate it presents. The default trust is the system's trust store
// (OpenSSL's default locations); no client certificate unless one is given.
struct TlsOptions {
  std::string ca_file;    // when set: trust only the CA certificates in this PEM file
  std::string cert_file;  // with key_file: a PEM client certificate (chain), for daemons with tls_client_ca_file
  std::string key_file;   // its unencrypted PEM private key, in a file other users cannot read
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
};

// Extra request headers (name, value). Values must not contain CR or LF.
using Headers = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  // `bearer_token`, when set, is sent as "Authorization: Bearer <token>" on every request; the request bytes that
  // carry it are wiped after sending. For an https endpoint the TLS settings are loaded here: kInvalidArgument
  // naming `tls.ca_file` when it cannot be read or holds no certificate, and naming `tls.cert_file` or
  // `tls.key_file` when either cannot be read, the key file is readable by other users, or the key is not the
  // certificate's.
  static Result<HttpClient> create(Endpoint endpoint, std::optional<SecretString> bearer_token,
                                   std::chrono::milliseconds timeout, const TlsOptions& tls = {});

  // Sends one request (a JSON body when `body` is set) and reads the whole response. `timeout` bounds the whole
  // exchange, connect and TLS handshake included. Errors: kUnavailable when the daemon cannot be reached (no
  // socket, connection refused, reset or closed early, timeout, a TLS handshake that fails — the server's
  // certificate not trusted or not for this host included); kPermissionDenied when the OS refuses the socket file;
  // kInternal when the reply is not HTTP this client understands.
  Result<HttpResponse> request(std::string_view method, std::string_view target,
                               const std::optional<std::string>& body = std::nullopt,
                               const Headers& headers = {}) const;

  const Endpoint& endpoint() const { return endpoint_; }
  bool has_token() const { return bearer_token_.has_value(); }

 private:
  HttpClient(Endpoint endpoint, std::optional<SecretString> bearer_token, std::chrono::milliseconds timeout,
             std::shared_ptr<ssl_ctx_st> tls);

  Endpoint endpoint_;
  std::optional<SecretString> bearer_token_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<ssl_ctx_st> tls_;  // set for https endpoints
  bool custom_ca_ = false;           // trusting --cacert rather than the system's store (words errors only)
};

// Percent-encodes everything but RFC 3986 unreserved characters, for a path segment or a query value.
std::string percent_encode(std::string_view text);

}  // namespace signerd::cli

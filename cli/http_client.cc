#include "cli/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <utility>

#include "cli/private_key_file.h"

namespace signerd::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxHeadBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 * 1024 * 1024;

class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Socket& operator=(Socket&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { reset(); }
  int fd() const { return fd_; }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int millis_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Waits for `events` on fd until the deadline. False on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, millis_left(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

Error unreachable(const Endpoint& endpoint, const std::string& why) {
  return Error{ErrorCode::kUnavailable, "cannot reach signerd at " + endpoint.describe() + ": " + why, {}};
}

Error connect_error(const Endpoint& endpoint, int err) {
  std::string why = std::strerror(err);
  if (err == ENOENT || err == ECONNREFUSED) why += " (is signerd running?)";
  // A socket file this user may not open: the OS refused, not the daemon, but the fix is the same (permissions).
  if (err == EACCES || err == EPERM) {
    return Error{ErrorCode::kPermissionDenied, "cannot reach signerd at " + endpoint.describe() + ": " + why, {}};
  }
  return unreachable(endpoint, why);
}

Result<Socket> connect_unix(const Endpoint& endpoint, Clock::time_point deadline) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (endpoint.unix_socket.size() >= sizeof addr.sun_path) {
    return fail(ErrorCode::kInvalidArgument, "socket path too long (at most " +
                                                 std::to_string(sizeof addr.sun_path - 1) +
                                                 " bytes): " + endpoint.unix_socket);
  }
  std::memcpy(addr.sun_path, endpoint.unix_socket.data(), endpoint.unix_socket.size());
  Socket s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.fd() < 0) return std::unexpected(unreachable(endpoint, std::strerror(errno)));
  // A Unix connect completes at once or blocks only while the listen backlog is full; SO_SNDTIMEO bounds that.
  const int ms = std::max(1, millis_left(deadline));
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(s.fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  while (::connect(s.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINPROGRESS) {
      return std::unexpected(unreachable(endpoint, "timed out connecting"));
    }
    return std::unexpected(connect_error(endpoint, errno));
  }
  ::fcntl(s.fd(), F_SETFL, ::fcntl(s.fd(), F_GETFL) | O_NONBLOCK);
  return s;
}

Result<Socket> connect_tcp(const Endpoint& endpoint, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(endpoint.port);
  if (int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return std::unexpected(
        unreachable(endpoint, std::string("cannot resolve ") + endpoint.host + ": " + ::gai_strerror(rc)));
  }
  struct FreeAddrinfo {
    addrinfo* list;
    ~FreeAddrinfo() { ::freeaddrinfo(list); }
  } free_list{found};
  int last_error = ECONNREFUSED;
  bool timed_out = false;
  std::size_t left = 0;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) ++left;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next, --left) {
    // Each address gets an equal share of the time that is left, so that one that never answers (an IPv6 route
    // that drops packets, say) does not use it all before a working one is tried.
    const auto now = Clock::now();
    const auto slot_deadline = now >= deadline ? deadline : now + (deadline - now) / static_cast<long>(left);
    Socket s(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (s.fd() < 0) {
      last_error = errno;
      continue;
    }
    if (::connect(s.fd(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last_error = errno;
        continue;
      }
      if (!wait_for(s.fd(), POLLOUT, slot_deadline)) {
        timed_out = true;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last_error = err;
        continue;
      }
    }
    const int one = 1;
    ::setsockopt(s.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
  }
  if (timed_out) return std::unexpected(unreachable(endpoint, "timed out connecting"));
  return std::unexpected(connect_error(endpoint, last_error));
}

// What OpenSSL reports last (the reason of the newest error in the queue), and an empty queue after.
std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : "error " + std::to_string(ERR_GET_REASON(e));
}

// What to do when the daemon refused the TLS session over the client certificate, from the alert it sent (TLS 1.3
// delivers it after the client's side of the handshake, so it can surface on the first read). Empty for other
// failures.
std::string client_certificate_hint(unsigned long error, bool have_certificate) {
  if (ERR_GET_LIB(error) != ERR_LIB_SSL) return {};
  switch (ERR_GET_REASON(error)) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return " (the daemon requires a client certificate: give one with --cert and --key)";
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
      return have_certificate ? ""
                              : " (if the daemon requires client certificates, give one with --cert and --key)";
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      return have_certificate ? " (the daemon did not accept the certificate in --cert: it must be issued by a CA "
                                "in the daemon's tls_client_ca_file, and be valid now)"
                              : "";
    default: return {};
  }
}

// Loads the client certificate chain and its private key into `ctx`, refusing a key file other users can read.
Result<void> use_client_certificate(SSL_CTX* ctx, const TlsOptions& tls) {
  const auto bad = [](const std::string& option, const std::string& path, const std::string& why) {
    return fail(ErrorCode::kInvalidArgument, option + " " + path + ": " + why);
  };
  if (::access(tls.cert_file.c_str(), R_OK) != 0) return bad("--cert", tls.cert_file, std::strerror(errno));
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    ERR_clear_error();
    return bad("--cert", tls.cert_file, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  }
  auto key = read_private_key_file("--key", tls.key_file);
  if (!key) return std::unexpected(key.error());
  if (SSL_CTX_use_PrivateKey(ctx, key->get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return bad("--key", tls.key_file, "is not the private key of the certificate in --cert " + tls.cert_file);
  }
  return {};
}

bool is_ip_literal(const std::string& host) {
  in6_addr v6;
  in_addr v4;
  return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

// SIGPIPE is ignored while one lives: OpenSSL writes to its socket with write(2), which raises SIGPIPE when the
// peer has gone (plain sockets use send(MSG_NOSIGNAL) instead). Process-wide, which is fine: signerctl has one
// thread.
class SigpipeIgnored {
 public:
  SigpipeIgnored() {
    struct sigaction ignore{};
    ignore.sa_handler = SIG_IGN;
    ::sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGPIPE, &ignore, &previous_);
  }
  SigpipeIgnored(const SigpipeIgnored&) = delete;
  SigpipeIgnored& operator=(const SigpipeIgnored&) = delete;
  ~SigpipeIgnored() { ::sigaction(SIGPIPE, &previous_, nullptr); }

 private:
  struct sigaction previous_{};
};

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

// One connection to the daemon: a connected non-blocking socket, with TLS on it after start_tls(). Every operation
// ends by `deadline`.
class Connection {
 public:
  Connection(Socket socket, const Endpoint& endpoint) : socket_(std::move(socket)), endpoint_(endpoint) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    // Best effort, never waited for: our close_notify, so the daemon sees a clean end of the TLS stream.
    if (ssl_ && established_) SSL_shutdown(ssl_.get());
    ERR_clear_error();
  }

  // The TLS handshake, verifying the server's certificate chain against `ctx`'s trust store and its name against
  // the endpoint's host (a DNS name, also sent as SNI, or an IP address). `custom_ca` only words the error.
  Result<void> start_tls(SSL_CTX* ctx, bool custom_ca, Clock::time_point deadline) {
    ERR_clear_error();
    ssl_.reset(SSL_new(ctx));
    if (!ssl_ || SSL_set_fd(ssl_.get(), socket_.fd()) != 1) {
      return std::unexpected(Error{ErrorCode::kInternal, "TLS: " + openssl_reason(), {}});
    }
    const std::string& host = endpoint_.host;
    const bool named = !is_ip_literal(host);
    const int host_set = named ? SSL_set1_host(ssl_.get(), host.c_str())
                               : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), host.c_str());
    if (host_set != 1 || (named && SSL_set_tlsext_host_name(ssl_.get(), host.c_str()) != 1)) {
      return std::unexpected(Error{ErrorCode::kInternal, "TLS: cannot check the certificate against " + host, {}});
    }
    for (;;) {
      ERR_clear_error();
      const int rc = SSL_connect(ssl_.get());
      if (rc == 1) break;
      const int err = SSL_get_error(ssl_.get(), rc);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        if (!wait_for(socket_.fd(), err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
          return std::unexpected(unreachable(endpoint_, "timed out in the TLS handshake"));
        }
        continue;
      }
      return std::unexpected(handshake_failure(err, custom_ca));
    }
    established_ = true;
    return {};
  }

  Result<void> send_all(std::string_view bytes, Clock::time_point deadline) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      if (ssl_) {
        ERR_clear_error();
        std::size_t n = 0;
        const int rc = SSL_write_ex(ssl_.get(), bytes.data() + off, bytes.size() - off, &n);
        if (rc == 1) {
          off += n;
          continue;
        }
        if (auto waited = wait_for_tls(rc, "sending", deadline); !waited) return std::unexpected(waited.error());
        continue;
      }
      const ssize_t n = ::send(socket_.fd(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!wait_for(socket_.fd(), POLLOUT, deadline)) {
          return std::unexpected(unreachable(endpoint_, "timed out sending"));
        }
        continue;
      }
      return std::unexpected(unreachable(endpoint_, std::string("send: ") + std::strerror(errno)));
    }
    return {};
  }

  // Appends what arrives to `buf`. Returns false at end of stream (over TLS: the server's close_notify; a TCP close
  // without one is an error, as it may cut a reply short).
  Result<bool> receive_some(std::string& buf, Clock::time_point deadline) {
    char chunk[16384];
    for (;;) {
      if (ssl_) {
        ERR_clear_error();
        std::size_t n = 0;
        const int rc = SSL_read_ex(ssl_.get(), chunk, sizeof chunk, &n);
        if (rc == 1) {
          buf.append(chunk, n);
          return true;
        }
        if (SSL_get_error(ssl_.get(), rc) == SSL_ERROR_ZERO_RETURN) return false;
        if (auto waited = wait_for_tls(rc, "waiting for the reply", deadline); !waited) {
          return std::unexpected(waited.error());
        }
        continue;
      }
      const ssize_t n = ::recv(socket_.fd(), chunk, sizeof chunk, 0);
      if (n > 0) {
        buf.append(chunk, static_cast<std::size_t>(n));
        return true;
      }
      if (n == 0) return false;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!wait_for(socket_.fd(), POLLIN, deadline)) {
          return std::unexpected(unreachable(endpoint_, "timed out waiting for the reply"));
        }
        continue;
      }
      return std::unexpected(unreachable(endpoint_, std::string("recv: ") + std::strerror(errno)));
    }
  }

 private:
  // After an SSL_read_ex/SSL_write_ex that returned `rc`: waits for what OpenSSL needs, or fails for good.
  Result<void> wait_for_tls(int rc, const std::string& doing, Clock::time_point deadline) {
    const int err = SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!wait_for(socket_.fd(), err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        return std::unexpected(unreachable(endpoint_, "timed out " + doing));
      }
      return {};
    }
    established_ = false;  // no close_notify on a broken connection
    if (err == SSL_ERROR_SYSCALL && errno != 0) {
      return std::unexpected(unreachable(endpoint_, "TLS " + doing + ": " + std::strerror(errno)));
    }
    const std::string hint = client_certificate_hint(ERR_peek_last_error(), have_client_certificate());
    return std::unexpected(unreachable(endpoint_, "TLS " + doing + ": " + openssl_reason() + hint));
  }

  // Why SSL_connect failed, in words that say what to do when it is the certificate.
  Error handshake_failure(int err, bool custom_ca) {
    const long verify = SSL_get_verify_result(ssl_.get());
    if (verify != X509_V_OK) {
      ERR_clear_error();
      std::string why = "TLS handshake failed: certificate verify failed: ";
      why += X509_verify_cert_error_string(verify);
      switch (verify) {
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
          why += " (the daemon's certificate is not for " + endpoint_.host +
                 "; use in --url a host name or address the certificate names)";
          break;
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
          why += custom_ca ? " (the daemon's certificate was not issued by a CA in --cacert)"
                           : " (the daemon's certificate was not issued by a CA this system trusts; give its CA "
                             "with --cacert FILE)";
          break;
        default: break;
      }
      return unreachable(endpoint_, why);
    }
    if (err == SSL_ERROR_SYSCALL) {
      const std::string reason = errno != 0 ? std::strerror(errno) : "the connection closed";
      ERR_clear_error();
      return unreachable(endpoint_, "TLS handshake failed: " + reason + " (is it serving TLS on that port?)");
    }
    const std::string hint = client_certificate_hint(ERR_peek_last_error(), have_client_certificate());
    if (!hint.empty()) return unreachable(endpoint_, "TLS handshake failed: " + openssl_reason() + hint);
    return unreachable(endpoint_, "TLS handshake failed: " + openssl_reason() + " (is it serving TLS on that port?)");
  }

  bool have_client_certificate() const { return SSL_get_certificate(ssl_.get()) != nullptr; }

  Socket socket_;
  const Endpoint& endpoint_;
  std::unique_ptr<SSL, SslFree> ssl_;
  bool established_ = false;
};

Error malformed(const std::string& why) { return Error{ErrorCode::kInternal, "malformed HTTP reply: " + why, {}}; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Parses the status line and headers (everything before the blank line).
Result<HttpResponse> parse_head(std::string_view head) {
  HttpResponse response;
  auto eol = head.find("\r\n");
  const std::string_view status_line = head.substr(0, eol);
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
    return std::unexpected(malformed("bad status line"));
  }
  const auto code = status_line.substr(9, 3);
  if (std::from_chars(code.data(), code.data() + code.size(), response.status).ec != std::errc{} ||
      response.status < 100 || response.status > 599) {
    return std::unexpected(malformed("bad status code"));
  }
  std::string_view rest = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
  while (!rest.empty()) {
    eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return std::unexpected(malformed("bad header line"));
    response.headers[lower(std::string(trim(line.substr(0, colon))))] = std::string(trim(line.substr(colon + 1)));
  }
  return response;
}

}  // namespace

std::string Endpoint::authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Endpoint::describe() const {
  if (is_unix()) return "unix:" + unix_socket;
  return (tls ? "https://" : "http://") + authority();
}

Result<Endpoint> Endpoint::parse_url(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  constexpr std::string_view kHttps = "https://";
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidArgument, "--url " + std::string(url) + ": " + why);
  };
  Endpoint e;
  std::string_view rest;
  if (url.starts_with(kHttp)) {
    rest = url.substr(kHttp.size());
  } else if (url.starts_with(kHttps)) {
    rest = url.substr(kHttps.size());
    e.tls = true;
  } else {
    return bad("only http://host:port and https://host:port are supported");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos || rest.find('@') != std::string_view::npos ||
      rest.find('?') != std::string_view::npos) {
    return bad("give only the scheme, host and port");
  }
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    e.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("expected ':' after ']'");
      port_text = rest.substr(1);
    }
  } else {
    const auto colon = rest.find(':');
    e.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
  }
  if (e.host.empty()) return bad("no host");
  unsigned port = e.tls ? 443 : 80;
  if (!port_text.empty()) {
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return bad("bad port");
    }
  }
  e.port = static_cast<std::uint16_t>(port);
  return e;
}

Result<HttpClient> HttpClient::create(Endpoint endpoint, std::optional<SecretString> bearer_token,
                                      std::chrono::milliseconds timeout, const TlsOptions& tls) {
  std::shared_ptr<SSL_CTX> context;
  if (endpoint.tls) {
    ERR_clear_error();
    context.reset(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    if (!context || SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION) != 1) {
      return fail(ErrorCode::kInternal, "TLS: " + openssl_reason());
    }
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_mode(context.get(), SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (!tls.ca_file.empty()) {
      // Read it once ourselves first, for an error that says why (OpenSSL's would not).
      if (::access(tls.ca_file.c_str(), R_OK) != 0) {
        return fail(ErrorCode::kInvalidArgument, "--cacert " + tls.ca_file + ": " + std::strerror(errno));
      }
      if (SSL_CTX_load_verify_file(context.get(), tls.ca_file.c_str()) != 1) {
        ERR_clear_error();
        return fail(ErrorCode::kInvalidArgument,
                    "--cacert " + tls.ca_file + ": holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
      }
    } else if (SSL_CTX_set_default_verify_paths(context.get()) != 1) {
      return fail(ErrorCode::kInternal, "TLS: cannot load the system's trust store: " + openssl_reason());
    }
    if (!tls.cert_file.empty() || !tls.key_file.empty()) {
      if (tls.cert_file.empty() || tls.key_file.empty()) {
        return fail(ErrorCode::kInvalidArgument, "a client certificate needs both --cert and --key");
      }
      if (auto loaded = use_client_certificate(context.get(), tls); !loaded) return std::unexpected(loaded.error());
    }
  }
  HttpClient client(std::move(endpoint), std::move(bearer_token), timeout, std::move(context));
  client.custom_ca_ = !tls.ca_file.empty();
  return client;
}

HttpClient::HttpClient(Endpoint endpoint, std::optional<SecretString> bearer_token, std::chrono::milliseconds timeout,
                       std::shared_ptr<ssl_ctx_st> tls)
    : endpoint_(std::move(endpoint)), bearer_token_(std::move(bearer_token)), timeout_(timeout), tls_(std::move(tls)) {}

Result<HttpResponse> HttpClient::request(std::string_view method, std::string_view target,
                                         const std::optional<std::string>& body, const Headers& headers) const {
  for (const auto& [name, value] : headers) {
    if (name.find_first_of("\r\n") != std::string::npos || value.find_first_of("\r\n") != std::string::npos) {
      return fail(ErrorCode::kInternal, "refusing to send header " + name + ": it contains a line break");
    }
  }
  const auto deadline = Clock::now() + timeout_;
  auto socket = endpoint_.is_unix() ? connect_unix(endpoint_, deadline) : connect_tcp(endpoint_, deadline);
  if (!socket) return std::unexpected(socket.error());
  std::optional<SigpipeIgnored> sigpipe_ignored;
  Connection connection(std::move(*socket), endpoint_);
  if (tls_) {
    sigpipe_ignored.emplace();
    if (auto secured = connection.start_tls(tls_.get(), custom_ca_, deadline); !secured) {
      return std::unexpected(secured.error());
    }
  }

  std::string head;
  head.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  head.append("Host: ").append(endpoint_.is_unix() ? std::string("localhost") : endpoint_.authority());
  head.append("\r\nUser-Agent: signerctl\r\nAccept: application/json\r\nConnection: close\r\n");
  if (body) head.append("Content-Type: application/json\r\nContent-Length: ").append(std::to_string(body->size()));
  if (body) head.append("\r\n");
  std::size_t headers_size = 0;
  for (const auto& [name, value] : headers) headers_size += name.size() + value.size() + 4;
  constexpr std::string_view kAuthorization = "Authorization: Bearer ";
  const std::size_t token_size = bearer_token_ ? kAuthorization.size() + bearer_token_->view().size() + 2 : 0;
  // Sized once, so the buffer holding the secrets is never reallocated (which would leave an unwiped copy behind).
  std::string wire;
  wire.reserve(head.size() + headers_size + token_size + 2 + (body ? body->size() : 0));
  wire.append(head);
  for (const auto& [name, value] : headers) wire.append(name).append(": ").append(value).append("\r\n");
  if (bearer_token_) wire.append(kAuthorization).append(bearer_token_->view()).append("\r\n");
  wire.append("\r\n");
  if (body) wire.append(*body);
  // The request holds the token (and a user action): SecretString wipes it when this scope ends.
  const SecretString request_bytes(std::move(wire));
  if (auto sent = connection.send_all(request_bytes.view(), deadline); !sent) return std::unexpected(sent.error());

  std::string buf;
  std::size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (buf.size() > kMaxHeadBytes) return std::unexpected(malformed("headers too large"));
    auto more = connection.receive_some(buf, deadline);
    if (!more) return std::unexpected(more.error());
    if (!*more) {
      return std::unexpected(unreachable(endpoint_, buf.empty() ? "the connection closed without a reply"
                                                                : "the connection closed in the middle of a reply"));
    }
  }
  auto response = parse_head(std::string_view(buf).substr(0, head_end));
  if (!response) return std::unexpected(response.error());
  buf.erase(0, head_end + 4);

  if (auto te = response->headers.find("transfer-encoding");
      te != response->headers.end() && lower(te->second) != "identity") {
    return std::unexpected(malformed("Transfer-Encoding " + te->second + " is not supported"));
  }
  if (auto cl = response->headers.find("content-length"); cl != response->headers.end()) {
    std::size_t length = 0;
    const auto& text = cl->second;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::unexpected(malformed("bad Content-Length"));
    if (length > kMaxBodyBytes) return std::unexpected(malformed("body too large"));
    while (buf.size() < length) {
      auto more = connection.receive_some(buf, deadline);
      if (!more) return std::unexpected(more.error());
      if (!*more) return std::unexpected(unreachable(endpoint_, "the connection closed in the middle of a reply"));
    }
    buf.resize(length);
  } else {
    // No length: the body runs to the end of the connection (we asked for Connection: close).
    for (;;) {
      if (buf.size() > kMaxBodyBytes) return std::unexpected(malformed("body too large"));
      auto more = connection.receive_some(buf, deadline);
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
    }
  }
  response->body = std::move(buf);
  return response;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace signerd::cli

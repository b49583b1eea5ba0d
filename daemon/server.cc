#include "daemon/server.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "common/log.h"
#include "common/metrics.h"
#include "common/secret.h"

namespace signerd::daemon {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;
using boost::system::error_code;

// The server component's logger (common/log.h): listeners, connections and the one line per request.
spdlog::logger& server_log() { return log(LogComponent::kServer); }

// signerd_auth_total counts each request that had to present credentials, once: "unauthenticated" (401 here),
// "denied" (authenticated, then refused with 403: a permission, a user action, a key delegated to someone else) or
// "ok". Requests served without credentials (health where configured, login, smart-account requests, which the API
// authenticates itself) are not counted.
void count_authentication(const Result<core::Principal>& principal, int status) {
  if (principal && principal->kind == core::PrincipalKind::kAnonymous) return;
  const char* result = !principal ? "unauthenticated" : status == 403 ? "denied" : "ok";
  metrics::registry().add("signerd_auth_total", {{"result", result}});
}

enum class Transport { kUnix, kTcp };

using PlainTcpStream = beast::basic_stream<tcp, asio::any_io_executor>;
using TlsTcpStream = beast::ssl_stream<PlainTcpStream>;

template <class Stream>
constexpr bool kIsTls = false;
template <class Next>
constexpr bool kIsTls<beast::ssl_stream<Next>> = true;

// How long a closing TLS session waits for the client's close_notify after sending its own. Courtesy only (HTTP
// bodies are length-delimited), so kept short: a client that never answers must not hold a connection slot.
constexpr std::chrono::milliseconds kTlsShutdownTimeout{1000};

constexpr const char* kTlsRequired = "TLS is required (set listen.tls_cert_file and listen.tls_key_file)";

// 127.0.0.0/8, ::1, and IPv4-mapped 127.x.y.z.
bool is_loopback(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  }
  return a.is_loopback();
}

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" + std::to_string(ep.port());
}

struct Peer {
  Transport transport;
  std::optional<std::uint32_t> uid;  // Unix socket peers only (SO_PEERCRED)
  std::string address;
};

// Runs api.handle on the worker pool and completes on the caller's executor when the API replies, which may be on a
// worker thread or, for signatures, on the store's writer thread. The caller's executor is kept busy meanwhile.
template <class Token>
auto async_handle(asio::thread_pool& workers, const api::Api& api, const api::Request& request,
                  const core::Principal& who, Token&& token) {
  return asio::async_initiate<Token, void(api::Response)>(
      [&workers, &api, &request, who](auto handler) {
        using Handler = decltype(handler);
        struct Pending {
          Pending(Handler h, asio::executor_work_guard<asio::associated_executor_t<Handler>> w)
              : handler(std::move(h)), work(std::move(w)) {}
          Handler handler;
          asio::executor_work_guard<asio::associated_executor_t<Handler>> work;
          std::atomic<bool> replied{false};
        };
        auto work = asio::make_work_guard(asio::get_associated_executor(handler));
        auto pending = std::make_shared<Pending>(std::move(handler), std::move(work));
        api::Api::Reply reply = [pending](api::Response response) {
          if (pending->replied.exchange(true)) return;
          auto ex = pending->work.get_executor();
          asio::post(ex, [pending, response = std::move(response)]() mutable {
            pending->work.reset();
            std::move(pending->handler)(std::move(response));
          });
        };
        asio::post(workers, [&api, &request, who, reply]() {
          try {
            api.handle(request, who, reply);
          } catch (const std::exception& e) {
            log(LogComponent::kApi).error("request failed with an exception: {}", e.what());
            reply(api::error_response({ErrorCode::kInternal, "internal error", {}}, request.version(), false));
          }
        });
      },
      token);
}

// What drain() needs to reach a connection: its executor, whether a request is in flight, and how to close it.
struct SessionHandle {
  asio::any_io_executor executor;
  bool busy = false;           // touched only on the session's strand
  bool alive = true;           // likewise
  std::function<void()> close; // likewise
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_in, asio::thread_pool& workers_in, const api::Api& api_in, ServerOptions options_in)
      : io(io_in), workers(workers_in), api(api_in), options(std::move(options_in)),
        acceptor_strand(asio::make_strand(io_in)) {}

  asio::io_context& io;
  asio::thread_pool& workers;
  const api::Api& api;
  ServerOptions options;
  asio::strand<asio::io_context::executor_type> acceptor_strand;
  std::optional<unix_socket::acceptor> unix_acceptor;
  std::optional<tcp::acceptor> tcp_acceptor;
  // Set when listen.tls_cert_file is: every TCP connection then speaks TLS. Read-only once listen() returned.
  std::optional<asio::ssl::context> tls;
  bool unix_from_systemd = false;  // the socket file then belongs to systemd: never unlinked here
  mutable std::mutex uids_mutex;
  std::vector<std::uint32_t> unix_allowed_uids;  // guarded by uids_mutex

  std::mutex mu;
  std::unordered_map<std::uint64_t, std::shared_ptr<SessionHandle>> sessions;  // guarded by mu
  std::uint64_t next_session = 0;                                             // guarded by mu
  std::function<void()> on_drained;                                           // guarded by mu
  std::atomic<bool> draining{false};
  std::atomic<bool> drained_called{false};
  std::atomic<unsigned> connections{0};
  std::optional<asio::steady_timer> grace_timer;

  Result<void> load_tls();
  const char* tls_mode() const { return !tls ? "off" : options.listen.tls_client_ca_file.empty() ? "on" : "mutual"; }
  Result<void> adopt_systemd_sockets();
  Result<void> listen_unix();
  Result<void> listen_tcp();

  template <class Acceptor>
  asio::awaitable<void> accept_loop(Acceptor& acceptor, Transport transport);
  template <class Stream>
  asio::awaitable<void> session(Stream stream, Peer peer);

  Result<core::Principal> authenticate(const api::Request& request, const Peer& peer) const;
  std::uint64_t add_session(std::shared_ptr<SessionHandle> handle);
  void remove_session(std::uint64_t id);
  void finish_drain();
};

Server::Server(asio::io_context& io, asio::thread_pool& workers, const api::Api& api, ServerOptions options)
    : impl_(std::make_shared<Impl>(io, workers, api, std::move(options))) {
  impl_->unix_allowed_uids = impl_->options.unix_allowed_uids;
}

void Server::set_unix_allowed_uids(std::vector<std::uint32_t> uids) {
  std::lock_guard lock(impl_->uids_mutex);
  impl_->unix_allowed_uids = std::move(uids);
}

unsigned Server::connections() const { return impl_->connections.load(); }

Server::~Server() = default;

Result<void> Server::listen() {
  if (auto r = impl_->load_tls(); !r) return r;
  if (auto r = impl_->adopt_systemd_sockets(); !r) return r;
  if (!impl_->unix_acceptor && !impl_->options.listen.unix_socket.empty()) {
    if (auto r = impl_->listen_unix(); !r) return r;
  }
  if (!impl_->tcp_acceptor && !impl_->options.listen.tcp.empty()) {
    if (auto r = impl_->listen_tcp(); !r) return r;
  }
  if (!impl_->unix_acceptor && !impl_->tcp_acceptor) {
    return fail(ErrorCode::kInvalidArgument, "no socket to listen on");
  }
  return {};
}

// Reads the certificate chain, the key and the client CAs once. Errors name the setting, the file and OpenSSL's
// reason, never the file's content.
Result<void> Server::Impl::load_tls() {
  const auto& l = options.listen;
  if (!l.tls()) return {};
  const auto bad = [](std::string_view key, const std::filesystem::path& file, std::string_view what,
                      const error_code& ec) {
    return fail(ErrorCode::kInvalidArgument,
                "listen." + std::string(key) + " " + file.string() + ": " + std::string(what) + ": " + ec.message());
  };
  const auto readable = [](std::string_view key, const std::filesystem::path& file) -> Result<void> {
    if (::access(file.c_str(), R_OK) != 0) {
      return fail(ErrorCode::kInvalidArgument,
                  "listen." + std::string(key) + " " + file.string() + ": cannot read it: " + std::strerror(errno));
    }
    return {};
  };
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  SSL_CTX* native = ctx.native_handle();
  // TLS 1.2 at least; OpenSSL negotiates 1.3 with any client that offers it. For 1.2, forward-secret AEAD suites only.
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20");
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                  SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  // Resumed sessions must keep the client-certificate check: OpenSSL requires a context id once peers are verified.
  static constexpr unsigned char kSessionContext[] = "signerd";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  // An encrypted key must fail here, not make OpenSSL prompt on a terminal.
  ctx.set_password_callback([](std::size_t, asio::ssl::context::password_purpose) { return std::string(); });

  error_code ec;
  if (auto r = readable("tls_cert_file", l.tls_cert_file); !r) return r;
  ctx.use_certificate_chain_file(l.tls_cert_file.string(), ec);
  if (ec) return bad("tls_cert_file", l.tls_cert_file, "not a PEM certificate chain", ec);

  auto key = read_secret_file(l.tls_key_file);  // refuses a file other users can read
  if (!key) return fail(ErrorCode::kInvalidArgument, "listen.tls_key_file: " + key.error().message);
  ctx.use_private_key(asio::buffer(key->view()), asio::ssl::context::pem, ec);
  key->wipe();
  const auto openssl_error = static_cast<unsigned long>(ec.value());
  const bool mismatch = ec && ec.category() == asio::error::get_ssl_category() &&
                        ERR_GET_LIB(openssl_error) == ERR_LIB_X509 &&
                        ERR_GET_REASON(openssl_error) == X509_R_KEY_VALUES_MISMATCH;
  if (mismatch || (!ec && SSL_CTX_check_private_key(native) != 1)) {
    return fail(ErrorCode::kInvalidArgument, "listen.tls_key_file " + l.tls_key_file.string() +
                                                 " is not the private key of the certificate in listen.tls_cert_file " +
                                                 l.tls_cert_file.string());
  }
  if (ec) return bad("tls_key_file", l.tls_key_file, "not an unencrypted PEM private key", ec);

  if (!l.tls_client_ca_file.empty()) {
    if (auto r = readable("tls_client_ca_file", l.tls_client_ca_file); !r) return r;
    ctx.load_verify_file(l.tls_client_ca_file.string(), ec);
    if (ec) return bad("tls_client_ca_file", l.tls_client_ca_file, "not PEM CA certificates", ec);
    // Tell clients which CAs are accepted (the list is owned by the context from here on).
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(l.tls_client_ca_file.c_str());
    if (!names) {
      return fail(ErrorCode::kInvalidArgument,
                  "listen.tls_client_ca_file " + l.tls_client_ca_file.string() + ": holds no CA certificate");
    }
    SSL_CTX_set_client_CA_list(native, names);
    ctx.set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  tls.emplace(std::move(ctx));
  return {};
}

Result<void> Server::Impl::adopt_systemd_sockets() {
  const int n = sd_listen_fds(/*unset_environment=*/1);
  if (n < 0) return fail(ErrorCode::kInvalidArgument, std::string("sd_listen_fds: ") + std::strerror(-n));
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) {
    error_code ec;
    if (sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) > 0 && !unix_acceptor) {
      unix_acceptor.emplace(acceptor_strand);
      unix_acceptor->assign(unix_socket(), fd, ec);
      unix_from_systemd = true;
      server_log().info("listening unix=fd:{} (socket activation)", fd);
    } else if ((sd_is_socket(fd, AF_INET, SOCK_STREAM, 1) > 0 || sd_is_socket(fd, AF_INET6, SOCK_STREAM, 1) > 0) &&
               !tcp_acceptor) {
      const bool v6 = sd_is_socket(fd, AF_INET6, SOCK_STREAM, 1) > 0;
      tcp_acceptor.emplace(acceptor_strand);
      tcp_acceptor->assign(v6 ? tcp::v6() : tcp::v4(), fd, ec);
      if (ec) return fail(ErrorCode::kInvalidArgument, "cannot use fd " + std::to_string(fd) + ": " + ec.message());
      const auto local = tcp_acceptor->local_endpoint(ec);
      if (ec) return fail(ErrorCode::kInvalidArgument, "cannot use fd " + std::to_string(fd) + ": " + ec.message());
      if (!tls && !is_loopback(local.address())) {
        return fail(ErrorCode::kInvalidArgument, "the TCP socket systemd passed (fd " + std::to_string(fd) + ", " +
                                                     endpoint_text(local) +
                                                     ") is not on a loopback address: " + kTlsRequired);
      }
      server_log().info("listening tcp=fd:{} {} tls={} (socket activation)", fd, endpoint_text(local), tls_mode());
    } else {
      return fail(ErrorCode::kInvalidArgument,
                  "systemd passed fd " + std::to_string(fd) +
                      ", which is not a listening Unix or TCP stream socket signerd can use (one of each at most)");
    }
    if (ec) return fail(ErrorCode::kInvalidArgument, "cannot use fd " + std::to_string(fd) + ": " + ec.message());
  }
  return {};
}

std::string Server::tcp_endpoint() const {
  if (!impl_->tcp_acceptor) return {};
  error_code ec;
  const auto ep = impl_->tcp_acceptor->local_endpoint(ec);
  if (ec) return {};
  return endpoint_text(ep);
}

Result<void> Server::Impl::listen_unix() {
  const auto& path = options.listen.unix_socket;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail(ErrorCode::kInvalidArgument, path.string() + " exists and is not a socket; not replacing it");
    }
    // A stale socket from a previous run is replaced; a live one means another daemon owns it.
    unix_socket::socket probe(io);
    error_code ec;
    probe.connect(unix_socket::endpoint(path.string()), ec);
    if (!ec) return fail(ErrorCode::kInvalidArgument, "another process is listening on " + path.string());
    ::unlink(path.c_str());
  }
  error_code ec;
  unix_acceptor.emplace(acceptor_strand);
  unix_acceptor->open(unix_socket(), ec);
  if (!ec) unix_acceptor->bind(unix_socket::endpoint(path.string()), ec);
  if (!ec) unix_acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "cannot listen on " + path.string() + ": " + ec.message());
  if (::chmod(path.c_str(), options.listen.unix_socket_mode) != 0) {
    return fail(ErrorCode::kInvalidArgument, "cannot chmod " + path.string() + ": " + std::strerror(errno));
  }
  if (!options.listen.unix_socket_group.empty()) {
    const struct group* g = ::getgrnam(options.listen.unix_socket_group.c_str());
    if (!g) return fail(ErrorCode::kInvalidArgument, "no group named " + options.listen.unix_socket_group);
    if (::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
      return fail(ErrorCode::kInvalidArgument, "cannot chown " + path.string() + " to group " +
                                                   options.listen.unix_socket_group + ": " + std::strerror(errno));
    }
  }
  server_log().info("listening unix={} mode={:o}", path.string(), options.listen.unix_socket_mode);
  return {};
}

Result<void> Server::Impl::listen_tcp() {
  const auto hp = config::parse_host_port(options.listen.tcp);
  if (!hp) return fail(ErrorCode::kInvalidArgument, "bad TCP address " + options.listen.tcp);
  error_code ec;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(hp->host, std::to_string(hp->port), tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return fail(ErrorCode::kInvalidArgument, "cannot resolve " + options.listen.tcp + ": " + ec.message());
  }
  const tcp::endpoint endpoint = *results.begin();
  // Config validation refuses such addresses already; this catches names that resolve elsewhere than expected.
  if (!tls && !is_loopback(endpoint.address())) {
    return fail(ErrorCode::kInvalidArgument, "listen.tcp = \"" + options.listen.tcp + "\" (" + endpoint_text(endpoint) +
                                                 ") is not a loopback address: " + kTlsRequired);
  }
  tcp_acceptor.emplace(acceptor_strand);
  tcp_acceptor->open(endpoint.protocol(), ec);
  if (!ec) tcp_acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) tcp_acceptor->bind(endpoint, ec);
  if (!ec) tcp_acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "cannot listen on " + options.listen.tcp + ": " + ec.message());
  server_log().info("listening tcp={} tls={}", options.listen.tcp, tls_mode());
  return {};
}

void Server::start() {
  auto self = impl_;
  if (self->unix_acceptor) {
    asio::co_spawn(self->acceptor_strand, self->accept_loop(*self->unix_acceptor, Transport::kUnix), asio::detached);
  }
  if (self->tcp_acceptor) {
    asio::co_spawn(self->acceptor_strand, self->accept_loop(*self->tcp_acceptor, Transport::kTcp), asio::detached);
  }
}

template <class Acceptor>
asio::awaitable<void> Server::Impl::accept_loop(Acceptor& acceptor, Transport transport) {
  auto self = shared_from_this();
  for (;;) {
    error_code ec;
    auto socket = co_await acceptor.async_accept(asio::make_strand(io), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || draining) co_return;
      server_log().warn("accept failed: {}", ec.message());
      // Out of descriptors and similar: back off instead of spinning.
      asio::steady_timer pause(acceptor_strand, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (connections.load() >= options.limits.max_connections) {
      server_log().warn("connection refused: max_connections={} reached", options.limits.max_connections);
      socket.close(ec);
      continue;
    }
    Peer peer{transport, std::nullopt, {}};
    if constexpr (std::is_same_v<Acceptor, unix_socket::acceptor>) {
      struct ucred cred {};
      socklen_t len = sizeof cred;
      if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) peer.uid = cred.uid;
      peer.address = "unix";
      using Stream = beast::basic_stream<unix_socket, asio::any_io_executor>;
      asio::co_spawn(socket.get_executor(), session(Stream(std::move(socket)), std::move(peer)), asio::detached);
    } else {
      peer.address = socket.remote_endpoint(ec).address().to_string();
      socket.set_option(tcp::no_delay(true), ec);
      auto ex = socket.get_executor();
      if (tls) {
        asio::co_spawn(ex, session(TlsTcpStream(std::move(socket), *tls), std::move(peer)), asio::detached);
      } else {
        asio::co_spawn(ex, session(PlainTcpStream(std::move(socket)), std::move(peer)), asio::detached);
      }
    }
  }
}

Result<core::Principal> Server::Impl::authenticate(const api::Request& request, const Peer& peer) const {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const auto header = request[http::field::authorization];
  // Smart-account routes are authenticated by the application's request signature (X-APP-ID, X-TIMESTAMP,
  // X-SIGNATURE), which api/smart_routes checks; they answer every failure with their own envelope.
  if (path == "/api/v1/smart-account" || path.starts_with("/api/v1/smart-account/")) {
    return core::Principal{.id = "anonymous"};
  }
  if (header.empty()) {
    if ((path == "/healthz" || path == "/readyz" || path == "/metrics") &&
        (peer.transport == Transport::kUnix ? options.unix_health_without_auth : options.tcp_health_without_auth)) {
      return core::Principal{.id = "anonymous"};
    }
    // Login is how a user without a token gets one.
    if (path == "/auth/login/init" || path == "/auth/login") return core::Principal{.id = "anonymous"};
    if (peer.transport == Transport::kUnix) {
      std::lock_guard lock(uids_mutex);
      const auto& allowed = unix_allowed_uids;
      if (peer.uid && std::find(allowed.begin(), allowed.end(), *peer.uid) != allowed.end()) {
        return core::Principal{.id = "os-uid-" + std::to_string(*peer.uid), .kind = core::PrincipalKind::kLocalAdmin};
      }
      return fail(ErrorCode::kUnauthenticated,
                  "Not Authorized. This OS user may not use signerd's socket without a bearer token.");
    }
    return fail(ErrorCode::kUnauthenticated, "Not Authorized.");
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() > kBearer.size() && header.substr(0, kBearer.size()) == kBearer && options.authenticate_bearer) {
    return options.authenticate_bearer(header.substr(kBearer.size()));
  }
  return fail(ErrorCode::kUnauthenticated, "Not Authorized.");
}

std::uint64_t Server::Impl::add_session(std::shared_ptr<SessionHandle> handle) {
  std::lock_guard lock(mu);
  const auto id = next_session++;
  sessions.emplace(id, std::move(handle));
  return id;
}

void Server::Impl::remove_session(std::uint64_t id) {
  bool last = false;
  {
    std::lock_guard lock(mu);
    sessions.erase(id);
    last = sessions.empty();
  }
  if (last && draining) finish_drain();
}

void Server::Impl::finish_drain() {
  if (drained_called.exchange(true)) return;
  std::function<void()> done;
  {
    std::lock_guard lock(mu);
    done = std::move(on_drained);
  }
  asio::post(io, [self = shared_from_this(), done = std::move(done)] {
    if (self->grace_timer) self->grace_timer->cancel();
    if (done) done();
  });
}

// One connection's life: [TLS handshake,] requests until the peer or a limit ends it, [TLS close,] close. Stream is
// a basic_stream (Unix or plain TCP) or an ssl_stream over one; timeouts and cancellation act on the basic_stream.
template <class Stream>
asio::awaitable<void> Server::Impl::session(Stream stream, Peer peer) {
  auto self = shared_from_this();
  const auto& limits = options.limits;
  auto& lowest = beast::get_lowest_layer(stream);
  ++connections;
  auto handle = std::make_shared<SessionHandle>();
  handle->executor = stream.get_executor();
  handle->close = [&lowest] { lowest.cancel(); };
  const auto session_id = add_session(handle);

  beast::flat_buffer buffer(limits.max_header_bytes + limits.max_body_bytes + 4096);
  error_code ec;
  bool established = true;  // false when the TLS handshake failed

  if constexpr (kIsTls<Stream>) {
    // The handshake is part of the first request: it must finish within read_timeout.
    lowest.expires_after(limits.read_timeout);
    co_await stream.async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      server_log().info("TLS handshake failed transport=tcp peer={}: {}", peer.address, ec.message());
      established = false;
    } else {
      server_log().debug("TLS handshake peer={} version={} client_certificate={}", peer.address,
                         SSL_get_version(stream.native_handle()),
                         SSL_get0_peer_certificate(stream.native_handle()) != nullptr);
    }
  }

  auto write_error = [&](http::status status, std::string message) -> asio::awaitable<void> {
    Error e{status == http::status::payload_too_large ? ErrorCode::kPayloadTooLarge : ErrorCode::kInvalidArgument,
            std::move(message), {}};
    auto res = api::error_response(e, 11, false);
    res.result(status);
    lowest.expires_after(limits.write_timeout);
    error_code wec;
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, wec));
  };

  while (established) {
    if (buffer.size() == 0) {
      // Between requests: the idle timeout applies until the next request's first byte.
      handle->busy = false;
      if (draining) break;
      lowest.expires_after(limits.idle_timeout);
      const std::size_t n =
          co_await stream.async_read_some(buffer.prepare(4096), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      buffer.commit(n);
    }
    handle->busy = true;
    // Once a request has started it must arrive whole within read_timeout (header and body).
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    lowest.expires_after(limits.read_timeout);
    co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      co_await asio::async_write(stream, asio::buffer(kContinue), asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!ec && !parser.is_done()) {
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
      if (ec == http::error::body_limit) {
        co_await write_error(http::status::payload_too_large,
                             "request body exceeds the limit of " + std::to_string(limits.max_body_bytes) + " bytes");
      } else if (ec == http::error::header_limit) {
        co_await write_error(http::status::request_header_fields_too_large,
                             "request header exceeds the limit of " + std::to_string(limits.max_header_bytes) +
                                 " bytes");
      } else if (ec == beast::error::timeout) {
        server_log().info("request timed out transport={} peer={}", peer.transport == Transport::kUnix ? "unix" : "tcp",
                          peer.address);
      } else if (ec.category() == http::make_error_code(http::error::end_of_stream).category() && ec != http::error::end_of_stream &&
                 ec != http::error::partial_message) {
        co_await write_error(http::status::bad_request, "malformed HTTP request: " + ec.message());
      }
      break;
    }

    auto& request = parser.get();
    const auto started = std::chrono::steady_clock::now();
    api::Response response;
    std::string principal_id = "-";
    auto principal = authenticate(request, peer);
    if (!principal) {
      response = api::error_response(principal.error(), request.version(), request.keep_alive());
    } else {
      principal_id = principal->id;
      response = co_await async_handle(workers, api, request, *principal, asio::use_awaitable);
    }
    if (draining) response.keep_alive(false);
    lowest.expires_after(limits.write_timeout);
    co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
    const std::string_view target = request.target();
    server_log().info("request method={} path={} status={} latency_us={} principal={} transport={}",
                      std::string_view(request.method_string()), target.substr(0, target.find('?')),
                      response.result_int(), micros, principal_id, peer.transport == Transport::kUnix ? "unix" : "tcp");
    const std::string route = api::route_of(target);
    metrics::registry().add("signerd_http_requests_total",
                            {{"route", route},
                             {"method", std::string(request.method_string())},
                             {"status", std::to_string(response.result_int())}});
    metrics::registry().observe("signerd_http_request_duration_seconds", {{"route", route}},
                                static_cast<double>(micros) / 1e6);
    count_authentication(principal, response.result_int());
    if (ec || !response.keep_alive()) break;
  }

  if constexpr (kIsTls<Stream>) {
    // Send close_notify so the client can tell the end from a truncation, unless the connection is already gone
    // (timed out, reset, or closed without close_notify). drain() may still cancel this.
    if (established && ec != beast::error::timeout && ec != asio::ssl::error::stream_truncated &&
        lowest.socket().is_open()) {
      handle->busy = true;
      lowest.expires_after(std::min(limits.write_timeout, kTlsShutdownTimeout));
      error_code shutdown_ec;
      co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, shutdown_ec));
    }
  }
  handle->alive = false;
  error_code ignored;
  lowest.socket().shutdown(asio::socket_base::shutdown_both, ignored);
  lowest.close();
  --connections;
  remove_session(session_id);
}

void Server::drain(std::chrono::milliseconds grace, std::function<void()> done) {
  auto self = impl_;
  asio::post(self->acceptor_strand, [self, grace, done = std::move(done)]() mutable {
    if (self->draining.exchange(true)) return;
    error_code ec;
    if (self->unix_acceptor) {
      self->unix_acceptor->close(ec);
      if (!self->unix_from_systemd) ::unlink(self->options.listen.unix_socket.c_str());
    }
    if (self->tcp_acceptor) self->tcp_acceptor->close(ec);
    std::vector<std::shared_ptr<SessionHandle>> handles;
    bool none = false;
    {
      std::lock_guard lock(self->mu);
      self->on_drained = std::move(done);
      for (auto& [id, h] : self->sessions) handles.push_back(h);
      none = self->sessions.empty();
    }
    server_log().info("draining connections={}", handles.size());
    for (auto& h : handles) {
      asio::post(h->executor, [h] {
        if (h->alive && !h->busy) h->close();
      });
    }
    if (none) {
      self->finish_drain();
      return;
    }
    self->grace_timer.emplace(self->io, grace);
    self->grace_timer->async_wait([self, handles](error_code wait_ec) {
      if (wait_ec) return;
      server_log().warn("shutdown grace period over; closing the remaining connections");
      for (auto& h : handles) {
        asio::post(h->executor, [h] {
          if (h->alive) h->close();
        });
      }
      self->finish_drain();
    });
  });
}

}  // namespace signerd::daemon

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

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "common/metrics.h"

namespace signerd::daemon {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;
using boost::system::error_code;

enum class Transport { kUnix, kTcp };

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
            spdlog::error("request failed with an exception: {}", e.what());
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

Result<void> Server::Impl::adopt_systemd_sockets() {
  const int n = sd_listen_fds(/*unset_environment=*/1);
  if (n < 0) return fail(ErrorCode::kInvalidArgument, std::string("sd_listen_fds: ") + std::strerror(-n));
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) {
    error_code ec;
    if (sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) > 0 && !unix_acceptor) {
      unix_acceptor.emplace(acceptor_strand);
      unix_acceptor->assign(unix_socket(), fd, ec);
      unix_from_systemd = true;
      spdlog::info("listening unix=fd:{} (socket activation)", fd);
    } else if ((sd_is_socket(fd, AF_INET, SOCK_STREAM, 1) > 0 || sd_is_socket(fd, AF_INET6, SOCK_STREAM, 1) > 0) &&
               !tcp_acceptor) {
      const bool v6 = sd_is_socket(fd, AF_INET6, SOCK_STREAM, 1) > 0;
      tcp_acceptor.emplace(acceptor_strand);
      tcp_acceptor->assign(v6 ? tcp::v6() : tcp::v4(), fd, ec);
      spdlog::info("listening tcp=fd:{} (socket activation)", fd);
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
  const auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" + std::to_string(ep.port());
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
  spdlog::info("listening unix={} mode={:o}", path.string(), options.listen.unix_socket_mode);
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
  tcp_acceptor.emplace(acceptor_strand);
  tcp_acceptor->open(endpoint.protocol(), ec);
  if (!ec) tcp_acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) tcp_acceptor->bind(endpoint, ec);
  if (!ec) tcp_acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ErrorCode::kInvalidArgument, "cannot listen on " + options.listen.tcp + ": " + ec.message());
  if (!endpoint.address().is_loopback()) {
    spdlog::warn("listening on non-loopback address {} without TLS; bearer tokens cross the network in the clear",
                 options.listen.tcp);
  }
  spdlog::info("listening tcp={}", options.listen.tcp);
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
      spdlog::warn("accept failed: {}", ec.message());
      // Out of descriptors and similar: back off instead of spinning.
      asio::steady_timer pause(acceptor_strand, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (connections.load() >= options.limits.max_connections) {
      spdlog::warn("connection refused: max_connections={} reached", options.limits.max_connections);
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
      using Stream = beast::basic_stream<tcp, asio::any_io_executor>;
      asio::co_spawn(socket.get_executor(), session(Stream(std::move(socket)), std::move(peer)), asio::detached);
    }
  }
}

Result<core::Principal> Server::Impl::authenticate(const api::Request& request, const Peer& peer) const {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  if ((path == "/healthz" || path == "/readyz" || path == "/metrics") &&
      (peer.transport == Transport::kUnix ? options.unix_health_without_auth : options.tcp_health_without_auth)) {
    return core::Principal{"anonymous", std::nullopt};
  }
  if (peer.transport == Transport::kUnix) {
    std::lock_guard lock(uids_mutex);
    const auto& allowed = unix_allowed_uids;
    if (peer.uid && std::find(allowed.begin(), allowed.end(), *peer.uid) != allowed.end()) {
      return core::Principal{"os-uid-" + std::to_string(*peer.uid), std::nullopt};
    }
    return fail(ErrorCode::kUnauthenticated, "Not Authorized. This OS user may not use signerd's socket.");
  }
  const auto header = request[http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() > kBearer.size() && header.substr(0, kBearer.size()) == kBearer &&
      !options.tcp_bearer_token.empty() &&
      secret_equals(header.substr(kBearer.size()), options.tcp_bearer_token.view())) {
    return core::Principal{"static-token", std::nullopt};
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

template <class Stream>
asio::awaitable<void> Server::Impl::session(Stream stream, Peer peer) {
  auto self = shared_from_this();
  const auto& limits = options.limits;
  ++connections;
  auto handle = std::make_shared<SessionHandle>();
  handle->executor = stream.get_executor();
  handle->close = [&stream] { stream.cancel(); };
  const auto session_id = add_session(handle);

  beast::flat_buffer buffer(limits.max_header_bytes + limits.max_body_bytes + 4096);
  error_code ec;

  auto write_error = [&](http::status status, std::string message) -> asio::awaitable<void> {
    Error e{status == http::status::payload_too_large ? ErrorCode::kPayloadTooLarge : ErrorCode::kInvalidArgument,
            std::move(message), {}};
    auto res = api::error_response(e, 11, false);
    res.result(status);
    stream.expires_after(limits.write_timeout);
    error_code wec;
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, wec));
  };

  for (;;) {
    if (buffer.size() == 0) {
      // Between requests: the idle timeout applies until the next request's first byte.
      handle->busy = false;
      if (draining) break;
      stream.expires_after(limits.idle_timeout);
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
    stream.expires_after(limits.read_timeout);
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
        spdlog::info("request timed out transport={} peer={}", peer.transport == Transport::kUnix ? "unix" : "tcp",
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
    stream.expires_after(limits.write_timeout);
    co_await http::async_write(stream, response, asio::redirect_error(asio::use_awaitable, ec));
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started).count();
    const std::string_view target = request.target();
    spdlog::info("request method={} path={} status={} latency_us={} principal={} transport={}",
                 std::string_view(request.method_string()), target.substr(0, target.find('?')),
                 response.result_int(), micros, principal_id, peer.transport == Transport::kUnix ? "unix" : "tcp");
    const std::string route = api::route_of(target);
    metrics::registry().add("signerd_http_requests_total",
                            {{"route", route},
                             {"method", std::string(request.method_string())},
                             {"status", std::to_string(response.result_int())}});
    metrics::registry().observe("signerd_http_request_duration_seconds", {{"route", route}},
                                static_cast<double>(micros) / 1e6);
    if (ec || !response.keep_alive()) break;
  }

  handle->alive = false;
  error_code ignored;
  stream.socket().shutdown(asio::socket_base::shutdown_both, ignored);
  stream.close();
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
    spdlog::info("draining connections={}", handles.size());
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
      spdlog::warn("shutdown grace period over; closing the remaining connections");
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

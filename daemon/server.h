#pragma once
// The HTTP/1.1 front of signerd: listeners on a Unix socket and on TCP, one coroutine per connection, explicit
// limits (header and body size, read/idle/write timeouts, connection count), authentication of each request
// (a bearer token on either transport; without one, a Unix peer whose uid is trusted), and a graceful drain.
//
// Requests are decoded on the I/O threads; api::Api::handle runs on the worker pool because it blocks on the HSM
// and on durable writes. Thread-safety: construct, listen() and start() from one thread before the io_context runs;
// drain() may be called from any thread.
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <memory>
#include <vector>

#include "api/api.h"
#include "common/secret.h"
#include "config/config.h"

namespace signerd::daemon {

struct ServerOptions {
  config::ListenConfig listen;
  config::LimitsConfig limits;
  // Unix peers with these uids and no Authorization header act as the local administrator (kLocalAdmin).
  std::vector<std::uint32_t> unix_allowed_uids;
  // Checks "Authorization: Bearer <token>" (either transport). Runs on an I/O thread: it must be quick (no HSM, no
  // store round trip).
  std::function<Result<core::Principal>(std::string_view token)> authenticate_bearer;
  bool unix_health_without_auth = true;  // /healthz, /readyz, /metrics answer any Unix peer
  bool tcp_health_without_auth = false;  // ... or any TCP client
};

class Server {
 public:
  Server(boost::asio::io_context& io, boost::asio::thread_pool& workers, const api::Api& api, ServerOptions options);
  ~Server();

  // Takes the listening sockets systemd passed (socket activation, sd_listen_fds: a Unix stream socket replaces
  // listen.unix_socket, an AF_INET/AF_INET6 one replaces listen.tcp), then binds the configured sockets that were
  // not passed. Errors name the address and the reason (in use, permission, bad group, unsupported passed socket).
  Result<void> listen();

  // Replaces the uids allowed on the Unix socket (SIGHUP). Connections already open use the new list from their
  // next request.
  void set_unix_allowed_uids(std::vector<std::uint32_t> uids);

  // Open connections, for metrics.
  unsigned connections() const;
  // Starts accepting.
  void start();
  // Stops accepting, closes idle connections, lets in-flight requests finish and answer with Connection: close,
  // then calls `done` (on an I/O thread). After `grace`, remaining connections are closed and `done` is called.
  void drain(std::chrono::milliseconds grace, std::function<void()> done);

  // Where the listeners ended up (a configured port 0 picks a free port).
  std::string tcp_endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace signerd::daemon

// TLS on the TCP listener, end to end: the built daemon with a throwaway CA, server and client certificates made
// by the openssl CLI at test time; HTTPS clients built on Boost.Asio SSL that verify the server against that CA.
// Also the rule that TCP beyond loopback needs TLS, for a configured address and for a socket systemd passes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "tests/support/daemon_fixture.h"
#include "tests/support/test_pki.h"

namespace signerd::testing {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using namespace std::chrono_literals;

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct ClientCertificate {
  std::filesystem::path cert, key;
};

struct HttpsRequest {
  std::string target = "/healthz";
  std::optional<ClientCertificate> client_certificate;
  bool connection_close = false;  // ask the server to close after the reply
  bool wait_for_close = false;    // keep the connection open until the server closes it (e.g. draining)
};

struct HttpsResult {
  bool handshake = false;  // the client's side of the handshake completed
  int status = 0;          // 0: no HTTP response
  std::string body;
  std::string error;            // the first failure, if any
  std::string tls_version;      // "TLSv1.3", ...
  bool closed_cleanly = false;  // the connection ended with close_notify in both directions
};

// One HTTPS request to 127.0.0.1:port, verifying the server's certificate (chain and IP address) against `ca`.
// Every step runs under a timeout.
HttpsResult https(std::uint16_t port, const std::filesystem::path& ca, const HttpsRequest& request = {}) {
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  ctx.load_verify_file(ca.string());
  ctx.set_verify_mode(ssl::verify_peer);
  if (request.client_certificate) {
    ctx.use_certificate_chain_file(request.client_certificate->cert.string());
    ctx.use_private_key_file(request.client_certificate->key.string(), ssl::context::pem);
  }
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  stream.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
  HttpsResult result;
  auto exchange = [&]() -> asio::awaitable<void> {
    auto& tcp = beast::get_lowest_layer(stream);
    const auto on = [](error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); };
    error_code ec;
    tcp.expires_after(10s);
    co_await tcp.async_connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port), on(ec));
    if (ec) {
      result.error = "connect: " + ec.message();
      co_return;
    }
    co_await stream.async_handshake(ssl::stream_base::client, on(ec));
    if (ec) {
      result.error = "handshake: " + ec.message();
      co_return;
    }
    result.handshake = true;
    result.tls_version = SSL_get_version(stream.native_handle());
    http::request<http::empty_body> req{http::verb::get, request.target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(!request.connection_close);
    co_await http::async_write(stream, req, on(ec));
    if (ec) {
      result.error = "write: " + ec.message();
      co_return;
    }
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    co_await http::async_read(stream, buffer, res, on(ec));
    if (ec) {
      result.error = "read: " + ec.message();
      co_return;
    }
    result.status = res.result_int();
    result.body = res.body();
    if (request.connection_close || request.wait_for_close) {
      // The server closes: its close_notify reads as a clean end of stream (eof), not as a truncation.
      tcp.expires_after(30s);
      char byte;
      co_await stream.async_read_some(asio::buffer(&byte, 1), on(ec));
      result.closed_cleanly = ec == asio::error::eof;
      if (!result.closed_cleanly) result.error = "waiting for the server to close: " + ec.message();
    } else {
      // The client closes: the server answers close_notify with its own.
      co_await stream.async_shutdown(on(ec));
      result.closed_cleanly = !ec;
      if (ec) result.error = "shutdown: " + ec.message();
    }
  };
  asio::co_spawn(io, exchange(), asio::detached);
  io.run();
  return result;
}

const std::string kHealthOverTcp = "[auth]\nunauthenticated_health = [\"unix\", \"tcp\"]\n";

class TlsTest : public DaemonFixture {
 protected:
  TestPki pki_;
};

TEST_F(TlsTest, HttpsRequestGetsAnAnswerAndPlainHttpGetsNone) {
  start({.extra_config = kHealthOverTcp, .listen_config = pki_.listen_config()});
  const auto port = daemon_->port();

  const auto r = https(port, pki_.cert("ca"));
  EXPECT_TRUE(r.handshake) << r.error;
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_NE(r.body.find("ok"), std::string::npos) << r.body;
  EXPECT_EQ(r.tls_version, "TLSv1.3");
  EXPECT_TRUE(r.closed_cleanly) << r.error;

  const auto closing = https(port, pki_.cert("ca"), {.connection_close = true});
  EXPECT_EQ(closing.status, 200) << closing.error;
  EXPECT_TRUE(closing.closed_cleanly) << "the server must send close_notify: " << closing.error;

  // Authentication is unchanged by TLS: without a bearer token, anything but health gets 401.
  EXPECT_EQ(https(port, pki_.cert("ca"), {.target = "/keys"}).status, 401);

  // Plain HTTP on the TLS port: the handshake fails and no HTTP response comes back.
  auto plain = daemon_->tcp_client();
  plain.send_raw("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const auto [bytes, closed] = plain.read_until_closed(10s);
  EXPECT_TRUE(closed);
  EXPECT_EQ(bytes.find("HTTP/"), std::string::npos) << bytes;

  // The Unix socket stays plain HTTP.
  EXPECT_EQ(daemon_->unix_client().request("GET", "/healthz").status, 200);
  EXPECT_NE(daemon_->log().find("tls=on"), std::string::npos) << daemon_->log();
}

TEST_F(TlsTest, DrainClosesAnIdleTlsConnectionWithCloseNotify) {
  start({.extra_config = kHealthOverTcp, .listen_config = pki_.listen_config()});
  HttpsResult r;
  std::thread client([&] { r = https(daemon_->port(), pki_.cert("ca"), {.wait_for_close = true}); });
  // Once the request over TCP is logged, the connection is idle (start() made one over the Unix socket).
  const auto served_over_tcp = [&] {
    std::istringstream lines(daemon_->log());
    for (std::string line; std::getline(lines, line);) {
      if (line.find("path=/healthz status=200") != std::string::npos && line.ends_with("transport=tcp")) return true;
    }
    return false;
  };
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!served_over_tcp() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  const auto stopping = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon_->stop(SIGTERM), 0) << daemon_->log();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 5s) << "an idle keep-alive connection must not hold up a stop";
  client.join();
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_TRUE(r.closed_cleanly) << r.error;
}

TEST_F(TlsTest, ClientThatDoesNotTrustTheServerCertificateFailsTheHandshake) {
  start({.extra_config = kHealthOverTcp, .listen_config = pki_.listen_config()});
  const auto r = https(daemon_->port(), pki_.cert("other-ca"));
  EXPECT_FALSE(r.handshake);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("certificate verify failed"), std::string::npos) << r.error;
}

TEST_F(TlsTest, ClientCertificatesAreRequiredWhenAClientCaIsSet) {
  start({.extra_config = kHealthOverTcp, .listen_config = pki_.listen_config(/*client_ca=*/true)});
  const auto port = daemon_->port();

  // Without a certificate: refused (under TLS 1.3 the client learns it from the alert after its own Finished).
  const auto anonymous = https(port, pki_.cert("ca"));
  EXPECT_EQ(anonymous.status, 0);
  EXPECT_NE(anonymous.error.find("certificate required"), std::string::npos) << anonymous.error;

  // With a certificate from another CA: refused.
  const auto rogue =
      https(port, pki_.cert("ca"),
            {.client_certificate = ClientCertificate{pki_.cert("rogue-client"), pki_.key("rogue-client")}});
  EXPECT_EQ(rogue.status, 0);
  EXPECT_FALSE(rogue.error.empty());

  // With the client certificate: served.
  const auto known =
      https(port, pki_.cert("ca"), {.client_certificate = ClientCertificate{pki_.cert("client"), pki_.key("client")}});
  EXPECT_TRUE(known.handshake) << known.error;
  EXPECT_EQ(known.status, 200) << known.error;

  const auto log = daemon_->log();
  EXPECT_NE(log.find("tls=mutual"), std::string::npos) << log;
  EXPECT_NE(log.find("TLS handshake failed"), std::string::npos) << log;
  // The Unix socket needs no certificate.
  EXPECT_EQ(daemon_->unix_client().request("GET", "/healthz").status, 200);
}

TEST_F(TlsTest, NonLoopbackAddressWithoutTlsStopsStartUp) {
  DaemonProcess d({.tcp_host = "0.0.0.0"});
  EXPECT_EQ(d.run_to_exit(), 78);  // EX_CONFIG
  const auto log = d.log();
  EXPECT_NE(log.find("listen.tcp = \"0.0.0.0:" + std::to_string(d.port()) + "\" is not a loopback address"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("TLS is required (set listen.tls_cert_file and listen.tls_key_file)"), std::string::npos) << log;
}

TEST_F(TlsTest, NonLoopbackAddressWithTlsStarts) {
  start({.extra_config = kHealthOverTcp, .tcp_host = "0.0.0.0", .listen_config = pki_.listen_config()});
  const auto r = https(daemon_->port(), pki_.cert("ca"));
  EXPECT_EQ(r.status, 200) << r.error;
}

TEST_F(TlsTest, KeyFileReadableByOthersStopsStartUpNamingIt) {
  ::chmod(pki_.key("server").c_str(), 0644);
  DaemonProcess d({.listen_config = pki_.listen_config()});
  EXPECT_EQ(d.run_to_exit(), 78);
  const auto log = d.log();
  EXPECT_NE(log.find("listen.tls_key_file"), std::string::npos) << log;
  EXPECT_NE(log.find(pki_.key("server").string()), std::string::npos) << log;
  EXPECT_NE(log.find("readable by other users"), std::string::npos) << log;
  EXPECT_EQ(log.find("PRIVATE KEY"), std::string::npos) << "the key must never be logged";
}

TEST_F(TlsTest, BadCertificateFilesStopStartUpNamingThem) {
  const auto garbage = pki_.dir() / "garbage.pem";
  std::ofstream(garbage) << "not-a-certificate-7f3a\n";
  struct Case {
    std::string listen;
    std::string fragment;
  };
  const Case cases[] = {
      {"tls_cert_file = \"" + garbage.string() + "\"\ntls_key_file = \"" + pki_.key("server").string() + "\"\n",
       "listen.tls_cert_file " + garbage.string()},
      {"tls_cert_file = \"" + (pki_.dir() / "missing.pem").string() + "\"\ntls_key_file = \"" +
           pki_.key("server").string() + "\"\n",
       "listen.tls_cert_file " + (pki_.dir() / "missing.pem").string() + ": cannot read it"},
      // The client's key with the server's certificate.
      {"tls_cert_file = \"" + pki_.cert("server").string() + "\"\ntls_key_file = \"" + pki_.key("client").string() +
           "\"\n",
       "listen.tls_key_file " + pki_.key("client").string()},
      {pki_.listen_config() + "tls_client_ca_file = \"" + garbage.string() + "\"\n",
       "listen.tls_client_ca_file " + garbage.string()},
  };
  for (const auto& c : cases) {
    DaemonProcess d({.listen_config = c.listen});
    EXPECT_EQ(d.run_to_exit(), 78) << c.listen;
    const auto log = d.log();
    EXPECT_NE(log.find(c.fragment), std::string::npos) << c.fragment << "\n" << log;
    EXPECT_EQ(log.find("not-a-certificate-7f3a"), std::string::npos) << "file contents must never be logged";
    EXPECT_EQ(log.find("PRIVATE KEY"), std::string::npos) << "the key must never be logged";
  }
}

// signerd started as systemd would with socket activation: a listening TCP socket as fd 3, LISTEN_FDS=1 and
// LISTEN_PID set to the daemon's pid. The daemon's config and token come from a DaemonProcess that is not started.
class SocketActivated {
 public:
  SocketActivated(const DaemonProcess& d, const std::string& address) : log_(d.dir() / "activated.log") {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    const std::string bin = DaemonProcess::binary(), conf = d.config_path().string(), log = log_.string();
    pid_ = ::fork();
    if (pid_ == 0) {
      if (fd != 3) {
        ::dup2(fd, 3);  // the copy does not inherit FD_CLOEXEC
        ::close(fd);
      }
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::setenv("LISTEN_FDS", "1", 1);
      ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
      ::unsetenv("LISTEN_FDNAMES");
      ::execl(bin.c_str(), bin.c_str(), "--config", conf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fd);
  }
  ~SocketActivated() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Sends `signo` (none when 0) and waits for the exit status; -2 after `timeout`.
  int wait(int signo = 0, std::chrono::milliseconds timeout = 20s) {
    if (signo != 0 && pid_ > 0) ::kill(pid_, signo);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    return running() ? -2 : status_;
  }
  // Reaps the daemon when it has exited.
  bool running() {
    int status = 0;
    if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return pid_ > 0;
  }
  std::uint16_t port() const { return port_; }
  std::string log() const { return read_text(log_); }

 private:
  std::filesystem::path log_;
  std::uint16_t port_ = 0;
  int pid_ = -1;
  int status_ = -1;
};

TEST_F(TlsTest, PassedNonLoopbackSocketWithoutTlsStopsStartUp) {
  DaemonProcess d;
  SocketActivated activated(d, "0.0.0.0");
  EXPECT_EQ(activated.wait(), 78);
  const auto log = activated.log();
  EXPECT_NE(log.find("the TCP socket systemd passed (fd 3, 0.0.0.0:" + std::to_string(activated.port()) +
                     ") is not on a loopback address: TLS is required"),
            std::string::npos)
      << log;
}

TEST_F(TlsTest, PassedNonLoopbackSocketWithTlsServesHttps) {
  DaemonProcess d({.extra_config = kHealthOverTcp, .listen_config = pki_.listen_config()});
  SocketActivated activated(d, "0.0.0.0");
  HttpsResult r;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline && activated.running()) {
    // The socket accepts before the daemon runs; a request made too early waits in the backlog and is served.
    r = https(activated.port(), pki_.cert("ca"));
    if (r.status == 200) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(r.status, 200) << r.error << "\n" << activated.log();
  EXPECT_EQ(activated.wait(SIGTERM), 0) << activated.log();
}

}  // namespace
}  // namespace signerd::testing

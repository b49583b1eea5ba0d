#pragma once
// The built signerd as a child process, for end-to-end tests: a real SoftHSM token, a config file in a temporary
// directory, the real Unix socket and a TCP port on loopback. Plus a small synchronous HTTP client for both.
#include <boost/json/value.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "tests/support/softhsm_token.h"

namespace signerd::testing {

struct HttpReply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
  boost::json::value json() const;             // parsed body (null when not JSON)
};

// One keep-alive connection to the daemon.
class HttpClient {
 public:
  static HttpClient unix_socket(const std::filesystem::path& path);
  static HttpClient tcp(std::uint16_t port);
  HttpClient(HttpClient&&) noexcept;
  ~HttpClient();

  // Sends one request and reads the reply. Throws std::runtime_error when the connection fails or closes.
  HttpReply request(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::map<std::string, std::string>& headers = {});
  // Raw bytes, for malformed and slow requests.
  void send_raw(const std::string& bytes);
  // Reads until the peer closes or `timeout` passes; returns what arrived and whether the peer closed.
  std::pair<std::string, bool> read_until_closed(std::chrono::milliseconds timeout);

 private:
  explicit HttpClient(int fd);
  int fd_ = -1;
  std::string pending_;
};

struct DaemonOptions {
  std::string module = SoftHsmToken::module_path();
  std::string extra_config;          // TOML appended verbatim (sections [limits], [auth] ...)
  // listen.tcp is "<tcp_host>:<port()>"; listen_config holds more TOML lines for [listen] (e.g. the TLS files).
  std::string tcp_host = "127.0.0.1";
  std::string listen_config;
  std::string pin_override;          // write this PIN to the pin file instead of the token's
  std::string token_label_override;
  std::map<std::string, std::string> env;  // extra environment for the daemon
};

class DaemonProcess {
 public:
  // Creates the token and the files; does not start the daemon.
  explicit DaemonProcess(DaemonOptions options = {});
  ~DaemonProcess();  // SIGKILLs a daemon still running

  // Starts signerd and waits until it answers HTTP on /healthz over the Unix socket. False (with log()) when it exited.
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Sends a signal (none when 0) and waits for exit; returns the exit status, 128 + signal when killed by one, or
  // -2 when it had to be killed after `timeout`.
  int stop(int signo = 15, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Runs signerd to completion (for start-up failures) and returns its exit status.
  int run_to_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  bool running() const;
  int pid() const { return pid_; }

  HttpClient unix_client() const { return HttpClient::unix_socket(socket_path()); }
  HttpClient tcp_client() const { return HttpClient::tcp(port_); }
  std::filesystem::path socket_path() const { return dir_.path() / "signerd.sock"; }
  std::filesystem::path db_path() const { return dir_.path() / "signerd.db"; }
  std::filesystem::path config_path() const { return dir_.path() / "signerd.toml"; }
  std::uint16_t port() const { return port_; }
  std::string log() const;  // everything the daemon wrote to stderr
  SoftHsmToken& token() { return hsm_; }
  const std::filesystem::path& dir() const { return dir_.path(); }

  static std::string binary();  // SIGNERD_BINARY (set at build time)
  static std::uint16_t free_port();

 private:
  void spawn();

  SoftHsmToken hsm_;
  TempDir dir_;
  DaemonOptions options_;
  std::uint16_t port_ = 0;
  int pid_ = -1;
};

}  // namespace signerd::testing

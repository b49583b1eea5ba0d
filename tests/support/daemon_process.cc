#include "tests/support/daemon_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace signerd::testing {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void write_file(const std::filesystem::path& p, const std::string& content, mode_t mode) {
  {
    std::ofstream out(p, std::ios::trunc);
    out << content;
  }
  ::chmod(p.c_str(), mode);
}

}  // namespace

boost::json::value HttpReply::json() const {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  return ec ? boost::json::value() : v;
}

HttpClient::HttpClient(int fd) : fd_(fd) {}
HttpClient::HttpClient(HttpClient&& o) noexcept : fd_(o.fd_), pending_(std::move(o.pending_)) { o.fd_ = -1; }
HttpClient::~HttpClient() {
  if (fd_ >= 0) ::close(fd_);
}

HttpClient HttpClient::unix_socket(const std::filesystem::path& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect " + path.string() + ": " + std::strerror(errno));
  }
  return HttpClient(fd);
}

HttpClient HttpClient::tcp(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return HttpClient(fd);
}

void HttpClient::send_raw(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
    off += static_cast<std::size_t>(n);
  }
}

std::pair<std::string, bool> HttpClient::read_until_closed(std::chrono::milliseconds timeout) {
  std::string out = std::move(pending_);
  pending_.clear();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return {out, false};
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {out, false};
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return {out, true};
    out.append(buf, static_cast<std::size_t>(n));
  }
}

HttpReply HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                              const std::map<std::string, std::string>& headers) {
  std::ostringstream req;
  req << method << ' ' << target << " HTTP/1.1\r\nHost: localhost\r\n";
  for (const auto& [k, v] : headers) req << k << ": " << v << "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req << "Content-Type: application/json\r\nContent-Length: " << body.size() << "\r\n";
  }
  req << "\r\n" << body;
  send_raw(req.str());

  // Read the head, then Content-Length bytes of body.
  std::string& buf = pending_;
  auto fill = [&] {
    char chunk[8192];
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) throw std::runtime_error("timed out waiting for a response");
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) throw std::runtime_error("connection closed before a full response");
    buf.append(chunk, static_cast<std::size_t>(n));
  };
  std::size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) fill();
  HttpReply reply;
  std::istringstream head(buf.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  reply.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    reply.headers[lower(line.substr(0, colon))] = value;
  }
  const std::size_t length =
      reply.headers.contains("content-length") ? std::stoul(reply.headers["content-length"]) : 0;
  while (buf.size() < head_end + 4 + length) fill();
  reply.body = buf.substr(head_end + 4, length);
  buf.erase(0, head_end + 4 + length);
  return reply;
}

std::string DaemonProcess::binary() {
#ifdef SIGNERD_BINARY
  return SIGNERD_BINARY;
#else
  return "signerd";
#endif
}

std::uint16_t DaemonProcess::free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

DaemonProcess::DaemonProcess(DaemonOptions options)
    : hsm_("e2e"), options_(std::move(options)), port_(free_port()) {
  const auto d = dir_.path();
  write_file(d / "pin", (options_.pin_override.empty() ? hsm_.pin() : options_.pin_override) + "\n", 0600);
  std::ostringstream c;
  c << "[hsm]\nmodule = \"" << options_.module << "\"\n"
    << "token_label = \"" << (options_.token_label_override.empty() ? hsm_.label() : options_.token_label_override)
    << "\"\npin_file = \"" << (d / "pin").string() << "\"\n"
    << "[store]\npath = \"" << db_path().string() << "\"\n"
    << "[listen]\nunix_socket = \"" << socket_path().string() << "\"\n"
    << "tcp = \"" << options_.tcp_host << ":" << port_ << "\"\n"
    << options_.listen_config
    << "[log]\nlevel = \"info\"\n"
    << options_.extra_config;
  write_file(config_path(), c.str(), 0600);
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void DaemonProcess::spawn() {
  const std::string log_path = (dir_.path() / "signerd.log").string();
  const std::string bin = binary();
  const std::string conf = config_path().string();
  pid_ = ::fork();
  if (pid_ == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ::dup2(fd, 2);
    ::dup2(fd, 1);
    for (const auto& [k, v] : options_.env) ::setenv(k.c_str(), v.c_str(), 1);
    ::execl(bin.c_str(), bin.c_str(), "--config", conf.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
}

bool DaemonProcess::start(std::chrono::milliseconds timeout) {
  spawn();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (std::filesystem::exists(socket_path())) {
      try {
        // Any HTTP answer means it is serving (a test may have configured this uid out of the allow-list).
        if (unix_client().request("GET", "/healthz").status != 0) return true;
      } catch (const std::exception&) {
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int DaemonProcess::run_to_exit(std::chrono::milliseconds timeout) {
  spawn();
  return stop(0, timeout);
}

int DaemonProcess::stop(int signo, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  if (signo != 0) ::kill(pid_, signo);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return -2;  // did not stop in time
}

bool DaemonProcess::running() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }

std::string DaemonProcess::log() const {
  std::ifstream in(dir_.path() / "signerd.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace signerd::testing

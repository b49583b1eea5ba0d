// signerd_load: a closed-loop load generator for signerd's Keys API. Each client is one thread with one keep-alive
// HTTP/1.1 connection (Unix socket or TCP) that sends a request, waits for the whole response and sends the next.
// It reports throughput of successful requests, latency percentiles over every successful request of every client,
// and errors by HTTP status, as one JSON line on stdout and one human line on stderr.
//
// The HTTP client is a deliberately small blocking one (a request writer and a response reader that handles
// Content-Length, chunked bodies and Connection: close), so that what is measured is the daemon, not a framework.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <latch>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/latency_stats.h"

namespace signerd::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
constexpr std::size_t kMaxBodyBytes = 1024 * 1024;

struct Endpoint {
  bool unix_socket = true;
  std::string path;  // Unix socket
  std::string host;  // TCP
  std::string port;
  std::string describe() const { return unix_socket ? "unix:" + path : "tcp:" + host + ":" + port; }
};

// Why a request produced no HTTP response. Distinguished in the report because they point at different causes.
enum class TransportError { kConnect, kWrite, kRead, kTimeout, kClosed, kMalformed };

std::string_view name(TransportError e) {
  switch (e) {
    case TransportError::kConnect:
      return "connect";
    case TransportError::kWrite:
      return "write";
    case TransportError::kRead:
      return "read";
    case TransportError::kTimeout:
      return "timeout";
    case TransportError::kClosed:
      return "closed";
    case TransportError::kMalformed:
      return "malformed";
  }
  return "unknown";
}

struct Response {
  int status = 0;
  std::string body;
};

// One blocking keep-alive connection. Not thread-safe: each client thread owns one. Any transport failure closes the
// socket; the next request reconnects.
class Connection {
 public:
  Connection(Endpoint endpoint, std::chrono::milliseconds timeout)
      : endpoint_(std::move(endpoint)), timeout_(timeout) {}
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // errno of the last failed system call, for messages at set-up time.
  int last_errno() const { return last_errno_; }
  std::uint64_t connects() const { return connects_; }

  std::optional<TransportError> connect() {
    close();
    int fd = -1;
    if (endpoint_.unix_socket) {
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      if (endpoint_.path.size() >= sizeof addr.sun_path) return TransportError::kConnect;
      std::memcpy(addr.sun_path, endpoint_.path.c_str(), endpoint_.path.size() + 1);
      fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return TransportError::kConnect;
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        last_errno_ = errno;
        ::close(fd);
        return TransportError::kConnect;
      }
    } else {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* found = nullptr;
      if (::getaddrinfo(endpoint_.host.c_str(), endpoint_.port.c_str(), &hints, &found) != 0) {
        return TransportError::kConnect;
      }
      for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
        fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        last_errno_ = errno;
        ::close(fd);
        fd = -1;
      }
      ::freeaddrinfo(found);
      if (fd < 0) return TransportError::kConnect;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout_.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout_.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    fd_ = fd;
    buffer_.clear();
    ++connects_;
    return std::nullopt;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buffer_.clear();
  }

  // Sends one request and reads its whole response. On failure the connection is closed.
  std::optional<TransportError> exchange(std::string_view request, Response& response) {
    if (!connected()) {
      if (auto e = connect()) return e;
    }
    if (auto e = write_all(request)) return fail(*e);
    bool close_after = false;
    if (auto e = read_response(response, close_after)) return fail(*e);
    if (close_after) close();
    return std::nullopt;
  }

 private:
  TransportError fail(TransportError e) {
    last_errno_ = errno;
    close();
    return e;
  }

  std::optional<TransportError> write_all(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? TransportError::kTimeout : TransportError::kWrite;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return std::nullopt;
  }

  // Appends whatever the socket has to buffer_.
  std::optional<TransportError> fill() {
    char chunk[16 * 1024];
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return std::nullopt;
      }
      if (n == 0) return TransportError::kClosed;
      if (errno == EINTR) continue;
      return (errno == EAGAIN || errno == EWOULDBLOCK) ? TransportError::kTimeout : TransportError::kRead;
    }
  }

  // Takes one CRLF-terminated line off the front of buffer_, reading more as needed.
  std::optional<TransportError> take_line(std::string& line) {
    std::size_t eol;
    while ((eol = buffer_.find("\r\n")) == std::string::npos) {
      if (buffer_.size() > kMaxHeaderBytes) return TransportError::kMalformed;
      if (auto e = fill()) return e;
    }
    line.assign(buffer_, 0, eol);
    buffer_.erase(0, eol + 2);
    return std::nullopt;
  }

  std::optional<TransportError> take_bytes(std::size_t n, std::string& out) {
    while (buffer_.size() < n) {
      if (auto e = fill()) return e;
    }
    out.append(buffer_, 0, n);
    buffer_.erase(0, n);
    return std::nullopt;
  }

  static std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }

  static std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }

  std::optional<TransportError> read_response(Response& response, bool& close_after) {
    response = Response{};
    std::string line;
    for (;;) {  // skip interim 1xx responses
      if (auto e = take_line(line)) return e;
      // "HTTP/1.1 200 OK"
      if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0) return TransportError::kMalformed;
      const auto sp = line.find(' ');
      if (sp == std::string::npos || sp + 4 > line.size()) return TransportError::kMalformed;
      response.status = std::atoi(line.c_str() + sp + 1);
      if (response.status < 100 || response.status > 599) return TransportError::kMalformed;
      close_after = line.compare(0, 8, "HTTP/1.0") == 0;

      std::optional<std::size_t> content_length;
      bool chunked = false;
      for (;;) {
        if (auto e = take_line(line)) return e;
        if (line.empty()) break;
        const auto colon = line.find(':');
        if (colon == std::string::npos) return TransportError::kMalformed;
        const std::string field = lower(trim(std::string_view(line).substr(0, colon)));
        const std::string value = lower(trim(std::string_view(line).substr(colon + 1)));
        if (field == "content-length") {
          content_length = std::strtoull(value.c_str(), nullptr, 10);
        } else if (field == "transfer-encoding") {
          chunked = value.find("chunked") != std::string::npos;
        } else if (field == "connection") {
          if (value.find("close") != std::string::npos) close_after = true;
          if (value.find("keep-alive") != std::string::npos) close_after = false;
        }
      }
      if (response.status < 200) continue;
      if (response.status == 204 || response.status == 304) return std::nullopt;

      if (chunked) {
        for (;;) {
          if (auto e = take_line(line)) return e;
          const std::size_t size = std::strtoull(line.c_str(), nullptr, 16);
          if (size == 0) {
            do {  // trailers up to the empty line
              if (auto e = take_line(line)) return e;
            } while (!line.empty());
            return std::nullopt;
          }
          if (response.body.size() + size > kMaxBodyBytes) return TransportError::kMalformed;
          if (auto e = take_bytes(size, response.body)) return e;
          if (auto e = take_line(line)) return e;
          if (!line.empty()) return TransportError::kMalformed;
        }
      }
      if (content_length) {
        if (*content_length > kMaxBodyBytes) return TransportError::kMalformed;
        return take_bytes(*content_length, response.body);
      }
      // Neither: the body runs to the end of the connection.
      close_after = true;
      for (;;) {
        auto e = fill();
        if (e == TransportError::kClosed) break;
        if (e) return e;
        if (buffer_.size() > kMaxBodyBytes) return TransportError::kMalformed;
      }
      response.body = std::move(buffer_);
      buffer_.clear();
      return std::nullopt;
    }
  }

  Endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  int fd_ = -1;
  std::string buffer_;  // bytes received but not yet consumed
  std::uint64_t connects_ = 0;
  int last_errno_ = 0;
};

std::string describe(TransportError e, const Connection& conn) {
  std::string out(name(e));
  if (e != TransportError::kClosed && e != TransportError::kMalformed && conn.last_errno() != 0) {
    out += std::string(" (") + std::strerror(conn.last_errno()) + ")";
  }
  return out;
}

struct Options {
  std::string unix_path;
  std::string tcp;
  std::string token_file;
  unsigned clients = 8;
  double seconds = 5;
  double warmup = 1;
  std::string curve = "secp256k1";
  std::string mode = "sign";
  std::string kind = "auto";
  unsigned timeout_ms = 30000;
};

std::string create_body(const std::string& curve) {
  if (curve == "secp256k1") return R"({"scheme":"ECDSA","curve":"secp256k1"})";
  if (curve == "p256") return R"({"scheme":"ECDSA","curve":"secp256r1"})";
  return R"({"scheme":"EdDSA","curve":"ed25519"})";
}

// The "id" string member of a JSON object, found without a JSON library: key ids are plain ASCII.
std::optional<std::string> json_id(std::string_view body) {
  const auto key = body.find("\"id\"");
  if (key == std::string_view::npos) return std::nullopt;
  std::size_t i = key + 4;
  auto skip_ws = [&] {
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r')) ++i;
  };
  skip_ws();
  if (i >= body.size() || body[i] != ':') return std::nullopt;
  ++i;
  skip_ws();
  if (i >= body.size() || body[i] != '"') return std::nullopt;
  const auto end = body.find('"', i + 1);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(body.substr(i + 1, end - i - 1));
}

std::string random_hex32(std::mt19937_64& rng) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  out.reserve(66);
  for (int word = 0; word < 4; ++word) {
    std::uint64_t r = rng();
    for (int nibble = 0; nibble < 16; ++nibble, r >>= 4) out += kDigits[r & 0xf];
  }
  return out;
}

class RequestWriter {
 public:
  explicit RequestWriter(std::string authorization) : authorization_(std::move(authorization)) {}

  std::string post(std::string_view target, std::string_view body) const {
    std::string r;
    r.reserve(256 + body.size());
    r.append("POST ").append(target).append(" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n");
    if (!authorization_.empty()) r.append("Authorization: Bearer ").append(authorization_).append("\r\n");
    r.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n").append(body);
    return r;
  }

 private:
  std::string authorization_;
};

std::string sign_body(const std::string& kind, std::mt19937_64& rng) {
  if (kind == "Message") return R"({"kind":"Message","message":")" + random_hex32(rng) + "\"}";
  return R"({"kind":"Hash","hash":")" + random_hex32(rng) + "\"}";
}

bool is_success(const std::string& mode, const Response& r) {
  if (r.status != 200) return false;
  if (mode == "sign") return r.body.find("Signed") != std::string::npos;
  return json_id(r.body).has_value();
}

std::string excerpt(const std::string& body) { return body.size() > 300 ? body.substr(0, 300) + "…" : body; }

struct ClientResult {
  std::vector<std::int64_t> latencies_ns;
  std::map<std::string, std::uint64_t> errors;  // "500", "200-unsigned", "io:timeout", ...
  std::uint64_t requests = 0;
  std::uint64_t reconnects = 0;
  Clock::time_point finished;
};

int run(const Options& opt) {
  Endpoint endpoint;
  if (!opt.unix_path.empty()) {
    endpoint.path = opt.unix_path;
  } else {
    endpoint.unix_socket = false;
    const auto colon = opt.tcp.rfind(':');
    if (colon == std::string::npos || colon == 0) throw std::runtime_error("--tcp wants HOST:PORT");
    endpoint.host = opt.tcp.substr(0, colon);
    if (endpoint.host.size() > 2 && endpoint.host.front() == '[')
      endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
    endpoint.port = opt.tcp.substr(colon + 1);
  }
  std::string token;
  if (!opt.token_file.empty()) {
    std::ifstream in(opt.token_file);
    if (!in) throw std::runtime_error("cannot read token file " + opt.token_file);
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  }
  const RequestWriter writer(token);
  const std::chrono::milliseconds timeout(opt.timeout_ms);
  std::mt19937_64 setup_rng(std::random_device{}());

  // Sign mode signs with one key, created here, and checks once that signing works before measuring anything.
  std::string sign_target;
  std::string kind = opt.kind == "hash" ? "Hash" : opt.kind == "message" ? "Message" : "";
  if (opt.mode == "sign") {
    Connection setup(endpoint, timeout);
    Response r;
    if (auto e = setup.exchange(writer.post("/keys", create_body(opt.curve)), r)) {
      throw std::runtime_error("POST /keys to " + endpoint.describe() + ": " + describe(*e, setup));
    }
    const auto id = json_id(r.body);
    if (r.status != 200 || !id) {
      throw std::runtime_error("POST /keys answered " + std::to_string(r.status) + ": " + excerpt(r.body));
    }
    sign_target = "/keys/" + *id + "/signatures";
    // auto: Hash, and for ed25519 fall back to Message if the daemon refuses a hash (EdDSA signs messages).
    std::vector<std::string> kinds =
        kind.empty() ? std::vector<std::string>{"Hash", "Message"} : std::vector<std::string>{kind};
    if (kind.empty() && opt.curve != "ed25519") kinds.pop_back();
    std::string tried;
    kind.clear();
    for (const auto& k : kinds) {
      if (auto e = setup.exchange(writer.post(sign_target, sign_body(k, setup_rng)), r)) {
        throw std::runtime_error("POST " + sign_target + ": " + describe(*e, setup));
      }
      if (is_success("sign", r)) {
        kind = k;
        break;
      }
      tried += " " + k + " -> " + std::to_string(r.status) + " " + excerpt(r.body) + ";";
    }
    if (kind.empty()) throw std::runtime_error("signing with " + *id + " fails:" + tried);
  }

  const unsigned n = opt.clients;
  std::vector<ClientResult> results(n);
  std::latch ready(n);
  std::latch go(1);
  Clock::time_point measure_start, end;

  auto client = [&](unsigned index) {
    ClientResult& result = results[index];
    Connection conn(endpoint, timeout);
    std::mt19937_64 rng(std::random_device{}() + index);
    conn.connect();  // a failure here shows up as the first request's error
    ready.count_down();
    go.wait();
    result.latencies_ns.reserve(1 << 16);
    const std::string create_request = writer.post("/keys", create_body(opt.curve));
    std::string request;
    Response response;
    for (;;) {
      const std::string* to_send = &create_request;
      if (opt.mode == "sign") {
        request = writer.post(sign_target, sign_body(kind, rng));
        to_send = &request;
      }
      const auto t0 = Clock::now();
      if (t0 >= end) break;
      const auto error = conn.exchange(*to_send, response);
      const auto t1 = Clock::now();
      // A daemon that refuses connections would otherwise be hammered in a tight loop.
      if (error == TransportError::kConnect) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (t0 < measure_start) continue;  // warm-up
      ++result.requests;
      if (error) {
        ++result.errors["io:" + std::string(name(*error))];
      } else if (is_success(opt.mode, response)) {
        result.latencies_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
      } else if (response.status == 200) {
        ++result.errors[opt.mode == "sign" ? "200-unsigned" : "200-no-id"];
      } else {
        ++result.errors[std::to_string(response.status)];
      }
    }
    result.finished = Clock::now();
    result.reconnects = conn.connects() > 0 ? conn.connects() - 1 : 0;
  };

  std::vector<std::thread> threads;
  threads.reserve(n);
  for (unsigned i = 0; i < n; ++i) threads.emplace_back(client, i);
  ready.wait();
  const auto start = Clock::now();
  measure_start = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.warmup));
  end = measure_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.seconds));
  go.count_down();
  for (auto& t : threads) t.join();

  std::vector<std::int64_t> all;
  std::map<std::string, std::uint64_t> errors;
  std::uint64_t requests = 0, error_count = 0, reconnects = 0;
  Clock::time_point last = measure_start;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ns.begin(), r.latencies_ns.end());
    for (const auto& [what, count] : r.errors) {
      errors[what] += count;
      error_count += count;
    }
    requests += r.requests;
    reconnects += r.reconnects;
    last = std::max(last, r.finished);
  }
  const double elapsed = std::chrono::duration<double>(last - measure_start).count();
  const LatencySummary s = summarize(std::move(all));
  const double ops_per_s = elapsed > 0 ? static_cast<double>(s.count) / elapsed : 0;

  std::ostringstream json;
  json << "{\"tool\":\"signerd_load\",\"target\":" << json_quote(endpoint.describe())
       << ",\"mode\":" << json_quote(opt.mode) << ",\"curve\":" << json_quote(opt.curve);
  if (opt.mode == "sign") json << ",\"kind\":" << json_quote(kind);
  json << ",\"clients\":" << n << ",\"warmup_s\":" << fixed(opt.warmup) << ",\"seconds\":" << fixed(elapsed, 3)
       << ",\"requests\":" << requests << ",\"ok\":" << s.count << ",\"errors\":" << error_count
       << ",\"ops_per_s\":" << fixed(ops_per_s) << ",\"p50_us\":" << fixed(s.p50_us)
       << ",\"p90_us\":" << fixed(s.p90_us) << ",\"p99_us\":" << fixed(s.p99_us) << ",\"max_us\":" << fixed(s.max_us)
       << ",\"mean_us\":" << fixed(s.mean_us) << ",\"reconnects\":" << reconnects << ",\"errors_by_status\":{";
  bool first = true;
  for (const auto& [what, count] : errors) {
    json << (first ? "" : ",") << json_quote(what) << ":" << count;
    first = false;
  }
  json << "}}";
  std::cout << json.str() << std::endl;

  std::cerr << "load " << opt.mode << " " << opt.curve << " " << endpoint.describe() << " clients=" << n << ": "
            << fixed(ops_per_s) << " ops/s, p50 " << fixed(s.p50_us / 1000) << " ms, p90 " << fixed(s.p90_us / 1000)
            << " ms, p99 " << fixed(s.p99_us / 1000) << " ms, max " << fixed(s.max_us / 1000) << " ms, " << error_count
            << " errors";
  for (const auto& [what, count] : errors) std::cerr << " [" << what << "=" << count << "]";
  std::cerr << "\n";
  return error_count == 0 && s.count > 0 ? 0 : 1;
}

}  // namespace
}  // namespace signerd::bench

int main(int argc, char** argv) {
  signerd::bench::Options opt;
  CLI::App app{"Closed-loop load generator for signerd's Keys API over keep-alive HTTP/1.1"};
  auto* unix_opt = app.add_option("--unix", opt.unix_path, "daemon's Unix socket");
  auto* tcp_opt = app.add_option("--tcp", opt.tcp, "daemon's TCP listener, HOST:PORT");
  unix_opt->excludes(tcp_opt);
  app.add_option("--token-file", opt.token_file, "file with the bearer token sent as Authorization");
  app.add_option("--clients", opt.clients, "concurrent clients, one thread and connection each")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  app.add_option("--seconds", opt.seconds, "measured duration")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--warmup", opt.warmup, "unmeasured lead-in")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--curve", opt.curve, "key curve")
      ->check(CLI::IsMember({"secp256k1", "p256", "ed25519"}))
      ->capture_default_str();
  app.add_option("--mode", opt.mode, "sign: sign with one key; create: create keys")
      ->check(CLI::IsMember({"sign", "create"}))
      ->capture_default_str();
  app.add_option("--kind", opt.kind, "signature request kind; auto = Hash, or Message if ed25519 refuses Hash")
      ->check(CLI::IsMember({"auto", "hash", "message"}))
      ->capture_default_str();
  app.add_option("--timeout-ms", opt.timeout_ms, "per-request socket timeout")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (opt.unix_path.empty() && opt.tcp.empty()) {
    std::cerr << "signerd_load: one of --unix or --tcp is required\n";
    return 2;
  }
  try {
    return signerd::bench::run(opt);
  } catch (const std::exception& e) {
    std::cerr << "signerd_load: " << e.what() << "\n";
    return 2;
  }
}

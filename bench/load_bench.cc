// signerd_load: a closed-loop load generator for signerd's Keys API. Each client is one thread with one keep-alive
// HTTP/1.1 connection (Unix socket or TCP) that sends a request, waits for the whole response and sends the next.
// It reports throughput of successful requests, latency percentiles over every successful request of every client,
// and errors by HTTP status, as one JSON line on stdout and one human line on stderr.
//
// The HTTP client is a deliberately small blocking one (a request writer and a response reader that handles
// Content-Length, chunked bodies and Connection: close), so that what is measured is the daemon, not a framework.
//
// With --token-file the requests carry "Authorization: Bearer <JWT>". With --cred-id and --credential-key-file as
// well, every mutating request (key creation, signing) is preceded by the user-action flow of the Dfns API on the
// same connection: POST /auth/action/init for the exact body, an ECDSA-SHA256 (DER) signature by the client's
// credential key over clientData {"type":"key.get","challenge":…}, POST /auth/action, then the request with
// x-dfns-useraction. One operation is the whole sequence: its latency and ops/s cover all three round trips and the
// client's signature, and the report adds the mean time of each step.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
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
#include <expected>
#include <fstream>
#include <iostream>
#include <latch>
#include <map>
#include <memory>
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
    case TransportError::kConnect: return "connect";
    case TransportError::kWrite: return "write";
    case TransportError::kRead: return "read";
    case TransportError::kTimeout: return "timeout";
    case TransportError::kClosed: return "closed";
    case TransportError::kMalformed: return "malformed";
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
  std::string cred_id;
  std::string credential_key_file;
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

// The first string member named `key` of a JSON object, found without a JSON library. Only for the values this tool
// reads (ids, challenges, user-action tokens: plain ASCII without escapes); nullopt for anything else.
std::optional<std::string> json_string_member(std::string_view body, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  const auto at = body.find(quoted);
  if (at == std::string_view::npos) return std::nullopt;
  std::size_t i = at + quoted.size();
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
  const std::string_view value = body.substr(i + 1, end - i - 1);
  if (value.find('\\') != std::string_view::npos) return std::nullopt;
  return std::string(value);
}

std::optional<std::string> json_id(std::string_view body) { return json_string_member(body, "id"); }

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

std::string excerpt(const std::string& body) { return body.size() > 300 ? body.substr(0, 300) + "…" : body; }

std::string base64url(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(data[k])); };
  for (; i + 2 < data.size(); i += 3) {
    const unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (data.size() - i == 1) {
    const unsigned v = byte(i) << 16;
    for (int shift : {18, 12}) out += kAlphabet[(v >> shift) & 63];
  } else if (data.size() - i == 2) {
    const unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
    for (int shift : {18, 12, 6}) out += kAlphabet[(v >> shift) & 63];
  }
  return out;
}

// The service account's credential: its id and private key (P-256: ECDSA-SHA256 with a DER signature, as
// @dfns/sdk-keysigner signs; Ed25519 also works). Not thread-safe to share: each client thread loads its own.
class Credential {
 public:
  Credential(std::string cred_id, const std::string& private_pem) : cred_id_(std::move(cred_id)) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size())), &BIO_free);
    if (bio) key_.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key_) {
      ERR_clear_error();
      throw std::runtime_error("the credential key file holds no PEM private key OpenSSL can read");
    }
  }

  const std::string& cred_id() const { return cred_id_; }

  // base64url of the signature over `message`.
  std::string sign_b64url(std::string_view message) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    const bool ed25519 = EVP_PKEY_get_base_id(key_.get()) == EVP_PKEY_ED25519;
    const auto* m = reinterpret_cast<const unsigned char*>(message.data());
    std::size_t size = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, ed25519 ? nullptr : EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &size, m, message.size()) != 1) {
      ERR_clear_error();
      throw std::runtime_error("OpenSSL cannot sign with the credential key");
    }
    std::string signature(size, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, m, message.size()) != 1) {
      ERR_clear_error();
      throw std::runtime_error("OpenSSL cannot sign with the credential key");
    }
    signature.resize(size);
    return base64url(signature);
  }

 private:
  std::string cred_id_;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_{nullptr, &EVP_PKEY_free};
};

class RequestWriter {
 public:
  explicit RequestWriter(std::string authorization) : authorization_(std::move(authorization)) {}

  // `user_action`: the x-dfns-useraction token for this exact request, or empty.
  std::string post(std::string_view target, std::string_view body, std::string_view user_action = {}) const {
    std::string r;
    r.reserve(384 + body.size());
    r.append("POST ").append(target).append(" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n");
    append_authorization(r);
    if (!user_action.empty()) r.append("x-dfns-useraction: ").append(user_action).append("\r\n");
    r.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n").append(body);
    return r;
  }

  std::string get(std::string_view target) const {
    std::string r;
    r.reserve(256);
    r.append("GET ").append(target).append(" HTTP/1.1\r\nHost: localhost\r\n");
    append_authorization(r);
    r.append("\r\n");
    return r;
  }

 private:
  void append_authorization(std::string& r) const {
    if (!authorization_.empty()) r.append("Authorization: Bearer ").append(authorization_).append("\r\n");
  }

  std::string authorization_;
};

// Time spent in each step of the user-action flow, summed over operations.
struct UserActionTimes {
  std::int64_t init_ns = 0;         // POST /auth/action/init round trip
  std::int64_t client_sign_ns = 0;  // the client's signature over clientData
  std::int64_t action_ns = 0;       // POST /auth/action round trip
};

// The user-action flow for `POST path` with exactly `payload` as its body, on `conn`. Returns the token for the
// x-dfns-useraction header, or an error key for the report ("action-init:401", "io:timeout", ...).
std::expected<std::string, std::string> user_action(Connection& conn, const RequestWriter& writer,
                                                    const Credential& credential, std::string_view path,
                                                    std::string_view payload, UserActionTimes& times,
                                                    std::string* refusal = nullptr) {
  Response response;
  const auto t0 = Clock::now();
  const std::string init = R"({"userActionPayload":)" + json_quote(payload) +
                           R"(,"userActionHttpMethod":"POST","userActionHttpPath":)" + json_quote(path) +
                           R"(,"userActionServerKind":"Api"})";
  if (auto e = conn.exchange(writer.post("/auth/action/init", init), response)) {
    return std::unexpected("io:" + std::string(name(*e)));
  }
  const auto challenge = json_string_member(response.body, "challenge");
  const auto identifier = json_string_member(response.body, "challengeIdentifier");
  if (response.status != 200 || !challenge || !identifier) {
    if (refusal) *refusal = std::to_string(response.status) + " " + excerpt(response.body);
    return std::unexpected("action-init:" + std::to_string(response.status));
  }
  const auto t1 = Clock::now();
  // Exactly these two members, compact: the daemon parses clientData and compares type and challenge.
  const std::string client_data = R"({"type":"key.get","challenge":)" + json_quote(*challenge) + "}";
  const std::string signature = credential.sign_b64url(client_data);
  const auto t2 = Clock::now();
  const std::string assertion = R"({"challengeIdentifier":)" + json_quote(*identifier) +
                                R"(,"firstFactor":{"kind":"Key","credentialAssertion":{"credId":)" +
                                json_quote(credential.cred_id()) + R"(,"clientData":")" + base64url(client_data) +
                                R"(","signature":")" + signature + R"("}}})";
  if (auto e = conn.exchange(writer.post("/auth/action", assertion), response)) {
    return std::unexpected("io:" + std::string(name(*e)));
  }
  auto token = json_string_member(response.body, "userAction");
  if (response.status != 200 || !token) {
    if (refusal) *refusal = std::to_string(response.status) + " " + excerpt(response.body);
    return std::unexpected("action:" + std::to_string(response.status));
  }
  const auto t3 = Clock::now();
  times.init_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
  times.client_sign_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(t2 - t1).count();
  times.action_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(t3 - t2).count();
  return std::move(*token);
}

std::string sign_body(const std::string& kind, std::mt19937_64& rng) {
  if (kind == "Message") return R"({"kind":"Message","message":")" + random_hex32(rng) + "\"}";
  return R"({"kind":"Hash","hash":")" + random_hex32(rng) + "\"}";
}

bool is_success(const std::string& mode, const Response& r) {
  if (r.status != 200) return false;
  if (mode == "sign") return r.body.find("Signed") != std::string::npos;
  return json_id(r.body).has_value();
}

struct ClientResult {
  std::vector<std::int64_t> latencies_ns;
  std::map<std::string, std::uint64_t> errors;  // "500", "200-unsigned", "io:timeout", "action-init:401", ...
  std::uint64_t requests = 0;
  std::uint64_t reconnects = 0;
  UserActionTimes user_action;        // over the successful operations
  std::int64_t final_request_ns = 0;  // the request itself, after its user action, over the successful operations
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
  std::string credential_pem;
  if (!opt.credential_key_file.empty()) {
    std::ifstream in(opt.credential_key_file);
    if (!in) throw std::runtime_error("cannot read credential key file " + opt.credential_key_file);
    std::ostringstream pem;
    pem << in.rdbuf();
    credential_pem = pem.str();
  }
  const bool with_user_action = !opt.cred_id.empty();
  if (with_user_action) Credential{opt.cred_id, credential_pem};  // a bad key file fails here, not in a client
  const RequestWriter writer(token);
  const std::chrono::milliseconds timeout(opt.timeout_ms);
  std::mt19937_64 setup_rng(std::random_device{}());

  // Sign and get modes use one key, created here, and check once that the request works before measuring anything.
  std::string key_target;
  std::string kind = opt.kind == "hash" ? "Hash" : opt.kind == "message" ? "Message" : "";
  if (opt.mode == "sign" || opt.mode == "get") {
    Connection setup(endpoint, timeout);
    std::optional<Credential> credential;
    if (with_user_action) credential.emplace(opt.cred_id, credential_pem);
    UserActionTimes ignored;
    // A POST as the measured clients send it: with a user action when there is a credential.
    auto post = [&](const std::string& target, const std::string& body, Response& r) {
      std::string ua;
      if (credential) {
        std::string refusal;
        auto got = user_action(setup, writer, *credential, target, body, ignored, &refusal);
        if (!got) throw std::runtime_error("user action for POST " + target + ": " + got.error() + " " + refusal);
        ua = std::move(*got);
      }
      if (auto e = setup.exchange(writer.post(target, body, ua), r)) {
        throw std::runtime_error("POST " + target + " to " + endpoint.describe() + ": " + describe(*e, setup));
      }
    };
    Response r;
    post("/keys", create_body(opt.curve), r);
    const auto id = json_id(r.body);
    if (r.status != 200 || !id) {
      throw std::runtime_error("POST /keys answered " + std::to_string(r.status) + ": " + excerpt(r.body) +
                               (!token.empty() && !with_user_action ? " (a token holder needs --cred-id and "
                                                                      "--credential-key-file to sign user actions)"
                                                                    : ""));
    }
    key_target = "/keys/" + *id;
    if (opt.mode == "get") {
      if (auto e = setup.exchange(writer.get(key_target), r)) {
        throw std::runtime_error("GET " + key_target + ": " + describe(*e, setup));
      }
      if (!is_success("get", r)) {
        throw std::runtime_error("GET " + key_target + " answered " + std::to_string(r.status) + ": " +
                                 excerpt(r.body));
      }
    } else {
      key_target += "/signatures";
      // auto: Hash, and for ed25519 fall back to Message if the daemon refuses a hash (EdDSA signs messages).
      std::vector<std::string> kinds =
          kind.empty() ? std::vector<std::string>{"Hash", "Message"} : std::vector<std::string>{kind};
      if (kind.empty() && opt.curve != "ed25519") kinds.pop_back();
      std::string tried;
      kind.clear();
      for (const auto& k : kinds) {
        post(key_target, sign_body(k, setup_rng), r);
        if (is_success("sign", r)) {
          kind = k;
          break;
        }
        tried += " " + k + " -> " + std::to_string(r.status) + " " + excerpt(r.body) + ";";
      }
      if (kind.empty()) throw std::runtime_error("signing with " + *id + " fails:" + tried);
    }
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
    std::optional<Credential> credential;
    if (with_user_action && opt.mode != "get") credential.emplace(opt.cred_id, credential_pem);
    conn.connect();  // a failure here shows up as the first request's error
    ready.count_down();
    go.wait();
    result.latencies_ns.reserve(1 << 16);
    const std::string get_request = writer.get(key_target);
    std::string target = opt.mode == "sign" ? key_target : "/keys";
    std::string body = create_body(opt.curve);
    std::string request;
    Response response;
    UserActionTimes steps;
    for (;;) {
      if (opt.mode == "sign") body = sign_body(kind, rng);
      const auto t0 = Clock::now();
      if (t0 >= end) break;
      std::optional<std::string> failure;  // an error key, when the operation failed before its request
      UserActionTimes op_steps;
      std::optional<TransportError> error;
      auto t_request = t0;
      if (opt.mode == "get") {
        error = conn.exchange(get_request, response);
      } else {
        std::string ua;
        if (credential) {
          auto got = user_action(conn, writer, *credential, target, body, op_steps);
          if (got) {
            ua = std::move(*got);
          } else {
            failure = std::move(got.error());
          }
        }
        if (!failure) {
          t_request = Clock::now();
          request = writer.post(target, body, ua);
          error = conn.exchange(request, response);
        }
      }
      const auto t1 = Clock::now();
      // A daemon that refuses connections would otherwise be hammered in a tight loop.
      if (error == TransportError::kConnect || (failure && failure->starts_with("io:connect"))) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (t0 < measure_start) continue;  // warm-up
      ++result.requests;
      if (failure) {
        ++result.errors[*failure];
      } else if (error) {
        ++result.errors["io:" + std::string(name(*error))];
      } else if (is_success(opt.mode, response)) {
        result.latencies_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        steps.init_ns += op_steps.init_ns;
        steps.client_sign_ns += op_steps.client_sign_ns;
        steps.action_ns += op_steps.action_ns;
        result.final_request_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t_request).count();
      } else if (response.status == 200) {
        ++result.errors[opt.mode == "sign" ? "200-unsigned" : "200-no-id"];
      } else {
        ++result.errors[std::to_string(response.status)];
      }
    }
    result.user_action = steps;
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
  UserActionTimes steps;
  std::int64_t final_request_ns = 0;
  Clock::time_point last = measure_start;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ns.begin(), r.latencies_ns.end());
    for (const auto& [what, count] : r.errors) {
      errors[what] += count;
      error_count += count;
    }
    requests += r.requests;
    reconnects += r.reconnects;
    steps.init_ns += r.user_action.init_ns;
    steps.client_sign_ns += r.user_action.client_sign_ns;
    steps.action_ns += r.user_action.action_ns;
    final_request_ns += r.final_request_ns;
    last = std::max(last, r.finished);
  }
  const double elapsed = std::chrono::duration<double>(last - measure_start).count();
  const LatencySummary s = summarize(std::move(all));
  const double ops_per_s = elapsed > 0 ? static_cast<double>(s.count) / elapsed : 0;
  const bool measured_user_action = with_user_action && opt.mode != "get";
  auto mean_us = [&](std::int64_t total_ns) {
    return s.count > 0 ? static_cast<double>(total_ns) / static_cast<double>(s.count) / 1000.0 : 0.0;
  };

  std::ostringstream json;
  json << "{\"tool\":\"signerd_load\",\"target\":" << json_quote(endpoint.describe())
       << ",\"mode\":" << json_quote(opt.mode) << ",\"curve\":" << json_quote(opt.curve);
  if (opt.mode == "sign") json << ",\"kind\":" << json_quote(kind);
  json << ",\"auth\":" << json_quote(measured_user_action ? "bearer+user-action" : token.empty() ? "none" : "bearer");
  json << ",\"clients\":" << n << ",\"warmup_s\":" << fixed(opt.warmup) << ",\"seconds\":" << fixed(elapsed, 3)
       << ",\"requests\":" << requests << ",\"ok\":" << s.count << ",\"errors\":" << error_count
       << ",\"ops_per_s\":" << fixed(ops_per_s) << ",\"p50_us\":" << fixed(s.p50_us)
       << ",\"p90_us\":" << fixed(s.p90_us) << ",\"p99_us\":" << fixed(s.p99_us) << ",\"max_us\":" << fixed(s.max_us)
       << ",\"mean_us\":" << fixed(s.mean_us);
  if (measured_user_action) {
    json << ",\"mean_action_init_us\":" << fixed(mean_us(steps.init_ns))
         << ",\"mean_client_sign_us\":" << fixed(mean_us(steps.client_sign_ns))
         << ",\"mean_action_us\":" << fixed(mean_us(steps.action_ns))
         << ",\"mean_request_us\":" << fixed(mean_us(final_request_ns));
  }
  json << ",\"reconnects\":" << reconnects << ",\"errors_by_status\":{";
  bool first = true;
  for (const auto& [what, count] : errors) {
    json << (first ? "" : ",") << json_quote(what) << ":" << count;
    first = false;
  }
  json << "}}";
  std::cout << json.str() << std::endl;

  std::cerr << "load " << opt.mode << " " << opt.curve << " " << endpoint.describe()
            << (measured_user_action ? " +user-action"
                : token.empty()      ? ""
                                     : " +bearer")
            << " clients=" << n << ": " << fixed(ops_per_s) << " ops/s, p50 " << fixed(s.p50_us / 1000) << " ms, p90 "
            << fixed(s.p90_us / 1000) << " ms, p99 " << fixed(s.p99_us / 1000) << " ms, max " << fixed(s.max_us / 1000)
            << " ms, " << error_count << " errors";
  for (const auto& [what, count] : errors) std::cerr << " [" << what << "=" << count << "]";
  if (measured_user_action) {
    std::cerr << "; mean per op: action/init " << fixed(mean_us(steps.init_ns) / 1000) << " ms, client signature "
              << fixed(mean_us(steps.client_sign_ns) / 1000) << " ms, action " << fixed(mean_us(steps.action_ns) / 1000)
              << " ms, request " << fixed(mean_us(final_request_ns) / 1000) << " ms";
  }
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
  auto* token_opt =
      app.add_option("--token-file", opt.token_file, "file with the JWT (service account token) sent as Authorization");
  auto* cred_opt =
      app.add_option("--cred-id", opt.cred_id, "credId of the token's credential: sign user actions")->needs(token_opt);
  auto* key_opt =
      app.add_option("--credential-key-file", opt.credential_key_file, "PEM private key of that credential (P-256)")
          ->check(CLI::ExistingFile);
  cred_opt->needs(key_opt);
  key_opt->needs(cred_opt);
  app.add_option("--clients", opt.clients, "concurrent clients, one thread and connection each")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  app.add_option("--seconds", opt.seconds, "measured duration")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--warmup", opt.warmup, "unmeasured lead-in")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--curve", opt.curve, "key curve")
      ->check(CLI::IsMember({"secp256k1", "p256", "ed25519"}))
      ->capture_default_str();
  app.add_option("--mode", opt.mode, "sign: sign with one key; create: create keys; get: GET /keys/{id} of one key")
      ->check(CLI::IsMember({"sign", "create", "get"}))
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

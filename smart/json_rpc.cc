#include "smart/json_rpc.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace signerd::smart {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

// What the node's JSON-RPC error message may add to our error message; the whole text stays in details.rpcMessage.
constexpr std::size_t kMaxRpcMessageInError = 512;

// ---- URLs ----------------------------------------------------------------------------------------------------------

// Every refusal names what is wrong and never repeats the URL: its path, query or userinfo may hold a secret.
std::unexpected<Error> invalid_url(std::string_view why) {
  return fail(ErrorCode::kInvalidArgument, "RPC URL: " + std::string(why));
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char c = text[i] >= 'A' && text[i] <= 'Z' ? static_cast<char>(text[i] - 'A' + 'a') : text[i];
    if (c != prefix[i]) return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding of userinfo: a password with '@' or ':' arrives as %40 / %3A.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex_value(text[i + 1]);
    const int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string base64(std::string_view text) {
  std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// A DNS name or an IPv4 address: letters, digits, '-', '.', '_'. Anything else would be a malformed URL, and
// could otherwise reach the Host header.
bool is_host_name(std::string_view host) {
  if (host.empty()) return false;
  for (const char c : host) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool is_ipv6(const std::string& host) {
  error_code ec;
  asio::ip::make_address_v6(host, ec);
  return !ec;
}

bool is_ip_literal(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// "host" or "[v6]", with ":port" unless it is the scheme's default: the Host header (RFC 9112 §3.2).
std::string host_header(const RpcEndpoint& ep) {
  std::string out = is_ipv6(ep.host) ? "[" + ep.host + "]" : ep.host;
  if (ep.port != (ep.tls ? 443 : 80)) out += ":" + std::to_string(ep.port);
  return out;
}

// ---- transport -----------------------------------------------------------------------------------------------------

Error unavailable(const RpcEndpoint& ep, const std::string& message) {
  Error e{ErrorCode::kUnavailable, ep.display + ": " + message, {}};
  e.details["endpoint"] = ep.display;
  return e;
}

// getaddrinfo cannot be cancelled, and Asio's resolver joins its lookup thread when its io_context goes away, so a
// stalled DNS server would hold the call far past its deadline. The lookup runs on a thread of its own instead; at
// the deadline the call stops waiting for it, and the thread finishes (and frees the shared state) on its own.
Result<std::vector<tcp::endpoint>> resolve(const RpcEndpoint& ep, Clock::time_point deadline,
                                           std::chrono::milliseconds timeout) {
  error_code ec;
  const auto address = asio::ip::make_address(ep.host, ec);
  if (!ec) return std::vector<tcp::endpoint>{tcp::endpoint(address, ep.port)};

  struct Lookup {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;                     // guarded by mu
    std::vector<tcp::endpoint> endpoints;  // guarded by mu
    std::string error;                     // guarded by mu
  };
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread([lookup, host = ep.host, port = ep.port] {
      std::vector<tcp::endpoint> endpoints;
      std::string error;
      try {
        asio::io_context io;
        tcp::resolver resolver(io);
        error_code ec;
        const auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service, ec);
        if (ec) {
          error = ec.message();
        } else {
          for (const auto& entry : results) endpoints.push_back(entry.endpoint());
        }
      } catch (const std::exception& e) {
        error = e.what();
      }
      const std::lock_guard lock(lookup->mu);
      lookup->endpoints = std::move(endpoints);
      lookup->error = std::move(error);
      lookup->done = true;
      lookup->cv.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return std::unexpected(unavailable(ep, std::string("cannot start the host name lookup: ") + e.what()));
  }
  std::unique_lock lock(lookup->mu);
  if (!lookup->cv.wait_until(lock, deadline, [&] { return lookup->done; })) {
    return std::unexpected(
        unavailable(ep, "no answer within " + std::to_string(timeout.count()) + " ms (resolving the host)"));
  }
  if (!lookup->error.empty()) return std::unexpected(unavailable(ep, "cannot resolve the host: " + lookup->error));
  if (lookup->endpoints.empty()) return std::unexpected(unavailable(ep, "the host resolves to no address"));
  return std::move(lookup->endpoints);
}

template <class Stream>
constexpr bool kIsTls = false;
template <class Next>
constexpr bool kIsTls<beast::ssl_stream<Next>> = true;

// Why a TLS handshake failed, in words: the verification result when the chain or the name was refused (OpenSSL's
// generic "certificate verify failed" alone does not say which), else the error itself.
template <class Stream>
std::string handshake_failure(Stream& stream, const error_code& ec) {
  if constexpr (kIsTls<Stream>) {
    const long verify = SSL_get_verify_result(stream.native_handle());
    if (verify != X509_V_OK) return std::string("certificate refused: ") + X509_verify_cert_error_string(verify);
  }
  return ec.message();
}

// One request and its response over a fresh connection. The tcp_stream's deadline (set by the caller) bounds every
// step together, the TLS handshake included; the parser's body limit bounds the memory a response can take.
template <class Stream>
asio::awaitable<Result<std::string>> exchange(Stream& stream, const RpcEndpoint& ep,
                                              std::vector<tcp::endpoint> endpoints,
                                              http::request<http::string_body> request, std::size_t max_body,
                                              std::chrono::milliseconds timeout) {
  auto& socket = beast::get_lowest_layer(stream);
  error_code ec;
  auto failed = [&](std::string_view step, std::string why) -> Result<std::string> {
    if (ec == beast::error::timeout) {
      return std::unexpected(
          unavailable(ep, "no answer within " + std::to_string(timeout.count()) + " ms (" + std::string(step) + ")"));
    }
    return std::unexpected(unavailable(ep, std::string(step) + " failed: " + why));
  };

  co_await socket.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return failed("connecting", ec.message());
  if constexpr (kIsTls<Stream>) {
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return failed("the TLS handshake", handshake_failure(stream, ec));
  }
  co_await http::async_write(stream, request, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return failed("sending the request", ec.message());

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body);
  co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec == http::error::body_limit) {
    co_return std::unexpected(unavailable(ep, "the response is larger than " + std::to_string(max_body) + " bytes"));
  }
  if (ec) co_return failed("reading the response", ec.message());
  // The response is complete and length-delimited, so the connection is simply closed: a TLS close_notify exchange
  // would only spend time against the deadline.
  socket.socket().shutdown(tcp::socket::shutdown_both, ec);
  socket.close();

  auto& response = parser.get();
  if (response.result_int() != 200) {
    co_return std::unexpected(unavailable(ep, "answered HTTP " + std::to_string(response.result_int())));
  }
  co_return std::move(response.body());
}

template <class Stream>
Result<std::string> run_exchange(asio::io_context& io, Stream& stream, const RpcEndpoint& ep,
                                 std::vector<tcp::endpoint> endpoints, http::request<http::string_body> request,
                                 const JsonRpcOptions& options, Clock::time_point deadline) {
  beast::get_lowest_layer(stream).expires_at(deadline);
  Result<std::string> out = std::unexpected(unavailable(ep, "the call did not complete"));
  asio::co_spawn(
      io, exchange(stream, ep, std::move(endpoints), std::move(request), options.max_response_bytes, options.timeout),
      [&](std::exception_ptr thrown, Result<std::string> result) {
        if (!thrown) {
          out = std::move(result);
          return;
        }
        try {
          std::rethrow_exception(thrown);
        } catch (const std::exception& e) {
          out = std::unexpected(unavailable(ep, std::string("the call failed: ") + e.what()));
        } catch (...) {
          out = std::unexpected(unavailable(ep, "the call failed"));
        }
      });
  io.run();
  return out;
}

std::string truncated(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "...";
}

// The body of a 200 answer -> the result, the node's refusal, or kUnavailable when it is not a JSON-RPC 2.0 response
// to request `id`.
Result<json::value> read_response(const RpcEndpoint& ep, std::string_view method, std::uint64_t id,
                                  std::string_view body) {
  error_code ec;
  json::value parsed = json::parse(body, ec);
  if (ec) return std::unexpected(unavailable(ep, "the response is not JSON"));
  json::object* response = parsed.if_object();
  if (!response) return std::unexpected(unavailable(ep, "the response is not a JSON-RPC object"));
  const json::value* version = response->if_contains("jsonrpc");
  if (!version || !version->is_string() || version->get_string() != "2.0") {
    return std::unexpected(unavailable(ep, "the response is not JSON-RPC 2.0"));
  }
  const json::value* response_id = response->if_contains("id");
  const bool same_id = response_id && ((response_id->is_uint64() && response_id->get_uint64() == id) ||
                                       (response_id->is_int64() && response_id->get_int64() >= 0 &&
                                        static_cast<std::uint64_t>(response_id->get_int64()) == id));
  if (!same_id) return std::unexpected(unavailable(ep, "the response answers another request (its id differs)"));

  if (const json::value* error = response->if_contains("error"); error && !error->is_null()) {
    const json::object* object = error->if_object();
    const json::value* code = object ? object->if_contains("code") : nullptr;
    const json::value* message = object ? object->if_contains("message") : nullptr;
    if (!code || !code->is_int64() || (message && !message->is_string())) {
      return std::unexpected(unavailable(ep, "the response's error is not a JSON-RPC error object"));
    }
    const std::string rpc_message = message ? std::string(message->get_string()) : std::string();
    Error e{ErrorCode::kConflict,
            ep.display + " refused " + std::string(method) + ": " + truncated(rpc_message, kMaxRpcMessageInError) +
                " (code " + std::to_string(code->get_int64()) + ")",
            {}};
    e.details["endpoint"] = ep.display;
    e.details["rpcCode"] = code->get_int64();
    e.details["rpcMessage"] = rpc_message;
    if (const json::value* data = object->if_contains("data")) e.details["rpcData"] = *data;
    return std::unexpected(std::move(e));
  }
  json::value* result = response->if_contains("result");
  if (!result) return std::unexpected(unavailable(ep, "the response has neither a result nor an error"));
  return std::move(*result);
}

}  // namespace

// ---- parse_rpc_endpoint --------------------------------------------------------------------------------------------

Result<RpcEndpoint> parse_rpc_endpoint(std::string_view url) {
  RpcEndpoint ep;
  std::string_view rest;
  if (starts_with_ignoring_case(url, "http://")) {
    rest = url.substr(7);
  } else if (starts_with_ignoring_case(url, "https://")) {
    ep.tls = true;
    rest = url.substr(8);
  } else {
    return invalid_url("must start with http:// or https://");
  }
  if (rest.find('#') != std::string_view::npos) return invalid_url("a fragment (#...) is not allowed");

  const std::size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  const std::string_view target = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);

  // The last '@' ends the userinfo: a password may hold an unescaped '@' in URLs people paste.
  // The user name ends at the first ':' before decoding (an escaped %3A belongs to it); without a password it is
  // sent as "user:", as curl does.
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    const std::size_t colon = userinfo.find(':');
    const auto user = percent_decode(userinfo.substr(0, colon));
    const auto password =
        colon == std::string_view::npos ? std::optional<std::string>("") : percent_decode(userinfo.substr(colon + 1));
    if (!user || !password) return invalid_url("the user name or password has a malformed %-escape");
    ep.authorization = "Basic " + base64(*user + ":" + *password);
    authority = authority.substr(at + 1);
  }

  std::string_view port_text;
  bool has_port = false;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid_url("an IPv6 address must be closed with ']'");
    ep.host = std::string(authority.substr(1, close - 1));
    if (!is_ipv6(ep.host)) return invalid_url("the address in brackets is not an IPv6 address");
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid_url("only ':port' may follow an IPv6 address");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    ep.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
      if (port_text.find(':') != std::string_view::npos) return invalid_url("an IPv6 address must be in brackets");
    }
    if (ep.host.empty()) return invalid_url("the host is empty");
    if (!is_host_name(ep.host)) return invalid_url("the host is not a DNS name or an IP address");
  }

  ep.port = ep.tls ? 443 : 80;
  if (has_port) {
    unsigned long port = 0;
    bool ok = !port_text.empty() && port_text.size() <= 5;
    for (const char c : port_text) {
      if (c < '0' || c > '9') ok = false;
      if (ok) port = port * 10 + static_cast<unsigned long>(c - '0');
    }
    if (!ok || port == 0 || port > 65535) return invalid_url("the port must be a number from 1 to 65535");
    ep.port = static_cast<std::uint16_t>(port);
  }

  // Spaces and control characters cannot go on an HTTP request line (and CR/LF would split it).
  for (const char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return invalid_url("the path or query holds a space or a control character");
  }
  ep.target = target.empty() ? "/" : target.starts_with('?') ? "/" + std::string(target) : std::string(target);

  const std::string shown_host = is_ipv6(ep.host) ? "[" + ep.host + "]" : ep.host;
  ep.display = std::string(ep.tls ? "https" : "http") + "://" + shown_host + ":" + std::to_string(ep.port);
  return ep;
}

// ---- JsonRpcClient -------------------------------------------------------------------------------------------------

struct JsonRpcClient::Tls {
  std::optional<asio::ssl::context> context;
  std::string setup_error;  // set when the context could not be made: every call fails with it
};

JsonRpcClient::JsonRpcClient(RpcEndpoint endpoint, JsonRpcOptions options)
    : endpoint_(std::move(endpoint)), options_(options) {
  if (!endpoint_.tls) return;
  tls_ = std::make_unique<Tls>();
  try {
    tls_->context.emplace(asio::ssl::context::tls_client);
  } catch (const std::exception& e) {
    tls_->setup_error = std::string("cannot create a TLS context: ") + e.what();
    return;
  }
  error_code ec;
  tls_->context->set_default_verify_paths(ec);
  if (!ec) tls_->context->set_verify_mode(asio::ssl::verify_peer, ec);
  if (ec) {
    tls_->setup_error = "cannot load the system's trusted certificates: " + ec.message();
    return;
  }
  SSL_CTX_set_min_proto_version(tls_->context->native_handle(), TLS1_2_VERSION);
}

JsonRpcClient::~JsonRpcClient() = default;

Result<json::value> JsonRpcClient::call(std::string_view method, json::array params) {
  const auto deadline = Clock::now() + options_.timeout;
  const std::uint64_t id = next_id_.fetch_add(1, std::memory_order_relaxed);
  json::object body;
  body["jsonrpc"] = "2.0";
  body["id"] = id;
  body["method"] = method;
  body["params"] = std::move(params);

  http::request<http::string_body> request{http::verb::post, endpoint_.target, 11};
  request.set(http::field::host, host_header(endpoint_));
  request.set(http::field::user_agent, "signerd");
  request.set(http::field::content_type, "application/json");
  request.set(http::field::accept, "application/json");
  // One connection per call: say so, and the server closes its end once it has answered.
  request.set(http::field::connection, "close");
  if (!endpoint_.authorization.empty()) request.set(http::field::authorization, endpoint_.authorization);
  request.body() = json::serialize(body);
  request.prepare_payload();

  if (tls_ && !tls_->setup_error.empty()) return std::unexpected(unavailable(endpoint_, tls_->setup_error));
  auto endpoints = resolve(endpoint_, deadline, options_.timeout);
  if (!endpoints) return std::unexpected(std::move(endpoints.error()));

  asio::io_context io;
  Result<std::string> answer;
  if (!tls_) {
    beast::tcp_stream stream(io);
    answer = run_exchange(io, stream, endpoint_, std::move(*endpoints), std::move(request), options_, deadline);
  } else {
    beast::ssl_stream<beast::tcp_stream> stream(io, *tls_->context);
    SSL* ssl = stream.native_handle();
    bool configured = true;
    if (is_ip_literal(endpoint_.host)) {
      // No SNI for addresses (RFC 6066 §3); the certificate must name the address itself.
      configured = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), endpoint_.host.c_str()) == 1;
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      configured =
          SSL_set_tlsext_host_name(ssl, endpoint_.host.c_str()) == 1 && SSL_set1_host(ssl, endpoint_.host.c_str()) == 1;
    }
    if (!configured) return std::unexpected(unavailable(endpoint_, "cannot set the TLS server name"));
    answer = run_exchange(io, stream, endpoint_, std::move(*endpoints), std::move(request), options_, deadline);
  }
  if (!answer) return std::unexpected(std::move(answer.error()));
  return read_response(endpoint_, method, id, *answer);
}

// ---- EthRpc --------------------------------------------------------------------------------------------------------

namespace {

// A result of the wrong shape means the node (or something posing as it) is broken: kUnavailable, as for transport
// failures, so callers retry or fail over rather than blame the request.
Error malformed(const JsonRpcClient& client, std::string_view method, std::string_view why) {
  return unavailable(client.endpoint(), "malformed " + std::string(method) + " result: " + std::string(why));
}

// "0x" + hex digits, at least one; leading zeros tolerated (some nodes pad).
std::optional<chains::Uint256> quantity(const json::value& value) {
  const json::string* text = value.if_string();
  if (!text || !text->starts_with("0x") || text->size() == 2) return std::nullopt;
  std::string_view digits(text->data() + 2, text->size() - 2);
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  if (digits.size() > 64) return std::nullopt;
  chains::Uint256 out;
  for (const char c : digits) {
    const int v = hex_value(c);
    if (v < 0) return std::nullopt;
    out.mul_add(16, static_cast<std::uint64_t>(v));
  }
  return out;
}

// "0x" + an even number of hex digits; "0x" is no bytes.
std::optional<Bytes> data(const json::value& value) {
  const json::string* text = value.if_string();
  if (!text || !text->starts_with("0x")) return std::nullopt;
  return from_hex(std::string_view(text->data() + 2, text->size() - 2));
}

Result<chains::Uint256> quantity_result(const JsonRpcClient& client, std::string_view method,
                                        const Result<json::value>& result) {
  if (!result) return std::unexpected(result.error());
  auto q = quantity(*result);
  if (!q) return std::unexpected(malformed(client, method, "not a 0x hex quantity"));
  return *q;
}

Result<std::uint64_t> u64_result(const JsonRpcClient& client, std::string_view method,
                                 const Result<json::value>& result) {
  auto q = quantity_result(client, method, result);
  if (!q) return std::unexpected(std::move(q.error()));
  const auto small = q->to_u64();
  if (!small) return std::unexpected(malformed(client, method, "the quantity exceeds 64 bits"));
  return *small;
}

Result<Bytes> data_result(const JsonRpcClient& client, std::string_view method, const Result<json::value>& result) {
  if (!result) return std::unexpected(result.error());
  auto bytes = data(*result);
  if (!bytes) return std::unexpected(malformed(client, method, "not 0x hex bytes"));
  return std::move(*bytes);
}

json::string address_param(const chains::EvmAddress& address) {
  return json::string(chains::evm_address_lower(address));
}

}  // namespace

Result<std::uint64_t> EthRpc::chain_id() { return u64_result(client_, "eth_chainId", client_.call("eth_chainId", {})); }

Result<std::uint64_t> EthRpc::block_number() {
  return u64_result(client_, "eth_blockNumber", client_.call("eth_blockNumber", {}));
}

Result<Bytes> EthRpc::get_code(const chains::EvmAddress& address) {
  return data_result(client_, "eth_getCode", client_.call("eth_getCode", {address_param(address), "latest"}));
}

Result<chains::Uint256> EthRpc::get_balance(const chains::EvmAddress& address) {
  return quantity_result(client_, "eth_getBalance", client_.call("eth_getBalance", {address_param(address), "latest"}));
}

Result<std::uint64_t> EthRpc::pending_nonce(const chains::EvmAddress& address) {
  return u64_result(client_, "eth_getTransactionCount",
                    client_.call("eth_getTransactionCount", {address_param(address), "pending"}));
}

Result<std::uint64_t> EthRpc::mined_nonce(const chains::EvmAddress& address) {
  return u64_result(client_, "eth_getTransactionCount",
                    client_.call("eth_getTransactionCount", {address_param(address), "latest"}));
}

Result<chains::Uint256> EthRpc::latest_base_fee() {
  constexpr std::string_view kMethod = "eth_getBlockByNumber";
  auto block = client_.call(kMethod, {"latest", false});
  if (!block) return std::unexpected(std::move(block.error()));
  const json::object* object = block->if_object();
  if (!object) return std::unexpected(malformed(client_, kMethod, "the latest block is not an object"));
  const json::value* fee = object->if_contains("baseFeePerGas");
  if (!fee || fee->is_null()) {
    return std::unexpected(
        unavailable(client_.endpoint(), "the latest block has no baseFeePerGas (the chain is not on London yet)"));
  }
  auto q = quantity(*fee);
  if (!q) return std::unexpected(malformed(client_, kMethod, "baseFeePerGas is not a 0x hex quantity"));
  return *q;
}

Result<chains::Uint256> EthRpc::max_priority_fee() {
  return quantity_result(client_, "eth_maxPriorityFeePerGas", client_.call("eth_maxPriorityFeePerGas", {}));
}

Result<std::uint64_t> EthRpc::estimate_gas(const chains::EvmAddress& from, const chains::EvmAddress& to,
                                           std::span<const std::uint8_t> data) {
  json::object tx;
  tx["from"] = address_param(from);
  tx["to"] = address_param(to);
  tx["data"] = to_hex_0x(data);
  return u64_result(client_, "eth_estimateGas", client_.call("eth_estimateGas", {std::move(tx)}));
}

Result<Bytes> EthRpc::call(const chains::EvmAddress& to, std::span<const std::uint8_t> data) {
  json::object tx;
  tx["to"] = address_param(to);
  tx["data"] = to_hex_0x(data);
  return data_result(client_, "eth_call", client_.call("eth_call", {std::move(tx), "latest"}));
}

Result<chains::Hash256> EthRpc::send_raw_transaction(std::span<const std::uint8_t> signed_tx) {
  constexpr std::string_view kMethod = "eth_sendRawTransaction";
  auto bytes = data_result(client_, kMethod, client_.call(kMethod, {to_hex_0x(signed_tx)}));
  if (!bytes) return std::unexpected(std::move(bytes.error()));
  if (bytes->size() != 32) return std::unexpected(malformed(client_, kMethod, "not a 32-byte transaction hash"));
  chains::Hash256 hash;
  std::copy(bytes->begin(), bytes->end(), hash.begin());
  return hash;
}

Result<std::optional<TxReceipt>> EthRpc::get_receipt(const chains::Hash256& tx_hash) {
  constexpr std::string_view kMethod = "eth_getTransactionReceipt";
  auto result = client_.call(kMethod, {to_hex_0x(tx_hash)});
  if (!result) return std::unexpected(std::move(result.error()));
  if (result->is_null()) return std::optional<TxReceipt>();
  const json::object* object = result->if_object();
  if (!object) return std::unexpected(malformed(client_, kMethod, "not an object or null"));

  auto field = [&](std::string_view key) -> std::optional<chains::Uint256> {
    const json::value* v = object->if_contains(key);
    return v ? quantity(*v) : std::nullopt;
  };
  TxReceipt receipt;
  // Receipts carry "status" since Byzantium (EIP-658); a pre-Byzantium "root" cannot say whether the call failed.
  const auto status = field("status");
  if (!status || (!status->is_zero() && *status != chains::Uint256::from_u64(1))) {
    return std::unexpected(malformed(client_, kMethod, "status is not 0x0 or 0x1"));
  }
  receipt.success = !status->is_zero();
  const auto block = field("blockNumber");
  const auto gas = field("gasUsed");
  if (!block || !block->to_u64() || !gas || !gas->to_u64()) {
    return std::unexpected(malformed(client_, kMethod, "blockNumber or gasUsed is not a 64-bit 0x hex quantity"));
  }
  receipt.block_number = *block->to_u64();
  receipt.gas_used = *gas->to_u64();
  if (const json::value* created = object->if_contains("contractAddress"); created && !created->is_null()) {
    const json::string* text = created->if_string();
    auto address = chains::parse_evm_address(text ? std::string_view(*text) : std::string_view());
    if (!address) return std::unexpected(malformed(client_, kMethod, "contractAddress is not an address"));
    receipt.contract_address = *address;
  }
  return std::optional<TxReceipt>(receipt);
}

Result<bool> EthRpc::knows_transaction(const chains::Hash256& tx_hash) {
  constexpr std::string_view kMethod = "eth_getTransactionByHash";
  auto result = client_.call(kMethod, {to_hex_0x(tx_hash)});
  if (!result) return std::unexpected(std::move(result.error()));
  if (result->is_null()) return false;
  if (!result->is_object()) return std::unexpected(malformed(client_, kMethod, "not an object or null"));
  return true;
}

}  // namespace signerd::smart

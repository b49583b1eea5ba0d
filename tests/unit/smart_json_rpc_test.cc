// smart/json_rpc.h: parse_rpc_endpoint, and JsonRpcClient / EthRpc against a scripted JSON-RPC node: a Beast server
// on a real loopback socket, on a thread of its own, that answers what each test scripts (a result, a JSON-RPC
// error, broken HTTP, nothing at all) and records the requests it received. HTTPS against the same server with
// certificates made here (a test CA, trusted through SSL_CERT_FILE, which OpenSSL's default verify paths read).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "smart/json_rpc.h"

namespace signerd::smart {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;

// ---- the scripted node ---------------------------------------------------------------------------------------------

struct Reply {
  std::string raw;    // written as is, then the connection is closed
  bool hang = false;  // read the request, then never answer (the connection stays open until the node stops)
};

std::string http_response(int status, std::string_view body, std::string_view content_type = "application/json") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + std::string(content_type) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + std::string(body);
}

json::value request_id(const Request& request) {
  auto body = json::parse(request.body());
  return body.as_object().at("id");
}

std::string request_method(const Request& request) {
  return std::string(json::parse(request.body()).as_object().at("method").as_string());
}

Reply result_reply(const Request& request, json::value result) {
  json::object body{{"jsonrpc", "2.0"}, {"id", request_id(request)}, {"result", std::move(result)}};
  return {http_response(200, json::serialize(body))};
}

Reply error_reply(const Request& request, json::object error) {
  json::object body{{"jsonrpc", "2.0"}, {"id", request_id(request)}, {"error", std::move(error)}};
  return {http_response(200, json::serialize(body))};
}

class ScriptedNode {
 public:
  using Handler = std::function<Reply(const Request&)>;

  // tls: serve HTTPS with this context (and record the SNI each client sent).
  explicit ScriptedNode(Handler handler, asio::ssl::context* tls = nullptr)
      : handler_(std::move(handler)), tls_(tls), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    if (tls_) {
      SSL_CTX_set_tlsext_servername_arg(tls_->native_handle(), this);
      SSL_CTX_set_tlsext_servername_callback(tls_->native_handle(), &ScriptedNode::on_server_name);
    }
    asio::co_spawn(io_, accept_loop(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ScriptedNode() {
    io_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url(std::string_view userinfo = "", std::string_view target = "") const {
    return std::string(tls_ ? "https://" : "http://") + std::string(userinfo) + "127.0.0.1:" + std::to_string(port()) +
           std::string(target);
  }
  std::vector<Request> requests() const {
    const std::lock_guard lock(mu_);
    return requests_;
  }
  std::vector<std::string> server_names() const {
    const std::lock_guard lock(mu_);
    return server_names_;
  }

 private:
  static int on_server_name(SSL* ssl, int*, void* self) {
    auto* node = static_cast<ScriptedNode*>(self);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const std::lock_guard lock(node->mu_);
    node->server_names_.push_back(name ? name : "");
    return SSL_TLSEXT_ERR_OK;
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(io_, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    try {
      if (tls_) {
        beast::ssl_stream<tcp::socket> stream(std::move(socket), *tls_);
        co_await stream.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
        co_await serve(stream);
      } else {
        co_await serve(socket);
      }
    } catch (const std::exception&) {
      // The client went away (a refused certificate, a timeout): nothing to answer.
    }
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    Request request;
    co_await http::async_read(stream, buffer, request, asio::use_awaitable);
    {
      const std::lock_guard lock(mu_);
      requests_.push_back(request);
    }
    const Reply reply = handler_(request);
    if (reply.hang) {
      asio::steady_timer forever(io_, std::chrono::hours(1));
      co_await forever.async_wait(asio::use_awaitable);
    }
    co_await asio::async_write(stream, asio::buffer(reply.raw), asio::use_awaitable);
  }

  Handler handler_;
  asio::ssl::context* tls_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;          // guarded by mu_
  std::vector<std::string> server_names_;  // guarded by mu_
  std::thread thread_;
};

JsonRpcClient client_for(const std::string& url, JsonRpcOptions options = {}) {
  auto endpoint = parse_rpc_endpoint(url);
  EXPECT_TRUE(endpoint) << endpoint.error().message;
  return JsonRpcClient(endpoint ? std::move(*endpoint) : RpcEndpoint{}, options);
}

// Every part of a URL that may hold a secret, as the tests below spell them.
const std::vector<std::string> kSecrets = {"alice", "s3cret", "YWxpY2U6czNjcmV0", "SECRETKEY", "QUERYSECRET"};
constexpr std::string_view kSecretUserinfo = "alice:s3cret@";
constexpr std::string_view kSecretTarget = "/v3/SECRETKEY?apikey=QUERYSECRET";

void expect_no_secret(const Error& e) {
  const std::string details = json::serialize(e.details);
  for (const auto& secret : kSecrets) {
    EXPECT_EQ(e.message.find(secret), std::string::npos) << secret << " in " << e.message;
    EXPECT_EQ(details.find(secret), std::string::npos) << secret << " in " << details;
  }
}

// ---- parse_rpc_endpoint --------------------------------------------------------------------------------------------

TEST(ParseRpcEndpoint, SchemesPortsAndTargets) {
  struct Row {
    std::string url;
    bool tls;
    std::string host;
    std::uint16_t port;
    std::string target;
    std::string display;
  };
  const std::vector<Row> rows = {
      {"http://node.example", false, "node.example", 80, "/", "http://node.example:80"},
      {"https://node.example", true, "node.example", 443, "/", "https://node.example:443"},
      {"http://127.0.0.1:8545", false, "127.0.0.1", 8545, "/", "http://127.0.0.1:8545"},
      {"https://mainnet.infura.io/v3/KEY", true, "mainnet.infura.io", 443, "/v3/KEY", "https://mainnet.infura.io:443"},
      {"HTTPS://Node.Example:1/", true, "Node.Example", 1, "/", "https://Node.Example:1"},
      {"http://h:65535?key=1", false, "h", 65535, "/?key=1", "http://h:65535"},
      {"http://h/rpc?key=1&x=%20", false, "h", 80, "/rpc?key=1&x=%20", "http://h:80"},
      {"http://[::1]:8545/rpc", false, "::1", 8545, "/rpc", "http://[::1]:8545"},
      {"https://[2001:db8::1]", true, "2001:db8::1", 443, "/", "https://[2001:db8::1]:443"},
  };
  for (const auto& row : rows) {
    auto ep = parse_rpc_endpoint(row.url);
    ASSERT_TRUE(ep) << row.url << ": " << ep.error().message;
    EXPECT_EQ(ep->tls, row.tls) << row.url;
    EXPECT_EQ(ep->host, row.host) << row.url;
    EXPECT_EQ(ep->port, row.port) << row.url;
    EXPECT_EQ(ep->target, row.target) << row.url;
    EXPECT_EQ(ep->display, row.display) << row.url;
    EXPECT_EQ(ep->authorization, "") << row.url;
  }
}

TEST(ParseRpcEndpoint, UserinfoBecomesBasicAuthorizationAndLeavesTheDisplay) {
  struct Row {
    std::string url;
    std::string authorization;  // base64 computed independently (coreutils base64)
  };
  const std::vector<Row> rows = {
      {"https://alice:s3cret@node.example/v3/KEY", "Basic YWxpY2U6czNjcmV0"},  // alice:s3cret
      {"http://bob:p%40ss%3Aword@h:8545", "Basic Ym9iOnBAc3M6d29yZA=="},       // bob:p@ss:word
      {"http://token@h", "Basic dG9rZW46"},                                    // token:
      {"http://a%3Ab:c@h", "Basic YTpiOmM="},                                  // a:b:c
      {"http://u:p@ss@[::1]:1", "Basic dTpwQHNz"},                             // u:p@ss
  };
  for (const auto& row : rows) {
    auto ep = parse_rpc_endpoint(row.url);
    ASSERT_TRUE(ep) << row.url << ": " << ep.error().message;
    EXPECT_EQ(ep->authorization, row.authorization) << row.url;
    EXPECT_EQ(ep->display.find('@'), std::string::npos) << ep->display;
  }
  auto ep = parse_rpc_endpoint("https://alice:s3cret@node.example/v3/SECRETKEY?apikey=QUERYSECRET");
  ASSERT_TRUE(ep);
  EXPECT_EQ(ep->display, "https://node.example:443");
  EXPECT_EQ(ep->target, "/v3/SECRETKEY?apikey=QUERYSECRET");
}

TEST(ParseRpcEndpoint, RefusesWhatItCannotUseWithoutRepeatingTheSecrets) {
  const std::vector<std::string> urls = {
      "",
      "node.example:8545",
      "ftp://alice:s3cret@h/v3/SECRETKEY",
      "ws://h/v3/SECRETKEY?apikey=QUERYSECRET",
      "http://",
      "http:///v3/SECRETKEY",
      "http://alice:s3cret@/v3/SECRETKEY",
      "http://:8545/v3/SECRETKEY",
      "http://h:0/v3/SECRETKEY",
      "http://h:65536/v3/SECRETKEY",
      "http://h:123456/v3/SECRETKEY",
      "http://h:-1/v3/SECRETKEY",
      "http://h:port/v3/SECRETKEY",
      "http://h:/v3/SECRETKEY",
      "http://h/v3/SECRETKEY#SECRETFRAG",
      "http://h/v3/SECRETKEY?apikey=QUERYSECRET#SECRETFRAG",
      "http://[::1/v3/SECRETKEY",
      "http://[not::v6::]/v3/SECRETKEY",
      "http://[::1]x/v3/SECRETKEY",
      "http://::1:8545/v3/SECRETKEY",
      "http://h/v3/SECRETKEY?apikey=QUERY SECRET",
      "http://h/v3/SECRETKEY\r\nX: QUERYSECRET",
      "http://ho st/v3/SECRETKEY",
      "http://alice:s3cret%zz@h/v3/SECRETKEY",
      "http://alice:s3cret%4@h/v3/SECRETKEY",
  };
  for (const auto& url : urls) {
    auto ep = parse_rpc_endpoint(url);
    ASSERT_FALSE(ep) << url;
    EXPECT_EQ(ep.error().code, ErrorCode::kInvalidArgument) << url;
    EXPECT_TRUE(ep.error().message.starts_with("RPC URL: ")) << ep.error().message;
    for (const char* secret : {"alice", "s3cret", "SECRETKEY", "QUERY", "SECRETFRAG"}) {
      EXPECT_EQ(ep.error().message.find(secret), std::string::npos) << url << " -> " << ep.error().message;
    }
  }
}

// ---- JsonRpcClient -------------------------------------------------------------------------------------------------

TEST(JsonRpcClient, ReturnsTheResultOfAProperJsonRpcPost) {
  ScriptedNode node([](const Request& r) { return result_reply(r, "0x7a69"); });
  auto client = client_for(node.url());
  auto result = client.call("eth_chainId", json::array{1, "two", nullptr});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(*result, json::value("0x7a69"));

  const auto requests = node.requests();
  ASSERT_EQ(requests.size(), 1u);
  const Request& r = requests[0];
  EXPECT_EQ(r.method(), http::verb::post);
  EXPECT_EQ(r.version(), 11u);
  EXPECT_EQ(r.target(), "/");
  EXPECT_EQ(r[http::field::content_type], "application/json");
  EXPECT_EQ(r[http::field::host], "127.0.0.1:" + std::to_string(node.port()));
  EXPECT_EQ(r.count(http::field::authorization), 0u);
  EXPECT_EQ(r[http::field::content_length], std::to_string(r.body().size()));
  const json::object body = json::parse(r.body()).as_object();
  EXPECT_EQ(body.size(), 4u);
  EXPECT_EQ(body.at("jsonrpc"), json::value("2.0"));
  EXPECT_TRUE(body.at("id").is_number());
  EXPECT_EQ(body.at("method"), json::value("eth_chainId"));
  EXPECT_EQ(body.at("params"), (json::array{1, "two", nullptr}));
}

TEST(JsonRpcClient, SendsThePathQueryAndBasicAuthorizationOfTheUrl) {
  ScriptedNode node([](const Request& r) { return result_reply(r, nullptr); });
  auto client = client_for(node.url(kSecretUserinfo, kSecretTarget));
  auto result = client.call("eth_blockNumber", {});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->is_null());  // null is a result like any other
  const auto requests = node.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].target(), kSecretTarget);
  EXPECT_EQ(requests[0][http::field::authorization], "Basic YWxpY2U6czNjcmV0");
  EXPECT_EQ(json::parse(requests[0].body()).at("params"), json::array());
}

TEST(JsonRpcClient, EachCallHasItsOwnId) {
  ScriptedNode node([](const Request& r) { return result_reply(r, "0x1"); });
  auto client = client_for(node.url());
  ASSERT_TRUE(client.call("eth_blockNumber", {}));
  ASSERT_TRUE(client.call("eth_blockNumber", {}));
  const auto requests = node.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(request_id(requests[0]), request_id(requests[1]));
}

TEST(JsonRpcClient, OneClientServesManyThreadsAtOnce) {
  ScriptedNode node([](const Request& r) { return result_reply(r, request_id(r)); });  // echoes the id
  auto client = client_for(node.url());
  constexpr int kThreads = 8;
  constexpr int kCalls = 10;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<std::string> failures;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) {
        auto result = client.call("eth_blockNumber", {});
        if (!result || !result->is_number()) {
          const std::lock_guard lock(mu);
          failures.push_back(result ? json::serialize(*result) : result.error().message);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(failures.empty()) << (failures.empty() ? "" : failures.front());
  std::set<std::int64_t> ids;
  for (const auto& r : node.requests()) ids.insert(request_id(r).to_number<std::int64_t>());
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kThreads * kCalls));  // every call had an id of its own
}

TEST(JsonRpcClient, AJsonRpcErrorIsTheNodesRefusal) {
  json::object error{{"code", -32000}, {"message", "nonce too low"}, {"data", {{"nonce", 7}}}};
  ScriptedNode node([&](const Request& r) { return error_reply(r, error); });
  auto client = client_for(node.url(kSecretUserinfo, kSecretTarget));
  auto result = client.call("eth_sendRawTransaction", {"0x02"});
  ASSERT_FALSE(result);
  const Error& e = result.error();
  const std::string display = "http://127.0.0.1:" + std::to_string(node.port());
  EXPECT_EQ(e.code, ErrorCode::kConflict);
  EXPECT_EQ(e.message, display + " refused eth_sendRawTransaction: nonce too low (code -32000)");
  EXPECT_EQ(e.details.at("endpoint"), json::value(display));
  EXPECT_EQ(e.details.at("rpcCode"), json::value(-32000));
  EXPECT_EQ(e.details.at("rpcMessage"), json::value("nonce too low"));
  EXPECT_EQ(e.details.at("rpcData"), (json::value{{"nonce", 7}}));
  expect_no_secret(e);
}

TEST(JsonRpcClient, AJsonRpcErrorWithoutDataHasNoRpcData) {
  ScriptedNode node([](const Request& r) { return error_reply(r, {{"code", 3}, {"message", "execution reverted"}}); });
  auto client = client_for(node.url());
  auto result = client.call("eth_estimateGas", {});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kConflict);
  EXPECT_EQ(result.error().details.at("rpcCode"), json::value(3));
  EXPECT_FALSE(result.error().details.contains("rpcData"));
}

TEST(JsonRpcClient, BrokenAnswersAreUnavailable) {
  struct Row {
    std::string what;
    std::function<Reply(const Request&)> reply;
  };
  auto with_id = [](const Request& r, std::string_view rest) {
    return Reply{http_response(200, R"({"jsonrpc":"2.0","id":)" + json::serialize(request_id(r)) + std::string(rest))};
  };
  const std::vector<Row> rows = {
      {"HTTP 500 with a JSON-RPC body",
       [](const Request& r) {
         json::object body{{"jsonrpc", "2.0"}, {"id", request_id(r)}, {"result", "0x1"}};
         return Reply{http_response(500, json::serialize(body))};
       }},
      {"HTTP 404", [](const Request&) { return Reply{http_response(404, "not found", "text/plain")}; }},
      {"HTTP 429", [](const Request&) { return Reply{http_response(429, "slow down", "text/plain")}; }},
      {"not JSON", [](const Request&) { return Reply{http_response(200, "<html>hello</html>", "text/html")}; }},
      {"JSON, not an object", [](const Request&) { return Reply{http_response(200, "[1,2]")}; }},
      {"not 2.0",
       [](const Request& r) {
         json::object body{{"jsonrpc", "1.0"}, {"id", request_id(r)}, {"result", "0x1"}};
         return Reply{http_response(200, json::serialize(body))};
       }},
      {"another id",
       [](const Request& r) {
         json::object body{{"jsonrpc", "2.0"}, {"id", request_id(r).to_number<std::int64_t>() + 1}, {"result", "0x1"}};
         return Reply{http_response(200, json::serialize(body))};
       }},
      {"the id as a string",
       [](const Request& r) {
         json::object body{{"jsonrpc", "2.0"}, {"id", json::serialize(request_id(r))}, {"result", "0x1"}};
         return Reply{http_response(200, json::serialize(body))};
       }},
      {"no id", [](const Request&) { return Reply{http_response(200, R"({"jsonrpc":"2.0","result":"0x1"})")}; }},
      {"neither result nor error", [&](const Request& r) { return with_id(r, "}"); }},
      {"an error that is not an error object", [&](const Request& r) { return with_id(r, R"(,"error":"boom"})"); }},
      {"an error without an integer code",
       [&](const Request& r) { return with_id(r, R"(,"error":{"code":"x","message":"boom"}})"); }},
      {"the connection closed without an answer", [](const Request&) { return Reply{""}; }},
      {"a truncated body",
       [](const Request&) {
         return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"jsonrpc\""};
       }},
      {"not HTTP", [](const Request&) { return Reply{"SSH-2.0-OpenSSH_9.2\r\n"}; }},
      {"a body over the limit", [](const Request& r) { return result_reply(r, json::value(std::string(4096, 'a'))); }},
      {"a chunked body over the limit",
       [](const Request&) {
         std::string raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
         for (int i = 0; i < 8; ++i) raw += "200\r\n" + std::string(512, ' ') + "\r\n";
         return Reply{raw + "0\r\n\r\n"};
       }},
  };
  JsonRpcOptions options;
  options.max_response_bytes = 1024;
  options.timeout = std::chrono::seconds(5);
  for (const auto& row : rows) {
    ScriptedNode node(row.reply);
    auto client = client_for(node.url(kSecretUserinfo, kSecretTarget), options);
    auto result = client.call("eth_chainId", {});
    ASSERT_FALSE(result) << row.what;
    const Error& e = result.error();
    const std::string display = "http://127.0.0.1:" + std::to_string(node.port());
    EXPECT_EQ(e.code, ErrorCode::kUnavailable) << row.what << ": " << e.message;
    EXPECT_TRUE(e.message.starts_with(display + ": ")) << row.what << ": " << e.message;
    EXPECT_EQ(e.details, (json::object{{"endpoint", display}})) << row.what;
    expect_no_secret(e);
  }
}

TEST(JsonRpcClient, AResponseJustUnderTheLimitIsRead) {
  ScriptedNode node([](const Request& r) { return result_reply(r, json::value(std::string(900, 'a'))); });
  JsonRpcOptions options;
  options.max_response_bytes = 1024;
  auto client = client_for(node.url(), options);
  auto result = client.call("eth_chainId", {});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->as_string().size(), 900u);
}

TEST(JsonRpcClient, ANodeThatNeverAnswersTimesOutAtTheDeadline) {
  ScriptedNode node([](const Request&) { return Reply{"", true}; });
  JsonRpcOptions options;
  options.timeout = std::chrono::milliseconds(400);
  auto client = client_for(node.url(kSecretUserinfo, kSecretTarget), options);
  const auto start = std::chrono::steady_clock::now();
  auto result = client.call("eth_chainId", {});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(result.error().message.find("no answer within 400 ms"), std::string::npos) << result.error().message;
  EXPECT_GE(elapsed, std::chrono::milliseconds(350));
  EXPECT_LT(elapsed, std::chrono::milliseconds(2500));
  EXPECT_EQ(node.requests().size(), 1u);  // it did receive the request
  expect_no_secret(result.error());
}

TEST(JsonRpcClient, ARefusedConnectionIsUnavailable) {
  std::uint16_t port = 0;
  {
    asio::io_context io;
    tcp::acceptor closed(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = closed.local_endpoint().port();
  }
  auto client = client_for("http://alice:s3cret@127.0.0.1:" + std::to_string(port) + std::string(kSecretTarget));
  auto result = client.call("eth_chainId", {});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(result.error().message.find("http://127.0.0.1:" + std::to_string(port) + ": connecting failed"), 0u)
      << result.error().message;
  expect_no_secret(result.error());
}

TEST(JsonRpcClient, AHostThatDoesNotResolveIsUnavailable) {
  // .invalid never resolves (RFC 6761); without a reachable DNS server the lookup may stall instead, which the
  // deadline ends.
  JsonRpcOptions options;
  options.timeout = std::chrono::seconds(3);
  auto client = client_for("http://alice:s3cret@no-such-node.invalid:8545" + std::string(kSecretTarget), options);
  const auto start = std::chrono::steady_clock::now();
  auto result = client.call("eth_chainId", {});
  ASSERT_FALSE(result);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(result.error().message.starts_with("http://no-such-node.invalid:8545: ")) << result.error().message;
  expect_no_secret(result.error());
}

// ---- HTTPS ---------------------------------------------------------------------------------------------------------

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertDeleter {
  void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using Cert = std::unique_ptr<X509, CertDeleter>;

Key new_key() { return Key(EVP_EC_gen("P-256")); }

// A certificate for `subject_key`, signed by `issuer` (nullptr: self-signed), a CA or a server with `san`
// ("DNS:localhost,IP:127.0.0.1").
Cert new_cert(EVP_PKEY* subject_key, const std::string& common_name, EVP_PKEY* issuer_key, X509* issuer, bool ca,
              const std::string& san) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), subject_key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    ASSERT_NE(ext, nullptr) << value;
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  };
  add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add(NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add(NID_subject_key_identifier, "hash");
  if (!san.empty()) add(NID_subject_alt_name, san);
  EXPECT_GT(X509_sign(cert.get(), issuer_key ? issuer_key : subject_key, EVP_sha256()), 0);
  return cert;
}

// A test CA, written to a PEM file, and contexts for servers whose certificates it signed.
class TestPki {
 public:
  TestPki() : dir_(std::filesystem::temp_directory_path() / ("signerd-rpc-pki-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir_ / "empty");
    ca_key_ = new_key();
    ca_ = new_cert(ca_key_.get(), "signerd test CA", nullptr, nullptr, true, "");
    FILE* f = std::fopen(ca_file().c_str(), "w");
    PEM_write_X509(f, ca_.get());
    std::fclose(f);
  }
  ~TestPki() { std::filesystem::remove_all(dir_); }

  std::filesystem::path ca_file() const { return dir_ / "ca.pem"; }
  std::filesystem::path empty_dir() const { return dir_ / "empty"; }

  // A server context with a certificate for `san`; signed by this CA, or by a CA nobody trusts.
  std::unique_ptr<asio::ssl::context> server(const std::string& san, bool trusted = true) {
    auto key = new_key();
    auto other_ca_key = new_key();
    auto other_ca = new_cert(other_ca_key.get(), "untrusted CA", nullptr, nullptr, true, "");
    auto cert = trusted ? new_cert(key.get(), "node", ca_key_.get(), ca_.get(), false, san)
                        : new_cert(key.get(), "node", other_ca_key.get(), other_ca.get(), false, san);
    auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    EXPECT_EQ(SSL_CTX_use_certificate(context->native_handle(), cert.get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(context->native_handle(), key.get()), 1);
    return context;
  }

 private:
  std::filesystem::path dir_;
  Key ca_key_;
  Cert ca_;
};

// Points OpenSSL's default verify paths at the test CA (and nothing else) while it lives.
class TrustOnly {
 public:
  explicit TrustOnly(const TestPki& pki) {
    ::setenv("SSL_CERT_FILE", pki.ca_file().c_str(), 1);
    ::setenv("SSL_CERT_DIR", pki.empty_dir().c_str(), 1);
  }
  ~TrustOnly() {
    ::unsetenv("SSL_CERT_FILE");
    ::unsetenv("SSL_CERT_DIR");
  }
};

TEST(JsonRpcClientTls, VerifiesTheChainAndTheNameAndSendsSni) {
  TestPki pki;
  TrustOnly trust(pki);
  auto tls = pki.server("DNS:localhost,IP:127.0.0.1");
  ScriptedNode node([](const Request& r) { return result_reply(r, "0x7a69"); }, tls.get());

  auto by_name = client_for("https://localhost:" + std::to_string(node.port()) + "/rpc");
  auto result = by_name.call("eth_chainId", {});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(*result, json::value("0x7a69"));
  EXPECT_EQ(node.server_names(), std::vector<std::string>{"localhost"});

  auto by_address = client_for(node.url());
  result = by_address.call("eth_chainId", {});
  ASSERT_TRUE(result) << result.error().message;
  // No SNI for an address (RFC 6066 §3).
  EXPECT_EQ(node.server_names(), (std::vector<std::string>{"localhost", ""}));
  ASSERT_EQ(node.requests().size(), 2u);
  EXPECT_EQ(node.requests()[0].target(), "/rpc");
}

TEST(JsonRpcClientTls, RefusesACertificateForAnotherName) {
  TestPki pki;
  TrustOnly trust(pki);
  auto tls = pki.server("DNS:other.example,IP:10.0.0.1");
  ScriptedNode node([](const Request& r) { return result_reply(r, "0x1"); }, tls.get());
  for (const std::string host : {"localhost", "127.0.0.1"}) {
    auto client =
        client_for("https://alice:s3cret@" + host + ":" + std::to_string(node.port()) + std::string(kSecretTarget));
    auto result = client.call("eth_chainId", {});
    ASSERT_FALSE(result) << host;
    EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(result.error().message.find("mismatch"), std::string::npos) << result.error().message;
    expect_no_secret(result.error());
  }
  EXPECT_TRUE(node.requests().empty());  // nothing, the Authorization header included, was sent
}

TEST(JsonRpcClientTls, RefusesAnUntrustedCertificate) {
  TestPki pki;
  TrustOnly trust(pki);
  auto tls = pki.server("DNS:localhost,IP:127.0.0.1", /*trusted=*/false);
  ScriptedNode node([](const Request& r) { return result_reply(r, "0x1"); }, tls.get());
  auto client = client_for(node.url(kSecretUserinfo, kSecretTarget));
  auto result = client.call("eth_chainId", {});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(result.error().message.find("certificate refused"), std::string::npos) << result.error().message;
  expect_no_secret(result.error());
  EXPECT_TRUE(node.requests().empty());
}

TEST(JsonRpcClientTls, PlainHttpToATlsPortIsUnavailable) {
  TestPki pki;
  auto tls = pki.server("IP:127.0.0.1");
  ScriptedNode node([](const Request& r) { return result_reply(r, "0x1"); }, tls.get());
  JsonRpcOptions options;
  options.timeout = std::chrono::seconds(3);
  auto client = client_for("http://127.0.0.1:" + std::to_string(node.port()), options);
  auto result = client.call("eth_chainId", {});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
}

// ---- EthRpc --------------------------------------------------------------------------------------------------------

// A node whose answer to each method the test sets: a result, or a JSON-RPC error object.
class EthRpcTest : public ::testing::Test {
 protected:
  EthRpcTest()
      : node_([this](const Request& r) {
          const std::lock_guard lock(mu_);
          const std::string method = request_method(r);
          if (auto e = errors_.find(method); e != errors_.end()) return error_reply(r, e->second);
          auto it = results_.find(method);
          if (it == results_.end()) return error_reply(r, {{"code", -32601}, {"message", "no such method"}});
          return result_reply(r, it->second);
        }),
        client_(client_for(node_.url())),
        eth_(client_) {}

  void answer(const std::string& method, json::value result) {
    const std::lock_guard lock(mu_);
    errors_.erase(method);
    results_[method] = std::move(result);
  }
  void refuse(const std::string& method, json::object error) {
    const std::lock_guard lock(mu_);
    errors_[method] = std::move(error);
  }
  json::array last_params() {
    const auto requests = node_.requests();
    EXPECT_FALSE(requests.empty());
    return requests.empty() ? json::array() : json::parse(requests.back().body()).at("params").as_array();
  }
  std::string last_method() {
    const auto requests = node_.requests();
    return requests.empty() ? "" : request_method(requests.back());
  }

  static chains::EvmAddress address(std::string_view text) { return *chains::parse_evm_address(text); }
  static chains::Uint256 u256(std::string_view hex) {
    auto bytes = from_hex(hex);
    return *chains::Uint256::from_big_endian(*bytes);
  }

  std::mutex mu_;
  std::map<std::string, json::value> results_;  // guarded by mu_
  std::map<std::string, json::object> errors_;  // guarded by mu_
  ScriptedNode node_;
  JsonRpcClient client_;
  EthRpc eth_;
};

template <class T>
void expect_unavailable(const Result<T>& r, std::string_view what) {
  ASSERT_FALSE(r) << what;
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << what << ": " << r.error().message;
  EXPECT_TRUE(r.error().details.contains("endpoint")) << what;
}

TEST_F(EthRpcTest, ParsesQuantities) {
  const std::vector<std::pair<std::string, std::uint64_t>> rows = {{"0x0", 0},
                                                                   {"0x1", 1},
                                                                   {"0x1a", 26},
                                                                   {"0x1A", 26},
                                                                   {"0x001a", 26},
                                                                   {"0x7a69", 31337},
                                                                   {"0xffffffffffffffff", 0xffffffffffffffffULL}};
  for (const auto& [text, value] : rows) {
    answer("eth_chainId", json::value(text));
    auto chain = eth_.chain_id();
    ASSERT_TRUE(chain) << text << ": " << chain.error().message;
    EXPECT_EQ(*chain, value) << text;
  }
  EXPECT_EQ(last_method(), "eth_chainId");
  EXPECT_EQ(last_params(), json::array());

  answer("eth_blockNumber", "0x10");
  EXPECT_EQ(eth_.block_number().value(), 16u);
  EXPECT_EQ(last_method(), "eth_blockNumber");
}

TEST_F(EthRpcTest, RefusesMalformedQuantitiesAsUnavailable) {
  const std::vector<json::value> bad = {
      "0x",
      "1a",
      "0xzz",
      "0x1g",
      "0X1a",
      "",
      " 0x1",
      "0x1 ",
      "-0x1",
      26,
      nullptr,
      true,
      json::object{},
      "0x10000000000000000",  // more than 64 bits
  };
  for (const auto& value : bad) {
    answer("eth_chainId", value);
    expect_unavailable(eth_.chain_id(), json::serialize(value));
  }
  answer("eth_getBalance", json::value("0x1" + std::string(64, '0')));  // 2^256
  expect_unavailable(eth_.get_balance(chains::EvmAddress{}), "2^256");
}

TEST_F(EthRpcTest, GetBalanceReads256Bits) {
  const auto a = address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  answer("eth_getBalance", "0x21e19e0c9bab2400000");  // 10000 ether
  auto balance = eth_.get_balance(a);
  ASSERT_TRUE(balance) << balance.error().message;
  EXPECT_EQ(balance->to_decimal(), "10000000000000000000000");
  EXPECT_EQ(last_method(), "eth_getBalance");
  EXPECT_EQ(last_params(), (json::array{"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", "latest"}));

  answer("eth_getBalance", json::value("0x" + std::string(64, 'f')));
  balance = eth_.get_balance(a);
  ASSERT_TRUE(balance);
  EXPECT_EQ(*balance, u256(std::string(64, 'f')));
  answer("eth_getBalance", json::value("0x000" + std::string(64, 'f')));  // padded, still 256 bits
  EXPECT_TRUE(eth_.get_balance(a));
}

TEST_F(EthRpcTest, MinedNonceAsksForTheLatestBlock) {
  answer("eth_getTransactionCount", "0x4");
  EXPECT_EQ(eth_.mined_nonce(address("0x00000000000000000000000000000000000000aa")).value(), 4u);
  EXPECT_EQ(last_params(), (json::array{"0x00000000000000000000000000000000000000aa", "latest"}));
}

TEST_F(EthRpcTest, PendingNonceAskesForThePendingState) {
  answer("eth_getTransactionCount", "0x5");
  EXPECT_EQ(eth_.pending_nonce(address("0x00000000000000000000000000000000000000aa")).value(), 5u);
  EXPECT_EQ(last_method(), "eth_getTransactionCount");
  EXPECT_EQ(last_params(), (json::array{"0x00000000000000000000000000000000000000aa", "pending"}));
}

TEST_F(EthRpcTest, GetCodeReadsBytes) {
  const auto a = address("0x00000000000000000000000000000000000000aa");
  answer("eth_getCode", "0x");
  auto code = eth_.get_code(a);
  ASSERT_TRUE(code) << code.error().message;
  EXPECT_TRUE(code->empty());
  EXPECT_EQ(last_params(), (json::array{"0x00000000000000000000000000000000000000aa", "latest"}));
  answer("eth_getCode", "0x6080aB");
  EXPECT_EQ(eth_.get_code(a).value(), (Bytes{0x60, 0x80, 0xab}));
  for (const json::value& bad :
       {json::value("0x608"), json::value("6080"), json::value("0xgg"), json::value(nullptr)}) {
    answer("eth_getCode", bad);
    expect_unavailable(eth_.get_code(a), json::serialize(bad));
  }
}

TEST_F(EthRpcTest, LatestBaseFeeComesFromTheLatestBlock) {
  answer("eth_getBlockByNumber", {{"number", "0x10"}, {"baseFeePerGas", "0x3b9aca00"}});
  auto fee = eth_.latest_base_fee();
  ASSERT_TRUE(fee) << fee.error().message;
  EXPECT_EQ(*fee, chains::Uint256::from_u64(1000000000));
  EXPECT_EQ(last_method(), "eth_getBlockByNumber");
  EXPECT_EQ(last_params(), (json::array{"latest", false}));

  answer("eth_getBlockByNumber", {{"number", "0x10"}});  // pre-London
  expect_unavailable(eth_.latest_base_fee(), "no baseFeePerGas");
  answer("eth_getBlockByNumber", {{"baseFeePerGas", nullptr}});
  expect_unavailable(eth_.latest_base_fee(), "null baseFeePerGas");
  answer("eth_getBlockByNumber", {{"baseFeePerGas", "1000"}});
  expect_unavailable(eth_.latest_base_fee(), "decimal baseFeePerGas");
  answer("eth_getBlockByNumber", nullptr);
  expect_unavailable(eth_.latest_base_fee(), "no block");
}

TEST_F(EthRpcTest, MaxPriorityFee) {
  answer("eth_maxPriorityFeePerGas", "0x59682f00");
  EXPECT_EQ(eth_.max_priority_fee().value(), chains::Uint256::from_u64(1500000000));
  EXPECT_EQ(last_method(), "eth_maxPriorityFeePerGas");
  answer("eth_maxPriorityFeePerGas", "0x");
  expect_unavailable(eth_.max_priority_fee(), "0x");
}

TEST_F(EthRpcTest, EstimateGasSendsFromToAndData) {
  const auto from = address("0x00000000000000000000000000000000000000aa");
  const auto to = address("0x00000000000000000000000000000000000000bb");
  const Bytes data = {0xde, 0xad};
  answer("eth_estimateGas", "0x5208");
  EXPECT_EQ(eth_.estimate_gas(from, to, data).value(), 21000u);
  EXPECT_EQ(last_method(), "eth_estimateGas");
  EXPECT_EQ(last_params(), (json::array{{{"from", "0x00000000000000000000000000000000000000aa"},
                                         {"to", "0x00000000000000000000000000000000000000bb"},
                                         {"data", "0xdead"}}}));

  refuse("eth_estimateGas", {{"code", 3}, {"message", "execution reverted"}, {"data", "0x08c379a0"}});
  auto reverted = eth_.estimate_gas(from, to, data);
  ASSERT_FALSE(reverted);
  EXPECT_EQ(reverted.error().code, ErrorCode::kConflict);
  EXPECT_EQ(reverted.error().details.at("rpcData"), json::value("0x08c379a0"));
}

TEST_F(EthRpcTest, CallReturnsTheBytes) {
  answer("eth_call", "0x0000000000000000000000000000000000000000000000000000000000000001");
  auto out = eth_.call(address("0x00000000000000000000000000000000000000bb"), Bytes{0x01, 0x02});
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ(out->size(), 32u);
  EXPECT_EQ(out->back(), 1);
  EXPECT_EQ(last_method(), "eth_call");
  EXPECT_EQ(last_params(),
            (json::array{{{"to", "0x00000000000000000000000000000000000000bb"}, {"data", "0x0102"}}, "latest"}));
  answer("eth_call", "0x");
  EXPECT_TRUE(eth_.call(address("0x00000000000000000000000000000000000000bb"), {}).value().empty());
}

TEST_F(EthRpcTest, SendRawTransactionReturnsTheHash) {
  const std::string hash = "0x" + std::string(62, '0') + "ab";
  answer("eth_sendRawTransaction", json::value(hash));
  auto sent = eth_.send_raw_transaction(Bytes{0x02, 0xc0});
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(to_hex_0x(*sent), hash);
  EXPECT_EQ(last_params(), json::array{"0x02c0"});

  answer("eth_sendRawTransaction", "0xabcd");
  expect_unavailable(eth_.send_raw_transaction(Bytes{0x02}), "short hash");
  refuse("eth_sendRawTransaction", {{"code", -32000}, {"message", "nonce too low"}});
  auto refused = eth_.send_raw_transaction(Bytes{0x02});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
}

TEST_F(EthRpcTest, GetReceiptReadsStatusBlockGasAndCreatedContract) {
  chains::Hash256 tx{};
  tx[31] = 0x42;
  answer("eth_getTransactionReceipt",
         {{"status", "0x1"}, {"blockNumber", "0x1a"}, {"gasUsed", "0x5208"}, {"contractAddress", nullptr}});
  auto receipt = eth_.get_receipt(tx);
  ASSERT_TRUE(receipt) << receipt.error().message;
  ASSERT_TRUE(receipt->has_value());
  EXPECT_TRUE((*receipt)->success);
  EXPECT_EQ((*receipt)->block_number, 26u);
  EXPECT_EQ((*receipt)->gas_used, 21000u);
  EXPECT_FALSE((*receipt)->contract_address);
  EXPECT_EQ(last_method(), "eth_getTransactionReceipt");
  EXPECT_EQ(last_params(), json::array{json::value(to_hex_0x(tx))});

  answer("eth_getTransactionReceipt", {{"status", "0x0"},
                                       {"blockNumber", "0x2"},
                                       {"gasUsed", "0x10"},
                                       {"contractAddress", "0x5fbdb2315678afecb367f032d93f642f64180aa3"}});
  receipt = eth_.get_receipt(tx);
  ASSERT_TRUE(receipt) << receipt.error().message;
  ASSERT_TRUE(receipt->has_value());
  EXPECT_FALSE((*receipt)->success);
  ASSERT_TRUE((*receipt)->contract_address);
  EXPECT_EQ(chains::eip55_encode(*(*receipt)->contract_address), "0x5FbDB2315678afecb367f032d93F642f64180aa3");

  answer("eth_getTransactionReceipt", nullptr);  // not mined
  receipt = eth_.get_receipt(tx);
  ASSERT_TRUE(receipt) << receipt.error().message;
  EXPECT_FALSE(receipt->has_value());

  const std::vector<json::value> bad = {
      json::object{{"blockNumber", "0x1"}, {"gasUsed", "0x1"}},  // pre-Byzantium: no status
      json::object{{"status", "0x2"}, {"blockNumber", "0x1"}, {"gasUsed", "0x1"}},
      json::object{{"status", "0x1"}, {"gasUsed", "0x1"}},
      json::object{{"status", "0x1"}, {"blockNumber", "0x1"}, {"gasUsed", "21000"}},
      json::object{{"status", "0x1"}, {"blockNumber", "0x1"}, {"gasUsed", "0x1"}, {"contractAddress", "0x12"}},
      json::value("0x1"),
  };
  for (const auto& value : bad) {
    answer("eth_getTransactionReceipt", value);
    expect_unavailable(eth_.get_receipt(tx), json::serialize(value));
  }
}

TEST_F(EthRpcTest, KnowsTransaction) {
  chains::Hash256 tx{};
  answer("eth_getTransactionByHash", nullptr);
  EXPECT_EQ(eth_.knows_transaction(tx).value(), false);
  EXPECT_EQ(last_method(), "eth_getTransactionByHash");
  answer("eth_getTransactionByHash", {{"hash", to_hex_0x(tx)}, {"blockNumber", nullptr}});
  EXPECT_EQ(eth_.knows_transaction(tx).value(), true);
  answer("eth_getTransactionByHash", "pending");
  expect_unavailable(eth_.knows_transaction(tx), "a string");
}

TEST_F(EthRpcTest, TransportErrorsPassThroughUnchanged) {
  refuse("eth_chainId", {{"code", -32601}, {"message", "the method eth_chainId does not exist"}});
  auto chain = eth_.chain_id();
  ASSERT_FALSE(chain);
  EXPECT_EQ(chain.error().code, ErrorCode::kConflict);
  EXPECT_EQ(chain.error().message,
            client_.endpoint().display + " refused eth_chainId: the method eth_chainId does not exist (code -32601)");
}

}  // namespace
}  // namespace signerd::smart

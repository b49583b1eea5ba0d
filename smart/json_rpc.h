#pragma once
// A blocking JSON-RPC 2.0 client for an Ethereum node (http:// or https://, HTTP/1.1 over Boost.Beast), and the few
// eth_* methods smart-account activation needs. One connection per call (nodes behind load balancers close idle
// connections anyway; activation makes a handful of calls per minute), a deadline per call, a bounded response.
//
// Secrets: an endpoint URL's path and query often carry a provider API key (https://host/v3/KEY), and its userinfo a
// password. They are never put in an error message or a log line: messages name the endpoint as
// scheme://host:port only (RpcEndpoint::display).
//
// Errors:
// - kUnavailable for the transport: the host does not resolve, the connection or the TLS handshake fails, the
//   deadline passes, the HTTP status is not 200, the body is not a JSON-RPC 2.0 response with our id, or it is larger
//   than the limit. details: {"endpoint": display}.
// - kConflict when the node answers with a JSON-RPC error object (it refused the call: a revert, "nonce too low",
//   "insufficient funds", ...). details: {"endpoint", "rpcCode" (number), "rpcMessage" (string), and "rpcData" when
//   the node sent data}. The message is "<display> refused <method>: <rpcMessage> (code <rpcCode>)".
// - kInvalidArgument from parse_rpc_endpoint for a URL it cannot use.
// - The typed helpers add kUnavailable when a result is not of the documented shape (e.g. a quantity that is not
//   "0x" hex).
//
// Thread-safety: a JsonRpcClient is immutable after construction; call() may run on many threads at once.
#include <atomic>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "chains/evm.h"
#include "chains/evm_tx.h"
#include "common/error.h"
#include "common/hex.h"

namespace signerd::smart {

struct RpcEndpoint {
  bool tls = false;           // https
  std::string host;           // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;     // 80 / 443 when the URL has none
  std::string target;         // path and query as given ("/" when empty); may hold a secret
  std::string authorization;  // "Basic base64(user:password)" when the URL has userinfo; empty otherwise
  std::string display;        // "http://host:port": safe to log
};

// Parses "http://host[:port][/path][?query]" or "https://…" (userinfo "user:password@" allowed, IPv6 in brackets).
// kInvalidArgument for another scheme, an empty or malformed host, a bad port, a fragment, a malformed %-escape in the
// userinfo, or a space or control character in the path or query; the message never repeats any part of the URL.
Result<RpcEndpoint> parse_rpc_endpoint(std::string_view url);

struct JsonRpcOptions {
  std::chrono::milliseconds timeout{10000};  // the whole call: resolve, connect, TLS, write, read
  std::size_t max_response_bytes = 8 * 1024 * 1024;
};

class JsonRpcClient {
 public:
  JsonRpcClient(RpcEndpoint endpoint, JsonRpcOptions options = {});
  ~JsonRpcClient();
  JsonRpcClient(const JsonRpcClient&) = delete;
  JsonRpcClient& operator=(const JsonRpcClient&) = delete;

  // {"jsonrpc":"2.0","id":N,"method":method,"params":params} -> the response's "result" (which may be null).
  Result<boost::json::value> call(std::string_view method, boost::json::array params);

  const RpcEndpoint& endpoint() const { return endpoint_; }

 private:
  struct Tls;
  RpcEndpoint endpoint_;
  JsonRpcOptions options_;
  std::unique_ptr<Tls> tls_;  // the client TLS context (system CA store, peer and host name verified) for https
  std::atomic<std::uint64_t> next_id_{1};
};

// A mined transaction's receipt (the fields activation reads).
struct TxReceipt {
  bool success = false;  // status == 0x1
  std::uint64_t block_number = 0;
  std::uint64_t gas_used = 0;
  std::optional<chains::EvmAddress> contract_address;
};

// The eth_* calls activation makes, over one client. Quantities are parsed from "0x" hex (no leading zeros
// required; "0x0" is zero), data from "0x" hex.
class EthRpc {
 public:
  explicit EthRpc(JsonRpcClient& client) : client_(client) {}

  Result<std::uint64_t> chain_id();                                        // eth_chainId
  Result<std::uint64_t> block_number();                                    // eth_blockNumber
  Result<Bytes> get_code(const chains::EvmAddress& address);               // eth_getCode(address, "latest")
  Result<chains::Uint256> get_balance(const chains::EvmAddress& address);  // eth_getBalance(address, "latest")
  // eth_getTransactionCount(address, "pending")
  Result<std::uint64_t> pending_nonce(const chains::EvmAddress& address);
  // eth_getTransactionCount(address, "latest"): the nonces used by mined transactions.
  Result<std::uint64_t> mined_nonce(const chains::EvmAddress& address);
  // baseFeePerGas of eth_getBlockByNumber("latest", false); kUnavailable when the block has none (pre-London).
  Result<chains::Uint256> latest_base_fee();
  Result<chains::Uint256> max_priority_fee();  // eth_maxPriorityFeePerGas
  // eth_estimateGas({from, to, data}); a revert is the node's kConflict.
  Result<std::uint64_t> estimate_gas(const chains::EvmAddress& from, const chains::EvmAddress& to,
                                     std::span<const std::uint8_t> data);
  // eth_call({to, data}, "latest") -> the returned bytes.
  Result<Bytes> call(const chains::EvmAddress& to, std::span<const std::uint8_t> data);
  // eth_sendRawTransaction -> the transaction hash the node reports.
  Result<chains::Hash256> send_raw_transaction(std::span<const std::uint8_t> signed_tx);
  // eth_getTransactionReceipt: nullopt while the transaction is not mined (or unknown).
  Result<std::optional<TxReceipt>> get_receipt(const chains::Hash256& tx_hash);
  // eth_getTransactionByHash: whether the node knows the transaction (pending or mined).
  Result<bool> knows_transaction(const chains::Hash256& tx_hash);

 private:
  JsonRpcClient& client_;
};

}  // namespace signerd::smart

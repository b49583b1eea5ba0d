// smart/json_rpc.h against a real Ethereum node: Hardhat 2's network (tests/interop/node_modules, installed by
// `npm ci`, which ./scripts/test runs), started as a child process on a free loopback port for each test. Reads the
// chain's state, has the node refuse junk, and sends transactions signed here with Hardhat's first default account
// (a published development key) to check receipts, contract creation, eth_call and estimates on what a node really
// answers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "chains/evm.h"
#include "chains/evm_tx.h"
#include "smart/json_rpc.h"

extern char** environ;

namespace signerd::smart {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path kInteropDir = SIGNERD_INTEROP_DIR;

// Hardhat's default accounts #0 and #1 (derived from the mnemonic "test test ... junk"; public knowledge, funded
// with 10000 ETH on every fresh Hardhat network).
constexpr std::string_view kAccount0 = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
constexpr std::string_view kAccount0Key = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
constexpr std::string_view kAccount1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
constexpr std::uint64_t kHardhatChainId = 31337;

std::uint16_t free_loopback_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor probe(io,
                                       boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return probe.local_endpoint().port();
}

chains::EvmAddress address(std::string_view text) {
  auto a = chains::parse_evm_address(text);
  EXPECT_TRUE(a) << text;
  return a ? *a : chains::EvmAddress{};
}

// `hardhat node` in a process group of its own (so teardown reaches anything it starts), stdout (which lists the
// default accounts' keys) to /dev/null, stderr inherited.
class HardhatNode {
 public:
  static fs::path binary() { return kInteropDir / "node_modules" / ".bin" / "hardhat"; }

  HardhatNode() : scratch_(fs::temp_directory_path() / ("signerd-hardhat-" + std::to_string(::getpid()))) {
    fs::remove_all(scratch_);
    fs::create_directories(scratch_ / "no-sources");
    port_ = free_loopback_port();

    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      const std::string_view entry(*e);
      if (!entry.starts_with("SIGNERD_HARDHAT_DIR=") && !entry.starts_with("HARDHAT_DISABLE_TELEMETRY_PROMPT=")) {
        env.emplace_back(entry);
      }
    }
    env.push_back("SIGNERD_HARDHAT_DIR=" + scratch_.string());
    env.push_back("HARDHAT_DISABLE_TELEMETRY_PROMPT=true");
    std::vector<std::string> args = {binary().string(),
                                     "--config",
                                     (kInteropDir / "hardhat.config.cjs").string(),
                                     "node",
                                     "--hostname",
                                     "127.0.0.1",
                                     "--port",
                                     std::to_string(port_)};
    auto pointers = [](std::vector<std::string>& strings) {
      std::vector<char*> out;
      for (auto& s : strings) out.push_back(s.data());
      out.push_back(nullptr);
      return out;
    };
    auto argv = pointers(args);
    auto envp = pointers(env);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addchdir_np(&actions, kInteropDir.c_str());
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    const int rc = posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), envp.data());
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      ADD_FAILURE() << "cannot start " << binary() << ": " << std::strerror(rc);
    }
  }

  ~HardhatNode() {
    if (pid_ > 0) {
      ::kill(-pid_, SIGTERM);
      const auto give_up = std::chrono::steady_clock::now() + 10s;
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > give_up) {
          ::kill(-pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(50ms);
      }
    }
    std::error_code ignored;
    fs::remove_all(scratch_, ignored);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Until the node answers eth_chainId, the process exits, or a minute passes.
  ::testing::AssertionResult wait_ready() {
    if (pid_ <= 0) return ::testing::AssertionFailure() << "the node did not start";
    auto endpoint = parse_rpc_endpoint(url());
    if (!endpoint) return ::testing::AssertionFailure() << endpoint.error().message;
    JsonRpcClient probe(*endpoint, {.timeout = 1s});
    EthRpc eth(probe);
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    std::string last;
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionFailure() << "hardhat node exited (status " << status << ")";
      }
      auto chain = eth.chain_id();
      if (chain) return ::testing::AssertionSuccess();
      last = chain.error().message;
      if (std::chrono::steady_clock::now() > give_up) {
        return ::testing::AssertionFailure() << "hardhat node did not answer within 60 s: " << last;
      }
      std::this_thread::sleep_for(200ms);
    }
  }

 private:
  fs::path scratch_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

class JsonRpcHardhatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(HardhatNode::binary())) {
      GTEST_SKIP() << HardhatNode::binary() << " is missing: run `npm ci` in tests/interop";
    }
    node_.emplace();
    ASSERT_TRUE(node_->wait_ready());
    auto endpoint = parse_rpc_endpoint(node_->url());
    ASSERT_TRUE(endpoint) << endpoint.error().message;
    client_.emplace(std::move(*endpoint));
    eth_.emplace(*client_);
  }

  // An EIP-1559 transaction from account #0 at its pending nonce, fees from the node, signed here.
  Bytes signed_by_account0(std::optional<chains::EvmAddress> to, Bytes data, std::uint64_t gas_limit,
                           std::uint64_t value = 0) {
    chains::EvmTransaction tx;
    tx.type = chains::EvmTxType::kDynamicFee;
    tx.chain_id = chains::Uint256::from_u64(kHardhatChainId);
    tx.nonce = eth_->pending_nonce(address(kAccount0)).value();
    const auto base_fee = eth_->latest_base_fee().value();
    tx.max_priority_fee_per_gas = eth_->max_priority_fee().value();
    tx.max_fee_per_gas = base_fee;
    EXPECT_TRUE(tx.max_fee_per_gas.mul_add(2, 0));
    const auto priority_u64 = tx.max_priority_fee_per_gas.to_u64();
    EXPECT_TRUE(priority_u64);
    EXPECT_TRUE(tx.max_fee_per_gas.mul_add(1, priority_u64.value_or(0)));
    tx.gas_limit = chains::Uint256::from_u64(gas_limit);
    tx.to = to;
    tx.value = chains::Uint256::from_u64(value);
    tx.data = std::move(data);

    const auto digest = chains::signing_hash(tx);
    const auto key = from_hex(kAccount0Key).value();
    secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    secp256k1_ecdsa_recoverable_signature sig;
    EXPECT_EQ(secp256k1_ecdsa_sign_recoverable(ctx, &sig, digest.data(), key.data(), nullptr, nullptr), 1);
    std::array<std::uint8_t, 64> rs{};
    int recid = 0;
    secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, rs.data(), &recid, &sig);
    secp256k1_context_destroy(ctx);
    std::array<std::uint8_t, 32> r{};
    std::array<std::uint8_t, 32> s{};
    std::copy(rs.begin(), rs.begin() + 32, r.begin());
    std::copy(rs.begin() + 32, rs.end(), s.begin());
    auto raw = chains::serialize_signed(tx, r, s, recid);
    EXPECT_TRUE(raw) << raw.error().message;
    return raw.value_or(Bytes{});
  }

  // Sends `raw` and returns its receipt (Hardhat mines each transaction as it arrives).
  TxReceipt mined(const Bytes& raw) {
    auto hash = eth_->send_raw_transaction(raw);
    EXPECT_TRUE(hash) << hash.error().message;
    if (hash) {
      EXPECT_EQ(*hash, chains::tx_hash(raw));
    }
    auto receipt = eth_->get_receipt(chains::tx_hash(raw));
    EXPECT_TRUE(receipt) << receipt.error().message;
    EXPECT_TRUE(receipt && receipt->has_value());
    return receipt && receipt->has_value() ? **receipt : TxReceipt{};
  }

  std::optional<HardhatNode> node_;
  std::optional<JsonRpcClient> client_;
  std::optional<EthRpc> eth_;
};

TEST_F(JsonRpcHardhatTest, ReadsTheChainState) {
  EXPECT_EQ(eth_->chain_id().value(), kHardhatChainId);
  auto block = eth_->block_number();
  ASSERT_TRUE(block) << block.error().message;
  EXPECT_EQ(*block, 0u);  // a fresh node: the genesis block only

  auto balance = eth_->get_balance(address(kAccount0));
  ASSERT_TRUE(balance) << balance.error().message;
  EXPECT_GT(*balance, chains::Uint256());
  EXPECT_EQ(balance->to_decimal(), "10000000000000000000000");  // Hardhat funds each default account with 10000 ETH
  EXPECT_EQ(eth_->pending_nonce(address(kAccount0)).value(), 0u);

  auto base_fee = eth_->latest_base_fee();
  ASSERT_TRUE(base_fee) << base_fee.error().message;
  EXPECT_GT(*base_fee, chains::Uint256());
  auto priority = eth_->max_priority_fee();
  ASSERT_TRUE(priority) << priority.error().message;
  EXPECT_GT(*priority, chains::Uint256());

  auto code = eth_->get_code(address(kAccount1));
  ASSERT_TRUE(code) << code.error().message;
  EXPECT_TRUE(code->empty());
  auto returned = eth_->call(address(kAccount1), {});
  ASSERT_TRUE(returned) << returned.error().message;
  EXPECT_TRUE(returned->empty());
  auto gas = eth_->estimate_gas(address(kAccount0), address(kAccount1), {});
  ASSERT_TRUE(gas) << gas.error().message;
  // A plain call to an account without code costs the intrinsic 21000; Hardhat's estimate stops its search one
  // above.
  EXPECT_GE(*gas, 21000u);
  EXPECT_LE(*gas, 21001u);
}

TEST_F(JsonRpcHardhatTest, AnUnknownTransactionIsNeitherMinedNorKnown) {
  chains::Hash256 unknown{};
  unknown.fill(0x5a);
  auto receipt = eth_->get_receipt(unknown);
  ASSERT_TRUE(receipt) << receipt.error().message;
  EXPECT_FALSE(receipt->has_value());
  auto known = eth_->knows_transaction(unknown);
  ASSERT_TRUE(known) << known.error().message;
  EXPECT_FALSE(*known);
}

TEST_F(JsonRpcHardhatTest, TheNodeRefusesAJunkTransaction) {
  auto sent = eth_->send_raw_transaction(Bytes{0xde, 0xad, 0xbe, 0xef});
  ASSERT_FALSE(sent);
  const Error& e = sent.error();
  EXPECT_EQ(e.code, ErrorCode::kConflict) << e.message;
  EXPECT_TRUE(e.message.starts_with(node_->url() + " refused eth_sendRawTransaction: ")) << e.message;
  ASSERT_TRUE(e.details.contains("rpcCode"));
  EXPECT_TRUE(e.details.at("rpcCode").is_int64());
  EXPECT_TRUE(e.details.at("rpcMessage").is_string());
  EXPECT_EQ(e.details.at("endpoint"), boost::json::value(node_->url()));
}

TEST_F(JsonRpcHardhatTest, SignedTransactionsAreMinedAndReported) {
  // A transfer to account #1.
  const auto before = eth_->get_balance(address(kAccount1)).value();
  const Bytes transfer = signed_by_account0(address(kAccount1), {}, 21000, 1);
  EXPECT_FALSE(eth_->knows_transaction(chains::tx_hash(transfer)).value());
  TxReceipt receipt = mined(transfer);
  EXPECT_TRUE(receipt.success);
  EXPECT_EQ(receipt.gas_used, 21000u);
  EXPECT_EQ(receipt.block_number, 1u);
  EXPECT_FALSE(receipt.contract_address);
  EXPECT_TRUE(eth_->knows_transaction(chains::tx_hash(transfer)).value());
  EXPECT_EQ(eth_->block_number().value(), 1u);
  EXPECT_EQ(eth_->pending_nonce(address(kAccount0)).value(), 1u);
  EXPECT_EQ(eth_->mined_nonce(address(kAccount0)).value(), 1u);
  auto after = before;
  ASSERT_TRUE(after.mul_add(1, 1));
  EXPECT_EQ(eth_->get_balance(address(kAccount1)).value(), after);

  // A contract whose code returns the word 42: init code that copies the 10-byte runtime
  // (PUSH1 42 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN) into memory and returns it.
  const Bytes runtime = from_hex("602a60005260206000f3").value();
  Bytes init = from_hex("600a600c600039600a6000f3").value();
  init.insert(init.end(), runtime.begin(), runtime.end());
  receipt = mined(signed_by_account0(std::nullopt, init, 100000));
  EXPECT_TRUE(receipt.success);
  ASSERT_TRUE(receipt.contract_address);
  const chains::EvmAddress contract = *receipt.contract_address;
  EXPECT_EQ(contract, chains::create_address(address(kAccount0), 1));
  EXPECT_EQ(eth_->get_code(contract).value(), runtime);
  auto word = eth_->call(contract, Bytes{0x01});
  ASSERT_TRUE(word) << word.error().message;
  ASSERT_EQ(word->size(), 32u);
  EXPECT_EQ(word->back(), 42);
  auto gas = eth_->estimate_gas(address(kAccount0), contract, Bytes{0x01});
  ASSERT_TRUE(gas) << gas.error().message;
  EXPECT_GT(*gas, 21000u);

  // A contract that always reverts (PUSH1 0 PUSH1 0 REVERT): the node refuses to estimate a call to it, and a call
  // sent anyway with a fixed gas limit is mined as failed.
  const Bytes reverting_runtime = from_hex("60006000fd").value();
  Bytes reverting_init = from_hex("6005600c60003960056000f3").value();
  reverting_init.insert(reverting_init.end(), reverting_runtime.begin(), reverting_runtime.end());
  receipt = mined(signed_by_account0(std::nullopt, reverting_init, 100000));
  ASSERT_TRUE(receipt.success);
  ASSERT_TRUE(receipt.contract_address);
  const chains::EvmAddress reverting = *receipt.contract_address;
  EXPECT_EQ(eth_->get_code(reverting).value(), reverting_runtime);
  auto refused = eth_->estimate_gas(address(kAccount0), reverting, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict) << refused.error().message;
  auto reverted_call = eth_->call(reverting, {});
  ASSERT_FALSE(reverted_call);
  EXPECT_EQ(reverted_call.error().code, ErrorCode::kConflict) << reverted_call.error().message;

  const Bytes failing = signed_by_account0(reverting, {}, 50000);
  (void)eth_->send_raw_transaction(failing);  // Hardhat may report the revert as an error; it mines it either way
  auto failed = eth_->get_receipt(chains::tx_hash(failing));
  ASSERT_TRUE(failed) << failed.error().message;
  ASSERT_TRUE(failed->has_value());
  EXPECT_FALSE((*failed)->success);
  EXPECT_GT((*failed)->gas_used, 21000u);
}

}  // namespace
}  // namespace signerd::smart

#pragma once
// Deploys smart accounts (issue 5's activation) and follows the deployments to the end.
//
// v0.6 / v0.7: the network's relayer key (a secp256k1 key of signerd, in the HSM) signs an EIP-1559 transaction that
// calls factory.createAccount(owner, 0). v0.8: the relayer sends EntryPoint.handleOps([op], relayer), where op is the
// zero-fee activation UserOperation (smart/user_operation.h) that the owner signed. Either way the relayer pays the
// gas in the chain's coin; the gas tank pays the network's activation fee, off chain.
//
// One deployment, and what a crash at each point leaves:
//  1. Checks over the network's JSON-RPC: the chain id, the factory's code, the account's code (already there: the
//     account is marked deployed, no fee), the relayer's nonce, gas and funds; then the relayer signs (a recorded
//     signature). A failure here writes nothing.
//  2. One store write reserves the fee (a "reserve" ledger entry) and records the account as deploying with the
//     signed transaction and its hash. Crash before it: nothing happened (a signed, unsent transaction is lost,
//     harmlessly: its nonce is reused). Crash after it: the watcher finds the account deploying and rebroadcasts
//     exactly that transaction, so there is never a second deployment or a second charge.
//  3. The transaction is sent. A node that refuses it (a JSON-RPC error) ends the attempt at once: the reservation
//     is released and the account is not_deployed with the node's reason. A node that cannot be reached leaves the
//     account deploying; the watcher resends.
//  4. The watcher (a thread; every poll interval, and at once on start-up) reads each deploying account's receipt.
//     Success with code at the account's address (after the network's confirmations): deployed. A revert, or no
//     code: the reservation is released, not_deployed, with the reason. Not mined and unknown to the node: resent;
//     a node that then says the nonce is used by another transaction ends the attempt (deployed when the code is
//     there anyway, otherwise released).
//
// Thread-safety: deploy() may run on many threads at once; the sends of one relayer on one chain are serialised (a
// lock from the nonce read to the send, also taken by the watcher to resend), so two deployments never take the
// same nonce. The watcher runs on its own thread.
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "core/key_service.h"
#include "core/principal.h"
#include "smart/json_rpc.h"
#include "smart/network.h"
#include "smart/user_operation.h"
#include "store/store.h"

namespace signerd::core {

struct SmartDeployerOptions {
  std::chrono::milliseconds rpc_timeout{10000};
  std::chrono::milliseconds poll_interval{2000};
};

class SmartDeployer {
 public:
  // kInvalidArgument when a network's rpc_url cannot be used (smart/json_rpc.h parse_rpc_endpoint).
  static Result<std::unique_ptr<SmartDeployer>> create(store::Store& store, KeyService& keys,
                                                      const std::vector<smart::Network>& networks,
                                                      SmartDeployerOptions options);
  ~SmartDeployer();
  SmartDeployer(const SmartDeployer&) = delete;
  SmartDeployer& operator=(const SmartDeployer&) = delete;

  // Starts the watcher; its first pass resumes what an earlier run left deploying. stop() (also the destructor)
  // ends it; a pass in progress finishes its current RPC call first.
  void start();
  void stop();

  // kUnavailable naming what `network` lacks to deploy anything: an rpc_url or a relayer_key_id.
  static Result<void> can_deploy(const smart::Network& network);
  // The kInvalidArgument a gas tank holding `balance` gets when it does not cover `network`'s fee, with details
  // {network, balance, activationFee, tokenName, decimals}.
  static Error fee_not_covered(const smart::Network& network, const store::SmartAccountRecord& record,
                               const std::string& balance);

  // Deploys `target` of `record` on `network` (the caller checked: status not_deployed, a balance that covers the
  // fee, a v0.8 owner signature that recovers the owner, canonical, in `owner_signature`). Errors: kUnavailable
  // when the network has no rpc_url or relayer, its node cannot be reached, serves another chain, has no factory,
  // the relayer lacks funds, or the node refused the transaction (then released, with the reason); kConflict when
  // the node says the deployment would revert, or the account changed meanwhile; kInvalidArgument when the balance
  // no longer covers the fee. `who` is audited.
  struct Started {
    store::SmartAccountNetworkRecord account;
    bool sent = false;       // false: recorded, but the node could not be reached yet (the watcher resends)
    bool on_chain = false;   // the code was already there: marked deployed, nothing charged or sent
  };
  Result<Started> deploy(const store::SmartAccountRecord& record, const store::SmartAccountNetworkRecord& target,
                         const smart::Network& network, const Bytes& owner_signature, const Principal& who);

  // One watcher pass over every deploying account. Returns how many it finished (deployed or released).
  unsigned poll_once();

 private:
  struct Endpoint {
    std::unique_ptr<smart::JsonRpcClient> client;
  };
  SmartDeployer(store::Store& store, KeyService& keys, std::vector<smart::Network> networks,
                std::map<std::string, Endpoint> endpoints, SmartDeployerOptions options);
  const smart::Network* network(std::string_view name) const;
  smart::JsonRpcClient* client(std::string_view network) const;
  Result<chains::EvmAddress> relayer_address(const smart::Network& network);
  // Follows one deploying account; true when it finished it.
  bool follow(const store::SmartAccountNetworkRecord& account);
  Result<store::SmartAccountNetworkRecord> release(const store::SmartAccountNetworkRecord& account,
                                                   std::string reason);
  Result<store::SmartAccountNetworkRecord> deployed(const store::SmartAccountNetworkRecord& account,
                                                    std::optional<std::uint64_t> block);
  // Logs, once at start, whether each network's node serves the configured chain and has the factory.
  void check_networks();
  void run();
  void poke();  // an earlier pass: a deployment was just sent
  bool stopping();
  // The lock of one relayer on one chain, held from its nonce read to its send, and around resends.
  std::mutex& send_lock_for(const smart::Network& network);
  // After the node refused an attempt's transaction (not "already known") and no receipt of it exists: finished
  // (true: released, or deployed when the nonce went to another transaction and the code is there anyway) or kept
  // deploying (false: a pending transaction holds the nonce, or releasing would leave a nonce gap that later
  // transactions of the relayer wait behind).
  Result<bool> settle_refusal(const store::SmartAccountNetworkRecord& account, smart::EthRpc& eth,
                              const Error& refusal);

  store::Store& store_;
  KeyService& keys_;
  const std::vector<smart::Network> networks_;
  const std::map<std::string, Endpoint> endpoints_;  // by network name; networks with an rpc_url
  const SmartDeployerOptions options_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<std::mutex>> send_locks_;  // by "chainId/relayerKeyId"; guarded by mutex_
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  bool poked_ = false;     // guarded by mutex_
  std::thread watcher_;
};

}  // namespace signerd::core

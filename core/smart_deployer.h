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
// The networks in force are a SmartNetworkSet, immutable, replaced whole by a reload (plan_reload, apply_reload:
// SIGHUP). A request or a watcher pass takes the set once and uses it to the end, so it never sees half a list, and
// a deployment finishes with the configuration it started with; the next pass of the watcher uses the new set. What
// a reload may change, and what it keeps for a restart, is plan_reload's contract.
//
// Thread-safety: deploy() may run on many threads at once; the sends of one relayer on one chain are serialised (a
// lock from the nonce read to the send, also taken by the watcher to resend; keyed by the chain and the relayer's
// address, which the watcher reads from the recorded attempt, so an attempt of a relayer that a reload replaced
// stays under its own relayer's lock), so two deployments never take the same nonce. The watcher runs on its own
// thread. networks() may be called from any thread; plan_reload and apply_reload from one thread at a time (the
// daemon's SIGHUP handler).
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
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

// The smart-account networks in force, with their JSON-RPC clients. Immutable once built; shared by whoever holds it.
struct SmartNetworkSet {
  std::vector<smart::Network> configured;  // the file's networks, in its order: one account each, activation
  // Networks a reload removed while this process ran, as last configured: the watcher follows the deployments
  // already sent on them to the end; nothing new starts there. (A restart forgets them: see plan_reload.)
  std::vector<smart::Network> retired;
  // By network name, for the configured and retired networks with an rpc_url.
  std::map<std::string, std::shared_ptr<smart::JsonRpcClient>, std::less<>> clients;

  const smart::Network* configured_network(std::string_view name) const;
  const smart::Network* followed_network(std::string_view name) const;  // configured, else retired
  smart::JsonRpcClient* client(std::string_view name) const;            // null without an rpc_url
};

class SmartDeployer {
 public:
  // kInvalidArgument when a network's rpc_url cannot be used (smart/json_rpc.h parse_rpc_endpoint).
  static Result<std::unique_ptr<SmartDeployer>> create(store::Store& store, KeyService& keys,
                                                       std::vector<smart::Network> networks,
                                                       SmartDeployerOptions options);
  ~SmartDeployer();
  SmartDeployer(const SmartDeployer&) = delete;
  SmartDeployer& operator=(const SmartDeployer&) = delete;

  // Starts the watcher (once a network has an rpc_url: now, or after the reload that gives one); it first checks
  // the networks (relayer key, chain id, factory code: logged), and its first pass resumes what an earlier run left
  // deploying. stop() (also the destructor) ends it; a pass in progress finishes its current RPC call first.
  void start();
  void stop();

  // The set in force now. Hold it for the whole of one operation.
  std::shared_ptr<const SmartNetworkSet> networks() const;

  // What a reload would do, built by plan_reload and put in force by apply_reload.
  struct NetworkReload {
    std::shared_ptr<const SmartNetworkSet> next;  // null when nothing changes
    // For the reload's log line. applied: "+BaseSepolia", "-ArbitrumOne", "EthereumSepolia: rpc_url=http://host:port
    // confirmations=2" (an rpc_url as scheme://host:port only). need_restart: "smart_accounts.networks.Base.factory".
    std::vector<std::string> applied;
    std::vector<std::string> need_restart;
    std::vector<std::string> to_check;  // networks to check in the background once applied
  };
  // The set `from_file` (smart::resolve_networks of the new file) gives, from the one in force, with nothing changed
  // yet. Taken: a network added (or one a reload removed, added back unchanged); a network removed (it becomes
  // retired: its records keep their accounts, activation on it is refused, its deployments in flight are still
  // followed); a change of rpc_url, relayer_key_id, activation_fee or confirmations. Not taken: a network whose
  // identity_changes (smart/network.h) are not empty, compared with the running (or retired) configuration of that
  // name; it keeps that configuration whole, and every changed key of it is named in need_restart.
  // kInvalidArgument, naming the network, when an rpc_url taken cannot be used (parse_rpc_endpoint) or a
  // relayer_key_id taken (added or changed) is not an active, undelegated secp256k1 key of this signerd: the reload
  // is to be refused as a whole.
  Result<NetworkReload> plan_reload(std::vector<smart::Network> from_file) const;
  // Puts `reload.next` in force (when not null): requests and watcher passes from now on use it, those under way
  // finish with the set they took. Then the watcher checks reload.to_check in the background, as at start.
  void apply_reload(NetworkReload reload);

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
  // `network` is `in_force`'s, whose JSON-RPC client is used.
  Result<Started> deploy(const SmartNetworkSet& in_force, const store::SmartAccountRecord& record,
                         const store::SmartAccountNetworkRecord& target, const smart::Network& network,
                         const Bytes& owner_signature, const Principal& who);

  // One watcher pass over every deploying account. Returns how many it finished (deployed or released).
  unsigned poll_once();

 private:
  SmartDeployer(store::Store& store, KeyService& keys, std::shared_ptr<const SmartNetworkSet> networks,
                SmartDeployerOptions options);
  Result<chains::EvmAddress> relayer_address(const smart::Network& network) const;
  // Follows one deploying account with the set of this pass; true when it finished it.
  bool follow(const SmartNetworkSet& in_force, const store::SmartAccountNetworkRecord& account);
  Result<store::SmartAccountNetworkRecord> release(const store::SmartAccountNetworkRecord& account,
                                                   std::string reason);
  Result<store::SmartAccountNetworkRecord> deployed(const store::SmartAccountNetworkRecord& account,
                                                    std::optional<std::uint64_t> block);
  // Logs whether each of the `names` (configured networks with an rpc_url) has a usable relayer key and a node that
  // serves the configured chain and has the factory: at start for all, after a reload for those it added or changed.
  void check_networks(const SmartNetworkSet& in_force, const std::vector<std::string>& names);
  void run();
  void poke();  // an earlier pass: a deployment was just sent
  bool stopping();
  // The lock of one relayer (its address, lower case) on one chain, held from its nonce read to its send, and
  // around resends.
  std::mutex& send_lock_for(std::int64_t chain_id, const std::string& relayer);
  void start_watcher_locked();  // mutex_ held
  // After the node refused an attempt's transaction (not "already known") and no receipt of it exists: finished
  // (true: released, or deployed when the nonce went to another transaction and the code is there anyway) or kept
  // deploying (false: a pending transaction holds the nonce, or releasing would leave a nonce gap that later
  // transactions of the relayer wait behind).
  Result<bool> settle_refusal(const store::SmartAccountNetworkRecord& account, smart::EthRpc& eth,
                              const Error& refusal);

  store::Store& store_;
  KeyService& keys_;
  const SmartDeployerOptions options_;
  mutable std::mutex networks_mutex_;
  std::shared_ptr<const SmartNetworkSet> networks_;  // guarded by networks_mutex_; the pointee is immutable
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<std::mutex>> send_locks_;  // by "chainId/relayer"; guarded by mutex_
  std::condition_variable wake_;
  bool started_ = false;                     // guarded by mutex_: start() was called
  bool stopping_ = false;                    // guarded by mutex_
  bool poked_ = false;                       // guarded by mutex_
  std::vector<std::string> pending_checks_;  // guarded by mutex_: networks the watcher checks before its next pass
  std::thread watcher_;                      // started and joined under mutex_ / by stop()
};

}  // namespace signerd::core

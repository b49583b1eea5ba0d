#include "core/smart_deployer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "chains/evm_tx.h"
#include "common/hex.h"
#include "core/smart_account_service.h"
#include "smart/amount.h"

namespace signerd::core {
namespace {

// Who signs relayer transactions and finishes deployments, in signatures and the audit trail.
Principal system_principal(std::string_view what) {
  Principal p;
  p.id = "signerd:smart-accounts";
  p.kind = PrincipalKind::kLocalAdmin;
  p.method = "INTERNAL";
  p.path = std::string(what);
  return p;
}

Result<chains::Hash256> parse_hash(std::string_view text) {
  auto bytes = from_hex(text);
  if (!bytes || bytes->size() != 32) return fail(ErrorCode::kInternal, "store: malformed transaction hash");
  chains::Hash256 h{};
  std::copy(bytes->begin(), bytes->end(), h.begin());
  return h;
}

// A JSON-RPC error's own message, without our "<endpoint> refused <method>:" prefix.
std::string rpc_message(const Error& e) {
  if (const auto* m = e.details.if_contains("rpcMessage"); m && m->is_string()) return std::string(m->as_string());
  return e.message;
}

bool contains_ci(std::string text, std::string_view needle) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text.find(needle) != std::string::npos;
}

// The node already has this transaction: sending it again is not a failure.
bool already_known(const Error& e) {
  const std::string m = rpc_message(e);
  return contains_ci(m, "already known") || contains_ci(m, "already imported") || contains_ci(m, "known transaction");
}

bool nonce_used(const Error& e) {
  const std::string m = rpc_message(e);
  return contains_ci(m, "nonce too low") || contains_ci(m, "nonce has already been used") ||
         contains_ci(m, "replacement transaction");
}

// A node's refusal or a transport failure as the client sees it: always retryable later, naming the network.
Error unavailable(const smart::Network& network, std::string_view doing, const Error& e) {
  Error out{ErrorCode::kUnavailable, network.name + ": " + std::string(doing) + ": " + e.message, e.details};
  out.details["network"] = network.name;
  return out;
}

chains::Uint256 gwei(std::uint64_t n) {
  auto v = chains::Uint256::from_u64(n);
  (void)v.mul_add(1'000'000'000, 0);
  return v;
}

// a * b when it fits 256 bits (gas * price); nullopt otherwise.
std::optional<chains::Uint256> times(const chains::Uint256& a, std::uint64_t b) {
  chains::Uint256 r = a;
  if (!r.mul_add(b, 0)) return std::nullopt;
  return r;
}

// Finishing an attempt: done when written, or when another thread finished it first (kConflict).
Result<bool> settled(const Result<store::SmartAccountNetworkRecord>& finished) {
  if (finished || finished.error().code == ErrorCode::kConflict) return true;
  return std::unexpected(finished.error());
}

// `network`'s JSON-RPC client (null without an rpc_url): the one `before_set` has for it when the rpc_url did not
// change (`before`: the network's configuration there), else a new one. kInvalidArgument naming the network.
Result<std::shared_ptr<smart::JsonRpcClient>> client_for(const smart::Network& network, const smart::Network* before,
                                                         const SmartNetworkSet* before_set,
                                                         std::chrono::milliseconds rpc_timeout) {
  if (network.rpc_url.empty()) return nullptr;
  if (before != nullptr && before_set != nullptr && before->rpc_url == network.rpc_url) {
    if (auto it = before_set->clients.find(network.name); it != before_set->clients.end()) return it->second;
  }
  auto endpoint = smart::parse_rpc_endpoint(network.rpc_url);
  if (!endpoint) {
    return fail(ErrorCode::kInvalidArgument,
                "smart_accounts network " + network.name + ": rpc_url: " + endpoint.error().message);
  }
  return std::make_shared<smart::JsonRpcClient>(std::move(*endpoint), smart::JsonRpcOptions{rpc_timeout});
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(separator)) + item;
  return out;
}

}  // namespace

const smart::Network* SmartNetworkSet::configured_network(std::string_view name) const {
  for (const auto& n : configured) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

const smart::Network* SmartNetworkSet::followed_network(std::string_view name) const {
  if (const auto* n = configured_network(name)) return n;
  for (const auto& n : retired) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

smart::JsonRpcClient* SmartNetworkSet::client(std::string_view name) const {
  auto it = clients.find(name);
  return it == clients.end() ? nullptr : it->second.get();
}

Result<std::unique_ptr<SmartDeployer>> SmartDeployer::create(store::Store& store, KeyService& keys,
                                                             std::vector<smart::Network> networks,
                                                             SmartDeployerOptions options) {
  auto set = std::make_shared<SmartNetworkSet>();
  for (const auto& n : networks) {
    auto rpc_client = client_for(n, nullptr, nullptr, options.rpc_timeout);
    if (!rpc_client) return std::unexpected(rpc_client.error());
    if (*rpc_client) set->clients[n.name] = std::move(*rpc_client);
  }
  set->configured = std::move(networks);
  return std::unique_ptr<SmartDeployer>(new SmartDeployer(store, keys, std::move(set), options));
}

SmartDeployer::SmartDeployer(store::Store& store, KeyService& keys, std::shared_ptr<const SmartNetworkSet> networks,
                             SmartDeployerOptions options)
    : store_(store), keys_(keys), options_(options), networks_(std::move(networks)) {
  for (const auto& n : networks_->configured) {
    if (networks_->client(n.name)) pending_checks_.push_back(n.name);
  }
}

SmartDeployer::~SmartDeployer() { stop(); }

void SmartDeployer::start() {
  std::lock_guard lock(mutex_);
  started_ = true;
  start_watcher_locked();
}

void SmartDeployer::start_watcher_locked() {
  // Without any JSON-RPC endpoint there is nothing to follow (a deploying account then waits, as its log says).
  if (!started_ || stopping_ || watcher_.joinable() || networks()->clients.empty()) return;
  watcher_ = std::thread([this] { run(); });
}

void SmartDeployer::stop() {
  std::thread watcher;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    watcher = std::move(watcher_);
  }
  wake_.notify_all();
  if (watcher.joinable()) watcher.join();
}

std::shared_ptr<const SmartNetworkSet> SmartDeployer::networks() const {
  std::lock_guard lock(networks_mutex_);
  return networks_;
}

Result<SmartDeployer::NetworkReload> SmartDeployer::plan_reload(std::vector<smart::Network> from_file) const {
  const auto now = networks();
  auto next = std::make_shared<SmartNetworkSet>();
  NetworkReload out;
  std::set<std::string> in_file;
  for (auto& n : from_file) {
    in_file.insert(n.name);
    const smart::Network* running = now->configured_network(n.name);
    const smart::Network* before = running ? running : now->followed_network(n.name);  // else retired, or new
    if (before) {
      const auto identity = smart::identity_changes(*before, n);
      if (!identity.empty()) {
        // The records made hold the addresses this configuration gives: keep it whole until a restart.
        for (const auto& key : identity) out.need_restart.push_back("smart_accounts.networks." + n.name + "." + key);
        for (const auto& key : smart::setting_changes(*before, n)) {
          out.need_restart.push_back("smart_accounts.networks." + n.name + "." + key);
        }
        (running ? next->configured : next->retired).push_back(*before);
        if (auto it = now->clients.find(n.name); it != now->clients.end()) next->clients.insert(*it);
        continue;
      }
    }
    auto rpc_client = client_for(n, before, now.get(), options_.rpc_timeout);
    if (!rpc_client) return std::unexpected(rpc_client.error());
    // A relayer key taken now must be usable now; an unchanged one is as good as it was (start-up only warns).
    if (!n.relayer_key_id.empty() && (!before || before->relayer_key_id != n.relayer_key_id)) {
      if (auto relayer = relayer_address(n); !relayer) {
        return fail(ErrorCode::kInvalidArgument, "smart_accounts network " + relayer.error().message);
      }
    }
    const auto settings = before ? smart::setting_changes(*before, n) : std::vector<std::string>{};
    if (!running) {
      out.applied.push_back("+" + n.name);
    } else if (!settings.empty()) {
      std::vector<std::string> described;
      for (const auto& key : settings) {
        if (key == "rpc_url") {
          described.push_back("rpc_url=" + (*rpc_client ? (*rpc_client)->endpoint().display : std::string("none")));
        } else if (key == "relayer_key_id") {
          described.push_back("relayer_key_id=" + (n.relayer_key_id.empty() ? std::string("none") : n.relayer_key_id));
        } else if (key == "activation_fee") {
          described.push_back("activation_fee=" + n.activation_fee);
        } else {
          described.push_back("confirmations=" + std::to_string(n.confirmations));
        }
      }
      out.applied.push_back(n.name + ": " + join(described, " "));
    }
    const bool endpoint_changed = !running ||
                                  std::find(settings.begin(), settings.end(), "rpc_url") != settings.end() ||
                                  std::find(settings.begin(), settings.end(), "relayer_key_id") != settings.end();
    if (*rpc_client) {
      if (endpoint_changed) out.to_check.push_back(n.name);
      next->clients[n.name] = std::move(*rpc_client);
    }
    next->configured.push_back(std::move(n));
  }
  // Removed now: retired, with their clients, so that what they have in flight is followed to the end.
  for (const auto& n : now->configured) {
    if (in_file.contains(n.name)) continue;
    out.applied.push_back("-" + n.name);
    next->retired.push_back(n);
    if (auto it = now->clients.find(n.name); it != now->clients.end()) next->clients.insert(*it);
  }
  for (const auto& n : now->retired) {
    if (in_file.contains(n.name)) continue;  // added back above, or kept retired for a restart
    next->retired.push_back(n);
    if (auto it = now->clients.find(n.name); it != now->clients.end()) next->clients.insert(*it);
  }
  if (!out.applied.empty()) out.next = std::move(next);
  return out;
}

void SmartDeployer::apply_reload(NetworkReload reload) {
  if (!reload.next) return;
  {
    std::lock_guard lock(networks_mutex_);
    networks_ = std::move(reload.next);
  }
  {
    std::lock_guard lock(mutex_);
    pending_checks_.insert(pending_checks_.end(), reload.to_check.begin(), reload.to_check.end());
    poked_ = true;
    start_watcher_locked();
  }
  wake_.notify_all();
}

void SmartDeployer::check_networks(const SmartNetworkSet& in_force, const std::vector<std::string>& names) {
  for (const auto& n : in_force.configured) {
    smart::JsonRpcClient* rpc_client = in_force.client(n.name);
    if (!rpc_client || std::find(names.begin(), names.end(), n.name) == names.end()) continue;
    if (stopping()) return;
    if (n.relayer_key_id.empty()) {
      spdlog::warn("smart accounts: {} has an rpc_url but no relayer_key_id: its accounts cannot be activated",
                   n.name);
    } else if (auto relayer = relayer_address(n); !relayer) {
      spdlog::warn("smart accounts: {}", relayer.error().message);
    }
    smart::EthRpc eth(*rpc_client);
    auto chain = eth.chain_id();
    if (!chain) {
      spdlog::warn("smart accounts: {}: the node is not reachable now ({}); activations wait for it", n.name,
                   chain.error().message);
      continue;
    }
    if (*chain != n.chain_id) {
      spdlog::error("smart accounts: {}: the node at {} serves chain {}, not {}: activations will be refused", n.name,
                    rpc_client->endpoint().display, *chain, n.chain_id);
      continue;
    }
    // A chain without the factory (or with another CREATE2 rule, like ZKsync) has no valid counterfactual address.
    auto code = eth.get_code(n.factory);
    if (code && code->empty()) {
      spdlog::error("smart accounts: {}: no SimpleAccountFactory at {} on chain {}: the addresses signerd gives "
                    "for this network cannot be deployed",
                    n.name, chains::eip55_encode(n.factory), n.chain_id);
    } else if (code) {
      spdlog::info("smart accounts: {}: chain {} at {}, factory {} present", n.name, n.chain_id,
                   rpc_client->endpoint().display, chains::eip55_encode(n.factory));
    }
  }
}

void SmartDeployer::poke() {
  {
    std::lock_guard lock(mutex_);
    poked_ = true;
  }
  wake_.notify_all();
}

bool SmartDeployer::stopping() {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void SmartDeployer::run() {
  // An exception here (the random generator failing, say) must not end the process: the pass is retried.
  auto guarded = [](const char* what, auto&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      spdlog::error("smart accounts: {} failed: {}", what, e.what());
    }
  };
  for (;;) {
    std::vector<std::string> to_check;
    {
      std::lock_guard lock(mutex_);
      to_check.swap(pending_checks_);
    }
    if (!to_check.empty()) {
      guarded("checking the networks", [this, &to_check] { check_networks(*networks(), to_check); });
    }
    guarded("following deployments", [this] {
      const unsigned finished = poll_once();
      if (finished > 0) spdlog::info("smart accounts: {} deployment(s) finished", finished);
    });
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, options_.poll_interval, [this] { return stopping_ || poked_; });
    if (stopping_) return;
    poked_ = false;
  }
}

std::mutex& SmartDeployer::send_lock_for(std::int64_t chain_id, const std::string& relayer) {
  std::lock_guard lock(mutex_);
  auto& slot = send_locks_[std::to_string(chain_id) + "/" + relayer];
  if (!slot) slot = std::make_unique<std::mutex>();
  return *slot;
}

Result<chains::EvmAddress> SmartDeployer::relayer_address(const smart::Network& network) const {
  auto key = keys_.lookup(network.relayer_key_id);
  if (!key) {
    return fail(ErrorCode::kUnavailable, network.name + ": the relayer key " + network.relayer_key_id +
                                             " (relayer_key_id) is not an active key of this signerd");
  }
  if (key->curve != "secp256k1" || key->status != store::KeyStatus::kActive || key->delegated_to) {
    return fail(ErrorCode::kUnavailable, network.name + ": the relayer key " + network.relayer_key_id +
                                             " must be an active, undelegated secp256k1 key");
  }
  auto public_key = from_hex(key->public_key);
  if (!public_key) return fail(ErrorCode::kInternal, "stored public key of " + key->id + " is not hex");
  return chains::evm_address(*public_key);
}

Result<void> SmartDeployer::can_deploy(const smart::Network& network) {
  if (network.rpc_url.empty()) {
    return fail(ErrorCode::kUnavailable, "activation on " + network.name +
                                             " needs a JSON-RPC endpoint: the network has no rpc_url configured "
                                             "([[smart_accounts.networks]] rpc_url)");
  }
  if (network.relayer_key_id.empty()) {
    return fail(ErrorCode::kUnavailable, "activation on " + network.name +
                                             " needs a relayer key that pays for the deployment: the network has no "
                                             "relayer_key_id configured");
  }
  return {};
}

Error SmartDeployer::fee_not_covered(const smart::Network& network, const store::SmartAccountRecord& record,
                                     const std::string& balance) {
  Error e{ErrorCode::kInvalidArgument,
          "the gas tank's balance " + balance + " does not cover the activation fee " + network.activation_fee +
              " of " + network.name + " (in the smallest unit of " + record.gas_tank_token +
              "); deposit at least the difference first",
          {}};
  e.details = {{"network", network.name},
               {"balance", balance},
               {"activationFee", network.activation_fee},
               {"tokenName", record.gas_tank_token},
               {"decimals", record.gas_tank_decimals}};
  return e;
}

Result<SmartDeployer::Started> SmartDeployer::deploy(const SmartNetworkSet& in_force,
                                                     const store::SmartAccountRecord& record,
                                                     const store::SmartAccountNetworkRecord& target,
                                                     const smart::Network& network, const Bytes& owner_signature,
                                                     const Principal& who) {
  if (auto ready = can_deploy(network); !ready) return std::unexpected(ready.error());
  smart::JsonRpcClient* rpc_client = in_force.client(network.name);
  if (!rpc_client) return fail(ErrorCode::kInternal, network.name + ": no JSON-RPC client for its rpc_url");
  auto owner = chains::parse_evm_address(record.owner);
  auto account_address = chains::parse_evm_address(target.aa_address);
  if (!owner || !account_address) return fail(ErrorCode::kInternal, "store: malformed smart account addresses");
  smart::EthRpc eth(*rpc_client);

  auto chain = eth.chain_id();
  if (!chain) return std::unexpected(unavailable(network, "reading the chain id", chain.error()));
  if (*chain != network.chain_id) {
    return fail(ErrorCode::kUnavailable, network.name + ": the node at " + rpc_client->endpoint().display +
                                             " serves chain " + std::to_string(*chain) + ", not " +
                                             std::to_string(network.chain_id) + "; check rpc_url and chain_id");
  }
  auto factory_code = eth.get_code(network.factory);
  if (!factory_code) return std::unexpected(unavailable(network, "reading the factory's code", factory_code.error()));
  if (factory_code->empty()) {
    return fail(ErrorCode::kUnavailable, network.name + ": there is no SimpleAccountFactory at " +
                                             chains::eip55_encode(network.factory) +
                                             " on this chain, so no account can be deployed at its address; check "
                                             "the network's factory");
  }
  auto account_code = eth.get_code(*account_address);
  if (!account_code) {
    return std::unexpected(unavailable(network, "reading the account's code", account_code.error()));
  }
  if (!account_code->empty()) {
    auto audit = audit_entry(who, {record.id, target.id});
    auto marked = store_.mark_smart_account_deployed(target.id, now_unix_ns(), &audit);
    if (!marked) return std::unexpected(marked.error());
    return Started{std::move(*marked), false, true};
  }
  auto relayer = relayer_address(network);
  if (!relayer) return std::unexpected(relayer.error());

  chains::EvmAddress to{};
  Bytes data;
  if (network.version == smart::AccountVersion::kV0_8) {
    const smart::PackedUserOperation op =
        smart::activation_user_op(network.factory, *owner, *account_address, owner_signature);
    to = network.entry_point;
    data = smart::handle_ops_call(std::span(&op, 1), *relayer);
  } else {
    to = network.factory;
    data = smart::create_account_call(*owner);
  }

  const std::string relayer_lower = chains::evm_address_lower(*relayer);
  std::lock_guard send_lock(send_lock_for(target.chain_id, relayer_lower));
  auto nonce = eth.pending_nonce(*relayer);
  if (!nonce) return std::unexpected(unavailable(network, "reading the relayer's nonce", nonce.error()));
  // A transaction recorded but not yet known to the node (a resend pending) holds its nonce too.
  auto deploying = store_.smart_accounts_in_status("deploying");
  if (!deploying) return std::unexpected(deploying.error());
  for (const auto& other : *deploying) {
    if (other.chain_id == target.chain_id && other.deploy_from == relayer_lower && other.deploy_nonce) {
      *nonce = std::max(*nonce, static_cast<std::uint64_t>(*other.deploy_nonce) + 1);
    }
  }
  auto estimate = eth.estimate_gas(*relayer, to, data);
  if (!estimate) {
    if (estimate.error().code == ErrorCode::kConflict && contains_ci(rpc_message(estimate.error()), "revert")) {
      Error e{ErrorCode::kConflict,
              network.name + ": the deployment would fail on chain (" + rpc_message(estimate.error()) +
                  "); nothing was sent or charged",
              estimate.error().details};
      e.details["network"] = network.name;
      return std::unexpected(std::move(e));
    }
    return std::unexpected(unavailable(network, "estimating gas", estimate.error()));
  }
  const std::uint64_t gas_limit = *estimate + *estimate / 4 + 10'000;
  auto base_fee = eth.latest_base_fee();
  if (!base_fee) return std::unexpected(unavailable(network, "reading the base fee", base_fee.error()));
  auto priority = eth.max_priority_fee();
  if (!priority) priority = gwei(1);  // not every node has eth_maxPriorityFeePerGas; 1 gwei is a common floor
  // maxFeePerGas = 2 * base fee + priority fee: room for the base fee to double before the transaction is mined.
  auto max_fee = times(*base_fee, 2);
  if (!max_fee || !max_fee->add(*priority)) {
    return fail(ErrorCode::kUnavailable, network.name + ": the node reports fees beyond 2^256 wei");
  }
  auto cost = times(*max_fee, gas_limit);
  auto balance = eth.get_balance(*relayer);
  if (!balance) return std::unexpected(unavailable(network, "reading the relayer's balance", balance.error()));
  if (!cost || *balance < *cost) {
    Error e{ErrorCode::kUnavailable,
            network.name + ": the relayer " + chains::eip55_encode(*relayer) + " holds " + balance->to_decimal() +
                " wei; the deployment may cost up to " + (cost ? cost->to_decimal() : std::string("more")) +
                " wei. Fund the relayer and retry; nothing was sent or charged",
            {}};
    e.details = {{"network", network.name}, {"relayer", chains::eip55_encode(*relayer)}};
    return std::unexpected(std::move(e));
  }

  chains::EvmTransaction tx;
  tx.type = chains::EvmTxType::kDynamicFee;
  tx.chain_id = chains::Uint256::from_u64(network.chain_id);
  tx.nonce = *nonce;
  tx.max_priority_fee_per_gas = *priority;
  tx.max_fee_per_gas = *max_fee;
  tx.gas_limit = chains::Uint256::from_u64(gas_limit);
  tx.to = to;
  tx.data = std::move(data);
  SignatureRequest request;
  request.kind = SignatureKind::kTransaction;
  request.blockchain_kind = "Evm";
  request.transaction = tx;
  request.canonical_body = R"({"kind":"Transaction","purpose":"smart-account activation","account":")" + target.id +
                           R"(","transaction":")" + to_hex_0x(chains::serialize_unsigned(tx)) + "\"}";
  auto signed_tx = keys_.sign(system_principal("activate " + target.id), network.relayer_key_id, request);
  if (!signed_tx) return std::unexpected(signed_tx.error());
  const auto& sig = signed_tx->signature;
  if (!sig.signed_data || !sig.tx_hash) return fail(ErrorCode::kInternal, "the relayer signature has no transaction");

  store::SmartDeployment deployment;
  deployment.account_network_id = target.id;
  deployment.tx_hash = *sig.tx_hash;
  deployment.signed_tx = *sig.signed_data;
  deployment.from = relayer_lower;
  deployment.nonce = static_cast<std::int64_t>(*nonce);
  deployment.fee = network.activation_fee;
  deployment.reserve_entry_id = new_smart_record_id();
  deployment.date_ns = now_unix_ns();
  auto audit = audit_entry(who, {record.id, target.id, deployment.reserve_entry_id});
  auto begun = store_.begin_smart_deployment(
      deployment,
      [&](const std::string& before) -> Result<std::string> {
        if (smart::compare_amounts(before, network.activation_fee) < 0) {
          return std::unexpected(fee_not_covered(network, record, before));  // spent meanwhile
        }
        return smart::subtract_amounts(before, network.activation_fee);
      },
      &audit);
  if (!begun) return std::unexpected(begun.error());

  auto raw = from_hex(deployment.signed_tx);
  if (!raw) return fail(ErrorCode::kInternal, "the relayer's signed transaction is not hex");
  auto sent = eth.send_raw_transaction(*raw);
  if (sent || (sent.error().code == ErrorCode::kConflict && already_known(sent.error()))) {
    spdlog::info("smart accounts: {} on {}: sent {} (nonce {})", target.id, network.name, deployment.tx_hash,
                 *nonce);
    poke();
    return Started{std::move(*begun), true, false};
  }
  if (sent.error().code != ErrorCode::kConflict) {
    // Maybe received, maybe not: the watcher resends the recorded transaction.
    spdlog::warn("smart accounts: {} on {}: sending {} failed ({}); the watcher resends it", target.id, network.name,
                 deployment.tx_hash, sent.error().message);
    return Started{std::move(*begun), false, false};
  }
  auto outcome = settle_refusal(*begun, eth, sent.error());
  auto now = store_.get_smart_account_network(target.id);
  if (!now || !*now) return fail(ErrorCode::kInternal, "store: account " + target.id + " vanished");
  if (!outcome || !*outcome || (*now)->status != "not_deployed") {
    // Kept deploying (a later transaction waits for this nonce, or the node could not be asked): resent by the
    // watcher; or found deployed by someone else.
    return Started{std::move(**now), false, (*now)->status == "deployed"};
  }
  Error e{ErrorCode::kUnavailable,
          network.name + ": " + (*now)->failure_reason.value_or("the node refused the transaction") +
              "; the fee was released",
          sent.error().details};
  e.details["network"] = network.name;
  return std::unexpected(std::move(e));
}

Result<store::SmartAccountNetworkRecord> SmartDeployer::release(const store::SmartAccountNetworkRecord& account,
                                                                std::string reason) {
  store::SmartDeploymentOutcome outcome;
  outcome.deployed = false;
  outcome.reason = std::move(reason);
  outcome.release_entry_id = new_smart_record_id();
  outcome.date_ns = now_unix_ns();
  const auto audit = audit_entry(system_principal("release " + account.id),
                                 {account.smart_account_id, account.id, outcome.release_entry_id});
  auto done = store_.finish_smart_deployment(
      account.id, account.tx_hash.value_or(""), outcome,
      [](const std::string& balance, const std::string& fee) -> Result<std::string> {
        return smart::add_amounts(balance, fee);
      },
      &audit);
  if (done) spdlog::warn("smart accounts: {} on {}: not deployed: {}", account.id, account.network, outcome.reason);
  return done;
}

Result<store::SmartAccountNetworkRecord> SmartDeployer::deployed(const store::SmartAccountNetworkRecord& account,
                                                                 std::optional<std::uint64_t> block) {
  store::SmartDeploymentOutcome outcome;
  outcome.deployed = true;
  if (block) outcome.block = static_cast<std::int64_t>(*block);
  outcome.date_ns = now_unix_ns();
  const auto audit = audit_entry(system_principal("deployed " + account.id), {account.smart_account_id, account.id});
  auto done = store_.finish_smart_deployment(
      account.id, account.tx_hash.value_or(""), outcome,
      [](const std::string& balance, const std::string&) -> Result<std::string> { return balance; }, &audit);
  if (done) {
    spdlog::info("smart accounts: {} on {}: deployed at {} ({})", account.id, account.network, account.aa_address,
                 account.tx_hash.value_or(""));
  }
  return done;
}

bool SmartDeployer::follow(const SmartNetworkSet& in_force, const store::SmartAccountNetworkRecord& account) {
  // A network a reload removed is still followed (retired); one a restart removed is not known any more.
  const smart::Network* net = in_force.followed_network(account.network);
  smart::JsonRpcClient* rpc_client = in_force.client(account.network);
  if (!net || !rpc_client || !account.tx_hash || !account.deploy_tx || !account.deploy_from) {
    spdlog::warn("smart accounts: {} is deploying on {}, which has no JSON-RPC endpoint configured now; it stays "
                 "deploying until the network is configured again",
                 account.id, account.network);
    return false;
  }
  if (static_cast<std::int64_t>(net->chain_id) != account.chain_id) {
    // Configured since (at a restart) for another chain: its node would not know the transaction, and resending it
    // there would be refused and release a fee the transaction may still spend on its own chain.
    spdlog::warn(
        "smart accounts: {} is deploying on {} (chain {}), which is configured for chain {} now; it stays "
        "deploying until the network's chain is configured again",
        account.id, account.network, account.chain_id, net->chain_id);
    return false;
  }
  auto hash = parse_hash(*account.tx_hash);
  auto account_address = chains::parse_evm_address(account.aa_address);
  if (!hash || !account_address) return false;
  smart::EthRpc eth(*rpc_client);
  auto finished = [&](const Result<store::SmartAccountNetworkRecord>& r) {
    if (!r && r.error().code != ErrorCode::kConflict) {
      spdlog::warn("smart accounts: {}: recording the outcome failed: {}", account.id, r.error().message);
    }
    return r.has_value();
  };
  auto receipt = eth.get_receipt(*hash);
  if (!receipt) {
    spdlog::debug("smart accounts: {}: {}", account.id, receipt.error().message);
    return false;
  }
  if (!*receipt) {
    // Resent only under the relayer's lock and only if the row is still this attempt: deploy() may have just
    // recorded it and not sent it yet, or finished it since this pass read it.
    std::lock_guard send_lock(send_lock_for(account.chain_id, *account.deploy_from));
    auto fresh = store_.get_smart_account_network(account.id);
    if (!fresh || !*fresh || (*fresh)->status != "deploying" || (*fresh)->tx_hash != account.tx_hash) return false;
    // What follows trusts the node's word on the relayer's nonce and the account's code, and may release the fee:
    // only a node of the transaction's own chain may say. (A reload can point rpc_url at another chain's node; a
    // receipt, by contrast, names the transaction, which is signed for its chain.)
    auto node_chain = eth.chain_id();
    if (!node_chain) return false;  // unreachable now: next pass
    if (*node_chain != static_cast<std::uint64_t>(account.chain_id)) {
      spdlog::warn("smart accounts: {} is deploying on {} (chain {}), but its node serves chain {}; nothing is "
                   "resent or released until the network's rpc_url serves chain {} again",
                   account.id, account.network, account.chain_id, *node_chain, account.chain_id);
      return false;
    }
    auto known = eth.knows_transaction(*hash);
    if (!known || *known) return false;  // unreachable now, or pending: next pass
    auto raw = from_hex(*account.deploy_tx);
    if (!raw) return false;
    auto sent = eth.send_raw_transaction(*raw);
    if (sent || already_known(sent.error())) return false;
    if (sent.error().code != ErrorCode::kConflict) return false;  // the node is unreachable: next pass
    auto outcome = settle_refusal(account, eth, sent.error());
    return outcome && *outcome;
  }
  if (net->confirmations > 1) {
    auto head = eth.block_number();
    if (!head || *head < (*receipt)->block_number || *head - (*receipt)->block_number + 1 < net->confirmations) {
      return false;
    }
  }
  auto code = eth.get_code(*account_address);
  if (!code) return false;
  if (!code->empty()) {
    // Ours, or (after a revert of ours) someone else's deployment: either way the account is there.
    return finished(deployed(account, (*receipt)->success ? std::optional((*receipt)->block_number) : std::nullopt));
  }
  if (!(*receipt)->success) {
    return finished(release(account, "the deployment transaction " + *account.tx_hash + " reverted in block " +
                                         std::to_string((*receipt)->block_number)));
  }
  // A successful deployment with no code yet: a node behind the one that gave the receipt. Next pass.
  spdlog::debug("smart accounts: {}: {} succeeded but the node shows no code at {} yet", account.id,
                *account.tx_hash, account.aa_address);
  return false;
}

Result<bool> SmartDeployer::settle_refusal(const store::SmartAccountNetworkRecord& account, smart::EthRpc& eth,
                                           const Error& refusal) {
  const std::string reason = "the node refused the deployment transaction " + account.tx_hash.value_or("") + ": " +
                             rpc_message(refusal);
  auto from = chains::parse_evm_address(account.deploy_from.value_or(""));
  auto address = chains::parse_evm_address(account.aa_address);
  if (!from || !address || !account.deploy_nonce) return fail(ErrorCode::kInternal, "store: malformed deployment");
  const auto nonce = static_cast<std::uint64_t>(*account.deploy_nonce);
  auto mined = eth.mined_nonce(*from);
  if (!mined) return std::unexpected(mined.error());
  if (*mined > nonce) {
    // A mined transaction took the nonce and it was not ours (the caller saw no receipt of ours): ours can never
    // be mined. The account may have been deployed by someone else all the same.
    auto code = eth.get_code(*address);
    if (!code) return std::unexpected(code.error());
    if (!code->empty()) return settled(deployed(account, std::nullopt));
    return settled(release(account, reason));
  }
  if (nonce_used(refusal)) return false;  // a pending transaction holds the nonce: wait for it to be mined
  // Refused for another reason (funds, fees, ...), with the nonce still free. Releasing would leave a gap that the
  // relayer's later transactions wait behind, so that happens only when no later one is recorded.
  auto deploying = store_.smart_accounts_in_status("deploying");
  if (!deploying) return std::unexpected(deploying.error());
  for (const auto& other : *deploying) {
    if (other.id != account.id && other.chain_id == account.chain_id && other.deploy_from == account.deploy_from &&
        other.deploy_nonce && *other.deploy_nonce > *account.deploy_nonce) {
      spdlog::warn("smart accounts: {} on {}: {}; it stays deploying (resent every pass) because later transactions "
                   "of the relayer wait for its nonce {}",
                   account.id, account.network, reason, nonce);
      return false;
    }
  }
  return settled(release(account, reason));
}

unsigned SmartDeployer::poll_once() {
  auto deploying = store_.smart_accounts_in_status("deploying");
  if (!deploying) {
    spdlog::warn("smart accounts: reading deploying accounts failed: {}", deploying.error().message);
    return 0;
  }
  // One set for the whole pass: a reload meanwhile is seen by the next one.
  const auto in_force = networks();
  unsigned finished = 0;
  for (const auto& account : *deploying) {
    if (stopping()) break;
    if (follow(*in_force, account)) ++finished;
  }
  return finished;
}

}  // namespace signerd::core

#pragma once
// The smart-account networks signerd serves, resolved from the configuration ([[smart_accounts.networks]]): the
// canonical deployment of the version fills in what the file leaves out, addresses are checked (EIP-55 when mixed
// case), the proxy creation code is read, and the activation fee is a canonical amount. Done at start-up and at each
// reload (SIGHUP), which compares the result with the networks in force (identity_changes, setting_changes).
#include <cstdint>
#include <string>
#include <vector>

#include "chains/evm.h"
#include "common/error.h"
#include "common/hex.h"
#include "config/config.h"
#include "smart/account_address.h"

namespace signerd::smart {

struct Network {
  std::string name;
  std::uint64_t chain_id = 0;
  AccountVersion version = AccountVersion::kV0_8;
  chains::EvmAddress entry_point{};
  chains::EvmAddress factory{};
  chains::EvmAddress implementation{};
  Bytes proxy_creation_code;
  std::string rpc_url;          // empty: none
  std::string relayer_key_id;   // empty: none
  std::string activation_fee;   // canonical amount (smart/amount.h)
  std::uint32_t confirmations = 1;

  // The owner's account address on this network (salt 0, as signerd deploys it).
  chains::EvmAddress account_address(const chains::EvmAddress& owner) const {
    return counterfactual_address(factory, implementation, proxy_creation_code, owner);
  }
};

// kInvalidArgument naming the network and key: a failed checksum, an unreadable or malformed code file, a fee
// above 2^256 - 1.
Result<std::vector<Network>> resolve_networks(const config::SmartAccountsConfig& config);

// The fields in which two configurations of one network differ, by their configuration key, in Network's order.
// identity_changes: what fixes its accounts' addresses and the chain and contracts they live on (chain_id, version,
// entry_point, factory, implementation, proxy_creation_code); the records already made hold that, so it cannot
// change under them while signerd runs. setting_changes: the rest (rpc_url, relayer_key_id, activation_fee,
// confirmations).
std::vector<std::string> identity_changes(const Network& before, const Network& after);
std::vector<std::string> setting_changes(const Network& before, const Network& after);

}  // namespace signerd::smart

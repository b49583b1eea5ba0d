#pragma once
// The counterfactual address of an eth-infinitism SimpleAccount (ERC-4337 v0.6, v0.7, v0.8): where
// SimpleAccountFactory.createAccount(owner, salt) deploys the owner's ERC1967Proxy, and what the factory's
// getAddress(owner, salt) returns. The formula (../shared/reference/smart-accounts.md):
//   initData = 0xc4d66de8 (initialize(address)) || owner as a 32-byte word
//   initCode = P || abi.encode(address implementation, bytes initData)
//   address  = CREATE2(factory, salt, initCode)
// where P is the ERC1967Proxy creation code the factory embeds (taken from the deployed factory, see
// smart/proxy_creation_code_v0_*.hex and tools/extract_proxy_creation_code.mjs), and the implementation is the
// factory's first CREATE (nonce 1). Pure and thread-safe.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "chains/evm.h"
#include "common/error.h"
#include "common/hex.h"

namespace signerd::smart {

enum class AccountVersion { kV0_6, kV0_7, kV0_8 };

// "0.6", "0.7", "0.8".
const char* to_string(AccountVersion version);
std::optional<AccountVersion> parse_account_version(std::string_view text);

// The canonical deployments (the same addresses on every EVM chain where they exist).
struct Deployment {
  chains::EvmAddress entry_point;
  chains::EvmAddress factory;
  chains::EvmAddress implementation;
};
const Deployment& canonical_deployment(AccountVersion version);

// P for a version: the ERC1967Proxy creation code the canonical SimpleAccountFactory of that version embeds (the
// bytes of smart/proxy_creation_code_v0_*.hex, compiled in).
std::span<const std::uint8_t> canonical_proxy_creation_code(AccountVersion version);

// abi.encodeCall(SimpleAccount.initialize, (owner)): 36 bytes.
Bytes initialize_call(const chains::EvmAddress& owner);

// P || abi.encode(implementation, initialize_call(owner)).
Bytes proxy_init_code(std::span<const std::uint8_t> proxy_creation_code, const chains::EvmAddress& implementation,
                      const chains::EvmAddress& owner);

// The account's address: CREATE2(factory, salt, keccak256(proxy_init_code(...))).
chains::EvmAddress counterfactual_address(const chains::EvmAddress& factory, const chains::EvmAddress& implementation,
                                          std::span<const std::uint8_t> proxy_creation_code,
                                          const chains::EvmAddress& owner, const chains::Hash256& salt = {});

// The implementation a SimpleAccountFactory deploys in its constructor: CREATE(factory, nonce 1).
chains::EvmAddress factory_implementation(const chains::EvmAddress& factory);

}  // namespace signerd::smart

#include "smart/network.h"

#include <fstream>
#include <sstream>

#include "smart/amount.h"

namespace signerd::smart {
namespace {

Result<chains::EvmAddress> address_or(const std::string& text, const chains::EvmAddress& fallback,
                                      const std::string& where) {
  if (text.empty()) return fallback;
  auto parsed = chains::parse_evm_address(text);
  if (!parsed) return fail(ErrorCode::kInvalidArgument, where + ": " + parsed.error().message);
  return *parsed;
}

Result<Bytes> proxy_code(const config::SmartNetworkConfig& n, AccountVersion version, const std::string& where) {
  std::string hex = n.proxy_creation_code;
  if (!n.proxy_creation_code_file.empty()) {
    std::ifstream in(n.proxy_creation_code_file);
    if (!in) {
      return fail(ErrorCode::kInvalidArgument,
                  where + ".proxy_creation_code_file: cannot read " + n.proxy_creation_code_file.string());
    }
    std::stringstream buf;
    buf << in.rdbuf();
    hex = buf.str();
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) hex.pop_back();
  }
  if (hex.empty()) {
    const auto code = canonical_proxy_creation_code(version);
    return Bytes(code.begin(), code.end());
  }
  auto bytes = from_hex(hex);
  if (!bytes || bytes->empty()) {
    return fail(ErrorCode::kInvalidArgument, where + ": the proxy creation code is not hex bytes");
  }
  return std::move(*bytes);
}

}  // namespace

Result<std::vector<Network>> resolve_networks(const config::SmartAccountsConfig& config) {
  std::vector<Network> out;
  for (std::size_t i = 0; i < config.networks.size(); ++i) {
    const auto& n = config.networks[i];
    const std::string where = "smart_accounts.networks[" + std::to_string(i) + "] (" + n.name + ")";
    Network r;
    r.name = n.name;
    r.chain_id = n.chain_id;
    const auto version = parse_account_version(n.version);
    if (!version) return fail(ErrorCode::kInvalidArgument, where + ".version must be \"0.6\", \"0.7\" or \"0.8\"");
    r.version = *version;
    const Deployment& canonical = canonical_deployment(*version);
    auto entry_point = address_or(n.entry_point, canonical.entry_point, where + ".entry_point");
    if (!entry_point) return std::unexpected(entry_point.error());
    auto factory = address_or(n.factory, canonical.factory, where + ".factory");
    if (!factory) return std::unexpected(factory.error());
    // Another factory deploys its own implementation in its constructor: CREATE(factory, 1).
    const auto implementation_default =
        n.factory.empty() ? canonical.implementation : factory_implementation(*factory);
    auto implementation = address_or(n.implementation, implementation_default, where + ".implementation");
    if (!implementation) return std::unexpected(implementation.error());
    auto code = proxy_code(n, *version, where);
    if (!code) return std::unexpected(code.error());
    auto fee = parse_amount(n.activation_fee, where + ".activation_fee");
    if (!fee) return std::unexpected(fee.error());
    r.entry_point = *entry_point;
    r.factory = *factory;
    r.implementation = *implementation;
    r.proxy_creation_code = std::move(*code);
    r.rpc_url = n.rpc_url;
    r.relayer_key_id = n.relayer_key_id;
    r.activation_fee = std::move(*fee);
    r.confirmations = n.confirmations;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> identity_changes(const Network& before, const Network& after) {
  std::vector<std::string> out;
  if (before.chain_id != after.chain_id) out.emplace_back("chain_id");
  if (before.version != after.version) out.emplace_back("version");
  if (before.entry_point != after.entry_point) out.emplace_back("entry_point");
  if (before.factory != after.factory) out.emplace_back("factory");
  if (before.implementation != after.implementation) out.emplace_back("implementation");
  if (before.proxy_creation_code != after.proxy_creation_code) out.emplace_back("proxy_creation_code");
  return out;
}

std::vector<std::string> setting_changes(const Network& before, const Network& after) {
  std::vector<std::string> out;
  if (before.rpc_url != after.rpc_url) out.emplace_back("rpc_url");
  if (before.relayer_key_id != after.relayer_key_id) out.emplace_back("relayer_key_id");
  if (before.activation_fee != after.activation_fee) out.emplace_back("activation_fee");
  if (before.confirmations != after.confirmations) out.emplace_back("confirmations");
  return out;
}

}  // namespace signerd::smart

#include "smart/account_address.h"

#include <cassert>

#include "smart/proxy_creation_code.h"

namespace signerd::smart {
namespace {

chains::EvmAddress address(std::string_view hex) {
  auto parsed = chains::parse_evm_address(hex);
  assert(parsed);  // constants below
  return *parsed;
}

void append_word(Bytes& out, std::uint64_t value) {
  const std::size_t start = out.size();
  out.resize(start + 32, 0);
  for (int i = 0; i < 8; ++i) out[start + 31 - i] = static_cast<std::uint8_t>(value >> (8 * i));
}

void append_address_word(Bytes& out, const chains::EvmAddress& a) {
  out.resize(out.size() + 12, 0);
  out.insert(out.end(), a.begin(), a.end());
}

}  // namespace

const char* to_string(AccountVersion version) {
  switch (version) {
    case AccountVersion::kV0_6: return "0.6";
    case AccountVersion::kV0_7: return "0.7";
    case AccountVersion::kV0_8: return "0.8";
  }
  return "unknown";
}

std::optional<AccountVersion> parse_account_version(std::string_view text) {
  for (auto v : {AccountVersion::kV0_6, AccountVersion::kV0_7, AccountVersion::kV0_8}) {
    if (text == to_string(v)) return v;
  }
  return std::nullopt;
}

const Deployment& canonical_deployment(AccountVersion version) {
  static const Deployment kV06{address("0x5FF137D4b0FDCD49DcA30c7CF57E578a026d2789"),
                               address("0x9406Cc6185a346906296840746125a0E44976454"),
                               address("0x8ABB13360b87Be5EEb1B98647A016adD927a136c")};
  static const Deployment kV07{address("0x0000000071727De22E5E9d8BAf0edAc6f37da032"),
                               address("0x91E60e0613810449d098b0b5Ec8b51A0FE8c8985"),
                               address("0x68641DE71cfEa5a5d0D29712449Ee254bb1400C2")};
  static const Deployment kV08{address("0x4337084D9E255Ff0702461CF8895CE9E3b5Ff108"),
                               address("0x13E9ed32155810FDbd067D4522C492D6f68E5944"),
                               address("0x28426d752372D68d34340bd94390950DcE3C9ec3")};
  switch (version) {
    case AccountVersion::kV0_6: return kV06;
    case AccountVersion::kV0_7: return kV07;
    case AccountVersion::kV0_8: return kV08;
  }
  return kV08;
}

std::span<const std::uint8_t> canonical_proxy_creation_code(AccountVersion version) {
  static const Bytes kV06 = *from_hex(kProxyCreationCodeV0_6);
  static const Bytes kV07 = *from_hex(kProxyCreationCodeV0_7);
  static const Bytes kV08 = *from_hex(kProxyCreationCodeV0_8);
  switch (version) {
    case AccountVersion::kV0_6: return kV06;
    case AccountVersion::kV0_7: return kV07;
    case AccountVersion::kV0_8: return kV08;
  }
  return kV08;
}

Bytes initialize_call(const chains::EvmAddress& owner) {
  Bytes out{0xc4, 0xd6, 0x6d, 0xe8};
  append_address_word(out, owner);
  return out;
}

Bytes proxy_init_code(std::span<const std::uint8_t> proxy_creation_code, const chains::EvmAddress& implementation,
                      const chains::EvmAddress& owner) {
  const Bytes init_data = initialize_call(owner);
  Bytes out(proxy_creation_code.begin(), proxy_creation_code.end());
  append_address_word(out, implementation);  // head: address
  append_word(out, 0x40);                    // head: offset of the bytes
  append_word(out, init_data.size());        // tail: length
  out.insert(out.end(), init_data.begin(), init_data.end());
  out.resize(out.size() + (32 - init_data.size() % 32) % 32, 0);  // right-padded to a whole word
  return out;
}

chains::EvmAddress counterfactual_address(const chains::EvmAddress& factory, const chains::EvmAddress& implementation,
                                          std::span<const std::uint8_t> proxy_creation_code,
                                          const chains::EvmAddress& owner, const chains::Hash256& salt) {
  return chains::create2_address(factory, salt, proxy_init_code(proxy_creation_code, implementation, owner));
}

chains::EvmAddress factory_implementation(const chains::EvmAddress& factory) {
  return chains::create_address(factory, 1);
}

}  // namespace signerd::smart

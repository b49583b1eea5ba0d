#pragma once
// The ERC1967Proxy creation code (P) each canonical SimpleAccountFactory embeds, as lowercase hex with "0x": the
// contents of smart/proxy_creation_code_v0_*.hex, compiled in by CMake (proxy_creation_code.cc.in).
#include <string_view>

namespace signerd::smart {

extern const std::string_view kProxyCreationCodeV0_6;
extern const std::string_view kProxyCreationCodeV0_7;
extern const std::string_view kProxyCreationCodeV0_8;

}  // namespace signerd::smart

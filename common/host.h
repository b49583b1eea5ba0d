#pragma once
// Host names and addresses, shared by the daemon's configuration and signerctl.
#include <string_view>

namespace signerd {

// Whether a host surely means the loopback interface: "localhost", 127.0.0.0/8, ::1 and ::ffff:127.x.y.z. Any other
// name counts as not loopback (it could resolve to anything), as do 0.0.0.0 and ::.
bool is_loopback_host(std::string_view host);

}  // namespace signerd

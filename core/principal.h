#pragma once
#include <optional>
#include <string>

namespace signerd::core {

// Who is asking. Until identity lands (issue 3) principals are local OS users over the Unix socket
// ("os-uid-<uid>") and the holder of the static TCP bearer token ("static-token").
struct Principal {
  std::string id;
  std::optional<std::string> token_id;
};

}  // namespace signerd::core

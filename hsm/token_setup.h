#pragma once
// Setting up a token from signerd's own tools (signerctl hsm init-token), so that PINs are read from files and never
// pass through argv as `softhsm2-util --pin` would. Intended for development and test tokens (SoftHSM); production
// HSMs are initialised with their vendor's tooling.
#include <string>

#include "common/error.h"
#include "common/secret.h"

namespace signerd::hsm {

struct TokenSetup {
  std::string module_path;
  std::string label;       // at most 32 bytes
  SecretString so_pin;
  SecretString user_pin;
};

// C_InitToken on the first slot whose token is not initialised (SoftHSM always offers one), then C_InitPIN for the
// user PIN. Returns the new token's serial. kConflict when a token with that label exists already; kInvalidArgument
// when no free slot exists or the module refuses the PINs.
Result<std::string> initialize_token(const TokenSetup& setup);

}  // namespace signerd::hsm

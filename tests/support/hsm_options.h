#pragma once
// The HsmOptions the HSM tests open a SoftHSM test token with, and Hsm::open that reports its error as a test
// failure. Header-only: a test links signerd_hsm.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "common/secret.h"
#include "hsm/hsm.h"
#include "tests/support/softhsm_token.h"

namespace signerd::testing {

// `token` through `module` (SoftHSM itself by default, or a wrapper around it such as signerd_p11fault).
inline hsm::HsmOptions hsm_options(const SoftHsmToken& token, std::string module = SoftHsmToken::module_path(),
                                   unsigned sessions = 2,
                                   std::chrono::milliseconds lease_timeout = std::chrono::milliseconds(5000)) {
  hsm::HsmOptions o;
  o.module_path = std::move(module);
  o.token_label = token.label();
  o.pin = SecretString(token.pin());
  o.sessions = sessions;
  o.lease_timeout = lease_timeout;
  return o;
}

// The opened Hsm, or nullptr after ADD_FAILURE with Hsm::open's error.
inline std::unique_ptr<hsm::Hsm> open_hsm(hsm::HsmOptions options) {
  auto hsm = hsm::Hsm::open(std::move(options));
  if (!hsm) ADD_FAILURE() << "Hsm::open: " << hsm.error().message;
  return hsm ? std::move(*hsm) : nullptr;
}

}  // namespace signerd::testing

#pragma once
// The signerctl commands that work with the HSM directly (no daemon): set up a development token, and check that a
// token is fit for signerd. Each returns an exit code from cli/exit_codes.h.
#include <optional>
#include <string>

namespace signerd::cli {

// PINs are read from files (mode 0600), never from argv.
int run_hsm_init_token(const std::string& module, const std::string& label, const std::string& so_pin_file,
                       const std::string& pin_file);

struct HsmCheckArgs {
  std::string module;
  std::string token_label;
  std::string token_serial;
  std::optional<std::string> pin_file;  // when set: login check and private key scan
  bool json = false;
};

// Prints the report (readable, or one JSON object with `json`). 0 when everything checked is fine; 4 when the token
// is not there; 6 when the PIN is refused; 1 for a missing mechanism, a finding or any other failure.
int run_hsm_check(const HsmCheckArgs& args);

}  // namespace signerd::cli

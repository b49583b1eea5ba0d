// signerctl: signerd's command-line tool. For now it sets up development tokens; the commands that talk to a
// running daemon (status, keys, audit, ...) come with the operations work.
// Exit codes: 0 success, 1 the operation failed, 2 bad usage, 3 the thing exists already.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "common/secret.h"
#include "hsm/token_setup.h"

namespace {

using namespace signerd;

int init_token(const std::string& module, const std::string& label, const std::string& so_pin_file,
               const std::string& pin_file) {
  auto so_pin = read_secret_file(so_pin_file, /*allow_group_readable=*/false);
  if (!so_pin) {
    std::fprintf(stderr, "signerctl: %s\n", so_pin.error().message.c_str());
    return 2;
  }
  auto pin = read_secret_file(pin_file, /*allow_group_readable=*/false);
  if (!pin) {
    std::fprintf(stderr, "signerctl: %s\n", pin.error().message.c_str());
    return 2;
  }
  auto serial = hsm::initialize_token({module, label, std::move(*so_pin), std::move(*pin)});
  if (!serial) {
    std::fprintf(stderr, "signerctl: %s\n", serial.error().message.c_str());
    return serial.error().code == ErrorCode::kConflict ? 3 : 1;
  }
  std::printf("initialised token '%s' (serial %s)\n", label.c_str(), serial->c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"signerctl: the command-line tool of signerd"};
  app.require_subcommand(1);
  auto* hsm_cmd = app.add_subcommand("hsm", "work with the HSM directly");
  hsm_cmd->require_subcommand(1);
  auto* init = hsm_cmd->add_subcommand(
      "init-token", "initialise a development token (SoftHSM) with PINs read from files, never from argv");
  std::string module = "/usr/lib/softhsm/libsofthsm2.so", label, so_pin_file, pin_file;
  init->add_option("--module", module, "PKCS#11 module")->capture_default_str();
  init->add_option("--label", label, "token label (at most 32 bytes)")->required();
  init->add_option("--so-pin-file", so_pin_file, "file holding the security officer PIN (mode 0600)")->required();
  init->add_option("--pin-file", pin_file, "file holding the user PIN (mode 0600)")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (init->parsed()) return init_token(module, label, so_pin_file, pin_file);
  return 2;
}

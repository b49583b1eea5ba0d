#pragma once
// The built signerctl as a child process, for end-to-end tests: its exit code, stdout and stderr.
#include <boost/json/value.hpp>

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace signerd::testing {

struct CtlRun {
  int code = -1;
  std::string out, err;

  boost::json::value json() const;  // stdout parsed (null when it is not JSON)
};

std::ostream& operator<<(std::ostream& os, const CtlRun& r);

// SIGNERCTL_BINARY (set at build time).
std::string signerctl_binary();

// Runs signerctl with `args`, capturing stdout, stderr and the exit code (128 + the signal when killed; killed after
// 120 s). The child inherits this process's environment (SOFTHSM2_CONF, sanitizer options) without SIGNERD_SOCKET,
// plus `env`. A sanitizer report on stderr fails the current test.
CtlRun run_signerctl(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {});

}  // namespace signerd::testing

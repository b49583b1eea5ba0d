#pragma once
// The signerd_p11fault wrapper (tests/fault/p11_fault_module.cc) for an Hsm opened in the test's own process: it
// forwards to SoftHSM and injects the faults written to a control file, which it re-reads on every call. The
// environment that names both is set for the object's life. Header-only.
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/softhsm_token.h"

namespace signerd::testing {

class P11FaultControl {
 public:
  // The control file lives in `token`'s directory; no fault until set() is called.
  explicit P11FaultControl(const SoftHsmToken& token) : control_(token.dir() / "p11fault.control") {
    ::setenv("P11FAULT_CONTROL", control_.c_str(), 1);
    ::setenv("P11FAULT_REAL_MODULE", SoftHsmToken::module_path().c_str(), 1);
  }
  ~P11FaultControl() { ::unsetenv("P11FAULT_CONTROL"); }
  P11FaultControl(const P11FaultControl&) = delete;
  P11FaultControl& operator=(const P11FaultControl&) = delete;

  // Replaces the faults with `content`, in the control syntax the wrapper documents (e.g. "device_error C_Sign").
  void set(const std::string& content) const { std::ofstream(control_, std::ios::trunc) << content << "\n"; }
  // No more faults.
  void clear() const { std::filesystem::remove(control_); }

 private:
  std::filesystem::path control_;
};

}  // namespace signerd::testing

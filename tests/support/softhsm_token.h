#pragma once
// A real SoftHSM2 token in a fresh temporary directory, for tests that touch the HSM. Construction writes a
// softhsm2.conf, points SOFTHSM2_CONF at it (process-wide), and initialises one token with softhsm2-util.
// The directory is removed on destruction. Not thread-safe; create one per test fixture.
#include <filesystem>
#include <string>

namespace signerd::testing {

class SoftHsmToken {
 public:
  // The default PIN is not digits: tests look for it in logs, where "1234" could turn up inside any number.
  explicit SoftHsmToken(std::string label = "signerd-test", std::string pin = "pin-q7ZfX2",
                        std::string so_pin = "5678");
  ~SoftHsmToken();
  SoftHsmToken(const SoftHsmToken&) = delete;
  SoftHsmToken& operator=(const SoftHsmToken&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path conf_path() const { return dir_ / "softhsm2.conf"; }
  const std::string& label() const { return label_; }
  const std::string& pin() const { return pin_; }
  const std::string& so_pin() const { return so_pin_; }
  static std::string module_path();  // SIGNERD_SOFTHSM_MODULE (set at build time)

  // Writes the user PIN to a 0600 file in dir() and returns its path.
  std::filesystem::path write_pin_file(const std::string& pin) const;

 private:
  std::filesystem::path dir_;
  std::string label_, pin_, so_pin_;
};

// A fresh temporary directory removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace signerd::testing

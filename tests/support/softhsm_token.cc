#include "tests/support/softhsm_token.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace signerd::testing {
namespace {

std::filesystem::path make_temp_dir(const char* stem) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(stem) + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

}  // namespace

TempDir::TempDir() : path_(make_temp_dir("signerd-test")) {}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

SoftHsmToken::SoftHsmToken(std::string label, std::string pin, std::string so_pin)
    : dir_(make_temp_dir("signerd-softhsm")), label_(std::move(label)), pin_(std::move(pin)),
      so_pin_(std::move(so_pin)) {
  std::filesystem::create_directories(dir_ / "tokens");
  {
    std::ofstream conf(conf_path());
    conf << "directories.tokendir = " << (dir_ / "tokens").string() << "\n"
         << "objectstore.backend = file\n"
         << "log.level = ERROR\n"
         << "slots.removable = false\n";
  }
  ::setenv("SOFTHSM2_CONF", conf_path().c_str(), 1);
  const std::string cmd = "softhsm2-util --init-token --free --label '" + label_ + "' --pin '" + pin_ +
                          "' --so-pin '" + so_pin_ + "' >/dev/null";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("softhsm2-util --init-token failed");
}

SoftHsmToken::~SoftHsmToken() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string SoftHsmToken::module_path() {
#ifdef SIGNERD_SOFTHSM_MODULE
  return SIGNERD_SOFTHSM_MODULE;
#else
  return "/usr/lib/softhsm/libsofthsm2.so";
#endif
}

std::filesystem::path SoftHsmToken::write_pin_file(const std::string& pin) const {
  const auto path = dir_ / "user.pin";
  {
    std::ofstream out(path, std::ios::trunc);
    out << pin << "\n";
  }
  ::chmod(path.c_str(), 0600);
  return path;
}

}  // namespace signerd::testing

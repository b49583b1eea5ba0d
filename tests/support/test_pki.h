#pragma once
// A throwaway PKI for TLS tests, made with the openssl CLI in a temporary directory: a CA ("ca"), another CA
// ("other-ca"), a server certificate from "ca" for IP 127.0.0.1 and DNS localhost ("server"), a client certificate
// from "ca" ("client") and one from "other-ca" ("rogue-client"). All keys are P-256; the server key is mode 0600.
// Construction fails the current test (gtest assertions) when openssl does.
#include <filesystem>
#include <string>

#include "tests/support/softhsm_token.h"

namespace signerd::testing {

class TestPki {
 public:
  TestPki();

  // A further server certificate from "ca", named `name`, whose subjectAltName is `subject_alt_name` (e.g.
  // "DNS:signerd.invalid"); its key is mode 0600.
  void make_server(const std::string& name, const std::string& subject_alt_name);

  std::filesystem::path cert(const std::string& name) const { return dir_.path() / (name + ".pem"); }
  std::filesystem::path key(const std::string& name) const { return dir_.path() / (name + ".key"); }
  std::filesystem::path dir() const { return dir_.path(); }

  // [listen] lines for the server certificate `server`, with client certificates required when `client_ca` is set.
  std::string listen_config(bool client_ca = false, const std::string& server = "server") const;

 private:
  void openssl(const std::string& args);
  void make_key(const std::string& name);
  void make_ca(const std::string& name);
  void make_leaf(const std::string& name, const std::string& cn, const std::string& ca, const std::string& ext,
                 const std::filesystem::path& extfile);

  TempDir dir_;
  int serial_ = 1;
};

}  // namespace signerd::testing

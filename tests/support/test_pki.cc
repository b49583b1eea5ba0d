#include "tests/support/test_pki.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace signerd::testing {
namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TestPki::TestPki() {
  std::ofstream(dir_.path() / "tls.cnf") << "[req]\ndistinguished_name = dn\n[dn]\n"
                                            "[ca_ext]\nbasicConstraints = critical,CA:TRUE\n"
                                            "keyUsage = critical,keyCertSign,cRLSign\n"
                                            "subjectKeyIdentifier = hash\n"
                                            "[server_ext]\nbasicConstraints = critical,CA:FALSE\n"
                                            "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
                                            "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
                                            "[client_ext]\nbasicConstraints = critical,CA:FALSE\n"
                                            "keyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\n";
  const auto cnf = dir_.path() / "tls.cnf";
  make_ca("ca");
  make_ca("other-ca");
  make_leaf("server", "localhost", "ca", "server_ext", cnf);
  make_leaf("client", "signerd-test-client", "ca", "client_ext", cnf);
  make_leaf("rogue-client", "signerd-test-rogue", "other-ca", "client_ext", cnf);
  ::chmod(key("server").c_str(), 0600);
}

void TestPki::make_server(const std::string& name, const std::string& subject_alt_name) {
  const auto ext = dir_.path() / (name + ".ext");
  std::ofstream(ext) << "[ext]\nbasicConstraints = critical,CA:FALSE\n"
                        "keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n"
                        "subjectAltName = "
                     << subject_alt_name << "\n";
  make_leaf(name, "signerd-test-" + name, "ca", "ext", ext);
  ::chmod(key(name).c_str(), 0600);
}

std::string TestPki::listen_config(bool client_ca, const std::string& server) const {
  std::string s =
      "tls_cert_file = \"" + cert(server).string() + "\"\ntls_key_file = \"" + key(server).string() + "\"\n";
  if (client_ca) s += "tls_client_ca_file = \"" + cert("ca").string() + "\"\n";
  return s;
}

void TestPki::openssl(const std::string& args) {
  const auto log = dir_.path() / "openssl.log";
  const std::string cmd = "openssl " + args + " >>" + log.string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << read_text(log);
}

void TestPki::make_key(const std::string& name) {
  openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + key(name).string());
}

void TestPki::make_ca(const std::string& name) {
  make_key(name);
  openssl("req -x509 -new -key " + key(name).string() + " -subj /CN=signerd-test-" + name + " -days 2 -config " +
          (dir_.path() / "tls.cnf").string() + " -extensions ca_ext -out " + cert(name).string());
}

void TestPki::make_leaf(const std::string& name, const std::string& cn, const std::string& ca, const std::string& ext,
                        const std::filesystem::path& extfile) {
  make_key(name);
  const auto csr = dir_.path() / (name + ".csr");
  const auto cnf = (dir_.path() / "tls.cnf").string();
  openssl("req -new -key " + key(name).string() + " -subj /CN=" + cn + " -config " + cnf + " -out " + csr.string());
  openssl("x509 -req -in " + csr.string() + " -CA " + cert(ca).string() + " -CAkey " + key(ca).string() +
          " -set_serial " + std::to_string(++serial_) + " -days 2 -extfile " + extfile.string() + " -extensions " +
          ext + " -out " + cert(name).string());
}

}  // namespace signerd::testing

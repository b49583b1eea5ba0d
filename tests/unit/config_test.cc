#include <gtest/gtest.h>

#include "config/config.h"

namespace signerd::config {
namespace {

constexpr const char* kMinimal = R"(
[hsm]
module = "/usr/lib/softhsm/libsofthsm2.so"
token_label = "t"
pin_file = "pin"
[store]
path = "db/signerd.db"
[listen]
unix_socket = "/run/signerd.sock"
)";

TEST(Config, MinimalFileGetsDefaultsAndResolvesRelativePaths) {
  auto c = parse_config(kMinimal, "/etc/signerd");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->hsm.pin_file, "/etc/signerd/pin");
  EXPECT_EQ(c->store.path, "/etc/signerd/db/signerd.db");
  EXPECT_EQ(c->hsm.sessions, 2u);
  EXPECT_EQ(c->limits.max_body_bytes, 65536u);
  EXPECT_EQ(c->listen.unix_socket_mode, 0660u);
  EXPECT_FALSE(c->auth.unix_allowed_uids.has_value());
  EXPECT_TRUE(c->listen.tcp.empty());
}

TEST(Config, TheExampleFileIsValid) {
  auto c = load_config(SIGNERD_EXAMPLE_CONFIG);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->listen.tcp, "127.0.0.1:8420");
}

struct BadCase {
  const char* name;
  std::string toml;
  const char* expected_fragment;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class ConfigRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(ConfigRejects, WithAMessageNamingTheProblem) {
  auto c = parse_config(GetParam().toml, "/etc/signerd");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(c.error().message.find(GetParam().expected_fragment), std::string::npos) << c.error().message;
}

const std::string kBase = kMinimal;

INSTANTIATE_TEST_SUITE_P(
    Cases, ConfigRejects,
    ::testing::Values(
        BadCase{"UnknownKey", kBase + "[log]\nlevle = \"info\"\n", "unknown key 'log.levle'"},
        BadCase{"UnknownSection", kBase + "[hsmm]\n", "unknown section or key 'hsmm'"},
        BadCase{"NotToml", "[hsm\nmodule=", "not valid TOML"},
        BadCase{"MissingModule", "[hsm]\ntoken_label=\"t\"\npin_file=\"p\"\n[store]\npath=\"d\"\n[listen]\nunix_socket=\"s\"\n",
                "hsm.module is required"},
        BadCase{"NoToken", "[hsm]\nmodule=\"m\"\npin_file=\"p\"\n[store]\npath=\"d\"\n[listen]\nunix_socket=\"s\"\n",
                "token_label"},
        BadCase{"BothPinSources",
                "[hsm]\nmodule=\"m\"\ntoken_label=\"t\"\npin_file=\"p\"\npin_credential=\"c\"\n[store]\npath=\"d\"\n"
                "[listen]\nunix_socket=\"s\"\n",
                "exactly one"},
        BadCase{"WrongType", kBase + "[limits]\nmax_body_bytes = \"big\"\n", "limits.max_body_bytes must be an integer"},
        BadCase{"OutOfRange", kBase + "[limits]\nmax_body_bytes = 1\n", "limits.max_body_bytes must be between"},
        BadCase{"ZeroSessions", "[hsm]\nmodule=\"m\"\ntoken_label=\"t\"\npin_file=\"p\"\nsessions=0\n[store]\npath=\"d\"\n"
                                "[listen]\nunix_socket=\"s\"\n",
                "hsm.sessions must be between 1 and 256"},
        BadCase{"BadTcp", kBase + "tcp = \"localhost\"\n", "listen.tcp must be"},
        BadCase{"RemovedTokenFile", kBase + "[auth]\ntcp_bearer_token_file=\"t\"\n", "tcp_bearer_token_file"},
        BadCase{"BadMode", kBase + "unix_socket_mode = \"rw\"\n", "octal mode"},
        BadCase{"BadLevel", kBase + "[log]\nlevel = \"loud\"\n", "log.level must be one of"},
        BadCase{"NegativeUid", kBase + "[auth]\nunix_allowed_uids = [-1]\n", "auth.unix_allowed_uids"},
        BadCase{"BadHealthTransport", kBase + "[auth]\nunauthenticated_health = [\"udp\"]\n",
                "auth.unauthenticated_health may hold only"},
        BadCase{"NoListener", "[hsm]\nmodule=\"m\"\ntoken_label=\"t\"\npin_file=\"p\"\n[store]\npath=\"d\"\n",
                "signerd must listen somewhere"},
        BadCase{"PageDefaultAboveMax", kBase + "[limits]\nmax_page_size = 10\ndefault_page_size = 20\n",
                "default_page_size must not exceed"}),
    [](const auto& info) { return info.param.name; });

TEST(HostPort, ParsesIpv4Ipv6AndNames) {
  auto a = parse_host_port("127.0.0.1:8420");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8420);
  auto b = parse_host_port("[::1]:1");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_TRUE(parse_host_port("localhost:65535"));
  EXPECT_FALSE(parse_host_port("localhost:65536"));
  EXPECT_FALSE(parse_host_port("localhost:0"));
  EXPECT_FALSE(parse_host_port(":80"));
  EXPECT_FALSE(parse_host_port("::1:80"));
  EXPECT_FALSE(parse_host_port("host:8x"));
}

INSTANTIATE_TEST_SUITE_P(
    Tls, ConfigRejects,
    ::testing::Values(
        BadCase{"AnyAddressWithoutTls", kBase + "tcp = \"0.0.0.0:8420\"\n",
                "listen.tcp = \"0.0.0.0:8420\" is not a loopback address: TLS is required (set "
                "listen.tls_cert_file and listen.tls_key_file)"},
        BadCase{"AnyIpv6AddressWithoutTls", kBase + "tcp = \"[::]:8420\"\n", "is not a loopback address"},
        BadCase{"LanAddressWithoutTls", kBase + "tcp = \"192.168.1.10:8420\"\n", "is not a loopback address"},
        BadCase{"HostNameWithoutTls", kBase + "tcp = \"signer.example.com:8420\"\n", "is not a loopback address"},
        BadCase{"CertWithoutKey", kBase + "tcp = \"127.0.0.1:8420\"\ntls_cert_file = \"server.pem\"\n",
                "listen.tls_key_file is required"},
        BadCase{"KeyWithoutCert", kBase + "tcp = \"127.0.0.1:8420\"\ntls_key_file = \"server.key\"\n",
                "listen.tls_cert_file is required"},
        BadCase{"ClientCaWithoutTls", kBase + "tcp = \"127.0.0.1:8420\"\ntls_client_ca_file = \"ca.pem\"\n",
                "listen.tls_client_ca_file needs listen.tls_cert_file"},
        BadCase{"TlsFileNotAString", kBase + "tls_cert_file = 1\n", "listen.tls_cert_file must be a string"}),
    [](const auto& info) { return info.param.name; });

TEST(Config, TlsFilesAreResolvedAndAllowAnyAddress) {
  auto c = parse_config(kBase +
                            "tcp = \"0.0.0.0:8420\"\ntls_cert_file = \"tls/server.pem\"\n"
                            "tls_key_file = \"/secret/server.key\"\ntls_client_ca_file = \"tls/ca.pem\"\n",
                        "/etc/signerd");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->listen.tls());
  EXPECT_EQ(c->listen.tls_cert_file, "/etc/signerd/tls/server.pem");
  EXPECT_EQ(c->listen.tls_key_file, "/secret/server.key");
  EXPECT_EQ(c->listen.tls_client_ca_file, "/etc/signerd/tls/ca.pem");
}

TEST(Config, LoopbackTcpNeedsNoTls) {
  for (const char* tcp : {"127.0.0.1:8420", "127.0.0.2:1", "[::1]:8420", "localhost:8420", "[::ffff:127.0.0.1]:1"}) {
    auto c = parse_config(kBase + "tcp = \"" + tcp + "\"\n", "/etc/signerd");
    ASSERT_TRUE(c) << tcp << ": " << c.error().message;
    EXPECT_FALSE(c->listen.tls());
  }
}

TEST(Config, IsLoopbackHost) {
  for (const char* host : {"localhost", "LocalHost", "127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "::2", "::ffff:10.0.0.1", "fe80::1",
                           "signer.example.com", "localhost.example.com", "127.0.0.1.example.com", ""}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
}

}  // namespace
}  // namespace signerd::config

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
        BadCase{"UnknownLogComponent", kBase + "[log]\ncomponents = { hsm = \"debug\", sever = \"warn\" }\n",
                "log.components names an unknown component 'sever' (known: hsm, store, api, server, identity)"},
        BadCase{"BadComponentLevel", kBase + "[log]\ncomponents = { store = \"loud\" }\n",
                "log.components.store must be one of trace, debug, info, warn, error, critical, off"},
        BadCase{"ComponentLevelNotAString", kBase + "[log]\ncomponents = { store = 1 }\n",
                "log.components.store must be one of"},
        BadCase{"ComponentsNotATable", kBase + "[log]\ncomponents = \"debug\"\n", "log.components must be a table"},
        BadCase{"NegativeUid", kBase + "[auth]\nunix_allowed_uids = [-1]\n", "auth.unix_allowed_uids"},
        BadCase{"BadHealthTransport", kBase + "[auth]\nunauthenticated_health = [\"udp\"]\n",
                "auth.unauthenticated_health may hold only"},
        BadCase{"NoListener", "[hsm]\nmodule=\"m\"\ntoken_label=\"t\"\npin_file=\"p\"\n[store]\npath=\"d\"\n",
                "signerd must listen somewhere"},
        BadCase{"PageDefaultAboveMax", kBase + "[limits]\nmax_page_size = 10\ndefault_page_size = 20\n",
                "default_page_size must not exceed"}),
    [](const auto& info) { return info.param.name; });

TEST(Config, LogComponentsHaveTheirOwnLevels) {
  auto none = parse_config(kMinimal, "/etc/signerd");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(none->log.level, "info");
  EXPECT_TRUE(none->log.components.empty());

  auto c = parse_config(kBase + "[log]\nlevel = \"warn\"\ncomponents = { hsm = \"debug\", server = \"off\" }\n",
                        "/etc/signerd");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->log.level, "warn");
  EXPECT_EQ(c->log.components, (std::map<std::string, std::string>{{"hsm", "debug"}, {"server", "off"}}));
  // A [log.components] table means the same as the inline one.
  auto table = parse_config(kBase + "[log]\nlevel = \"warn\"\n[log.components]\nhsm = \"debug\"\nserver = \"off\"\n",
                            "/etc/signerd");
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ(table->log, c->log);
}

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

// --- [smart_accounts]

TEST(SmartAccountsConfig, AbsentMeansNoNetworksAndTheDefaultToken) {
  auto c = parse_config(kMinimal, "/etc/signerd");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->smart_accounts.networks.empty());
  EXPECT_EQ(c->smart_accounts.gas_tank_token.name, "USDT");
  EXPECT_EQ(c->smart_accounts.gas_tank_token.decimals, 6u);
  EXPECT_EQ(c->smart_accounts.max_concurrent_activations, 2u);
}

TEST(SmartAccountsConfig, ActivationsStayBelowTheWorkersExceptWithASingleWorker) {
  auto three = parse_config(std::string(kMinimal) + "[server]\nworker_threads = 4\n[smart_accounts]\n"
                                                    "max_concurrent_activations = 3\n",
                            "/etc/signerd");
  ASSERT_TRUE(three) << three.error().message;
  EXPECT_EQ(three->smart_accounts.max_concurrent_activations, 3u);
  auto single = parse_config(std::string(kMinimal) + "[server]\nworker_threads = 1\n[smart_accounts]\n"
                                                     "max_concurrent_activations = 1\n",
                             "/etc/signerd");
  ASSERT_TRUE(single) << single.error().message;
  // A single worker can only be shared, whatever the cap: nothing to refuse.
  EXPECT_TRUE(parse_config(std::string(kMinimal) + "[server]\nworker_threads = 1\n", "/etc/signerd"));
  // Unset, the cap stays below the workers: 2 of 4, 1 of 2.
  auto two_workers = parse_config(std::string(kMinimal) + "[server]\nworker_threads = 2\n", "/etc/signerd");
  ASSERT_TRUE(two_workers) << two_workers.error().message;
  EXPECT_EQ(two_workers->smart_accounts.max_concurrent_activations, 1u);
  auto explicit_two = parse_config(std::string(kMinimal) + "[server]\nworker_threads = 2\n[smart_accounts]\n"
                                                           "max_concurrent_activations = 2\n",
                                   "/etc/signerd");
  ASSERT_FALSE(explicit_two);
}

TEST(SmartAccountsConfig, ParsesNetworksWithDefaultsAndTheToken) {
  auto c = parse_config(std::string(kMinimal) + R"(
[smart_accounts]
gas_tank_token = { name = "USDC", decimals = 18 }
[[smart_accounts.networks]]
name = "EthereumSepolia"
chain_id = 11155111
version = "0.7"
rpc_url = "http://127.0.0.1:8545"
relayer_key_id = "key-abc"
activation_fee = "1000000"
[[smart_accounts.networks]]
name = "Local"
chain_id = 31337
version = "0.8"
factory = "0x13E9ed32155810FDbd067D4522C492D6f68E5944"
proxy_creation_code_file = "p.hex"
)",
                        "/etc/signerd");
  ASSERT_TRUE(c) << c.error().message;
  const auto& s = c->smart_accounts;
  EXPECT_EQ(s.gas_tank_token.name, "USDC");
  EXPECT_EQ(s.gas_tank_token.decimals, 18u);
  ASSERT_EQ(s.networks.size(), 2u);
  EXPECT_EQ(s.networks[0].name, "EthereumSepolia");
  EXPECT_EQ(s.networks[0].chain_id, 11155111u);
  EXPECT_EQ(s.networks[0].version, "0.7");
  EXPECT_TRUE(s.networks[0].factory.empty());  // the canonical one, applied by smart::resolve_networks
  EXPECT_EQ(s.networks[0].rpc_url, "http://127.0.0.1:8545");
  EXPECT_EQ(s.networks[0].relayer_key_id, "key-abc");
  EXPECT_EQ(s.networks[0].activation_fee, "1000000");
  EXPECT_EQ(s.networks[1].factory, "0x13E9ed32155810FDbd067D4522C492D6f68E5944");
  EXPECT_EQ(s.networks[1].proxy_creation_code_file, "/etc/signerd/p.hex");
  EXPECT_EQ(s.networks[1].activation_fee, "0");
  EXPECT_TRUE(s.networks[1].rpc_url.empty());
}

const std::string kNetwork = kBase + "[[smart_accounts.networks]]\nname = \"N\"\nchain_id = 1\n";

INSTANTIATE_TEST_SUITE_P(
    SmartAccounts, ConfigRejects,
    ::testing::Values(
        BadCase{"SmartUnknownKey", kBase + "[smart_accounts]\nnetwork = []\n", "unknown key 'smart_accounts.network'"},
        BadCase{"SmartUnknownNetworkKey", kNetwork + "version = \"0.7\"\nfee = \"1\"\n",
                "unknown key 'smart_accounts.networks[0].fee'"},
        BadCase{"SmartNoVersion", kNetwork, "smart_accounts.networks[0].version is required"},
        BadCase{"SmartBadVersion", kNetwork + "version = \"0.9\"\n", "\"0.6\", \"0.7\" or \"0.8\""},
        BadCase{"SmartNoName", kBase + "[[smart_accounts.networks]]\nchain_id = 1\nversion = \"0.7\"\n",
                "smart_accounts.networks[0].name is required"},
        BadCase{"SmartDuplicateName", kNetwork + "version = \"0.7\"\n" + "[[smart_accounts.networks]]\nname = \"N\"\n"
                                                                         "chain_id = 2\nversion = \"0.8\"\n",
                "'N' is used by two networks"},
        BadCase{"SmartNoChainId", kBase + "[[smart_accounts.networks]]\nname = \"N\"\nversion = \"0.7\"\n",
                "chain_id is required"},
        BadCase{"SmartBadFactory", kNetwork + "version = \"0.7\"\nfactory = \"0x1234\"\n",
                "networks[0].factory must be an address"},
        BadCase{"SmartBothCodes", kNetwork + "version = \"0.7\"\nproxy_creation_code = \"0x60\"\n"
                                             "proxy_creation_code_file = \"f\"\n",
                "exclude each other"},
        BadCase{"SmartOddCode", kNetwork + "version = \"0.7\"\nproxy_creation_code = \"0x608\"\n",
                "proxy_creation_code must be hex bytes"},
        BadCase{"SmartBadRpc", kNetwork + "version = \"0.7\"\nrpc_url = \"ftp://x\"\n", "rpc_url must be an http://"},
        BadCase{"SmartFractionalFee", kNetwork + "version = \"0.7\"\nactivation_fee = \"1.5\"\n",
                "activation_fee must be a decimal string"},
        BadCase{"SmartNegativeFee", kNetwork + "version = \"0.7\"\nactivation_fee = \"-1\"\n",
                "activation_fee must be a decimal string"},
        BadCase{"SmartNumericFee", kNetwork + "version = \"0.7\"\nactivation_fee = 5\n",
                "activation_fee must be a string"},
        BadCase{"SmartBadDecimals", kBase + "[smart_accounts]\ngas_tank_token = { decimals = 100 }\n",
                "smart_accounts.gas_tank_token.decimals must be between 0 and 77"},
        BadCase{"SmartNoActivations", kBase + "[smart_accounts]\nmax_concurrent_activations = 0\n",
                "smart_accounts.max_concurrent_activations must be between 1 and 1024"},
        BadCase{"SmartActivationsHoldEveryWorker",
                kBase + "[server]\nworker_threads = 3\n[smart_accounts]\nmax_concurrent_activations = 3\n",
                "smart_accounts.max_concurrent_activations (3) must be below server.worker_threads (3)"}),
    [](const auto& info) { return info.param.name; });

TEST(Config, AssetAccountLimitsHaveDefaultsAndRanges) {
  auto defaults = parse_config(kMinimal, "/etc/signerd");
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->limits.max_pending_asset_accounts, 64u);
  EXPECT_EQ(defaults->server.asset_account_workers, 2u);
  auto set = parse_config(std::string(kMinimal) + "[limits]\nmax_pending_asset_accounts = 3\n[server]\n"
                                                  "asset_account_workers = 1\n",
                          "/etc/signerd");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->limits.max_pending_asset_accounts, 3u);
  EXPECT_EQ(set->server.asset_account_workers, 1u);
  for (const char* bad : {"[limits]\nmax_pending_asset_accounts = 0\n", "[server]\nasset_account_workers = 0\n",
                          "[server]\nasset_account_workers = 65\n"}) {
    SCOPED_TRACE(bad);
    auto c = parse_config(std::string(kMinimal) + bad, "/etc/signerd");
    ASSERT_FALSE(c);
    EXPECT_NE(c.error().message.find("must be between"), std::string::npos) << c.error().message;
  }
}

}  // namespace
}  // namespace signerd::config

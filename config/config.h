#pragma once
// signerd's configuration: one TOML file. Loading refuses unknown keys (naming them) and validates every value with
// a message that names the key and the problem, so a bad file stops the daemon at start-up, never later.
// config/signerd.example.toml documents every key.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/host.h"

namespace signerd::config {

struct HsmConfig {
  std::string module;                    // path of the PKCS#11 module
  std::string token_label;               // select the token by label ...
  std::string token_serial;              // ... or by serial
  std::filesystem::path pin_file;        // the user PIN in a file ...
  std::string pin_credential;            // ... or a systemd credential name, read from $CREDENTIALS_DIRECTORY
  unsigned sessions = 2;                 // operation sessions in the pool
  std::chrono::milliseconds lease_timeout{5000};

  bool operator==(const HsmConfig&) const = default;
};

struct StoreConfig {
  std::filesystem::path path;            // the SQLite database file

  bool operator==(const StoreConfig&) const = default;
};

struct ListenConfig {
  std::filesystem::path unix_socket;     // empty: no Unix socket
  unsigned unix_socket_mode = 0660;
  std::string unix_socket_group;         // empty: the daemon's primary group
  std::string tcp;                       // "host:port"; empty: no TCP listener
  // TLS on the TCP listener (never on the Unix socket). Both files or neither; required when listen.tcp is not a
  // loopback address. The key file must not be readable by other users (0600 or 0640), like the PIN file.
  std::filesystem::path tls_cert_file;       // PEM: the server certificate, then its intermediates
  std::filesystem::path tls_key_file;        // PEM: its private key, unencrypted
  std::filesystem::path tls_client_ca_file;  // PEM CAs; when set, TCP clients must present a certificate they signed

  bool tls() const { return !tls_cert_file.empty(); }
  bool operator==(const ListenConfig&) const = default;
};

struct AuthConfig {
  // Unix peers with these uids and no bearer token act as the local administrator: every permission, no
  // user-action signature. Unset: only the daemon's own uid; [] turns this off (every client then needs a token).
  std::optional<std::vector<std::uint32_t>> unix_allowed_uids;
  // Transports on which /healthz, /readyz and /metrics answer without authentication ("unix", "tcp").
  std::vector<std::string> unauthenticated_health{"unix"};
  std::chrono::seconds challenge_ttl{300};     // a user-action or login challenge must be answered within this
  std::chrono::seconds user_action_ttl{300};   // a user-action token must be used within this
  std::chrono::seconds login_token_ttl{3600};  // lifetime of the tokens POST /auth/login issues

  bool operator==(const AuthConfig&) const = default;
};

struct LimitsConfig {
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_header_bytes = 8 * 1024;
  std::chrono::milliseconds read_timeout{10'000};   // to receive a whole request once its first byte arrived
  std::chrono::milliseconds idle_timeout{60'000};   // keep-alive connection with no request
  std::chrono::milliseconds write_timeout{10'000};
  unsigned max_connections = 1024;
  unsigned max_page_size = 500;
  unsigned default_page_size = 50;
  // Asset accounts queued or being created (POST /assets/asset-accounts is asynchronous); more get 429.
  unsigned max_pending_asset_accounts = 64;

  bool operator==(const LimitsConfig&) const = default;
};

struct ServerConfig {
  unsigned io_threads = 1;
  unsigned worker_threads = 4;           // threads that run blocking HSM work (signing does not wait for commits)
  std::chrono::milliseconds shutdown_grace{10'000};
  unsigned asset_account_workers = 2;    // threads that create asset accounts' keys, in request order

  bool operator==(const ServerConfig&) const = default;
};

struct LogConfig {
  std::string level = "info";            // trace, debug, info, warn, error, critical, off
  // A level of its own for a component (common/log.h names them: hsm, store, api, server, identity); components
  // not listed follow `level`.
  std::map<std::string, std::string> components;

  bool operator==(const LogConfig&) const = default;
};

// One EVM network on which smart accounts (ERC-4337 SimpleAccount, eth-infinitism) are offered: every smart account
// gets one account per configured network. Addresses are "0x" + 40 hex digits; their EIP-55 checksum (mixed case)
// and the canonical defaults are applied by smart::resolve_networks when the daemon starts.
struct SmartNetworkConfig {
  std::string name;                      // e.g. "EthereumSepolia"; unique
  std::uint64_t chain_id = 0;
  std::string version;                   // the account version: "0.6", "0.7" or "0.8"
  std::string entry_point;               // empty: the canonical EntryPoint of the version
  std::string factory;                   // empty: the canonical SimpleAccountFactory of the version
  std::string implementation;            // empty: the factory's (the canonical one, or CREATE(factory, 1))
  // The ERC1967Proxy creation code the factory embeds: hex, or a file holding that hex; neither: the canonical one
  // of the version (shipped with signerd).
  std::string proxy_creation_code;
  std::filesystem::path proxy_creation_code_file;
  std::string rpc_url;                   // JSON-RPC endpoint (http:// or https://); empty: none
  std::string relayer_key_id;            // an HSM key of signerd (secp256k1) that pays for deployments; empty: none
  std::string activation_fee = "0";      // decimal string, in the gas-tank token's smallest unit
  std::uint32_t confirmations = 1;       // blocks (the receipt's included) before a deployment counts as done

  bool operator==(const SmartNetworkConfig&) const = default;
};

struct GasTankTokenConfig {
  std::string name = "USDT";
  unsigned decimals = 6;

  bool operator==(const GasTankTokenConfig&) const = default;
};

struct SmartAccountsConfig {
  std::vector<SmartNetworkConfig> networks;  // none: smart accounts get no accounts[] (and creation is refused)
  GasTankTokenConfig gas_tank_token;
  std::chrono::milliseconds rpc_timeout{10000};    // one JSON-RPC call, connect to answer
  std::chrono::milliseconds poll_interval{2000};   // how often deploying accounts' transactions are checked
  // Activations wait on a JSON-RPC node (up to rpc_timeout per call) on an API worker thread. At most this many at
  // once, so that a slow node never holds every worker (and key signing with them); below server.worker_threads.
  // Unset: 2, or fewer to stay below server.worker_threads (1 with a single worker).
  unsigned max_concurrent_activations = 2;

  bool operator==(const SmartAccountsConfig&) const = default;
};

struct Config {
  HsmConfig hsm;
  StoreConfig store;
  ListenConfig listen;
  AuthConfig auth;
  LimitsConfig limits;
  ServerConfig server;
  LogConfig log;
  SmartAccountsConfig smart_accounts;

  bool operator==(const Config&) const = default;
};

// Parses and validates. Relative paths are resolved against the directory of the file.
Result<Config> load_config(const std::filesystem::path& path);
Result<Config> parse_config(std::string_view toml_text, const std::filesystem::path& base_dir);

// "host:port" → host and port, for IPv4, [IPv6] and names. nullopt when malformed.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
std::optional<HostPort> parse_host_port(std::string_view text);

// Whether a listen.tcp host surely means the loopback interface (common/host.h).
using signerd::is_loopback_host;

}  // namespace signerd::config

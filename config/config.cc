#include "config/config.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>
#include <toml++/toml.h>

#include "common/log.h"

namespace signerd::config {
namespace {

// Reads one TOML table, remembering which keys were read so unknown ones can be refused by name.
class Section {
 public:
  Section(const toml::table* table, std::string name) : table_(table), name_(std::move(name)) {}

  template <class T>
  Result<std::optional<T>> get(std::string_view key) {
    seen_.insert(std::string(key));
    if (!table_) return std::optional<T>{};
    const toml::node* node = table_->get(key);
    if (!node) return std::optional<T>{};
    if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = node->value<std::string>()) return std::optional<T>(*v);
      return bad(key, "must be a string");
    } else if constexpr (std::is_same_v<T, bool>) {
      if (auto v = node->value<bool>()) return std::optional<T>(*v);
      return bad(key, "must be true or false");
    } else {
      if (!node->is_integer()) return bad(key, "must be an integer");
      return std::optional<T>(static_cast<T>(*node->value<std::int64_t>()));
    }
  }

  // A table (inline or not); nullptr when absent.
  Result<const toml::table*> get_table(std::string_view key) {
    seen_.insert(std::string(key));
    if (!table_) return nullptr;
    const toml::node* node = table_->get(key);
    if (!node) return nullptr;
    if (!node->is_table()) return bad(key, "must be a table");
    return node->as_table();
  }

  Result<std::optional<std::vector<std::int64_t>>> get_int_array(std::string_view key) {
    seen_.insert(std::string(key));
    if (!table_) return std::optional<std::vector<std::int64_t>>{};
    const toml::node* node = table_->get(key);
    if (!node) return std::optional<std::vector<std::int64_t>>{};
    const toml::array* arr = node->as_array();
    if (!arr) return bad(key, "must be an array of integers");
    std::vector<std::int64_t> out;
    for (const auto& el : *arr) {
      if (!el.is_integer()) return bad(key, "must be an array of integers");
      out.push_back(*el.value<std::int64_t>());
    }
    return std::optional<std::vector<std::int64_t>>(std::move(out));
  }

  Result<std::optional<std::vector<std::string>>> get_string_array(std::string_view key) {
    seen_.insert(std::string(key));
    if (!table_) return std::optional<std::vector<std::string>>{};
    const toml::node* node = table_->get(key);
    if (!node) return std::optional<std::vector<std::string>>{};
    const toml::array* arr = node->as_array();
    if (!arr) return bad(key, "must be an array of strings");
    std::vector<std::string> out;
    for (const auto& el : *arr) {
      if (!el.is_string()) return bad(key, "must be an array of strings");
      out.push_back(*el.value<std::string>());
    }
    return std::optional<std::vector<std::string>>(std::move(out));
  }

  // An integer within [lo, hi], or the default when absent.
  template <class T>
  Result<T> get_in_range(std::string_view key, T fallback, std::int64_t lo, std::int64_t hi) {
    auto v = get<std::int64_t>(key);
    if (!v) return std::unexpected(v.error());
    if (!*v) return fallback;
    if (**v < lo || **v > hi) return bad(key, fmt::format("must be between {} and {}", lo, hi));
    return static_cast<T>(**v);
  }

  Result<void> refuse_unknown() const {
    if (!table_) return {};
    for (const auto& [k, v] : *table_) {
      if (!seen_.contains(std::string(k.str()))) {
        return fail(ErrorCode::kInvalidArgument, fmt::format("unknown key '{}.{}'", name_, k.str()));
      }
    }
    return {};
  }

  std::unexpected<Error> bad(std::string_view key, std::string_view what) const {
    return fail(ErrorCode::kInvalidArgument, fmt::format("{}.{} {}", name_, key, what));
  }

 private:
  const toml::table* table_;
  std::string name_;
  std::set<std::string> seen_;
};

#define SIGNERD_TRY(var, expr)                            \
  auto var##_result = (expr);                             \
  if (!var##_result) return std::unexpected(var##_result.error()); \
  auto var = std::move(*var##_result)

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
  if (p.empty()) return {};
  std::filesystem::path path(p);
  return path.is_absolute() ? path : base / path;
}

Result<std::chrono::milliseconds> millis(Section& s, std::string_view key, std::chrono::milliseconds fallback,
                                         std::int64_t lo, std::int64_t hi) {
  auto v = s.get_in_range<std::int64_t>(key, fallback.count(), lo, hi);
  if (!v) return std::unexpected(v.error());
  return std::chrono::milliseconds(*v);
}

bool is_hex_address(std::string_view s) {
  if (s.size() != 42 || !s.starts_with("0x")) return false;
  return std::all_of(s.begin() + 2, s.end(), [](unsigned char ch) { return std::isxdigit(ch) != 0; });
}

// [smart_accounts]: gas_tank_token = {name, decimals} and [[smart_accounts.networks]].
Result<SmartAccountsConfig> parse_smart_accounts(const toml::table* table, const std::filesystem::path& base_dir) {
  SmartAccountsConfig out;
  out.max_concurrent_activations = 0;  // unset until parse_config() resolves it
  if (!table) return out;
  for (const auto& [k, v] : *table) {
    if (k.str() != "networks" && k.str() != "gas_tank_token" && k.str() != "rpc_timeout_ms" &&
        k.str() != "poll_interval_ms" && k.str() != "max_concurrent_activations") {
      return fail(ErrorCode::kInvalidArgument, fmt::format("unknown key 'smart_accounts.{}'", k.str()));
    }
  }
  if (const toml::node* token = table->get("gas_tank_token")) {
    if (!token->is_table()) return fail(ErrorCode::kInvalidArgument, "smart_accounts.gas_tank_token must be a table");
    Section s(token->as_table(), "smart_accounts.gas_tank_token");
    SIGNERD_TRY(name, s.get<std::string>("name"));
    SIGNERD_TRY(decimals, s.get_in_range<unsigned>("decimals", out.gas_tank_token.decimals, 0, 77));
    if (auto r = s.refuse_unknown(); !r) return std::unexpected(r.error());
    if (name) {
      if (name->empty() || name->size() > 32) return s.bad("name", "must be 1 to 32 characters");
      out.gas_tank_token.name = *name;
    }
    out.gas_tank_token.decimals = decimals;
  }
  {
    Section s(table, "smart_accounts");
    SIGNERD_TRY(timeout, millis(s, "rpc_timeout_ms", out.rpc_timeout, 100, 120000));
    SIGNERD_TRY(poll, millis(s, "poll_interval_ms", out.poll_interval, 50, 600000));
    // 0 while unset: parse_config() resolves it against server.worker_threads.
    SIGNERD_TRY(activations, s.get_in_range<unsigned>("max_concurrent_activations", 0, 1, 1024));
    out.rpc_timeout = timeout;
    out.poll_interval = poll;
    out.max_concurrent_activations = activations;
  }
  const toml::node* networks = table->get("networks");
  if (!networks) return out;
  const toml::array* list = networks->as_array();
  if (!list) return fail(ErrorCode::kInvalidArgument, "smart_accounts.networks must be an array of tables ([[...]])");
  std::set<std::string> names;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const toml::table* entry = (*list)[i].as_table();
    const std::string where = fmt::format("smart_accounts.networks[{}]", i);
    if (!entry) return fail(ErrorCode::kInvalidArgument, where + " must be a table");
    Section s(entry, where);
    SmartNetworkConfig n;
    SIGNERD_TRY(name, s.get<std::string>("name"));
    SIGNERD_TRY(chain_id, s.get<std::int64_t>("chain_id"));
    SIGNERD_TRY(version, s.get<std::string>("version"));
    SIGNERD_TRY(entry_point, s.get<std::string>("entry_point"));
    SIGNERD_TRY(factory, s.get<std::string>("factory"));
    SIGNERD_TRY(implementation, s.get<std::string>("implementation"));
    SIGNERD_TRY(code, s.get<std::string>("proxy_creation_code"));
    SIGNERD_TRY(code_file, s.get<std::string>("proxy_creation_code_file"));
    SIGNERD_TRY(rpc_url, s.get<std::string>("rpc_url"));
    SIGNERD_TRY(relayer, s.get<std::string>("relayer_key_id"));
    SIGNERD_TRY(fee, s.get<std::string>("activation_fee"));
    SIGNERD_TRY(confirmations, s.get_in_range<std::uint32_t>("confirmations", n.confirmations, 1, 1000));
    n.confirmations = confirmations;
    if (auto r = s.refuse_unknown(); !r) return std::unexpected(r.error());
    if (!name || name->empty() || name->size() > 64) return s.bad("name", "is required (1 to 64 characters)");
    if (!names.insert(*name).second) return s.bad("name", fmt::format("'{}' is used by two networks", *name));
    n.name = *name;
    if (!chain_id || *chain_id < 1) return s.bad("chain_id", "is required (a positive integer)");
    n.chain_id = static_cast<std::uint64_t>(*chain_id);
    if (!version || (*version != "0.6" && *version != "0.7" && *version != "0.8")) {
      return s.bad("version", "is required: \"0.6\", \"0.7\" or \"0.8\" (the SimpleAccount version)");
    }
    n.version = *version;
    for (auto [key, value, target] : {std::tuple{"entry_point", &entry_point, &n.entry_point},
                                      std::tuple{"factory", &factory, &n.factory},
                                      std::tuple{"implementation", &implementation, &n.implementation}}) {
      if (!*value) continue;
      if (!is_hex_address(**value)) return s.bad(key, "must be an address: \"0x\" and 40 hex digits");
      *target = **value;
    }
    if (code && code_file) {
      return s.bad("proxy_creation_code", "and proxy_creation_code_file exclude each other: set one");
    }
    if (code) {
      const std::string_view hex = std::string_view(*code).substr(code->starts_with("0x") ? 2 : 0);
      if (hex.empty() || hex.size() % 2 != 0 ||
          !std::all_of(hex.begin(), hex.end(), [](unsigned char ch) { return std::isxdigit(ch) != 0; })) {
        return s.bad("proxy_creation_code", "must be hex bytes (\"0x…\")");
      }
      n.proxy_creation_code = *code;
    }
    if (code_file) {
      if (code_file->empty()) return s.bad("proxy_creation_code_file", "must not be empty");
      n.proxy_creation_code_file = resolve(base_dir, *code_file);
    }
    if (rpc_url) {
      if (!rpc_url->starts_with("http://") && !rpc_url->starts_with("https://")) {
        return s.bad("rpc_url", "must be an http:// or https:// URL");
      }
      n.rpc_url = *rpc_url;
    }
    if (relayer) {
      if (relayer->empty() || relayer->size() > 255) return s.bad("relayer_key_id", "must be 1 to 255 characters");
      n.relayer_key_id = *relayer;
    }
    if (fee) {
      const bool digits = !fee->empty() && std::all_of(fee->begin(), fee->end(), [](unsigned char ch) {
        return ch >= '0' && ch <= '9';
      });
      if (!digits || (fee->size() > 1 && fee->front() == '0') || fee->size() > 78) {
        return s.bad("activation_fee",
                     "must be a decimal string of the gas-tank token's smallest unit (digits, no leading zeros)");
      }
      n.activation_fee = *fee;
    }
    out.networks.push_back(std::move(n));
  }
  return out;
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort hp;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    hp.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    hp.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  if (hp.host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  hp.port = static_cast<std::uint16_t>(value);
  return hp;
}

Result<Config> parse_config(std::string_view toml_text, const std::filesystem::path& base_dir) {
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("config is not valid TOML (line {}): {}", e.source().begin.line, e.description()));
  }
  static const std::set<std::string> kSections{"hsm",    "store", "listen",        "auth",
                                               "limits", "server", "log", "smart_accounts"};
  for (const auto& [k, v] : root) {
    if (!kSections.contains(std::string(k.str()))) {
      return fail(ErrorCode::kInvalidArgument, fmt::format("unknown section or key '{}'", k.str()));
    }
    if (!v.is_table()) return fail(ErrorCode::kInvalidArgument, fmt::format("'{}' must be a table", k.str()));
  }

  Config c;
  {
    Section s(root["hsm"].as_table(), "hsm");
    SIGNERD_TRY(module, s.get<std::string>("module"));
    SIGNERD_TRY(label, s.get<std::string>("token_label"));
    SIGNERD_TRY(serial, s.get<std::string>("token_serial"));
    SIGNERD_TRY(pin_file, s.get<std::string>("pin_file"));
    SIGNERD_TRY(pin_cred, s.get<std::string>("pin_credential"));
    SIGNERD_TRY(sessions, s.get_in_range<unsigned>("sessions", c.hsm.sessions, 1, 256));
    SIGNERD_TRY(lease, millis(s, "lease_timeout_ms", c.hsm.lease_timeout, 1, 600'000));
    if (auto r = s.refuse_unknown(); !r) return std::unexpected(r.error());
    if (!module || module->empty()) return s.bad("module", "is required (the path of the PKCS#11 module)");
    if ((!label || label->empty()) && (!serial || serial->empty())) {
      return s.bad("token_label", "or hsm.token_serial is required");
    }
    const bool has_file = pin_file && !pin_file->empty();
    const bool has_cred = pin_cred && !pin_cred->empty();
    if (has_file == has_cred) return s.bad("pin_file", "or hsm.pin_credential is required (exactly one of them)");
    c.hsm.module = *module;
    c.hsm.token_label = label.value_or("");
    c.hsm.token_serial = serial.value_or("");
    c.hsm.pin_file = has_file ? resolve(base_dir, *pin_file) : std::filesystem::path{};
    c.hsm.pin_credential = pin_cred.value_or("");
    c.hsm.sessions = sessions;
    c.hsm.lease_timeout = lease;
  }
  {
    Section s(root["store"].as_table(), "store");
    SIGNERD_TRY(path, s.get<std::string>("path"));
    if (auto r = s.refuse_unknown(); !r) return std::unexpected(r.error());
    if (!path || path->empty()) return s.bad("path", "is required (the SQLite database file)");
    c.store.path = resolve(base_dir, *path);
  }
  {
    Section s(root["listen"].as_table(), "listen");
    SIGNERD_TRY(sock, s.get<std::string>("unix_socket"));
    SIGNERD_TRY(mode, s.get<std::string>("unix_socket_mode"));
    SIGNERD_TRY(group, s.get<std::string>("unix_socket_group"));
    SIGNERD_TRY(tcp, s.get<std::string>("tcp"));
    SIGNERD_TRY(tls_cert, s.get<std::string>("tls_cert_file"));
    SIGNERD_TRY(tls_key, s.get<std::string>("tls_key_file"));
    SIGNERD_TRY(tls_client_ca, s.get<std::string>("tls_client_ca_file"));
    if (auto r = s.refuse_unknown(); !r) return std::unexpected(r.error());
    c.listen.unix_socket = sock ? resolve(base_dir, *sock) : std::filesystem::path{};
    if (mode) {
      char* end = nullptr;
      const unsigned long m = std::strtoul(mode->c_str(), &end, 8);
      if (mode->empty() || *end != '\0' || m > 0777) return s.bad("unix_socket_mode", "must be an octal mode like \"0660\"");
      c.listen.unix_socket_mode = static_cast<unsigned>(m);
    }
    c.listen.unix_socket_group = group.value_or("");
    c.listen.tcp = tcp.value_or("");
    const auto host_port = parse_host_port(c.listen.tcp);
    if (!c.listen.tcp.empty() && !host_port) {
      return s.bad("tcp", "must be \"host:port\" (e.g. \"127.0.0.1:8420\" or \"[::1]:8420\")");
    }
    c.listen.tls_cert_file = tls_cert ? resolve(base_dir, *tls_cert) : std::filesystem::path{};
    c.listen.tls_key_file = tls_key ? resolve(base_dir, *tls_key) : std::filesystem::path{};
    c.listen.tls_client_ca_file = tls_client_ca ? resolve(base_dir, *tls_client_ca) : std::filesystem::path{};
    if (!c.listen.tls_cert_file.empty() && c.listen.tls_key_file.empty()) {
      return s.bad("tls_key_file", "is required when listen.tls_cert_file is set (the certificate's private key)");
    }
    if (c.listen.tls_cert_file.empty() && !c.listen.tls_key_file.empty()) {
      return s.bad("tls_cert_file", "is required when listen.tls_key_file is set (the key's certificate chain)");
    }
    if (!c.listen.tls_client_ca_file.empty() && !c.listen.tls()) {
      return s.bad(
          "tls_client_ca_file",
          "needs listen.tls_cert_file and listen.tls_key_file (client certificates are checked only over TLS)");
    }
    // Bearer tokens must not cross a network in the clear; the daemon checks the resolved or passed socket again.
    if (host_port && !is_loopback_host(host_port->host) && !c.listen.tls()) {
      return fail(ErrorCode::kInvalidArgument,
                  fmt::format("listen.tcp = \"{}\" is not a loopback address: TLS is required (set "
                              "listen.tls_cert_file and listen.tls_key_file)",
                              c.listen.tcp));
    }
    if (c.listen.unix_socket.empty() && c.listen.tcp.empty()) {
      return s.bad("unix_socket", "or listen.tcp is required: signerd must listen somewhere");
    }
  }
  {
    Section s(root["auth"].as_table(), "auth");
    SIGNERD_TRY(uids, s.get_int_array("unix_allowed_uids"));
    SIGNERD_TRY(health, s.get_string_array("unauthenticated_health"));
    SIGNERD_TRY(challenge_ttl, s.get_in_range<std::int64_t>("challenge_ttl_s", c.auth.challenge_ttl.count(), 1, 3600));
    SIGNERD_TRY(ua_ttl, s.get_in_range<std::int64_t>("user_action_ttl_s", c.auth.user_action_ttl.count(), 1, 3600));
    SIGNERD_TRY(login_ttl,
                s.get_in_range<std::int64_t>("login_token_ttl_s", c.auth.login_token_ttl.count(), 1, 30 * 86400));
    c.auth.challenge_ttl = std::chrono::seconds(challenge_ttl);
    c.auth.user_action_ttl = std::chrono::seconds(ua_ttl);
    c.auth.login_token_ttl = std::chrono::seconds(login_ttl);
    if (auto r = s.refuse_unknown(); !r) return std::unexpected(r.error());
    if (health) {
      for (const auto& t : *health) {
        if (t != "unix" && t != "tcp") return s.bad("unauthenticated_health", "may hold only \"unix\" and \"tcp\"");
      }
      c.auth.unauthenticated_health = *health;
    }
    if (uids) {
      std::vector<std::uint32_t> list;
      for (auto u : *uids) {
        if (u < 0 || u > 0xfffffffe) return s.bad("unix_allowed_uids", "must hold uids between 0 and 4294967294");
        list.push_back(static_cast<std::uint32_t>(u));
      }
      c.auth.unix_allowed_uids = std::move(list);
    }
  }
  {
    Section s(root["limits"].as_table(), "limits");
    auto& l = c.limits;
    SIGNERD_TRY(body, s.get_in_range<std::size_t>("max_body_bytes", l.max_body_bytes, 1024, 64 << 20));
    SIGNERD_TRY(header, s.get_in_range<std::size_t>("max_header_bytes", l.max_header_bytes, 1024, 1 << 20));
    SIGNERD_TRY(read, millis(s, "read_timeout_ms", l.read_timeout, 10, 3'600'000));
    SIGNERD_TRY(idle, millis(s, "idle_timeout_ms", l.idle_timeout, 10, 86'400'000));
    SIGNERD_TRY(write, millis(s, "write_timeout_ms", l.write_timeout, 10, 3'600'000));
    SIGNERD_TRY(conns, s.get_in_range<unsigned>("max_connections", l.max_connections, 1, 1'000'000));
    SIGNERD_TRY(page, s.get_in_range<unsigned>("max_page_size", l.max_page_size, 1, 10'000));
    SIGNERD_TRY(def_page, s.get_in_range<unsigned>("default_page_size", l.default_page_size, 1, 10'000));
    SIGNERD_TRY(pending_accounts,
                s.get_in_range<unsigned>("max_pending_asset_accounts", l.max_pending_asset_accounts, 1, 100'000));
    if (auto r = s.refuse_unknown(); !r) return std::unexpected(r.error());
    if (def_page > page) return s.bad("default_page_size", "must not exceed limits.max_page_size");
    l = {body, header, read, idle, write, conns, page, def_page, pending_accounts};
  }
  {
    Section s(root["server"].as_table(), "server");
    SIGNERD_TRY(io, s.get_in_range<unsigned>("io_threads", c.server.io_threads, 1, 64));
    SIGNERD_TRY(workers, s.get_in_range<unsigned>("worker_threads", c.server.worker_threads, 1, 1024));
    SIGNERD_TRY(account_workers,
                s.get_in_range<unsigned>("asset_account_workers", c.server.asset_account_workers, 1, 64));
    SIGNERD_TRY(grace, millis(s, "shutdown_grace_ms", c.server.shutdown_grace, 0, 600'000));
    if (auto r = s.refuse_unknown(); !r) return std::unexpected(r.error());
    c.server = {io, workers, grace, account_workers};
  }
  {
    Section s(root["log"].as_table(), "log");
    SIGNERD_TRY(level, s.get<std::string>("level"));
    SIGNERD_TRY(components, s.get_table("components"));
    if (auto r = s.refuse_unknown(); !r) return std::unexpected(r.error());
    static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};
    constexpr std::string_view kLevelNames = "trace, debug, info, warn, error, critical, off";
    if (level) {
      if (!kLevels.contains(*level)) return s.bad("level", fmt::format("must be one of {}", kLevelNames));
      c.log.level = *level;
    }
    if (components) {
      for (const auto& [k, v] : *components) {
        const std::string name(k.str());
        if (!log_component_named(name)) {
          std::string known;
          for (auto component : kLogComponents) {
            known += fmt::format("{}{}", known.empty() ? "" : ", ", log_component_name(component));
          }
          return s.bad("components", fmt::format("names an unknown component '{}' (known: {})", name, known));
        }
        const auto value = v.value<std::string>();
        if (!value || !kLevels.contains(*value)) {
          return s.bad("components." + name, fmt::format("must be one of {}", kLevelNames));
        }
        c.log.components[name] = *value;
      }
    }
  }
  if (auto smart = parse_smart_accounts(root["smart_accounts"].as_table(), base_dir); !smart) {
    return std::unexpected(smart.error());
  } else {
    c.smart_accounts = std::move(*smart);
  }
  // Activations run on the API workers: they must leave at least one free (a single worker can only be shared).
  const unsigned workers = c.server.worker_threads;
  if (c.smart_accounts.max_concurrent_activations == 0) {
    c.smart_accounts.max_concurrent_activations = workers > 2 ? 2u : 1u;
  } else if (const unsigned n = c.smart_accounts.max_concurrent_activations; n >= workers && workers > 1) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("smart_accounts.max_concurrent_activations ({}) must be below server.worker_threads ({}), "
                            "so that activations waiting on a node never hold every API worker",
                            n, workers));
  }
  return c;
}

Result<Config> load_config(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kInvalidArgument, "cannot read config file " + path.string());
  std::stringstream buf;
  buf << in.rdbuf();
  auto c = parse_config(buf.str(), std::filesystem::absolute(path).parent_path());
  if (!c) c.error().message = path.string() + ": " + c.error().message;
  return c;
}

}  // namespace signerd::config

// signerd: wires configuration, the HSM, the store, core, the API and the listeners together, and runs until
// SIGINT or SIGTERM. Exit codes: 0 after a clean stop, 64 for bad usage, 78 for a bad configuration (including a
// wrong or locked PIN, a missing module or token), 69 when the HSM device or the store is unavailable.
#include <signal.h>
#include <sysexits.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <thread>

#include "api/api.h"
#include "common/log.h"
#include "common/metrics.h"
#include "config/config.h"
#include "core/identity.h"
#include "core/asset_account_service.h"
#include "core/key_service.h"
#include "core/smart_account_service.h"
#include "core/smart_deployer.h"
#include "core/public_key_service.h"
#include "daemon/server.h"
#include "hsm/hsm.h"
#include "smart/network.h"
#include "store/store.h"

namespace {

using namespace signerd;

Result<SecretString> read_pin(const config::HsmConfig& c) {
  if (!c.pin_file.empty()) return read_secret_file(c.pin_file);
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  if (!dir) {
    return fail(ErrorCode::kInvalidArgument,
                "hsm.pin_credential is set but $CREDENTIALS_DIRECTORY is not (run under systemd with LoadCredential=)");
  }
  return read_secret_file(std::filesystem::path(dir) / c.pin_credential);
}

// log.level for signerd's own lines and for every component without a level in log.components.
void apply_log_levels(const config::LogConfig& log) {
  spdlog::set_level(spdlog::level::from_str(log.level));
  for (const auto component : kLogComponents) {
    const auto own = log.components.find(std::string(log_component_name(component)));
    signerd::log(component).set_level(spdlog::level::from_str(own != log.components.end() ? own->second : log.level));
  }
}

// "{server=warn, hsm=debug}" for the reload line.
std::string describe_components(const config::LogConfig& log) {
  std::string out;
  for (const auto& [name, level] : log.components) out += (out.empty() ? "" : ", ") + name + "=" + level;
  return "{" + out + "}";
}

void setup_logging(const config::LogConfig& log) {
  // The component loggers (common/log.h) share this logger's sink, hence its pattern.
  install_log_sinks(spdlog::stderr_color_mt("signerd"));
  // Under journald the journal adds time and priority; elsewhere the time helps.
  if (std::getenv("JOURNAL_STREAM")) {
    spdlog::set_pattern("%l %v");
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  apply_log_levels(log);
}

bool contains(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Metrics read from state at scrape time rather than tracked on every operation.
void register_collectors(hsm::Hsm& hsm, store::Store& store, const daemon::Server& server) {
  auto& r = metrics::registry();
  using T = metrics::Registry::Type;
  r.describe("signerd_http_requests_total", T::kCounter, "HTTP requests by route template, method and status.");
  r.describe("signerd_http_request_duration_seconds", T::kHistogram, "HTTP request latency by route template.");
  r.describe("signerd_signatures_total", T::kCounter, "Signatures made and durably recorded, by curve.");
  r.describe("signerd_keys_created_total", T::kCounter, "Keys created, by curve.");
  r.describe("signerd_hsm_operation_duration_seconds", T::kHistogram,
             "HSM operation latency (session wait included), by operation and curve.");
  r.describe("signerd_hsm_errors_total", T::kCounter, "PKCS#11 errors by function and return code.");
  r.describe("signerd_store_commit_duration_seconds", T::kHistogram, "Group commit latency (fsync included).");
  r.describe("signerd_store_commit_batch_size", T::kHistogram, "Writes per group commit.",
             {1, 2, 4, 8, 16, 32, 64, 128, 256, 512});
  r.describe("signerd_audit_records", T::kGauge, "Records in the audit trail (the seq of the newest).");
  r.describe("signerd_auth_total", T::kCounter,
             "Requests that presented credentials, by result: ok, unauthenticated (401), denied (403).");
  r.describe(
      "signerd_user_actions_total", T::kCounter,
      "User-action signing by result: issued (POST /auth/action), consumed (by the request it signed), refused.");
  // Every label value from the start, so that rates work from the first scrape.
  for (const char* result : {"ok", "unauthenticated", "denied"}) r.add("signerd_auth_total", {{"result", result}}, 0);
  for (const char* result : {"issued", "consumed", "refused"}) {
    r.add("signerd_user_actions_total", {{"result", result}}, 0);
  }
  r.add_collector([&hsm, &store, &server](metrics::Registry& reg) {
    const auto h = hsm.status();
    reg.set("signerd_hsm_sessions", {{"state", "total"}}, h.sessions_total);
    reg.set("signerd_hsm_sessions", {{"state", "in_use"}}, h.sessions_in_use);
    reg.set("signerd_hsm_logged_in", {}, h.logged_in ? 1 : 0);
    reg.set("signerd_hsm_recoveries", {}, static_cast<double>(h.recoveries));
    const auto st = store.stats();
    reg.set("signerd_store_commits", {}, static_cast<double>(st.commits));
    reg.set("signerd_store_writes", {}, static_cast<double>(st.writes));
    // Keeps its last value while the store cannot answer (/readyz then says why).
    if (const auto audit = store.audit_length()) reg.set("signerd_audit_records", {}, static_cast<double>(*audit));
    reg.set("signerd_http_connections", {}, server.connections());
  });
}

// SIGHUP: re-read the file and apply what can change safely (recording it in `running`, or, for the smart-account
// networks, in the deployer's set in force); name what needs a restart. Everything is validated before anything is
// applied: a file refused changes nothing.
void reload(const std::string& path, config::Config& running, daemon::Server& server, core::SmartDeployer& deployer) {
  auto refuse = [](const std::string& why) {
    spdlog::error("reload refused, keeping the running configuration: {}", why);
    // The reload is over either way: READY=1 ends the RELOADING=1 the handler sent (sd_notify(3)).
    sd_notify(0, "READY=1\nSTATUS=Serving (reload refused: the running configuration is kept)");
  };
  auto next = config::load_config(path);
  if (!next) return refuse(next.error().message);
  // Resolved and checked as at start-up (and the relayer keys it takes must exist: see plan_reload).
  auto networks = smart::resolve_networks(next->smart_accounts);
  if (!networks) return refuse(networks.error().message);
  auto network_reload = deployer.plan_reload(std::move(*networks));
  if (!network_reload) return refuse(network_reload.error().message);

  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
    return out.empty() ? std::string("nothing") : out;
  };
  std::vector<std::string> applied, need_restart;
  if (!(next->log == running.log)) {
    apply_log_levels(next->log);
    if (next->log.level != running.log.level) applied.push_back("log.level=" + next->log.level);
    if (next->log.components != running.log.components) {
      applied.push_back("log.components=" + describe_components(next->log));
    }
    running.log = next->log;
  }
  if (next->auth.unix_allowed_uids != running.auth.unix_allowed_uids) {
    server.set_unix_allowed_uids(next->auth.unix_allowed_uids.value_or(std::vector<std::uint32_t>{::getuid()}));
    running.auth.unix_allowed_uids = next->auth.unix_allowed_uids;
    applied.push_back("auth.unix_allowed_uids");
  }
  if (!network_reload->applied.empty()) {
    applied.push_back("smart_accounts.networks (" + join(network_reload->applied) + ")");
  }
  need_restart = network_reload->need_restart;
  deployer.apply_reload(std::move(*network_reload));
  if (!(next->hsm == running.hsm)) need_restart.push_back("hsm");
  if (!(next->store == running.store)) need_restart.push_back("store");
  if (!(next->listen == running.listen)) need_restart.push_back("listen");
  if (!(next->limits == running.limits)) need_restart.push_back("limits");
  if (!(next->server == running.server)) need_restart.push_back("server");
  // The networks are compared with the set in force above; the rest of [smart_accounts] is read once, at start:
  // the token is fixed into each record made, and the timeout and interval into the clients and the watcher.
  if (!(next->smart_accounts.gas_tank_token == running.smart_accounts.gas_tank_token)) {
    need_restart.push_back("smart_accounts.gas_tank_token");
  }
  if (next->smart_accounts.rpc_timeout != running.smart_accounts.rpc_timeout) {
    need_restart.push_back("smart_accounts.rpc_timeout_ms");
  }
  if (next->smart_accounts.poll_interval != running.smart_accounts.poll_interval) {
    need_restart.push_back("smart_accounts.poll_interval_ms");
  }
  if (next->smart_accounts.max_concurrent_activations != running.smart_accounts.max_concurrent_activations) {
    need_restart.push_back("smart_accounts.max_concurrent_activations");
  }
  if (next->auth.unauthenticated_health != running.auth.unauthenticated_health ||
      next->auth.challenge_ttl != running.auth.challenge_ttl ||
      next->auth.user_action_ttl != running.auth.user_action_ttl ||
      next->auth.login_token_ttl != running.auth.login_token_ttl) {
    need_restart.push_back("auth (unauthenticated_health, *_ttl_s)");
  }
  spdlog::info("reloaded {}: applied {}; changes that need a restart: {}", path, join(applied), join(need_restart));
  sd_notify(0, "READY=1\nSTATUS=Serving (configuration reloaded)");
}

int run(const std::string& config_path, config::Config cfg) {
  auto pin = read_pin(cfg.hsm);
  if (!pin) {
    spdlog::critical("cannot read the HSM PIN: {}", pin.error().message);
    return EX_CONFIG;
  }
  std::unique_ptr<hsm::Hsm> hsm;
  {
    hsm::HsmOptions o;
    o.module_path = cfg.hsm.module;
    o.token_label = cfg.hsm.token_label;
    o.token_serial = cfg.hsm.token_serial;
    o.pin = std::move(*pin);
    o.sessions = cfg.hsm.sessions;
    o.lease_timeout = cfg.hsm.lease_timeout;
    auto opened = hsm::Hsm::open(std::move(o));
    if (!opened) {
      spdlog::critical("cannot open the HSM: {}", opened.error().message);
      // A wrong or locked PIN, a missing module or token will not heal by restarting, and retrying a wrong PIN
      // can lock the HSM user: EX_CONFIG, which the unit does not restart on. Device trouble may pass: 69.
      return opened.error().code == ErrorCode::kInvalidArgument ? EX_CONFIG : EX_UNAVAILABLE;
    }
    hsm = std::move(*opened);
  }
  const auto hsm_status = hsm->status();
  signerd::log(LogComponent::kHsm)
      .info("hsm ready library=\"{}\" token=\"{}\" serial={} sessions={}", hsm_status.library_description,
            hsm_status.token_label, hsm_status.token_serial, hsm_status.sessions_total);

  // Declared before the store so that it is destroyed after it: the store's writer thread finishes signing
  // requests by calling and then destroying their reply handlers, which hold work on this io_context's strands.
  boost::asio::io_context io(static_cast<int>(cfg.server.io_threads));
  auto store = store::Store::open(cfg.store.path);
  if (!store) {
    spdlog::critical("cannot open the store: {}", store.error().message);
    return EX_UNAVAILABLE;
  }
  core::KeyService keys(*hsm, **store);
  auto reconciled = keys.reconcile();
  if (!reconciled) {
    spdlog::critical("start-up reconciliation failed: {}", reconciled.error().message);
    return EX_UNAVAILABLE;
  }
  if (reconciled->activated || reconciled->failed) {
    spdlog::warn("reconciled keys left Creating by an earlier run: activated={} failed={}", reconciled->activated,
                 reconciled->failed);
  }

  daemon::ServerOptions so;
  so.listen = cfg.listen;
  so.limits = cfg.limits;
  so.unix_allowed_uids = cfg.auth.unix_allowed_uids.value_or(std::vector<std::uint32_t>{::getuid()});
  so.unix_health_without_auth = contains(cfg.auth.unauthenticated_health, "unix");
  so.tcp_health_without_auth = contains(cfg.auth.unauthenticated_health, "tcp");
  core::IdentityOptions identity_options;
  identity_options.challenge_ttl = cfg.auth.challenge_ttl;
  identity_options.user_action_ttl = cfg.auth.user_action_ttl;
  identity_options.login_token_ttl = cfg.auth.login_token_ttl;
  auto identity = core::IdentityService::open(*hsm, **store, identity_options);
  if (!identity) {
    spdlog::critical("cannot load identities: {}", identity.error().message);
    return EX_UNAVAILABLE;
  }
  signerd::log(LogComponent::kIdentity).info("organisation {}", (*identity)->org_id());
  core::IdentityService& identity_ref = **identity;
  so.authenticate_bearer = [&identity_ref](std::string_view token) { return identity_ref.authenticate_bearer(token); };

  hsm::Hsm& hsm_ref = *hsm;
  store::Store& store_ref = **store;
  api::ApiOptions api_options;
  api_options.max_page_size = cfg.limits.max_page_size;
  api_options.default_page_size = cfg.limits.default_page_size;
  api_options.readiness = [&hsm_ref, &store_ref]() -> Result<void> {
    if (auto h = hsm_ref.check(); !h) return std::unexpected(Error{h.error().code, "HSM: " + h.error().message, {}});
    if (auto s = store_ref.check_writable(); !s) {
      return std::unexpected(Error{s.error().code, "store: " + s.error().message, {}});
    }
    return {};
  };
  api_options.audit_failure = [&store_ref](AuditEntry entry) {
    store_ref.append_audit_async(std::move(entry), [](Result<void> r) {
      if (!r) signerd::log(LogComponent::kStore).error("cannot append to the audit trail: {}", r.error().message);
    });
  };
  api_options.audit_page = [&store_ref](std::optional<std::int64_t> before, int limit) {
    return store_ref.list_audit(before, limit);
  };
  core::WalletService wallets(keys, **store);
  // Smart accounts: the networks are resolved (canonical defaults, checksums, proxy code) before anything listens.
  auto smart_networks = smart::resolve_networks(cfg.smart_accounts);
  if (!smart_networks) {
    spdlog::critical("{}", smart_networks.error().message);
    return EX_CONFIG;
  }
  // The deployer holds the networks in force (a reload replaces them: reload() above).
  auto deployer = core::SmartDeployer::create(
      **store, keys, std::move(*smart_networks),
      {.rpc_timeout = cfg.smart_accounts.rpc_timeout, .poll_interval = cfg.smart_accounts.poll_interval});
  if (!deployer) {
    spdlog::critical("{}", deployer.error().message);
    return EX_CONFIG;
  }
  core::SmartAccountService smart_accounts(
      *hsm, **store,
      {cfg.smart_accounts.gas_tank_token.name, static_cast<int>(cfg.smart_accounts.gas_tank_token.decimals)},
      **deployer, cfg.smart_accounts.max_concurrent_activations);
  api_options.smart_accounts = &smart_accounts;
  // Deployments an earlier run left deploying are followed again from the first pass.
  (*deployer)->start();
  // The legacy API. Asset accounts an earlier run left Creating are resumed now that keys are reconciled.
  core::PublicKeyService public_keys(keys, **store);
  core::AssetAccountService asset_accounts(
      keys, **store,
      {.max_pending = cfg.limits.max_pending_asset_accounts,
       .workers = cfg.server.asset_account_workers,
       .on_problem = [](const std::string& problem) { spdlog::error("{}", problem); }});
  if (auto resumed = asset_accounts.start(); !resumed) {
    spdlog::critical("cannot resume asset accounts: {}", resumed.error().message);
    return EX_UNAVAILABLE;
  } else if (resumed->resumed > 0) {
    spdlog::warn("resuming asset accounts left Creating by an earlier run: {}", resumed->resumed);
  }
  api_options.asset_accounts = &asset_accounts;
  api_options.public_keys = &public_keys;
  api::Api api(keys, wallets, identity_ref, std::move(api_options));
  boost::asio::thread_pool workers(cfg.server.worker_threads);
  daemon::Server server(io, workers, api, std::move(so));
  if (auto r = server.listen(); !r) {
    spdlog::critical("{}", r.error().message);
    return EX_CONFIG;
  }
  register_collectors(hsm_ref, store_ref, server);
  server.start();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}; draining", signo == SIGINT ? "SIGINT" : "SIGTERM");
    sd_notify(0, "STOPPING=1\nSTATUS=Draining connections");
    server.drain(cfg.server.shutdown_grace, [&io] { io.stop(); });
  });
  boost::asio::signal_set hangup(io, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_hangup = [&](const boost::system::error_code& ec, int) {
    if (ec) return;
    sd_notify(0, "RELOADING=1\nSTATUS=Reloading configuration");
    reload(config_path, cfg, server, **deployer);
    hangup.async_wait(on_hangup);
  };
  hangup.async_wait(on_hangup);

  // The watchdog is fed from the event loop, so a stuck loop stops the keep-alives and systemd restarts signerd.
  std::uint64_t watchdog_usec = 0;
  boost::asio::steady_timer watchdog(io);
  std::function<void(const boost::system::error_code&)> feed = [&](const boost::system::error_code& ec) {
    if (ec) return;
    sd_notify(0, "WATCHDOG=1");
    watchdog.expires_after(std::chrono::microseconds(watchdog_usec / 2));
    watchdog.async_wait(feed);
  };
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
    spdlog::info("systemd watchdog every {} ms", watchdog_usec / 1000);
    feed({});
  }

  sd_notify(0, "READY=1\nSTATUS=Serving");
  spdlog::info("signerd ready");
  std::vector<std::thread> io_threads;
  for (unsigned i = 1; i < cfg.server.io_threads; ++i) io_threads.emplace_back([&io] { io.run(); });
  io.run();
  watchdog.cancel();
  for (auto& t : io_threads) t.join();
  workers.join();
  asset_accounts.stop();  // a job being run finishes; queued accounts stay Creating and resume at the next start
  (*deployer)->stop();  // a deploying account stays deploying and is followed again at the next start
  spdlog::info("signerd stopped");
  return EXIT_SUCCESS;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"signerd: HSM-backed key and signature daemon"};
  std::string config_path;
  bool check_only = false;
  app.add_option("-c,--config", config_path, "configuration file (TOML)")->required();
  app.add_flag("--check-config", check_only, "validate the configuration and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : EX_USAGE;
  }
  ::signal(SIGPIPE, SIG_IGN);

  auto cfg = signerd::config::load_config(config_path);
  if (!cfg) {
    std::fprintf(stderr, "signerd: %s\n", cfg.error().message.c_str());
    return EX_CONFIG;
  }
  if (auto smart_networks = signerd::smart::resolve_networks(cfg->smart_accounts); !smart_networks) {
    std::fprintf(stderr, "signerd: %s\n", smart_networks.error().message.c_str());
    return EX_CONFIG;
  }
  if (check_only) {
    std::printf("configuration OK\n");
    return 0;
  }
  setup_logging(cfg->log);
  try {
    return run(config_path, std::move(*cfg));
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return EXIT_FAILURE;
  }
}

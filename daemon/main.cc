// signerd: wires configuration, the HSM, the store, core, the API and the listeners together, and runs until
// SIGINT or SIGTERM. Exit codes: 0 after a clean stop, 64 for bad usage, 78 for a bad configuration, 69 when the
// HSM or the store cannot be opened.
#include <signal.h>
#include <sysexits.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <thread>

#include "api/api.h"
#include "config/config.h"
#include "core/key_service.h"
#include "daemon/server.h"
#include "hsm/hsm.h"
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

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("signerd");
  spdlog::set_default_logger(logger);
  // Under journald the journal adds time and priority; elsewhere the time helps.
  if (std::getenv("JOURNAL_STREAM")) {
    spdlog::set_pattern("%l %v");
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  }
  spdlog::set_level(spdlog::level::from_str(level));
}

int run(const config::Config& cfg) {
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
      return EX_UNAVAILABLE;
    }
    hsm = std::move(*opened);
  }
  const auto hsm_status = hsm->status();
  spdlog::info("hsm ready library=\"{}\" token=\"{}\" serial={} sessions={}", hsm_status.library_description,
               hsm_status.token_label, hsm_status.token_serial, hsm_status.sessions_total);

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
  if (!cfg.listen.tcp.empty()) {
    auto token = read_secret_file(cfg.auth.tcp_bearer_token_file);
    if (!token) {
      spdlog::critical("cannot read the TCP bearer token: {}", token.error().message);
      return EX_CONFIG;
    }
    so.tcp_bearer_token = std::move(*token);
  }

  api::Api api(keys, {cfg.limits.max_page_size, cfg.limits.default_page_size});
  boost::asio::io_context io(static_cast<int>(cfg.server.io_threads));
  boost::asio::thread_pool workers(cfg.server.worker_threads);
  daemon::Server server(io, workers, api, std::move(so));
  if (auto r = server.listen(); !r) {
    spdlog::critical("{}", r.error().message);
    return EX_CONFIG;
  }
  server.start();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}; draining", signo == SIGINT ? "SIGINT" : "SIGTERM");
    sd_notify(0, "STOPPING=1\nSTATUS=Draining connections");
    server.drain(cfg.server.shutdown_grace, [&io] { io.stop(); });
  });

  sd_notify(0, "READY=1\nSTATUS=Serving");
  spdlog::info("signerd ready");
  std::vector<std::thread> io_threads;
  for (unsigned i = 1; i < cfg.server.io_threads; ++i) io_threads.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : io_threads) t.join();
  workers.join();
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
  if (check_only) {
    std::printf("configuration OK\n");
    return 0;
  }
  setup_logging(cfg->log.level);
  try {
    return run(*cfg);
  } catch (const std::exception& e) {
    spdlog::critical("fatal: {}", e.what());
    return EXIT_FAILURE;
  }
}

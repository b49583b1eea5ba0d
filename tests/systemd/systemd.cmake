# systemd integration (systemd/): the units, the sysusers/tmpfiles snippets, socket activation and sd_notify.
# Included from tests/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is tests/. Label: systemd. Needs systemd-analyze,
# systemd-socket-activate, softhsm2-util, curl, jq and node (scripts/install-deps installs them).
set(_sd_src ${PROJECT_SOURCE_DIR}/systemd)
set(_sd_tests ${CMAKE_CURRENT_SOURCE_DIR}/systemd)

add_executable(sd_notify_probe systemd/sd_notify_probe.cc)
signerd_warnings(sd_notify_probe)

# 1. systemd-analyze verify prints nothing for both units, alone and with the drop-in examples switched on.
add_test(NAME systemd.verify_units COMMAND ${_sd_tests}/verify_units.sh ${_sd_src} $<TARGET_FILE:signerd>)
add_test(NAME systemd.verify_units_with_dropins
  COMMAND ${_sd_tests}/verify_units.sh ${_sd_src} $<TARGET_FILE:signerd> --with-dropins)
# 2. systemd-analyze security --offline=yes: exposure at most 2.0.
add_test(NAME systemd.security_exposure COMMAND ${_sd_tests}/security_score.sh ${_sd_src}/signerd.service 2.0)
# 3. Socket activation under systemd-socket-activate: Unix socket, then Unix + TCP.
add_test(NAME systemd.socket_activation COMMAND ${_sd_tests}/socket_activation.sh $<TARGET_FILE:signerd>)
add_test(NAME systemd.socket_activation_tcp COMMAND ${_sd_tests}/socket_activation.sh $<TARGET_FILE:signerd> --tcp)
# 4. sd_notify: READY=1 once listening, STATUS=, WATCHDOG=1 keep-alives, STOPPING=1 and exit 0 on SIGTERM.
add_test(NAME systemd.sd_notify
  COMMAND ${_sd_tests}/sd_notify.sh $<TARGET_FILE:sd_notify_probe> $<TARGET_FILE:signerd> --watchdog-usec 200000)
# ExecReload= sends SIGHUP: the daemon must survive it and keep serving.
add_test(NAME systemd.reload_sighup
  COMMAND ${_sd_tests}/sd_notify.sh $<TARGET_FILE:sd_notify_probe> $<TARGET_FILE:signerd> --sighup)
# sysusers.d and tmpfiles.d applied to an empty root (skipped unless run as root).
add_test(NAME systemd.snippets COMMAND ${_sd_tests}/snippets.sh ${_sd_src})

set_tests_properties(systemd.verify_units systemd.verify_units_with_dropins systemd.security_exposure
  systemd.socket_activation systemd.socket_activation_tcp systemd.sd_notify systemd.reload_sighup systemd.snippets
  PROPERTIES LABELS systemd TIMEOUT 120)
set_tests_properties(systemd.snippets PROPERTIES SKIP_RETURN_CODE 77)

# The example configuration for the packaged layout (installed to share/doc/signerd/systemd) is accepted by signerd.
add_test(NAME systemd.example_config
  COMMAND $<TARGET_FILE:signerd> --check-config --config ${_sd_src}/examples/signerd.toml)
set_tests_properties(systemd.example_config PROPERTIES LABELS systemd TIMEOUT 30 PASS_REGULAR_EXPRESSION "configuration OK")

# 5. The operator's walk of docs/operations.md under a real systemd as PID 1: systemd-nspawn boots this machine's root
# file system under a tmpfs overlay, and the .deb built from this tree is installed, configured for SoftHSM, started
# by socket activation, reloaded, restarted by its watchdog and stopped. Root only (77 otherwise). Not in sanitizer
# builds: the package would carry the instrumented binaries into the hardened unit.
if(NOT SIGNERD_SANITIZE AND NOT SIGNERD_TSAN)
  add_test(NAME systemd.live_operations COMMAND ${_sd_tests}/live_systemd.sh ${PROJECT_BINARY_DIR})
  set_tests_properties(systemd.live_operations PROPERTIES LABELS "systemd;packaging" TIMEOUT 600 SKIP_RETURN_CODE 77)
endif()

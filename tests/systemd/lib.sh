# Shared by the systemd tests: a temp dir with a fresh SoftHSM token and a signerd config whose PIN comes from a
# systemd credential. Source it, then call make_token_and_config; $tmp is removed on exit.
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d -t signerd-systemd-XXXXXX)
cleanup_hooks=()
cleanup() {
  local h
  for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
  chmod -R u+w "$tmp" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# make_token_and_config <unix_socket path> [tcp host:port]: writes $tmp/signerd.toml; the PIN is the credential
# "hsm-pin" in $tmp/creds (export CREDENTIALS_DIRECTORY=$tmp/creds to the daemon, as LoadCredential= would).
make_token_and_config() {
  local sock=$1 tcp=${2:-}
  export SOFTHSM2_CONF="$tmp/softhsm2.conf"
  mkdir -p "$tmp/tokens" "$tmp/creds"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$tmp/tokens" >"$SOFTHSM2_CONF"
  softhsm2-util --init-token --free --label systemd-test --pin 1234 --so-pin 5678 >/dev/null
  (umask 077; echo 1234 >"$tmp/creds/hsm-pin")
  chmod 0400 "$tmp/creds/hsm-pin"; chmod 0500 "$tmp/creds"  # as systemd leaves $CREDENTIALS_DIRECTORY
  cat >"$tmp/signerd.toml" <<TOML
[hsm]
module = "${SIGNERD_TEST_MODULE:-/usr/lib/softhsm/libsofthsm2.so}"
token_label = "systemd-test"
pin_credential = "hsm-pin"
[store]
path = "$tmp/signerd.db"
[listen]
unix_socket = "$sock"
tcp = "$tcp"
[auth]
unauthenticated_health = ["unix", "tcp"]
[log]
level = "${SIGNERD_TEST_LOG_LEVEL:-info}"
TOML
}

# A free loopback TCP port (best effort: another process may take it before we bind it).
free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

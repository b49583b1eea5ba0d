#!/usr/bin/env bash
# Test: docs/operations.md, executed under a real systemd as PID 1.
#
# The host has no systemd as PID 1, so the test boots one: systemd-nspawn boots this machine's own root file system
# (a non-recursive bind mount of /, under a tmpfs overlay: nothing the container writes reaches the host), with its
# own network namespace, and the test runs each step of the guide inside it with nsenter, as an operator would:
#   §2.1  apt install ./signerd_*.deb: the signerd user exists, nothing is enabled or started;
#   §3.1  SoftHSM token under /var/lib/signerd, the SOFTHSM2_CONF drop-in, signerctl hsm init-token, PIN file 0600;
#   §4    the PIN as a systemd credential (LoadCredential=), --check-config;
#   §5    systemctl enable --now signerd.socket: the service is not running until the first connection, which starts
#         it (socket activation); it runs as user signerd, Status "Serving", /healthz /readyz /metrics;
#   §6.1  a client user in group signerd-clients (which cannot read /etc/signerd), 401 until its uid is in auth.unix_allowed_uids, then `systemctl reload`
#         (SIGHUP) lets it in without a restart; it creates and signs with a key through signerctl;
#   §5    systemctl restart keeps keys; the watchdog (WatchdogSec, shortened by a drop-in) restarts a daemon whose
#         event loop is frozen, and leaves a running one alone; systemctl stop leaves the socket in place and a
#         connection starts the daemon again;
#   systemd-analyze security on the running service (exposure ≤ 2.0, as offline).
#   usage: live_systemd.sh <build dir>     (needs root, systemd-nspawn and a package built by cpack from that dir)
set -euo pipefail
build=$1

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
skip() { echo "SKIP: $*"; exit 77; }
# has <regex> <text>, has_fixed <string> <text>: match in text already read. (grep -q in a pipeline stops reading
# at the first match; under pipefail the writer's SIGPIPE would then turn a match into a failure.)
has() { grep -e "$1" >/dev/null <<<"$2"; }
has_fixed() { grep -F -e "$1" >/dev/null <<<"$2"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (systemd-nspawn boots a container)"
unshare --mount --pid --net --fork true 2>/dev/null || skip "this host cannot make namespaces (no CAP_SYS_ADMIN?)"
# Everything below runs in a private mount namespace: the bind mount of / made for the container dies with this
# process, even when it is killed (a ctest timeout) before its cleanup runs, and never shows on the host.
if [ -z "${SIGNERD_LIVE_PRIVATE_MOUNTS:-}" ]; then
  SIGNERD_LIVE_PRIVATE_MOUNTS=1 exec unshare --mount --propagation private -- "$0" "$@"
fi
command -v systemd-nspawn >/dev/null || fail "systemd-nspawn is missing (scripts/install-deps installs systemd-container)"
command -v nsenter >/dev/null || fail "nsenter is missing (util-linux)"
[ -x /lib/systemd/systemd ] || fail "no /lib/systemd/systemd on this host to boot"

tmp=$(mktemp -d -t signerd-live-XXXXXX)
root=$tmp/root
nspawn_pid=
cleanup() {
  if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
    kill -TERM "$nspawn_pid" 2>/dev/null || true           # nspawn asks the container's systemd to power off
    for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nspawn_pid" 2>/dev/null || true
  fi
  # Never remove the directory while / is still bound under it: rm would walk into the root file system.
  if mountpoint -q "$root" && ! umount "$root"; then
    echo "cannot unmount $root; leaving $tmp" >&2
    return
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the package, built from this build tree ---------------------------------------------------------------------
(cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out") >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log" >&2; fail "cpack failed"; }
debs=("$tmp"/out/signerd_*.deb)
[ -f "${debs[0]}" ] || fail "cpack made no signerd_*.deb"
deb=${debs[0]}

# ---- boot ----------------------------------------------------------------------------------------------------
mkdir -p "$root"
mount --bind / "$root"
# --register=no/--keep-unit: no machined and no host systemd to talk to. --private-network: the container's loopback
# is its own (the host's services and ports are out of reach). systemd.unit=basic.target: sockets and the basics,
# not the host's own multi-user services.
systemd-nspawn -D "$root" --volatile=overlay --register=no --keep-unit --link-journal=no --private-network \
  --console=passive -M signerd-live --bind-ro="$deb":/root/"$(basename "$deb")" \
  -b -- systemd.unit=basic.target >"$tmp/nspawn.log" 2>&1 &
nspawn_pid=$!

init=
for _ in $(seq 1 300); do
  kill -0 "$nspawn_pid" 2>/dev/null || { cat "$tmp/nspawn.log" >&2; fail "systemd-nspawn exited"; }
  init=$(pgrep -P "$nspawn_pid" -x systemd || true)
  [ -n "$init" ] && break
  sleep 0.1
done
[ -n "$init" ] || { cat "$tmp/nspawn.log" >&2; fail "no systemd inside the container"; }
inside() { nsenter -t "$init" -a -- "$@"; }
insh() { nsenter -t "$init" -a -- /bin/bash -euo pipefail -c "$1"; }
for _ in $(seq 1 300); do inside test -S /run/systemd/private && break; sleep 0.1; done
state=$(inside timeout 120 systemctl is-system-running --wait 2>&1 || true)
[ "$(inside cat /proc/1/comm)" = systemd ] || fail "PID 1 inside the container is not systemd"
ok "booted a container with systemd as PID 1 ($(inside systemctl --version | head -1); state: $state)"

journal() { inside journalctl -u signerd.service -b --no-pager -o cat; }
show() { inside systemctl show -p "$1" --value "$2"; }
curl_in() { inside curl -s --max-time 20 --unix-socket /run/signerd/signerd.sock "$@"; }
wait_for() {  # wait_for <description> <tries of 0.1 s> <shell condition run inside>
  local what=$1 tries=$2 cond=$3
  for _ in $(seq 1 "$tries"); do insh "$cond" >/dev/null 2>&1 && return 0; sleep 0.1; done
  journal | tail -40 >&2
  fail "timed out waiting for: $what"
}

# ---- §2.1 install the package -----------------------------------------------------------------------------------
insh "cd /root && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./$(basename "$deb")" \
  >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; fail "apt install ./$(basename "$deb") failed"; }
inside getent passwd signerd >/dev/null || fail "the package did not create the signerd user"
[ "$(inside stat -c '%a %U' /var/lib/signerd)" = "700 signerd" ] || fail "/var/lib/signerd: $(inside stat -c '%a %U' /var/lib/signerd)"
for unit in signerd.socket signerd.service; do
  [ "$(inside systemctl is-enabled "$unit" 2>&1 || true)" = disabled ] || fail "$unit is enabled after install"
  [ "$(inside systemctl is-active "$unit" 2>&1 || true)" = inactive ] || fail "$unit is active after install"
done
ok "§2.1 apt install: user signerd, /var/lib/signerd 0700, units neither enabled nor started"

# ---- §3.1 SoftHSM token, §4 the PIN --------------------------------------------------------------------------------
insh '
install -d -o signerd -g signerd -m 0700 /var/lib/signerd/softhsm /var/lib/signerd/softhsm/tokens
cat >/etc/signerd/softhsm2.conf <<EOF
directories.tokendir = /var/lib/signerd/softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
chmod 0644 /etc/signerd/softhsm2.conf
mkdir -p /etc/systemd/system/signerd.service.d
printf "[Service]\nEnvironment=SOFTHSM2_CONF=/etc/signerd/softhsm2.conf\n" >/etc/systemd/system/signerd.service.d/softhsm.conf
umask 077
head -c 24 /dev/urandom | od -An -tx1 | tr -d " \n" >/etc/signerd/hsm.pin
head -c 24 /dev/urandom | od -An -tx1 | tr -d " \n" >/root/signerd-so.pin
SOFTHSM2_CONF=/etc/signerd/softhsm2.conf signerctl hsm init-token \
    --label signerd --so-pin-file /root/signerd-so.pin --pin-file /etc/signerd/hsm.pin
chown -R signerd:signerd /var/lib/signerd/softhsm
rm /root/signerd-so.pin' >"$tmp/token.log" 2>&1 || { cat "$tmp/token.log" >&2; fail "§3.1 token set-up failed"; }
grep -q "initialised token 'signerd'" "$tmp/token.log" || fail "init-token said: $(cat "$tmp/token.log")"
[ "$(inside stat -c '%a %U' /etc/signerd/hsm.pin)" = "600 root" ] || fail "hsm.pin is $(inside stat -c '%a %U' /etc/signerd/hsm.pin)"
# The shipped configuration names the credential; point [hsm] at SoftHSM and the token.
inside grep -q '^pin_credential = "hsm-pin"' /etc/signerd/signerd.toml || fail "the shipped config does not use pin_credential"
insh 'sed -i -e "s|^module = .*|module = \"/usr/lib/softhsm/libsofthsm2.so\"|" \
             -e "s|^token_label = .*|token_label = \"signerd\"|" /etc/signerd/signerd.toml'
inside grep -q '^module = "/usr/lib/softhsm/libsofthsm2.so"' /etc/signerd/signerd.toml ||
  fail "no [hsm] module line to edit in the shipped config"
checked=$(inside signerd --config /etc/signerd/signerd.toml --check-config)
has "configuration OK" "$checked" || fail "--check-config: $checked"
ok "§3.1/§4 token 'signerd' initialised, PIN 0600 root as a credential, --check-config OK"

# ---- §5 start: socket activation ---------------------------------------------------------------------------------
inside systemctl daemon-reload
inside systemctl enable --now signerd.socket >/dev/null 2>&1 || fail "systemctl enable --now signerd.socket"
[ "$(inside systemctl is-active signerd.socket)" = active ] || fail "signerd.socket is not active"
[ "$(inside systemctl is-active signerd.service || true)" = inactive ] || fail "signerd.service started before a connection"
[ "$(inside stat -c '%a %U %G' /run/signerd/signerd.sock)" = "660 signerd signerd-clients" ] ||
  fail "socket is $(inside stat -c '%a %U %G' /run/signerd/signerd.sock)"
health=$(curl_in http://localhost/healthz)
[ "$(jq -r .status <<<"$health")" = ok ] || fail "/healthz through the socket: $health"
[ "$(inside systemctl is-active signerd.service)" = active ] || fail "the first connection did not start signerd.service"
pid=$(show MainPID signerd.service)
[ "$(inside ps -o user= -p "$pid")" = signerd ] || fail "signerd runs as $(inside ps -o user= -p "$pid")"
[ "$(show StatusText signerd.service)" = Serving ] || fail "StatusText: $(show StatusText signerd.service)"
log=$(journal)
has "socket activation" "$log" || fail "the journal does not say the socket came from systemd"
has "signerd ready" "$log" || fail "the journal has no 'signerd ready'"
[ "$(jq -r .status <<<"$(curl_in http://localhost/readyz)")" = ready ] || fail "/readyz: $(curl_in http://localhost/readyz)"
has '^signerd_' "$(curl_in http://localhost/metrics)" || fail "/metrics has no signerd_ series"
ok "§5 socket activation: first connection started signerd.service as user signerd; Status=Serving; /healthz /readyz /metrics"

# The sandbox is in force in the running process, and the PIN is nowhere it should not be.
status=$(inside cat /proc/"$pid"/status)
grep -q '^NoNewPrivs:[[:space:]]*1$' <<<"$status" || fail "NoNewPrivileges not in effect"
grep -q '^Seccomp:[[:space:]]*2$' <<<"$status" || fail "no seccomp filter (SystemCallFilter=) on the daemon"
grep -q '^CapEff:[[:space:]]*0000000000000000$' <<<"$status" || fail "the daemon has capabilities: $(grep ^Cap <<<"$status")"
grep -q '^CapBnd:[[:space:]]*0000000000000000$' <<<"$status" || fail "CapabilityBoundingSet= not empty"
pin=$(inside cat /etc/signerd/hsm.pin)
[ ${#pin} -ge 32 ] || fail "could not read the PIN back for the leak check"
for what in cmdline environ; do
  has_fixed "$pin" "$(inside cat /proc/"$pid"/"$what" | tr '\0' '\n')" && fail "the PIN is in the daemon's $what"
done
has_fixed "$pin" "$(journal)" && fail "the PIN is in the journal"
has '^CREDENTIALS_DIRECTORY=' "$(inside cat /proc/"$pid"/environ | tr '\0' '\n')" ||
  fail "no CREDENTIALS_DIRECTORY in the daemon's environment (LoadCredential=)"
# TCP on loopback (listen.tcp of the shipped config) passes IPAddressAllow=localhost; health is Unix-only by default.
code=$(inside curl -s -o /dev/null -w '%{http_code}' --max-time 10 http://127.0.0.1:8420/healthz || true)
[ "$code" = 401 ] || fail "GET http://127.0.0.1:8420/healthz inside the container: HTTP $code, expected 401"
ok "sandbox in force (NoNewPrivs, seccomp, no capabilities); PIN not in argv, environment or journal; TCP loopback 401"

# ---- §6.1 a client user: group, allow-list, reload --------------------------------------------------------------
inside useradd -m -G signerd-clients alice
alice_uid=$(inside id -u alice)
as_alice() { inside runuser -u alice -- "$@"; }
as_alice ls /etc/signerd >/dev/null 2>&1 && fail "a member of signerd-clients can read /etc/signerd"
code=$(inside runuser -u nobody -- curl -s -o /dev/null -w '%{http_code}' --unix-socket /run/signerd/signerd.sock \
         http://localhost/healthz || true)
[ "$code" = 000 ] || fail "a user outside signerd-clients reached the socket (HTTP $code)"
code=$(as_alice curl -s -o /dev/null -w '%{http_code}' --unix-socket /run/signerd/signerd.sock http://localhost/keys)
[ "$code" = 401 ] || fail "alice before the allow-list: HTTP $code, expected 401"
insh "sed -i -e 's|^#\\? *unix_allowed_uids = .*|unix_allowed_uids = [$alice_uid]|' /etc/signerd/signerd.toml"
if ! inside grep -q "^unix_allowed_uids = \[$alice_uid\]" /etc/signerd/signerd.toml; then
  insh "sed -i -e 's|^\\[auth\\]|[auth]\\nunix_allowed_uids = [$alice_uid]|' /etc/signerd/signerd.toml"
fi
inside grep -q "^unix_allowed_uids = \[$alice_uid\]" /etc/signerd/signerd.toml || fail "could not set unix_allowed_uids"
inside systemctl reload signerd
wait_for "the reload line in the journal" 100 "journalctl -u signerd -b -o cat | grep 'applied.*unix_allowed_uids' >/dev/null"
[ "$(show MainPID signerd.service)" = "$pid" ] || fail "reload restarted the daemon"
key=$(as_alice signerctl --socket /run/signerd/signerd.sock --json keys create --scheme ECDSA --curve secp256k1) ||
  fail "alice's signerctl keys create after reload: $key"
key_id=$(jq -r .id <<<"$key")
[[ "$key_id" == key-* ]] || fail "keys create answered $key"
sig=$(as_alice signerctl --socket /run/signerd/signerd.sock --json keys sign "$key_id" \
        --hash 0x"$(printf 'live systemd' | sha256sum | cut -c1-64)") || fail "keys sign: $sig"
[ "$(jq -r .status <<<"$sig")" = Signed ] || fail "keys sign answered $sig"
ok "§6.1 nobody cannot connect; alice (signerd-clients, cannot read /etc/signerd): 401, then after 'systemctl reload' (same PID) keys create + sign ($key_id)"

# ---- restart, watchdog, stop ------------------------------------------------------------------------------------
inside systemctl restart signerd
got=$(as_alice signerctl --socket /run/signerd/signerd.sock --json keys get "$key_id") || fail "keys get after restart: $got"
[ "$(jq -r .id <<<"$got")" = "$key_id" ] || fail "the key did not survive a restart: $got"
ok "systemctl restart: the key survived"

insh 'printf "[Service]\nWatchdogSec=2s\n" >/etc/systemd/system/signerd.service.d/watchdog-test.conf'
inside systemctl daemon-reload
inside systemctl restart signerd
pid=$(show MainPID signerd.service)
restarts=$(show NRestarts signerd.service)
sleep 5                                                   # 2.5 watchdog periods: keep-alives must keep it alive
[ "$(show MainPID signerd.service)" = "$pid" ] || fail "a healthy daemon was restarted under WatchdogSec=2s"
inside kill -STOP "$pid"                                      # its event loop stops sending WATCHDOG=1
wait_for "the watchdog to restart signerd" 150 \
  "[ \"\$(systemctl show -p NRestarts --value signerd)\" -gt $restarts ] && systemctl is-active -q signerd"
has "[Ww]atchdog timeout" "$(journal)" || fail "the journal does not name the watchdog"
[ "$(show MainPID signerd.service)" != "$pid" ] || fail "same PID after the watchdog"
inside rm /etc/systemd/system/signerd.service.d/watchdog-test.conf
inside systemctl daemon-reload
ok "watchdog: a live daemon kept for 5 s under WatchdogSec=2s; a frozen one (SIGSTOP) killed and restarted"

inside systemctl stop signerd.service
[ "$(inside systemctl is-active signerd.service || true)" = inactive ] || fail "signerd.service still active after stop"
[ "$(show Result signerd.service)" = success ] || fail "stop result: $(show Result signerd.service)"
inside test -S /run/signerd/signerd.sock || fail "the socket went away with the service"
[ "$(jq -r .status <<<"$(curl_in http://localhost/healthz)")" = ok ] || fail "no daemon after stop + connect"
[ "$(inside systemctl is-active signerd.service)" = active ] || fail "the connection after stop did not start signerd"
ok "systemctl stop: clean (Result=success), the socket stays, the next connection starts the daemon"

# ---- systemd-analyze security on the live unit ------------------------------------------------------------------
exposure=$(inside systemd-analyze security --no-pager signerd.service |
           sed -n 's/.*Overall exposure level for signerd.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fail "systemd-analyze security printed no exposure"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "exposure $exposure > 2.0"
ok "systemd-analyze security signerd.service (live): exposure $exposure"

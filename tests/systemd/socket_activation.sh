#!/usr/bin/env bash
# Test: signerd started by systemd-socket-activate serves on the passed socket(s) and binds none of its own.
# The first connection makes systemd-socket-activate exec signerd with LISTEN_FDS. Over the passed Unix socket:
# GET /healthz is 200 {"status":"ok"}, a key is created and a hash signed. The configured listen.unix_socket
# (elsewhere in the temp dir) must never appear. SIGTERM stops signerd with status 0 and leaves the passed socket's
# file in place (under systemd it belongs to signerd.socket, which keeps listening).
# With --tcp, a loopback TCP socket is passed as well: it answers (/readyz; 401 without a token elsewhere), and the configured
# listen.tcp port is not bound.
# The PIN comes from $CREDENTIALS_DIRECTORY/hsm-pin, as with LoadCredential=hsm-pin:... in signerd.service.
#   usage: socket_activation.sh <signerd binary> [--tcp]
source "$(dirname "$0")/lib.sh"
signerd=$1 with_tcp=${2:-}

tcp_config="" listen=(-l "$tmp/act.sock") fdnames=unix
if [ "$with_tcp" = "--tcp" ]; then
  passed_port=$(free_port) config_port=$(free_port)
  [ "$passed_port" != "$config_port" ] || config_port=$(free_port)
  tcp_config="127.0.0.1:$config_port"
  listen+=(-l "127.0.0.1:$passed_port")
  fdnames=unix:tcp
fi
make_token_and_config "$tmp/own.sock" "$tcp_config"

env_args=(-E SOFTHSM2_CONF -E "CREDENTIALS_DIRECTORY=$tmp/creds")
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS; do [ -z "${!v:-}" ] || env_args+=(-E "$v"); done

systemd-socket-activate "${listen[@]}" --fdname="$fdnames" "${env_args[@]}" \
  "$signerd" --config "$tmp/signerd.toml" 2>"$tmp/signerd.log" &
pid=$!
cleanup_hooks+=('kill -KILL "$pid" 2>/dev/null')
show_log() { echo "--- signerd log:" >&2; cat "$tmp/signerd.log" >&2; }

for _ in $(seq 1 100); do [ -S "$tmp/act.sock" ] && break; sleep 0.05; done
[ -S "$tmp/act.sock" ] || { show_log; fail "systemd-socket-activate did not create $tmp/act.sock"; }

# The first request starts signerd; it is answered once signerd accepts on the passed socket.
request() {  # request <method> <path> [body]: sets $status and $body
  local out
  out=$(curl -sS --max-time 30 --unix-socket "$tmp/act.sock" -X "$1" "http://localhost$2" ${3:+-d "$3"} \
        -w '\n%{http_code}') || { show_log; [ -e "$tmp/own.sock" ] && echo "signerd bound its own $tmp/own.sock" >&2; fail "$1 $2 over the passed socket got no answer"; }
  status=${out##*$'\n'} body=${out%$'\n'*}
}

request GET /healthz
[ "$status" = 200 ] || { show_log; fail "GET /healthz: HTTP $status $body"; }
[ "$(jq -c . <<<"$body")" = '{"status":"ok"}' ] || fail "GET /healthz body: $body"
kill -0 "$pid" 2>/dev/null || fail "signerd is not running after the first request"
echo "ok: GET /healthz over the passed socket"

request POST /keys '{"scheme":"ECDSA","curve":"secp256k1"}'
[ "$status" = 200 ] || { show_log; fail "POST /keys: HTTP $status $body"; }
key=$(jq -r .id <<<"$body")
[ "$(jq -r .status <<<"$body")" = Active ] || fail "POST /keys: key not Active: $body"
hash=0x$(printf signerd-systemd-test | sha256sum | cut -c1-64)
request POST "/keys/$key/signatures" "{\"kind\":\"Hash\",\"hash\":\"$hash\"}"
[ "$status" = 200 ] || { show_log; fail "POST /keys/$key/signatures: HTTP $status $body"; }
[ "$(jq -r .status <<<"$body")" = Signed ] || fail "signature not Signed: $body"
jq -e '.signature.r and .signature.s and .signature.encoded' <<<"$body" >/dev/null || fail "no signature in $body"
echo "ok: created $key and signed a hash over the passed socket"

[ ! -e "$tmp/own.sock" ] || fail "signerd bound its configured listen.unix_socket although a Unix socket was passed"
echo "ok: the configured listen.unix_socket was not created"

if [ "$with_tcp" = "--tcp" ]; then
  # /readyz answers without a token on TCP here (auth.unauthenticated_health); anything else needs one.
  out=$(curl -sS --max-time 30 -w '\n%{http_code}' "http://127.0.0.1:$passed_port/readyz") ||
    fail "GET over the passed TCP socket got no answer"
  [ "${out##*$'\n'}" = 200 ] || fail "GET /readyz over the passed TCP socket: $out"
  out=$(curl -sS --max-time 30 -w '\n%{http_code}' "http://127.0.0.1:$passed_port/keys/$key") || fail "no answer"
  [ "${out##*$'\n'}" = 401 ] || fail "GET /keys/$key over TCP without a token: $out"
  echo "ok: the passed TCP socket serves (and asks TCP clients for a token)"
  if curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$config_port/healthz"; then
    fail "signerd bound its configured listen.tcp ($tcp_config) although a TCP socket was passed"
  fi
  echo "ok: the configured listen.tcp port is not bound"
fi

kill -TERM "$pid"
rc=0
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && { show_log; fail "signerd still running 15 s after SIGTERM"; }
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || { show_log; fail "signerd exited with status $rc on SIGTERM"; }
echo "ok: SIGTERM stopped signerd with status 0"
[ -S "$tmp/act.sock" ] || fail "signerd removed the passed socket's file $tmp/act.sock on stop (socket activation would break)"
echo "ok: the passed socket's file is still there"
echo PASS

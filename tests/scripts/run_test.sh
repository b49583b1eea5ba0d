#!/usr/bin/env bash
# scripts/run end to end, with the built binaries (SIGNERD_BIN_DIR: no install, no build into ./build) and a fresh
# state dir: the first start creates the token, the service account and the smart-account application
# (bootstrap.json's smartAccountApp, the 0600 secret that never shows in the log), the [smart_accounts] networks
# give a signed POST /api/v1/smart-account one account each; a restart reuses everything; a state dir with a
# service account but no application (as earlier versions left it) gets one on its next start.
#   usage: run_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
bin=$2

fail() { echo "FAIL: $*" >&2; exit 1; }
for tool in curl jq node openssl; do command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps)"; done

tmp=$(mktemp -d -t signerd-run-XXXXXX)
state=$tmp/state
sock=$state/signerd.sock
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# start N: runs scripts/run in the background (log $tmp/runN.log) until signerd itself (not the bootstrap daemon)
# answers on the socket.
start() {
  log=$tmp/run$1.log
  SIGNERD_STATE_DIR=$state SIGNERD_TCP="" SIGNERD_BIN_DIR=$bin SIGNERD_LOG_LEVEL=info "$src/scripts/run" \
    >"$log" 2>&1 </dev/null &
  pid=$!
  for _ in $(seq 1200); do  # about two minutes
    if grep -q '^signerd: try ' "$log" &&
       curl -sf --max-time 2 --unix-socket "$sock" http://localhost/healthz >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$log" >&2
      pid=""
      fail "scripts/run (start $1) exited early"
    fi
    sleep 0.1
  done
  cat "$log" >&2
  fail "scripts/run (start $1) did not come up"
}

# stop: SIGTERM to scripts/run (by now the exec'd signerd), which must exit 0.
stop() {
  local rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  pid=""
  [ "$rc" -eq 0 ] || { cat "$log" >&2; fail "signerd exited with status $rc on SIGTERM"; }
}

mode() { stat -c %a "$1"; }

# signed_post OWNER [SECRET_FILE APP_ID]: POST /api/v1/smart-account signed as the app (the secret read from its file,
# never on a command line); prints the HTTP status, a newline and the body.
signed_post() {
  local owner=$1 secret_file=${2:-$state/smart-app.secret} app_id=${3:-$(jq -r .smartAccountApp.appId "$state/bootstrap.json")}
  local body ts sig out
  body=$(jq -cn --arg id "$owner" '{owner: {id: $id, provider: "wallet"}}')
  ts=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
  sig=$(node -e '
    const [file, message] = process.argv.slice(1);
    const key = Buffer.from(require("fs").readFileSync(file, "utf8").trim(), "hex");
    process.stdout.write(require("crypto").createHmac("sha256", key).update(message).digest("hex"));
  ' "$secret_file" "$ts"$'\n'POST$'\n'/api/v1/smart-account$'\n'"$body")
  out=$(curl -s --max-time 10 --unix-socket "$sock" -w '\n%{http_code}' http://localhost/api/v1/smart-account \
    -H "X-APP-ID: $app_id" -H "X-TIMESTAMP: $ts" -H "X-SIGNATURE: $sig" -H 'Content-Type: application/json' \
    --data-binary "$body")
  printf '%s\n%s' "${out##*$'\n'}" "${out%$'\n'*}"
}

# check_app: bootstrap.json's smartAccountApp, smart-app.json and the secret file agree and are well formed.
check_app() {
  [ "$(mode "$state/bootstrap.json")" = 600 ] || fail "bootstrap.json has mode $(mode "$state/bootstrap.json")"
  [ "$(mode "$state/smart-app.secret")" = 600 ] || fail "smart-app.secret has mode $(mode "$state/smart-app.secret")"
  if ! grep -qxE '[0-9a-f]{64}' "$state/smart-app.secret" || [ "$(wc -l <"$state/smart-app.secret")" != 1 ]; then
    fail "smart-app.secret is not one line of 64 hex digits"
  fi
  local uuid='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
  jq -e --arg uuid "$uuid" --arg secretFile "$state/smart-app.secret" '
    .smartAccountApp | (keys == ["appId", "clientId", "secretFile"]) and (.appId | test($uuid))
      and (.clientId | test($uuid)) and .secretFile == $secretFile' "$state/bootstrap.json" >/dev/null ||
    fail "bootstrap.json's smartAccountApp is wrong: $(jq -c .smartAccountApp "$state/bootstrap.json")"
  jq -e --slurpfile b "$state/bootstrap.json" '
    (has("secret") | not) and .appId == $b[0].smartAccountApp.appId and .clientId == $b[0].smartAccountApp.clientId
      and .secretFile == $b[0].smartAccountApp.secretFile and .name == "signerd-dev"' "$state/smart-app.json" \
    >/dev/null || fail "smart-app.json does not match bootstrap.json: $(jq -c 'del(.secret)' "$state/smart-app.json")"
  jq -e --arg sock "$sock" '.socket == $sock and .baseUrl == "" and (.serviceAccount.userId | length > 0)' \
    "$state/bootstrap.json" >/dev/null || fail "bootstrap.json's socket, baseUrl or serviceAccount is wrong"
  # The secret is in no log line and in no other file of the state dir but its own.
  if grep -rqF -f "$state/smart-app.secret" "$tmp"/run*.log; then fail "the app secret appears in scripts/run's output"; fi
  if grep -rlF -f "$state/smart-app.secret" --exclude=smart-app.secret --exclude-dir=tokens "$state" >/dev/null; then
    fail "the app secret appears in $(grep -rlF -f "$state/smart-app.secret" --exclude=smart-app.secret \
      --exclude-dir=tokens "$state" | head -1)"
  fi
}

# check_record REPLY: a 200 envelope whose record belongs to the bootstrap app, with one not_deployed account on each
# configured network.
check_record() {
  local status=${1%%$'\n'*} body=${1#*$'\n'}
  [ "$status" = 200 ] || fail "POST /api/v1/smart-account: HTTP $status: $body"
  jq -e --slurpfile b "$state/bootstrap.json" '
    $b[0].smartAccountApp as $app
    | .status == 200 and .data.appId == $app.appId and .data.clientId == $app.clientId
      and (.data.gasTanks | length == 1 and .[0].tokenName == "USDT" and .[0].decimals == 6 and .[0].balance == "0")
      and ([.data.accounts[] | [.network, .chainId, .version, .status]] | sort ==
           [["ArbitrumOne", 42161, "0.6", "not_deployed"], ["Base", 8453, "0.8", "not_deployed"],
            ["BaseSepolia", 84532, "0.8", "not_deployed"], ["Ethereum", 1, "0.7", "not_deployed"],
            ["EthereumSepolia", 11155111, "0.7", "not_deployed"]])
      and ([.data.accounts[] | .aaAddress | test("^0x[0-9a-fA-F]{40}$")] | all)' <<<"$body" >/dev/null ||
    fail "POST /api/v1/smart-account: unexpected record: $body"
}

owner=0x10cB6162b0bF12Bf9B9FB899c617e71550dBAeB7

echo "== first start: token, service account, app, networks"
start 1
grep -q 'creating the development service account and smart-account application' "$tmp/run1.log" ||
  fail "the first start did not bootstrap both: $(cat "$tmp/run1.log")"
check_app
[ "$(mode "$state/signerd.toml")" = 600 ] || fail "signerd.toml has mode $(mode "$state/signerd.toml")"
"$bin/daemon/signerd" --check-config --config "$state/signerd.toml" >/dev/null 2>&1 ||
  fail "signerd --check-config refuses $state/signerd.toml"
reply=$(signed_post "$owner")
check_record "$reply"
record=$(jq -c .data <<<"${reply#*$'\n'}")
# The published v0.8 vector (owner above, salt 0) on Base and BaseSepolia, the canonical factory.
[ "$(jq -r '[.accounts[] | select(.version == "0.8") | .aaAddress] | unique | join(",")' <<<"$record")" = \
  0xc6F20ce7BEf5a7A047640AFD43c5E74E3722dF66 ] || fail "v0.8 addresses differ from the published vector: $record"
# A wrong signature is refused: the accounts above were not handed out unsigned.
printf '%064d\n' 0 >"$tmp/wrong.secret"
reply=$(signed_post "$owner" "$tmp/wrong.secret")
[ "${reply%%$'\n'*}" = 401 ] || fail "a request signed with another secret got HTTP ${reply%%$'\n'*}"
stop

echo "== second start: everything reused"
cp "$state/bootstrap.json" "$tmp/bootstrap.1.json"
cp "$state/smart-app.json" "$tmp/smart-app.1.json"
cp "$state/smart-app.secret" "$tmp/smart-app.1.secret"
echo "# not written by scripts/run" >>"$state/signerd.toml"
start 2
if grep -qE '^signerd: (bootstrap|.* is missing)' "$tmp/run2.log"; then fail "the second start created something: $(cat "$tmp/run2.log")"; fi
! grep -q 'not written by scripts/run' "$state/signerd.toml" || fail "signerd.toml was not rewritten on start"
cmp -s "$state/bootstrap.json" "$tmp/bootstrap.1.json" || fail "bootstrap.json changed on restart"
cmp -s "$state/smart-app.json" "$tmp/smart-app.1.json" || fail "smart-app.json changed on restart"
cmp -s "$state/smart-app.secret" "$tmp/smart-app.1.secret" || fail "smart-app.secret changed on restart"
check_app
reply=$(signed_post "$owner")
check_record "$reply"
[ "$(jq -c .data <<<"${reply#*$'\n'}")" = "$record" ] || fail "the record changed across the restart"
stop

echo "== a state dir with a service account but no app (earlier versions) gets one"
rm "$state/smart-app.json" "$state/smart-app.secret"
jq 'del(.smartAccountApp)' "$tmp/bootstrap.1.json" >"$state/bootstrap.json"
start 3
grep -q 'creating the development smart-account application$' "$tmp/run3.log" ||
  fail "the third start did not create just the app: $(cat "$tmp/run3.log")"
check_app
jq -e --slurpfile old "$tmp/bootstrap.1.json" '.serviceAccount == $old[0].serviceAccount and .orgId == $old[0].orgId
    and .smartAccountApp.appId != $old[0].smartAccountApp.appId' "$state/bootstrap.json" >/dev/null ||
  fail "the service account changed or the app did not: $(jq -c 'del(.serviceAccount.authToken)' "$state/bootstrap.json")"
reply=$(signed_post "$owner")
check_record "$reply"
[ "$(jq -r .data.id <<<"${reply#*$'\n'}")" != "$(jq -r .id <<<"$record")" ] ||
  fail "the new app got the old app's record"
stop
echo "PASS"

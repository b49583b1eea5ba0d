#!/usr/bin/env bash
# Test: signerd speaks Type=notify as signerd.service expects (see sd_notify_probe.cc for the assertions).
#   usage: sd_notify.sh <sd_notify_probe> <signerd binary> [probe options, e.g. --watchdog-usec 200000 --sighup]
source "$(dirname "$0")/lib.sh"
probe=$1 signerd=$2
shift 2
make_token_and_config "$tmp/signerd.sock"
export CREDENTIALS_DIRECTORY=$tmp/creds
rc=0
"$probe" --notify-socket "$tmp/notify.sock" --expect-socket "$tmp/signerd.sock" "$@" \
  -- "$signerd" --config "$tmp/signerd.toml" 2>"$tmp/signerd.log" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "--- signerd log:" >&2
  cat "$tmp/signerd.log" >&2
fi
exit "$rc"

#!/usr/bin/env bash
# Test: `systemd-analyze verify` of signerd.service and signerd.socket prints nothing (no warning, no error).
# Works without systemd as PID 1: verify runs against a throw-away root holding the units, the built signerd as
# /usr/bin/signerd, /bin/kill (ExecReload=) and stub targets for the default dependencies.
#   usage: verify_units.sh <systemd source dir> <signerd binary> [--with-dropins]
# --with-dropins also installs the drop-in examples, with their commented settings switched on.
set -euo pipefail
src=$1 signerd=$2 dropins=${3:-}
root=$(mktemp -d -t signerd-verify-XXXXXX)
trap 'rm -rf "$root"' EXIT

units=$root/usr/lib/systemd/system
mkdir -p "$units" "$root/usr/bin" "$root/bin"
cp "$src/signerd.service" "$src/signerd.socket" "$units/"
cp "$signerd" "$root/usr/bin/signerd"
cp "$(type -P kill)" "$root/bin/kill"  # ExecReload=/bin/kill
for t in sysinit.target basic.target sockets.target shutdown.target network.target multi-user.target; do
  printf '[Unit]\nDescription=stub %s\n' "$t" >"$units/$t"
done
if [ "$dropins" = "--with-dropins" ]; then
  d=$root/etc/systemd/system/signerd.service.d
  mkdir -p "$d"
  for f in "$src"/examples/*.conf; do
    sed -E 's/^#([A-Z][A-Za-z]+=)/\1/' "$f" >"$d/$(basename "$f")"
  done
  echo "drop-ins under test:"; cat "$d"/*.conf
fi

out=$(systemd-analyze verify --man=no --root="$root" signerd.service signerd.socket 2>&1) && rc=0 || rc=$?
if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
  echo "FAIL: systemd-analyze verify exited $rc and said:" >&2
  echo "$out" >&2
  exit 1
fi
echo "PASS: systemd-analyze verify is clean"

#!/usr/bin/env bash
# Test: the sysusers.d and tmpfiles.d snippets, applied to an empty root, create the system user signerd
# (home /var/lib/signerd, shell nologin), the group signerd-clients with signerd in it, and /etc/signerd 0750
# root:signerd, /var/lib/signerd 0700 signerd:signerd, /run/signerd 0755 signerd:signerd. Needs root for the ownership (exit 77, skipped, otherwise).
#   usage: snippets.sh <systemd source dir>
set -euo pipefail
src=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
root=$(mktemp -d -t signerd-snippets-XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc"

if [ "$(id -u)" -ne 0 ]; then
  systemd-sysusers --dry-run --root="$root" "$src/sysusers.d/signerd.conf"
  echo "SKIP: applying tmpfiles.d needs root"
  exit 77
fi
out=$(systemd-sysusers --root="$root" "$src/sysusers.d/signerd.conf" 2>&1) || fail "systemd-sysusers: $out"
IFS=: read -r name _ uid gid _ home shell < <(grep '^signerd:' "$root/etc/passwd") || fail "no signerd in passwd"
[ "$home" = /var/lib/signerd ] || fail "home is $home"
[ "$shell" = /usr/sbin/nologin ] || fail "shell is $shell"
[ "$uid" -lt 1000 ] || fail "uid $uid is not a system uid"
sgid=$(awk -F: '$1=="signerd"{print $3}' "$root/etc/group")
[ "$sgid" = "$gid" ] || fail "group signerd ($sgid) is not the user's primary group ($gid)"
echo "ok: system user $name uid=$uid gid=$gid home=$home shell=$shell"
IFS=: read -r _ _ cgid members < <(grep '^signerd-clients:' "$root/etc/group") || fail "no group signerd-clients"
[ "$cgid" -lt 1000 ] && [ "$cgid" != "$gid" ] || fail "signerd-clients has gid $cgid"
[[ ",$members," == *,signerd,* ]] || fail "signerd is not a member of signerd-clients: '$members'"
echo "ok: system group signerd-clients gid=$cgid members=$members"

out=$(systemd-tmpfiles --root="$root" --create "$src/tmpfiles.d/signerd.conf" 2>&1) || fail "systemd-tmpfiles: $out"
[ -z "$out" ] || fail "systemd-tmpfiles said: $out"
check() {  # check <path> <mode> <uid> <gid>
  local got
  got=$(stat -c '%a %u %g' "$root$1") || fail "$1 was not created"
  [ "$got" = "$2 $3 $4" ] || fail "$1 is '$got', want '$2 $3 $4'"
  echo "ok: $1 $got"
}
check /etc/signerd 750 0 "$gid"
check /var/lib/signerd 700 "$uid" "$gid"
check /run/signerd 755 "$uid" "$gid"
echo PASS

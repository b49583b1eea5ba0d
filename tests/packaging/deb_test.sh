#!/usr/bin/env bash
# Test: the Debian package.
#  0. `DESTDIR=… cmake --install <build> --prefix /usr` puts the binaries under /usr/bin and the config in /etc.
#  1. cpack -G DEB from the build tree; `dpkg-deb -I` shows Package, Version, Section, the computed Depends line,
#     Recommends, the conffile and the maintainer scripts; every file in it is owned by root.
#  2. dpkg installs it into an empty throwaway root, the maintainer scripts running chrootless with DPKG_ROOT:
#       dpkg --root=R --force-script-chrootless --force-depends --log=L -i signerd_*.deb
#     (--force-depends: the empty root has none of the shared libraries the package depends on.)
#  3. The layout: binaries executable (and they run: --check-config accepts the shipped config), the config a
#     registered conffile with mode 0644, docs, and the systemd units, sysusers.d and tmpfiles.d snippets when
#     systemd/ provides them (then the signerd user exists in R/etc/passwd and R/var/lib/signerd belongs to it).
#  4. Nothing enabled or started: no signerd* under R/etc/systemd, no socket under R/run/signerd, and no maintainer
#     script calls systemctl enable/start/restart.
#  5. Reinstalling keeps a local edit of the conffile; --purge removes the package and its conffile but keeps
#     R/var/lib/signerd (the key and signature database).
#   usage: deb_test.sh <build dir> <source dir> <version> <signerd binary> <signerctl binary>
set -euo pipefail
build=$1 src=$2 version=$3 signerd_bin=$4 signerctl_bin=$5

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (dpkg --root installs files owned by root and by the signerd user)"
  exit 77
fi
# dpkg-shlibdeps (package dpkg-dev) computes Depends; CPack's DEB generator finds the ELF files with `file`.
for tool in cmake cpack dpkg dpkg-deb dpkg-query dpkg-shlibdeps file; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps should install dpkg-dev and file)"
done
[ -x "$signerd_bin" ] && [ -x "$signerctl_bin" ] || fail "build signerd and signerctl first"

tmp=$(mktemp -d -t signerd-deb-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root

# ---- 0. `cmake --install --prefix /usr` lays out the same tree, whatever prefix the build was configured with --
stage=$tmp/stage
DESTDIR=$stage cmake --install "$build" --prefix /usr >"$tmp/install-tree.log" 2>&1 ||
  { cat "$tmp/install-tree.log" >&2; fail "cmake --install --prefix /usr failed"; }
for path in usr/bin/signerd usr/bin/signerctl etc/signerd/signerd.toml usr/share/doc/signerd/operations.md; do
  [ -f "$stage/$path" ] || fail "cmake --install --prefix /usr did not install /$path"
done
[ -f "$src/systemd/signerd.service" ] && { [ -f "$stage/usr/lib/systemd/system/signerd.service" ] ||
  fail "cmake --install --prefix /usr did not install /usr/lib/systemd/system/signerd.service"; }
ok "cmake --install --prefix /usr: /usr/bin/signerd, /etc/signerd/signerd.toml, /usr/share/doc/signerd/"

# ---- 1. build the package -------------------------------------------------------------------------------------
if ! (cd "$tmp" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out") >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log" >&2
  fail "cpack failed"
fi
debs=("$tmp"/out/signerd_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one signerd_*.deb in $tmp/out: ${debs[*]}"
deb=${debs[0]}
ok "built $(basename "$deb")"

info=$(dpkg-deb -I "$deb")
echo "$info"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = signerd ] || fail "Package is '$(field Package)'"
[[ "$(field Version)" == "$version"-* ]] || fail "Version '$(field Version)' is not $version-<release>"
[ "$(field Section)" = admin ] || fail "Section is '$(field Section)'"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
depends=$(field Depends)
for dep in libc6 libsystemd0 libsqlite3-0 libssl3 'systemd-sysusers | adduser'; do
  [[ "$depends" == *"$dep"* ]] || fail "Depends lacks $dep: $depends"
done
grep -q '^ *Depends: .*libc6 (>= ' <<<"$info" || fail "dpkg-deb -I shows no computed Depends line"
[[ "$(field Recommends)" == *softhsm2* ]] || fail "Recommends lacks softhsm2: $(field Recommends)"
[ "$(dpkg-deb -I "$deb" conffiles)" = /etc/signerd/signerd.toml ] || fail "conffiles: $(dpkg-deb -I "$deb" conffiles)"
ctrl=$(dpkg-deb --ctrl-tarfile "$deb" | tar -tvf -)
for script in postinst prerm postrm; do
  grep -Eq "^-rwxr-xr-x .* \./$script\$" <<<"$ctrl" || fail "control member $script missing or not 0755: $ctrl"
done
# Every file belongs to root in the archive; the maintainer scripts hand directories to signerd.
if dpkg-deb -c "$deb" | awk '$2 != "root/root" { bad = 1; print } END { exit !bad }' >&2; then
  fail "files in the package not owned by root/root (above)"
fi
ok "control: Depends: $depends"

# Nothing may enable or start the service: the scripts' commands (comments and messages aside).
mkdir -p "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
if grep -HnE 'systemctl|deb-systemd' "$tmp"/control/{postinst,prerm,postrm} | grep -vE ':[0-9]+:\s*(#|echo )' |
   grep -E '\b(enable|start|restart|reload-or-restart|try-restart|preset|unmask)\b' >&2; then
  fail "a maintainer script enables or starts a unit (above)"
fi

# ---- 2. install into an empty root -----------------------------------------------------------------------------
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
dpkg_root() {
  dpkg --root="$root" --log="$tmp/dpkg.log" --force-script-chrootless --force-depends \
       --force-confdef --force-confold "$@" </dev/null
}
dpkg_root -i "$deb" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "dpkg -i into $root failed"; }
cat "$tmp/install.log"
status=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' signerd)
[ "$status" = "install ok installed" ] || fail "dpkg status is '$status'"
ok "installed into an empty root: $status"

# ---- 3. layout -------------------------------------------------------------------------------------------------
for bin in signerd signerctl; do
  [ -f "$root/usr/bin/$bin" ] && [ -x "$root/usr/bin/$bin" ] || fail "/usr/bin/$bin missing or not executable"
done
"$root/usr/bin/signerctl" --help >/dev/null || fail "signerctl --help failed"
out=$("$root/usr/bin/signerd" --config "$root/etc/signerd/signerd.toml" --check-config 2>&1) ||
  fail "the shipped config does not pass --check-config: $out"
[ "$out" = "configuration OK" ] || fail "signerd --check-config printed: $out"
ok "/usr/bin/signerd and /usr/bin/signerctl run; the shipped config passes --check-config"

config=$root/etc/signerd/signerd.toml
[ -f "$config" ] || fail "/etc/signerd/signerd.toml missing"
[ "$(stat -c '%a %u:%g' "$config")" = "644 0:0" ] || fail "/etc/signerd/signerd.toml is $(stat -c '%a %u:%g' "$config")"
cmp -s "$config" "$src/config/signerd.example.toml" || fail "/etc/signerd/signerd.toml is not config/signerd.example.toml"
dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Conffiles}\n' signerd | grep -q '^ /etc/signerd/signerd.toml [0-9a-f]\{32\}' ||
  fail "/etc/signerd/signerd.toml is not a registered conffile"
ok "/etc/signerd/signerd.toml: conffile, 0644 root:root"

for doc in README.md design.md operations.md signerd.example.toml; do
  [ -f "$root/usr/share/doc/signerd/$doc" ] || fail "/usr/share/doc/signerd/$doc missing"
done
ok "/usr/share/doc/signerd: README.md design.md operations.md signerd.example.toml"

# From systemd/ (written in parallel): check what its sources provide.
check_from_systemd() {  # <source under systemd/> <installed path>
  if [ ! -f "$src/systemd/$1" ]; then
    echo "skipped: systemd/$1 is not in the source tree (yet)"
    return 1
  fi
  [ -f "$root$2" ] || fail "$2 missing (systemd/$1 exists)"
  cmp -s "$root$2" "$src/systemd/$1" || fail "$2 differs from systemd/$1"
  ok "$2"
}
check_from_systemd signerd.service /usr/lib/systemd/system/signerd.service || true
check_from_systemd signerd.socket /usr/lib/systemd/system/signerd.socket || true
if check_from_systemd sysusers.d/signerd.conf /usr/lib/sysusers.d/signerd.conf; then
  grep -q '^signerd:' "$root/etc/passwd" || fail "postinst did not create the signerd user in $root/etc/passwd"
  grep -q '^signerd:' "$root/etc/group" || fail "postinst did not create the signerd group in $root/etc/group"
  grep -Eq '^signerd-clients:[^:]*:[0-9]+:(.*,)?signerd(,|$)' "$root/etc/group" ||
    fail "postinst did not create the group signerd-clients with member signerd: $(grep '^signerd' "$root/etc/group")"
  ok "postinst created the signerd user and group, and signerd-clients with signerd in it (systemd-sysusers --root)"
fi
if check_from_systemd tmpfiles.d/signerd.conf /usr/lib/tmpfiles.d/signerd.conf; then
  # Ids from the root's own passwd and group files: the host's names for them mean nothing here.
  uid=$(awk -F: '$1 == "signerd" { print $3 }' "$root/etc/passwd")
  gid=$(awk -F: '$1 == "signerd" { print $3 }' "$root/etc/group")
  [ -n "$uid" ] && [ -n "$gid" ] || fail "no signerd user or group in $root/etc (needed by tmpfiles.d/signerd.conf)"
  [ -d "$root/var/lib/signerd" ] || fail "postinst did not create /var/lib/signerd"
  [ "$(stat -c %u "$root/var/lib/signerd")" = "$uid" ] || fail "/var/lib/signerd is not owned by signerd ($uid)"
  ok "postinst created /var/lib/signerd (mode $(stat -c %a "$root/var/lib/signerd"), owner signerd) with systemd-tmpfiles --root"
  if grep -Eq '^d[[:space:]]+/etc/signerd[[:space:]]' "$src/systemd/tmpfiles.d/signerd.conf"; then
    [ "$(stat -c %g "$root/etc/signerd")" = "$gid" ] || fail "/etc/signerd is not group signerd ($gid)"
    ok "/etc/signerd is mode $(stat -c %a "$root/etc/signerd"), group signerd"
  fi
fi

# ---- 4. nothing enabled, nothing started ----------------------------------------------------------------------
if [ -d "$root/etc/systemd" ]; then
  enabled=$(find "$root/etc/systemd" -name 'signerd*' -print)
  [ -z "$enabled" ] || fail "postinst enabled units: $enabled"
fi
for wants in multi-user.target.wants sockets.target.wants; do
  [ ! -e "$root/etc/systemd/system/$wants/signerd.service" ] && [ ! -e "$root/etc/systemd/system/$wants/signerd.socket" ] ||
    fail "a signerd unit is enabled in $wants"
done
[ ! -S "$root/run/signerd/signerd.sock" ] || fail "a socket was created at /run/signerd/signerd.sock"
ok "nothing enabled under /etc/systemd, no socket in /run/signerd"

# ---- 5. reinstall keeps a local conffile edit; purge keeps /var/lib/signerd ------------------------------------
echo "# edited by the operator" >>"$config"
dpkg_root -i "$deb" >"$tmp/reinstall.log" 2>&1 || { cat "$tmp/reinstall.log" >&2; fail "reinstall failed"; }
tail -n 1 "$config" | grep -q 'edited by the operator' || fail "reinstalling replaced the edited conffile"
ok "reinstall kept the operator's edit of /etc/signerd/signerd.toml"

mkdir -p "$root/var/lib/signerd"
echo "stand-in database" >"$root/var/lib/signerd/signerd.db"
dpkg_root --purge signerd >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log" >&2; fail "dpkg --purge failed"; }
cat "$tmp/purge.log"
[ ! -e "$root/usr/bin/signerd" ] || fail "purge left /usr/bin/signerd"
[ ! -e "$config" ] || fail "purge left /etc/signerd/signerd.toml"
[ -f "$root/var/lib/signerd/signerd.db" ] || fail "purge deleted /var/lib/signerd/signerd.db"
status=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' signerd 2>/dev/null || true)
[[ -z "$status" || "$status" == *not-installed* ]] || fail "after purge dpkg status is '$status'"
ok "purge removed the package and its conffile, kept /var/lib/signerd"
echo "PASS"

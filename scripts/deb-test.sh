#!/usr/bin/env bash
# `make deb-test`: the Debian packages as an installer meets them. Builds them (amd64, arm64, and a
# newer 2.5.0+test1), installs them with `apt-get install ./...deb` into a fresh Debian 12 root
# (debootstrap, cached outside the repository), starts Debian's own Mosquitto there with the
# installed drop-in, checks the installed configuration, runs the gateway (as its own user) against
# a simulated site from the installed tools and sees retained pack state with password logins on,
# upgrades and finds an edited configuration kept, and runs the arm64 gateway under qemu-aarch64.
#
#   scripts/deb-test.sh [--if-possible]
#
# --if-possible (make test): skip, saying why, when not root or a tool is missing. The root lives
# in $ALFA_DEB_CACHE (default /var/cache/alfaspark-deb-test as root, else
# ${XDG_CACHE_HOME:-~/.cache}/alfaspark-deb-test); every run works on an overlay of it inside
# private mount, network and PID namespaces, so mounts and processes vanish on every exit path.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

# ---- inside the namespaces (the script calls itself): everything that touches the root
if [ "${1:-}" = --inside ]; then
  shift
  work=$1 base=$2 version=$3 newer=$4
  root=$work/root
  say() { echo "deb-test: $*"; }
  fail() { echo "deb-test: FAILED: $*" >&2; exit 1; }
  in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
  # PID 1 of this namespace: when it exits the kernel ends every process started here, and the
  # mount namespace with its overlay goes with the last of them.
  mkdir -p "$work/upper" "$work/ovwork" "$root"
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/ovwork" "$root"
  mount -t proc proc "$root/proc"
  mount --bind /dev "$root/dev"
  mount --bind /dev/pts "$root/dev/pts"
  mount -t tmpfs tmpfs "$root/run"
  mount -t tmpfs tmpfs "$root/tmp"
  ip link set lo up
  # what the Debian installer writes and debootstrap does not: "localhost" must resolve
  [ -s "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  printf '#!/bin/sh\n# deb-test: nothing starts while packages are installed\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  mkdir -p "$root/tmp/debs"
  cp "$work"/deb/*.deb "$root/tmp/debs/"

  say "install: apt-get install ./alfaspark-{gateway,pack,tools}_${version}_amd64.deb"
  in_root apt-get install -y -q --no-install-recommends \
    "/tmp/debs/alfaspark-gateway_${version}_amd64.deb" "/tmp/debs/alfaspark-pack_${version}_amd64.deb" \
    "/tmp/debs/alfaspark-tools_${version}_amd64.deb" >"$work/install.log" 2>&1 || { tail -20 "$work/install.log"; fail "install"; }
  in_root getent passwd alfaspark >/dev/null || fail "no user alfaspark"
  groups=$(in_root id -nG alfaspark)
  grep -qw dialout <<<"$groups" || fail "alfaspark is not in group dialout"
  [ "$(in_root stat -c '%U:%G %a' /etc/alfaspark/mqtt-password)" = "root:alfaspark 640" ] || fail "mqtt-password owner/mode"
  [ "$(in_root stat -c '%U:%G %a' /var/lib/alfaspark)" = "alfaspark:alfaspark 750" ] || fail "/var/lib/alfaspark owner/mode"
  grep -q '^alfaspark-gateway:' "$root/etc/mosquitto/alfaspark.passwd" || fail "no gateway user in the broker's password file"
  conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' alfaspark-gateway alfaspark-pack)
  for f in /etc/alfaspark/gateway.ini /etc/mosquitto/conf.d/alfaspark.conf /etc/mosquitto/alfaspark.acl /etc/alfaspark/pack.ini; do
    grep -q " $f " <<<"$conffiles" || fail "$f is not a conffile"
  done
  for u in alfaspark-gateway alfaspark-pack; do
    [ -L "$root/etc/systemd/system/multi-user.target.wants/$u.service" ] || fail "$u.service is not enabled"
  done
  grep -q '^Documentation=.*file:///usr/share/doc/alfaspark-gateway/guide.md' "$root/lib/systemd/system/alfaspark-gateway.service" ||
    fail "the unit's Documentation= does not name the installed guide"
  [ -s "$root/usr/share/doc/alfaspark-gateway/guide.md" ] || fail "the guide is not installed"
  say "installed: user alfaspark (dialout), generated broker login, conffiles, units enabled, guide in place"

  # Not configured yet: the units' start condition holds them back.
  if in_root alfaspark-gateway --config /etc/alfaspark/gateway.ini --is-configured >/dev/null; then fail "gateway counts as configured"; fi
  if in_root alfaspark-pack --config /etc/alfaspark/pack.ini --is-configured >/dev/null; then fail "pack counts as configured"; fi

  say "Mosquitto: Debian's mosquitto.conf + the installed drop-in"
  stock=$(in_root dpkg-query -W -f='${Conffiles}\n' mosquitto)
  stock=$(echo "$stock" | awk '$1 == "/etc/mosquitto/mosquitto.conf" {print $2}')
  [ "$(md5sum <"$root/etc/mosquitto/mosquitto.conf" | cut -d' ' -f1)" = "$stock" ] || fail "mosquitto.conf is not Debian's stock file"
  in_root install -d -o mosquitto -g mosquitto /run/mosquitto  # what Debian's unit does before starting it
  in_root mosquitto -c /etc/mosquitto/mosquitto.conf -d >"$work/mosquitto.out" 2>&1
  gwpw=$(cat "$root/etc/alfaspark/mqtt-password")
  for _ in $(seq 50); do
    in_root mosquitto_pub -h 127.0.0.1 -u alfaspark-gateway -P "$gwpw" -t alfaspark/probe -n 2>/dev/null && break
    sleep 0.1
  done
  in_root mosquitto_pub -h 127.0.0.1 -u alfaspark-gateway -P "$gwpw" -t alfaspark/probe -n ||
    { tail "$root/var/log/mosquitto/mosquitto.log"; fail "the broker does not accept the gateway's login"; }
  if in_root mosquitto_pub -h 127.0.0.1 -t alfaspark/probe -n 2>/dev/null; then fail "anonymous clients are accepted"; fi
  (exec 3<>/dev/tcp/127.0.0.1/9001) 2>/dev/null || fail "no WebSocket/HTTP listener on 9001"
  [ -e "$root/usr/share/alfaspark/app/index.html" ] || fail "the app is not in alfaspark-gateway"
  status=$(exec 3<>/dev/tcp/127.0.0.1/9001; printf 'GET /index.html HTTP/1.0\r\n\r\n' >&3; head -1 <&3)
  grep -q ' 200 ' <<<"$status" || fail "the app is not served on 9001: $status"
  say "broker up: 1883 with logins (anonymous refused), 9001 WebSocket + the app's files"

  say "alfaspark-gateway --check-config on the installed file"
  if in_root alfaspark-gateway --check-config >"$work/check1.out" 2>&1; then fail "the blank configuration passed"; fi
  cat "$work/check1.out"
  grep -q '^gateway.site: not set' "$work/check1.out" || fail "no 'site not set'"
  grep -q '^gateway.can: /dev/ttyACM0 does not exist' "$work/check1.out" || fail "no reason for the missing CAN adapter"
  if grep -q '^mqtt:' "$work/check1.out"; then fail "the broker login was refused"; fi
  if in_root alfaspark-pack --check-config --config /etc/alfaspark/pack.ini >"$work/check2.out" 2>&1; then fail "pack.ini passed"; fi
  grep -q 'sample value' "$work/check2.out" || fail "the pack's sample serial is not reported"

  say "a simulated site (alfaspark-sim from alfaspark-tools) and the gateway as user alfaspark"
  sed -i 's/^site =$/site = debtest/' "$root/etc/alfaspark/gateway.ini"
  in_root alfaspark-gateway --is-configured >/dev/null || fail "site set, but not configured"
  in_root mosquitto_passwd -b /etc/mosquitto/alfaspark.passwd debtest app-secret
  kill -HUP "$(cat "$root/run/mosquitto/mosquitto.pid")"
  in_root alfaspark-sim --packs 2 --can-pty --realtime 10 --duration 1d --quiet >"$work/sim.out" 2>&1 &
  sim=$!
  for _ in $(seq 100); do pty=$(grep -o '/dev/pts/[0-9]*' "$work/sim.out" | head -1 || true); [ -n "$pty" ] && break; sleep 0.1; done
  [ -n "${pty:-}" ] || fail "the simulator printed no pty"
  chgrp dialout "$pty" && chmod 660 "$pty" # as udev gives a USB serial adapter
  in_root runuser -u alfaspark -- alfaspark-gateway --check-config --set "gateway.can=slcan:$pty" >"$work/check3.out" 2>&1 ||
    { cat "$work/check3.out"; fail "the configured gateway does not pass --check-config as its own user"; }
  cat "$work/check3.out"
  in_root runuser -u alfaspark -- alfaspark-gateway --set "gateway.can=slcan:$pty" >"$work/gateway.log" 2>&1 &
  gw=$!
  if ! in_root mosquitto_sub -h 127.0.0.1 -u debtest -P app-secret -t 'alfaspark/debtest/pack/+/state' -C 1 -W 40 -v \
      >"$work/state.out"; then
    tail "$work/gateway.log"
    fail "no pack state within 40 s"
  fi
  cut -c1-160 "$work/state.out"
  grep -q '"soc_pct":' "$work/state.out" || fail "the state has no soc_pct"
  n=0
  for _ in $(seq 100); do
    in_root alfasparkctl --site debtest --user debtest --password app-secret status --json >"$work/status.json" 2>/dev/null || true
    n=$(grep -c '"status":"online","state":{' "$work/status.json" || true)
    [ "$n" -ge 2 ] && break
    sleep 0.3
  done
  in_root alfasparkctl --site debtest --user debtest --password app-secret status || fail "alfasparkctl status"
  [ "$n" -ge 2 ] || fail "fewer than 2 packs online with retained state"
  # retained: a late subscriber gets the state at once (the app's login; anonymous gets nothing)
  in_root mosquitto_sub -h 127.0.0.1 -u debtest -P app-secret -t 'alfaspark/debtest/pack/+/state' --retained-only -C 1 -W 5 \
    >/dev/null || fail "no retained pack state"
  if in_root mosquitto_sub -h 127.0.0.1 -t 'alfaspark/#' -C 1 -W 3 >/dev/null 2>&1; then fail "anonymous read"; fi
  in_root alfasparkctl --site debtest --user debtest --password app-secret set-mode eco on || fail "set-mode through the app's login"
  say "retained pack state with password logins, and commands answered"

  say "upgrade to $newer with an edited configuration"
  kill "$gw" "$sim" 2>/dev/null || true
  wait "$gw" "$sim" 2>/dev/null || true
  sum_pw=$(md5sum <"$root/etc/alfaspark/mqtt-password")
  in_root apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "/tmp/debs/alfaspark-gateway_${newer}_amd64.deb" "/tmp/debs/alfaspark-pack_${newer}_amd64.deb" \
    "/tmp/debs/alfaspark-tools_${newer}_amd64.deb" >"$work/upgrade.log" 2>&1 || { tail -20 "$work/upgrade.log"; fail "upgrade"; }
  [ "$(in_root dpkg-query -W -f='${Version}' alfaspark-gateway)" = "$newer" ] || fail "not upgraded"
  grep -q '^site = debtest$' "$root/etc/alfaspark/gateway.ini" || fail "the edited gateway.ini was replaced"
  grep -q 'deb-test upgrade' "$root/etc/alfaspark/gateway.ini.dpkg-dist" || fail "the new version's gateway.ini is not beside it"
  [ "$(md5sum <"$root/etc/alfaspark/mqtt-password")" = "$sum_pw" ] || fail "the broker password was regenerated"
  grep -q '^debtest:' "$root/etc/mosquitto/alfaspark.passwd" || fail "the app's login was lost"
  in_root alfaspark-gateway --version
  say "upgraded: gateway.ini kept (site = debtest), the new one as gateway.ini.dpkg-dist, logins kept"
  exit 0
fi

# ---- outside: tools, packages, the cached root
if_possible=0
[ "${1:-}" = --if-possible ] && if_possible=1
skip() {
  if [ "$if_possible" -eq 1 ]; then echo "== deb-test: skipped: $* =="; exit 0; fi
  echo "deb-test: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, namespaces): sudo make deb-test"
for t in debootstrap dpkg-buildpackage dh lintian qemu-aarch64-static aarch64-linux-gnu-gcc unshare chroot flock ip; do
  command -v "$t" >/dev/null || skip "$t is missing (scripts/deb-deps.sh installs it)"
done
dpkg --print-foreign-architectures | grep -qx arm64 || skip "the arm64 architecture is not added (scripts/deb-deps.sh)"

t_start=$(date +%s)
phase() { echo "== deb-test: $* ($(( $(date +%s) - t_start )) s) =="; }
version=$(sed -n 's/^project(alfaspark VERSION \([0-9][0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
newer=$version+test1
cache=${ALFA_DEB_CACHE:-/var/cache/alfaspark-deb-test}
mkdir -p "$cache"
work=$(mktemp -d /tmp/alfaspark-deb-test.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
exec 9>"$cache/.lock"
flock 9 # one run at a time per cache

export ALFA_DEB_OPTIONS=noddebs # the test installs no debug symbols: no need to build them
phase "packages $version (amd64, arm64) with lintian"
"$here/scripts/deb.sh" --arch amd64 --arch arm64 --out "$work/deb" --lintian
phase "packages $newer (amd64), whose gateway.ini changed"
mkdir -p "$work/src"
tar -C "$here" --exclude=./.git --exclude=./build --exclude='./build-*' --exclude=node_modules -cf - . | tar -C "$work/src" -xf -
printf '\n; deb-test upgrade: the maintainer changed this file in %s\n' "$newer" >>"$work/src/deploy/gateway.ini.example"
"$here/scripts/deb.sh" --src "$work/src" --version "$newer" --arch amd64 --out "$work/deb"
rm -rf "$work/src"

# The Debian 12 root: debootstrap once, from the mirror this machine's apt uses.
base=$cache/bookworm-amd64
if [ ! -e "$base/.alfaspark-complete" ]; then
  mirror=$(grep -h -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\) bookworm .*/\2/p' /etc/apt/sources.list \
    /etc/apt/sources.list.d/*.list 2>/dev/null | head -1 || true)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
  phase "debootstrap bookworm from $mirror into $base (cold cache)"
  rm -rf "$base"
  debootstrap --variant=minbase --include=mosquitto,mosquitto-clients,adduser,libinih1,libgpiod2,libmosquitto1 \
    bookworm "$base" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
  rm -rf "$base"/var/cache/apt/archives/*.deb
  touch "$base/.alfaspark-complete"
fi
# Runtime libraries the packages depend on that the root lacks (a new library linked since the
# root was made): into the cached root, once.
missing=$(for d in "$work"/deb/alfaspark-*_"$newer"_amd64.deb "$work"/deb/alfaspark-*_"$version"_amd64.deb; do
  case "$d" in *dbgsym*) continue ;; esac
  dpkg-deb -f "$d" Depends | tr ',' '\n' | sed 's/([^)]*)//g; s/|.*//; s/[[:space:]]//g'
done | sort -u | grep -v '^$' | while read -r p; do
  chroot "$base" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
done)
if [ -n "$missing" ]; then
  phase "adding to the cached root: $missing"
  cp /etc/resolv.conf "$base/etc/resolv.conf"
  unshare --mount --fork bash -c "mount -t proc proc '$base/proc' && printf '#!/bin/sh\nexit 101\n' >'$base/usr/sbin/policy-rc.d' &&
    chmod 755 '$base/usr/sbin/policy-rc.d' && chroot '$base' apt-get update -q && DEBIAN_FRONTEND=noninteractive chroot '$base' \
    apt-get install -y -q --no-install-recommends $missing && rm -f '$base/usr/sbin/policy-rc.d' '$base'/var/cache/apt/archives/*.deb" \
    >"$work/deps.log" 2>&1 || { tail -20 "$work/deps.log"; exit 1; }
fi

if command -v systemd-analyze >/dev/null; then
  phase "the units, checked by this machine's systemd (systemd-analyze verify)"
  mkdir -p "$work/amd64"
  for p in gateway pack; do
    dpkg-deb -x "$work/deb/alfaspark-${p}_${version}_amd64.deb" "$work/amd64"
    # the programs where this machine can execute them; everything else as installed
    sed "s|/usr/bin/|$work/amd64/usr/bin/|g" "$work/amd64/lib/systemd/system/alfaspark-$p.service" >"$work/alfaspark-$p.service"
    systemd-analyze verify --man=no "$work/alfaspark-$p.service"
  done
fi

phase "install, broker, check, simulated site, upgrade (overlay root, private namespaces)"
unshare --mount --net --pid --fork --kill-child -- bash "$0" --inside "$work" "$base" "$version" "$newer"

phase "arm64 gateway under qemu-aarch64-static"
mkdir -p "$work/arm64"
dpkg-deb -x "$work/deb/alfaspark-gateway_${version}_arm64.deb" "$work/arm64"
file -b "$work/arm64/usr/bin/alfaspark-gateway" | grep -q aarch64 || { echo "deb-test: the arm64 gateway is not aarch64" >&2; exit 1; }
qemu-aarch64-static "$work/arm64/usr/bin/alfaspark-gateway" --version | grep -qx "alfaspark-gateway $version" ||
  { echo "deb-test: arm64 --version" >&2; exit 1; }
qemu-aarch64-static "$work/arm64/usr/bin/alfaspark-gateway" --config "$work/arm64/etc/alfaspark/gateway.ini" --check-config --syntax-only
printf '[gateway]\nsite = x\n[mqtt]\nport = many\n' >"$work/bad.ini"
if qemu-aarch64-static "$work/arm64/usr/bin/alfaspark-gateway" --config "$work/bad.ini" --check-config --syntax-only 2>"$work/arm.err"; then
  echo "deb-test: the arm64 gateway accepted a bad file" >&2
  exit 1
fi
grep -q 'mqtt.port' "$work/arm.err" || { echo "deb-test: the arm64 gateway did not name mqtt.port" >&2; exit 1; }
phase "all passed in $(( $(date +%s) - t_start )) s"

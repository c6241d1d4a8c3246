#!/usr/bin/env bash
# Installs, through apt, what `make deb` and `make deb-test` need: Debian's packaging tools, and
# the arm64 cross toolchain with the multiarch :arm64 -dev packages of every library we link.
set -euo pipefail
native=(
  debhelper dpkg-dev fakeroot lintian debootstrap qemu-user-static
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  iproute2 file
)
# Every library the packaged programs link, for the arm64 cross build (dpkg-buildpackage -a arm64
# checks these against Build-Depends in deploy/debian/control). libsqlite3 (gateway history) and
# libssl (alfaspark-sign) are here before their programs link them, so adding them is one line.
cross=(
  libc6-dev:arm64 pkgconf:arm64 pkg-config:arm64
  libmosquitto-dev:arm64 libinih-dev:arm64 libsystemd-dev:arm64 libgpiod-dev:arm64
  libsqlite3-dev:arm64 libssl-dev:arm64
)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
added=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "deb-deps: adding the arm64 architecture (multiarch) for the cross build"
  $sudo dpkg --add-architecture arm64
  added=1
fi
missing=()
for p in "${native[@]}" "${cross[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deb-deps: installing ${missing[*]}"
if [ "$added" -eq 1 ] || ! apt-cache policy libmosquitto-dev:arm64 2>/dev/null | grep -q Candidate; then
  $sudo apt-get update -qq
fi
# Multi-Arch: same libraries must have one version on both architectures: apt upgrades the
# amd64 copy when the archive's arm64 one is newer.
$sudo apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Installs, through apt, the Debian 12 packages the build, tests, demo and benchmarks need.
set -euo pipefail
pkgs=(
  build-essential cmake clang libclang-rt-14-dev libcmocka-dev pkg-config
  gcc-riscv64-unknown-elf binutils-riscv64-unknown-elf
  cppcheck gcovr lcov valgrind
  mosquitto mosquitto-clients libmosquitto-dev
  libmodbus-dev mbpoll python3-pymodbus
  libinih-dev libsystemd-dev libgpiod-dev
  socat python3 openssl
  libsqlite3-dev chromium
)
# The app (app/): Node.js and npm, Debian's unless a node and an npm are already installed
# (NodeSource's nodejs carries its own npm and conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
# one dpkg-query for all (one per package cost ~0.3 s on every make)
installed=" $(dpkg-query -W -f='${Package} ${Status}\n' "${pkgs[@]}" 2>/dev/null | awk '/ install ok installed$/ {printf "%s ", $1}') "
missing=()
for p in "${pkgs[@]}"; do
  [[ "$installed" == *" $p "* ]] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

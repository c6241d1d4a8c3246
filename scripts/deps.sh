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
  socat python3 openssl libssl-dev libmbedtls-dev
  qemu-system-misc binutils-xtensa-lx106
  libsqlite3-dev chromium
)
"$(dirname "$0")/deb-deps.sh" # packaging tools and the arm64 cross libraries (make deb, make deb-test)
# The Xtensa leg of `make isa-check` needs LLVM 22 (Debian bookworm-security): installed when apt
# offers it, otherwise that leg reports itself skipped.
optional=(clang-22 llvm-22)
# The app (app/): Node.js and npm, Debian's unless a node and an npm are already installed
# (NodeSource's nodejs carries its own npm and conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
# one dpkg-query for all (one per package cost ~0.3 s on every make)
installed=" $(dpkg-query -W -f='${Package} ${Status}\n' "${pkgs[@]}" 2>/dev/null | awk '/ install ok installed$/ {printf "%s ", $1}') "
missing=()
for p in "${pkgs[@]}"; do
  [[ "$installed" == *" $p "* ]] || missing+=("$p")
done
for p in "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
  apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]' && missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

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
  socat python3 openssl libssl-dev
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Freestanding proof: builds the firmware core and protocol library for the ESP32-C3 ISA
# (rv32imc, -Os, -ffreestanding -nostdlib), links them with nothing but libgcc and four mem*
# routines, checks they hold no mutable global state, and prints their size.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/rv32
rm -rf "$out"; mkdir -p "$out"
CC=riscv64-unknown-elf-gcc
flags=(-std=c11 -march=rv32imc -mabi=ilp32 -Os -ffreestanding -nostdlib -ffunction-sections
       -fdata-sections -Wall -Wextra -Wconversion -Wshadow -Werror
       -Icore/include -Iprotocol/include)
objs=()
for src in protocol/src/*.c core/src/*.c; do
  [ -e "$src" ] || continue
  o="$out/$(basename "${src%.c}").o"
  $CC "${flags[@]}" -c "$src" -o "$o"
  objs+=("$o")
done
# Mutable globals (data/bss symbols) in the core are forbidden: one context struct per pack.
globals=$(riscv64-unknown-elf-nm "${objs[@]}" 2>/dev/null | awk '$2 ~ /^[bBdDsSgG]$/ {print $3}' || true)
if [ -n "$globals" ]; then
  echo "size: mutable global state in the core: $globals" >&2; exit 1
fi
$CC "${flags[@]}" -c scripts/size_probe.c -o "$out/size_probe.o"
# The link proves the core calls nothing outside itself but memcpy/memset/memmove/memcmp and libgcc.
$CC "${flags[@]}" -Wl,--gc-sections -Wl,-e,alfa_size_entry -Wl,--no-undefined -Wl,--no-warn-rwx-segments \
  "$out/size_probe.o" "${objs[@]}" -lgcc -o "$out/core.elf"
read -r text data bss _ < <(riscv64-unknown-elf-size "${objs[@]}" -t | tail -1)
ctx_hex=$(riscv64-unknown-elf-nm -S "$out/size_probe.o" | awk '$4=="alfa_size_ctx_bytes" {print $2}')
ctx=$((16#$ctx_hex))
pack_hex=$(riscv64-unknown-elf-nm -S "$out/size_probe.o" | awk '$4=="alfa_size_pack_bytes" {print $2}')
pack=$((16#$pack_hex))
read -r ltext _ < <(riscv64-unknown-elf-size "$out/core.elf" | tail -1)
echo "core text=$text data=$data bss=$bss ctx=$ctx"
echo "pack ctx=$pack linked_text=$ltext"
# The ESP32 port: its logic on rv32imc and the pack's RAM on the board (pack + port state + task stack, < 16 KiB).
scripts/size_esp32.sh

#!/usr/bin/env bash
# The ESP32 port on the ESP32-C3 ISA (rv32imc, -Os): the host-compiled port logic's size, and the pack's RAM on
# the board = pack context + port state + the pack task's stack high-water estimate (gcc -fcallgraph-info=su),
# which must stay under 16 KiB. Called by scripts/size.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/rv32-esp32
rm -rf "$out"; mkdir -p "$out"
CC=riscv64-unknown-elf-gcc
budget=16384
# ESP-IDF's part of a callback (a driver call: uart_write_bytes, twai_node_transmit, esp_partition_write,
# gpio_set_level) and the task's saved context when an interrupt arrives, per the ESP-IDF docs' sizing of
# task stacks: an allowance, not a measurement (those are ESP-IDF's, not compiled here).
idf_allowance=1024
# The signature check (port/esp32/idf/fw_verify_idf.c: mbedtls_ecdsa_verify) is ESP-IDF code too, but deeper
# than a driver call: what `make idf-check` measures from mbedTLS's sources ("fw_verify stack", esp32c3 -Os),
# charged at the core's one call of fw_verify (check_manifest) on top of the allowance.
fw_verify_stack=1440
flags=(-std=c11 -march=rv32imc -mabi=ilp32 -Os -ffreestanding -nostdlib -ffunction-sections -fdata-sections
       -Wall -Wextra -Wconversion -Wshadow -Werror -fcallgraph-info=su
       -Icore/include -Iprotocol/include -Iport/esp32/include)
mapfile -t fw < <(find core/src protocol/src -name '*.c' | LC_ALL=C sort)
logic=(port/esp32/logic/*.c)
lobjs=()
for s in "${fw[@]}" "${logic[@]}"; do
  o="$out/$(echo "$s" | tr '/' '_' | sed 's/\.c$//').o"
  (cd "$out" && $CC "${flags[@]/#-I/-I$OLDPWD/}" -c "$OLDPWD/$s" -o "$(basename "$o")")
  case "$s" in port/*) lobjs+=("$o");; esac
done
cat >"$out/probe.c" <<'PROBE'
/* sizeof of the pack context and of the ESP32 port's state, as symbol sizes. */
#include <stdint.h>
#include "alfa/pack.h"
#include "alfa/esp32/esp32_port.h"
const uint8_t alfa_size_pack[sizeof(alfa_pack_t)] = {0};
const uint8_t alfa_size_port[sizeof(alfa_esp32_t)] = {0};
PROBE
$CC "${flags[@]}" -c "$out/probe.c" -o "$out/probe.o"
symsize() { echo $((16#$(riscv64-unknown-elf-nm -S "$out/probe.o" | awk -v s="$1" '$4==s {print $2}'))); }
pack=$(symsize alfa_size_pack)
port=$(symsize alfa_size_port)
read -r text data bss _ < <(riscv64-unknown-elf-size -t "${lobjs[@]}" | tail -1)
# Deepest stack from the pack task's entry points through the static call graph; an indirect call (a port
# callback) costs the deepest port-logic function plus the ESP-IDF allowance.
stack=$(python3 - "$out" "$idf_allowance" "$fw_verify_stack" <<'PY'
import sys
sys.path.insert(0, "scripts")
from callgraph import Graph
g, allowance, fw_verify = Graph(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
# A port callback: its ESP-IDF file's frame and driver call (the allowance) over the deepest port-logic
# function, whose own indirect calls (the partition operations) are ESP-IDF calls too.
g.cost["__indirect_call"] = allowance
port = max(g.deep(f) for f in list(g.cost) if f.startswith("alfa_esp32_"))
g.reset()
g.cost["__indirect_call"] = port + allowance
# The path to the signature check: the costliest chain from the pack task's entry to check_manifest.
site = [f for f in g.cost if f.endswith(":check_manifest")]
if len(site) != 1:
    raise SystemExit("size_esp32.sh: check_manifest (the core's fw_verify call) not found: update the script")
fw_path = g.upto("alfa_pack_process", site[0]) + fw_verify + allowance
print(max(g.deep("alfa_pack_init"), g.deep("alfa_pack_process"), fw_path))
PY
)
total=$((pack + port + stack))
echo "esp32-port logic text=$text data=$data bss=$bss state=$port"
echo "esp32 board ram pack=$pack port=$port stack=$stack total=$total (budget $budget)"
[ "$total" -lt "$budget" ] || { echo "size: the pack's RAM on the board is over $budget bytes" >&2; exit 1; }

#!/usr/bin/env bash
# Core benchmark: instructions (callgrind) of one full 2-s control cycle of one pack, incl. RMS of four 200-ms CT blocks at 4 kHz.
set -euo pipefail
bin="${ALFA_BIN_DIR:-build/bin}/alfaspark-bench-core"
cycles=20
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Instructions are collected only inside alfa_bench_one_cycle (the warm-up cycles, which
# generate and cache the synthetic CT blocks, run outside it); the program checks that every
# measured call was a complete cycle (one watchdog feed each).
valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" \
  --toggle-collect=alfa_bench_one_cycle "$bin" "$cycles" >"$out/stdout" 2>"$out/stderr"
collected=$(sed -n 's/^==[0-9]*== Collected : \([0-9]*\).*/\1/p' "$out/stderr" | head -1)
if [ -z "$collected" ]; then
  cat "$out/stderr" >&2
  exit 1
fi
echo "bench core_cycle_instructions $((collected / cycles)) instr"

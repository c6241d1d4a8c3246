#!/usr/bin/env bash
# Site simulator speed: a simulated 24 h day (bench/sim/day.scn) run as fast as possible with
# 1, 2, 4, 8, 16 and 32 packs; prints the seconds per simulated day and the 8-pack speed-up.
# Seconds are the simulator's CPU time (set-up excluded): on an idle machine that is its wall
# time; on a shared one (CI, two cores for several jobs) wall time measures the neighbours.
set -euo pipefail
bin="${ALFA_BIN_DIR:-build/bin}/alfaspark-sim"
src="${ALFA_SOURCE_DIR:-.}"
if [ ! -x "$bin" ]; then
  echo "bench 60-sim: $bin not built" >&2
  exit 1
fi
speed8=""
for n in 1 2 4 8 16 32; do
  line=$("$bin" --quiet --packs "$n" --scenario "$src/bench/sim/day.scn" | tail -1)
  simd=$(sed -n 's/.*; \([0-9.]*\) s simulated in .*/\1/p' <<<"$line")
  cpu=$(sed -n 's/.* wall ([0-9]*x), \([0-9.]*\) s CPU .*/\1/p' <<<"$line")
  if [ -z "$simd" ] || [ -z "$cpu" ]; then
    echo "bench 60-sim: unexpected output: $line" >&2
    exit 1
  fi
  echo "bench sim_day_seconds_$n $cpu s"
  if [ "$n" = 8 ]; then
    speed8=$(awk -v d="$simd" -v c="$cpu" 'BEGIN { printf "%.0f", d / c }')
  fi
done
echo "bench sim_speedup_8 $speed8 x"

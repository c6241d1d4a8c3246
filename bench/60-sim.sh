#!/usr/bin/env bash
# Site simulator speed: a simulated 24 h day (bench/sim/day.scn) run as fast as possible with
# 1, 2, 4, 8, 16 and 32 packs; prints the wall seconds per day and the 8-pack speed-up.
set -euo pipefail
bin="${ALFA_BIN_DIR:-build/bin}/alfaspark-sim"
src="${ALFA_SOURCE_DIR:-.}"
if [ ! -x "$bin" ]; then
  echo "bench 60-sim: $bin not built" >&2
  exit 1
fi
for n in 1 2 4 8 16 32; do
  # The simulator reports its own wall time for the simulated span (set-up excluded).
  line=$("$bin" --quiet --packs "$n" --scenario "$src/bench/sim/day.scn" | tail -1)
  secs=$(sed -n 's/.* simulated in \([0-9.]*\) s .*/\1/p' <<<"$line")
  simd=$(sed -n 's/.*; \([0-9.]*\) s simulated in .*/\1/p' <<<"$line")
  if [ -z "$secs" ] || [ -z "$simd" ]; then
    echo "bench 60-sim: unexpected output: $line" >&2
    exit 1
  fi
  echo "bench sim_day_seconds_$n $secs s"
  if [ "$n" = 8 ]; then
    speed8=$(awk -v d="$simd" -v w="$secs" 'BEGIN { printf "%.0f", d / w }')
  fi
done
echo "bench sim_speedup_8 $speed8 x"

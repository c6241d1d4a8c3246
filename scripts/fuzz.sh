#!/usr/bin/env bash
# Long libFuzzer campaign: every fuzz target in build/san/bin, FUZZ_RUNS executions each (1,000,000 default).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${FUZZ_RUNS:-1000000}
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for f in build/san/bin/fuzz-*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  log=build/san/$name.log
  if "$f" -runs="$runs" -seed=1 -print_final_stats=1 >"$log" 2>&1; then
    execs=$(grep -E 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz $name executions=${execs:-?} crashes=0"
  else
    echo "fuzz $name FAILED (see $log)"; tail -30 "$log"; status=1
  fi
done
exit $status

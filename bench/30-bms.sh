#!/usr/bin/env bash
# BMS link benchmarks: one full poll's time on a real pty against alfaspark-bms-sim at 9600 8N1 as a
# ratio to the wire-time limit, and the firmware's instructions per poll (callgrind).
set -euo pipefail
bin=${ALFA_BIN_DIR:-build/bin}
tmp=$(mktemp -d)
sim_pid=""
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# --- bms_poll_wire_ratio ----------------------------------------------------------------------
turnaround_us=2000
"$bin/alfaspark-bms-sim" --pty --baud 9600 --turnaround-us "$turnaround_us" >"$tmp/sim.out" 2>"$tmp/sim.err" &
sim_pid=$!
for _ in $(seq 50); do [ -s "$tmp/sim.out" ] && break; sleep 0.1; done
pty=$(head -1 "$tmp/sim.out")
# 21 polls, 150 ms apart; the probe measures each from its request to the decoded result.
"$bin/alfaspark-bms-probe" --device "$pty" --count 21 --period-ms 150 >"$tmp/polls.json"
kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true; sim_pid=""
# Wire-time limit at 9600 8N1 (10 bits/char): request 8 + response 5+2x8 = 29 characters, two
# t3.5 silences (7 characters), and the simulator's turnaround.
python3 - "$tmp/polls.json" "$turnaround_us" <<'PY'
import json, statistics, sys
polls = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
bad = [p for p in polls if not p.get("ok")]
if bad:
    sys.exit("bench 30-bms: failed polls: %s" % bad[:2])
ms = statistics.median(p["poll_ms"] for p in polls)
char_ms = 10 * 1000.0 / 9600
limit_ms = (8 + 21) * char_ms + 2 * 3.5 * char_ms + int(sys.argv[2]) / 1000.0
print("bench bms_poll_wire_ratio %.3f x" % (ms / limit_ms))
print("# median poll %.2f ms" % ms, file=sys.stderr)
print("# wire-time limit %.2f ms" % limit_ms, file=sys.stderr)
PY

# --- bms_poll_instructions --------------------------------------------------------------------
polls=100
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" --toggle-collect=alfa_bms_process \
  "$bin/alfaspark-bench-bms" "$polls" >/dev/null 2>"$tmp/cg.err"
total=$(awk '/^(summary|totals):/ {print $2; exit}' "$tmp/cg.out")
echo "bench bms_poll_instructions $((total / polls)) instr"

#!/usr/bin/env bash
# End to end: the real alfaspark-gateway joins the simulated site through alfaspark-sim's SLCAN
# pty; a command sent with alfasparkctl over a real Mosquitto reaches every simulated pack, and
# the packs keep the simulated time (not the gateway's wall clock).
set -euo pipefail
[ -n "${ALFA_TEST_DEBUG:-}" ] && set -x
bin="${ALFA_BIN_DIR:?}"
for p in alfaspark-sim alfaspark-gateway alfasparkctl; do
  [ -x "$bin/$p" ] || { echo "skip: $p not built"; exit 77; }
done
command -v mosquitto >/dev/null || { echo "skip: mosquitto not installed"; exit 77; }
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${ALFA_TEST_DEBUG:-}" ] && tail -n 5 "$dir"/*.log; rm -rf "$dir"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$dir/m.conf"
mosquitto -c "$dir/m.conf" > "$dir/mosq.log" 2>&1 & pids+=($!)
cat > "$dir/site.scn" <<'SCN'
packs 3
timezone +01:00
start 2026-06-21 06:00
duration 3h
solar peak 5000 sunrise 05:30 sunset 21:30
SCN
"$bin/alfaspark-sim" --scenario "$dir/site.scn" --can-pty --realtime 20 --status-every 20 > "$dir/sim.log" 2>&1 & pids+=($!)
wait_for() { # wait_for SECONDS CMD...: poll until CMD succeeds
  local t=$(( $1 * 10 )); shift
  until "$@" >/dev/null 2>&1; do t=$((t - 1)); [ $t -gt 0 ] || return 1; sleep 0.1; done
}
wait_for 10 grep -q '^CAN pty: ' "$dir/sim.log"
pty=$(sed -n 's/^CAN pty: //p' "$dir/sim.log")
"$bin/alfaspark-gateway" --site simtest --can "slcan:$pty" --host 127.0.0.1 --port "$port" \
  --set time.require_sync=false > "$dir/gw.log" 2>&1 & pids+=($!)
# All three packs announced themselves to the gateway.
count_ge() { [ "$(grep -c "$2" "$3")" -ge "$1" ]; }
wait_for 30 count_ge 3 'appeared as node' "$dir/gw.log"
# ...and settled: a pack publishes its state only once its node ID is claimed (it answers
# commands from then on; while claiming it sends heartbeats alone).
packs_running() {
  [ "$("$bin/alfasparkctl" --host 127.0.0.1 --port "$port" --site simtest status --json | grep -c '"status":"online","state":{')" -ge 3 ]
}
wait_for 30 packs_running
out=$("$bin/alfasparkctl" --host 127.0.0.1 --port "$port" --site simtest set-mode eco on)
echo "$out"
[ "$(grep -c ' ok$' <<<"$out")" -eq 3 ]
# The packs run Eco now (the simulator's own view of every pack).
last_status_eco() { [ "$(tail -n 4 "$dir/sim.log" | grep -c 'mode eco')" -ge 3 ]; }
wait_for 20 last_status_eco
# Time stays simulated and valid: no pack ever reported "time not set" (fault bit 10), and the
# gateway's wall-clock time frames (sent at its start) were kept off the simulated bus.
! grep -q 'faults 0x4[0-9A-F][0-9A-F]' "$dir/sim.log"
kill -INT "${pids[1]}"
wait_for 10 grep -q 'pty bridge:' "$dir/sim.log"
grep 'pty bridge:' "$dir/sim.log"
grep -q 'pty bridge: [1-9][0-9]* frames to the bus, [1-9][0-9]* to the pty, [1-9][0-9]* wall-clock time frames' "$dir/sim.log"
echo "sim_pty_gateway: ok"

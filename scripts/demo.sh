#!/usr/bin/env bash
# `make demo`: a simulated 3-pack site at 60x real time, the real gateway attached over SLCAN, a
# private Mosquitto broker, and a live view of the site from MQTT. Ctrl-C (or DEMO_SECONDS=N) stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${ALFA_BIN_DIR:-$PWD/build/bin}"
site=demo
realtime=${DEMO_REALTIME:-60}
work=$(mktemp -d /tmp/alfaspark-demo.XXXXXX)
pids=()

cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# A free loopback port for the broker: ask the kernel for one.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
set_tcp_nodelay true
persistence false
log_dest file $work/mosquitto.log
CONF
/usr/sbin/mosquitto -c "$work/mosquitto.conf" &
pids+=($!)

# The simulated site: its first line of output is the SLCAN pseudo-terminal of its CAN bus.
"$bin/alfaspark-sim" --packs 3 --can-pty --realtime "$realtime" --duration 7d --quiet >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
for _ in $(seq 100); do
  pty=$(head -1 "$work/sim.out" 2>/dev/null | grep -o '/dev/pts/[0-9]*' || true)
  [ -n "$pty" ] && break
  sleep 0.1
done
if [ -z "${pty:-}" ]; then echo "demo: the simulator did not start:" >&2; cat "$work/sim.err" >&2; exit 1; fi

# Wait for the broker before the gateway connects (it would retry, but the log stays clean).
for _ in $(seq 50); do
  mosquitto_pub -h 127.0.0.1 -p "$port" -t alfaspark/demo/probe -n 2>/dev/null && break
  sleep 0.1
done

"$bin/alfaspark-gateway" --site "$site" --can "slcan:$pty" --host 127.0.0.1 --port "$port" \
  --set gateway.serial=0x0a1f00000001 --set homeassistant.enabled=true 2>"$work/gateway.log" &
pids+=($!)

cat <<TXT
Alfaspark demo: 3 simulated packs (a sunny day from 06:00, ${realtime}x real time), the real gateway
on the simulated CAN bus (SLCAN on $pty), and a private broker.

MQTT broker: mqtt://127.0.0.1:$port
  watch every topic:   mosquitto_sub -h 127.0.0.1 -p $port -t 'alfaspark/#' -v
  send a command:      $bin/alfasparkctl --port $port --site $site set-mode eco on
  one pack only:       $bin/alfasparkctl --port $port --site $site --pack <serial> set-relay-override pool open
Starting the live view...
TXT
sleep 2

# The live view: alfasparkctl reading the site's retained state from the broker, every second.
if [ -n "${DEMO_SECONDS:-}" ]; then
  timeout "$DEMO_SECONDS" "$bin/alfasparkctl" --port "$port" --site "$site" watch || true
else
  "$bin/alfasparkctl" --port "$port" --site "$site" watch || true
fi

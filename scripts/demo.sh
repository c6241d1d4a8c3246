#!/usr/bin/env bash
# `make demo`: a simulated 3-pack site at 60x real time (scripts/demo.scn), the real gateway attached over SLCAN,
# a private Mosquitto broker that also serves the app, and a live view of the site. Ctrl-C (or DEMO_SECONDS=N) stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${ALFA_BIN_DIR:-$PWD/build/bin}"
dist="${ALFA_APP_DIST:-$PWD/build/app/dist}"
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

# Free loopback ports for MQTT and for the WebSocket listener that also serves the app: ask the kernel.
read -r port wsport < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
# Started as root, mosquitto drops to user "mosquitto": it must be able to read the app's files
# (a copy in a world-readable folder), and it logs to stderr, which this shell opened for it.
chmod 755 "$work"
cp -r "$dist" "$work/app"
chmod -R a+rX "$work/app"
cat >"$work/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous true
set_tcp_nodelay true
persistence false
log_dest stderr
listener $port 127.0.0.1
listener $wsport 127.0.0.1
protocol websockets
http_dir $work/app
CONF
/usr/sbin/mosquitto -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
pids+=($!)

# The simulated site: its first line of output is the SLCAN pseudo-terminal of its CAN bus.
"$bin/alfaspark-sim" --scenario scripts/demo.scn --can-pty --realtime "$realtime" --quiet >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
for _ in $(seq 100); do
  pty=$(head -1 "$work/sim.out" 2>/dev/null | grep -o '/dev/pts/[0-9]*' || true)
  [ -n "$pty" ] && break
  sleep 0.05
done
if [ -z "${pty:-}" ]; then echo "demo: the simulator did not start:" >&2; cat "$work/sim.err" >&2; exit 1; fi

# Wait for the broker before the gateway connects (it would retry, but the log stays clean).
for _ in $(seq 100); do
  mosquitto_pub -h 127.0.0.1 -p "$port" -t alfaspark/demo/probe -n 2>/dev/null && break
  sleep 0.05
done

"$bin/alfaspark-gateway" --site "$site" --can "slcan:$pty" --host 127.0.0.1 --port "$port" \
  --set gateway.serial=0x0a1f00000001 --set homeassistant.enabled=true \
  --set history.path="$work/history.db" 2>"$work/gateway.log" &
pids+=($!)

cat <<TXT
Alfaspark demo: 3 simulated packs that differ (capacity, charge, PV, loads), Eco with a 2.5 kW limit and a
3 kWh daily grid-import limit (scripts/demo.scn), from 06:00 at ${realtime}x real time; the real gateway on the
simulated CAN bus (SLCAN on $pty), with its history; a private broker that serves the app.

App: http://127.0.0.1:$wsport/
  (open it in a browser on this machine; the clock in its header is the site's simulated time)
MQTT broker: mqtt://127.0.0.1:$port
  watch every topic:   mosquitto_sub -h 127.0.0.1 -p $port -t 'alfaspark/#' -v
  send a command:      $bin/alfasparkctl --port $port --site $site set-mode backup on
  one pack only:       $bin/alfasparkctl --port $port --site $site --pack <serial> set-relay-override pool open
TXT
# the first pack state on the broker: the gateway is up and the packs are talking
mosquitto_sub -h 127.0.0.1 -p "$port" -t "alfaspark/$site/pack/+/state" -C 1 -W 15 >/dev/null 2>&1 || {
  echo "demo: no pack state within 15 s; gateway log:" >&2; tail -5 "$work/gateway.log" >&2; }
echo "Live view (alfasparkctl watch):"

# The live view: alfasparkctl reading the site's retained state from the broker, every second.
if [ -n "${DEMO_SECONDS:-}" ]; then
  timeout "$DEMO_SECONDS" "$bin/alfasparkctl" --port "$port" --site "$site" watch || true
else
  "$bin/alfasparkctl" --port "$port" --site "$site" watch || true
fi

#!/usr/bin/env bash
# A complete Alfaspark site without hardware: the real pack controller (alfaspark-pack) reading a
# simulated BMS (alfaspark-bms-sim on a pseudo-terminal), its CAN side joined to the real gateway's
# by two pseudo-terminals that socat wires together (each program takes its pty for an SLCAN
# adapter), and a private Mosquitto broker. What an installer sees on a real site, on one computer.
#
#   scripts/nohw.sh [--check]
#
# It prints the broker and the alfasparkctl commands to try, then shows `alfasparkctl watch` until
# Ctrl-C (NOHW_SECONDS=N stops by itself). --check instead waits until every pack's state is on
# the broker and a command is answered, then stops (exit 0) or says what did not happen (exit 1).
# Programs: build/bin (make build) when built there, else the installed packages (PATH).
# Needs mosquitto and socat (scripts/deps.sh installs both). A pty pair joins two programs, so
# this is one pack; for a site of many packs the simulator has the bus: alfaspark-sim --can-pty.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "nohw: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
bin=${ALFA_BIN_DIR:-$here/build/bin}
[ -x "$bin/alfaspark-pack" ] || bin=$(dirname "$(command -v alfaspark-pack || echo /usr/bin/alfaspark-pack)")
for p in alfaspark-pack alfaspark-bms-sim alfaspark-gateway alfasparkctl; do
  [ -x "$bin/$p" ] || { echo "nohw: $p not found (make build, or install alfaspark-gateway, -pack and -tools)" >&2; exit 1; }
done
for p in mosquitto socat; do
  command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { echo "nohw: $p is missing (apt-get install $p)" >&2; exit 1; }
done
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
site=nohw
work=$(mktemp -d /tmp/alfaspark-nohw.XXXXXX)
pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${NOHW_KEEP:-}" ] && echo "nohw: logs kept in $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 0' INT TERM
wait_for() { # wait_for SECONDS CMD...: poll until CMD succeeds
  local t=$(( $1 * 10 )); shift
  until "$@" >/dev/null 2>&1; do t=$((t - 1)); [ $t -gt 0 ] || return 1; sleep 0.1; done
}
die() { echo "nohw: $*" >&2; for f in "$work"/*.log; do echo "--- $f"; tail -n 5 "$f"; done >&2; exit 1; }

# The broker, on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n' "$port" >"$work/mosquitto.conf"
[ "$(id -u)" -eq 0 ] && echo "user root" >>"$work/mosquitto.conf"
"$mosquitto" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)

# The CAN bus: one pty per program, each taken for an SLCAN adapter; socat copies the bytes
# between them (each side ignores the other's adapter commands, S6/O/C, as unknown lines).
socat PTY,raw,echo=0,link="$work/can-pack" PTY,raw,echo=0,link="$work/can-gateway" 2>"$work/socat.log" &
pids+=($!)
wait_for 5 test -e "$work/can-gateway" || die "socat made no ptys"

# The BMS: a simulated one on its own pty (54.4 V = 50 % on the LFP curve, 1.5 A charging).
"$bin/alfaspark-bms-sim" --pty --link "$work/bms" --v-pack-mv 54400 --i-batt-ma 1500 >"$work/bms-sim.log" 2>&1 &
pids+=($!)
wait_for 5 test -e "$work/bms" || die "alfaspark-bms-sim made no pty"

# The pack controller, configured as on a real board, with this computer's paths.
serial=0x0000A15E0001
cat >"$work/pack.ini" <<INI
[pack]
serial = $serial
flash = $work/settings.flash
log_level = info
[bms]
device = $work/bms
[can]
interface = slcan:$work/can-pack
INI
"$bin/alfaspark-pack" --check-config --config "$work/pack.ini" >"$work/pack-check.log" 2>&1 || die "pack.ini: $(cat "$work/pack-check.log")"
"$bin/alfaspark-pack" --config "$work/pack.ini" >"$work/pack.log" 2>&1 &
pids+=($!)

# The gateway on the other end of the wire.
wait_for 5 "$(command -v mosquitto_pub || echo false)" -h 127.0.0.1 -p "$port" -t probe -n || die "the broker did not start"
"$bin/alfaspark-gateway" --config /dev/null --site "$site" --can "slcan:$work/can-gateway" --host 127.0.0.1 --port "$port" >"$work/gateway.log" 2>&1 &
pids+=($!)

ctl=("$bin/alfasparkctl" --host 127.0.0.1 --port "$port" --site "$site")
hex=$(printf '%012x' "$serial")
cat <<TXT
Alfaspark without hardware: alfaspark-pack $hex reads alfaspark-bms-sim ($work/bms); its CAN side
($work/can-pack) is wired by socat to the gateway's ($work/can-gateway); broker on 127.0.0.1:$port.
  status:         ${ctl[*]} status
  a command:      ${ctl[*]} set-mode eco on
  its settings:   ${ctl[*]} read-settings
  every topic:    mosquitto_sub -h 127.0.0.1 -p $port -t 'alfaspark/#' -v
  logs:           $work/{pack,gateway,bms-sim}.log (NOHW_KEEP=1 keeps them)
TXT

state_ready() { "${ctl[@]}" status --json 2>/dev/null | grep -q "\"serial\":\"$hex\",\"status\":\"online\",\"state\":{.*\"soc_pct\":50"; }
if [ "$check" -eq 1 ]; then
  wait_for 30 state_ready || die "the pack's state (SOC 50 % from the simulated BMS) did not reach the broker"
  "${ctl[@]}" status
  out=$("${ctl[@]}" set-mode eco on) || die "set-mode: $out"
  echo "$out"
  grep -q "^$hex ok$" <<<"$out" || die "the pack did not answer ok"
  # the pack's own settings, read back over the bus: a table with units and names, and JSON
  out=$("${ctl[@]}" read-settings) || die "read-settings: $out"
  grep -Eq '^mode +eco ' <<<"$out" || die "read-settings does not show mode eco: $out"
  grep -Eq '^eco_limit_w +W +3000 +100\.\.40000$' <<<"$out" || die "read-settings does not show eco_limit_w: $out"
  "${ctl[@]}" read-settings --json | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['$hex']['mode'] == 2, d" ||
    die "read-settings --json"
  # the controller logs its faults by name (a blank settings file at first start)
  grep -q 'fault settings_corrupt raised' "$work/pack.log" || die "the pack did not log its fault by name"
  echo "nohw: ok"
  exit 0
fi
sleep 2
if [ -n "${NOHW_SECONDS:-}" ]; then
  timeout "$NOHW_SECONDS" "${ctl[@]}" watch || true
else
  "${ctl[@]}" watch || true
fi

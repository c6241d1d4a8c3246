#!/usr/bin/env bash
# The shipped cloud bridge between two real brokers: state, events and results go out; commands come
# in; a cmd/result written on the cloud side never comes in. And every command of the protocol is
# listed where it must be (bridge and ACL), so a new command cannot be forgotten there.
set -euo pipefail
src="${ALFA_SOURCE_DIR:?}"
bin="${ALFA_BIN_DIR:?}"
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { echo "skip: mosquitto not installed"; exit 77; }
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for c in $("$bin/alfaspark-docgen" --commands); do
  grep -q "^topic cmd/$c in 1 alfaspark/home/ alfaspark/site-8f3a2c/$" "$src/deploy/mosquitto/bridge.conf.example" ||
    { echo "FAIL: bridge.conf.example does not bring cmd/$c in"; exit 1; }
  grep -q "^pattern write alfaspark/%u/cmd/$c$" "$src/deploy/mosquitto/acl.example" ||
    { echo "FAIL: acl.example does not let app users send cmd/$c"; exit 1; }
  grep -q "^topic write alfaspark/+/cmd/$c$" "$src/deploy/mosquitto/acl.example" ||
    { echo "FAIL: acl.example does not let Home Assistant send cmd/$c"; exit 1; }
done
if grep -E '^topic (cmd/[#+]|#|cmd/result) (in|both)' "$src/deploy/mosquitto/bridge.conf.example"; then
  echo "FAIL: an inward bridge topic can carry cmd/result"; exit 1
fi
echo "ok: every protocol command is named in the bridge and the ACL, none by a pattern that matches cmd/result"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cloud=$(free_port)
local=$(free_port)
root_user=""
[ "$(id -u)" -eq 0 ] && root_user="user root"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n%s\n' "$cloud" "$root_user" >"$dir/cloud.conf"
# The local broker with the shipped bridge: TLS, address and credentials made to fit the test.
{
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n%s\n' "$local" "$root_user"
  sed -e "s|^address .*|address 127.0.0.1:$cloud|" -e '/^bridge_cafile/d' -e '/^bridge_insecure/d' \
      -e '/^bridge_tls_version/d' -e '/^remote_password/d' -e '/^remote_username/d' \
      "$src/deploy/mosquitto/bridge.conf.example"
} >"$dir/local.conf"
"$mosquitto" -c "$dir/cloud.conf" >"$dir/cloud.log" 2>&1 & pids+=($!)
"$mosquitto" -c "$dir/local.conf" >"$dir/local.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do
  mosquitto_sub -h 127.0.0.1 -p "$cloud" -t 'alfaspark/home/gateway/cloud' -C 1 -W 1 2>/dev/null | grep -q 1 && break
  sleep 0.1
done
# moved FROM_PORT FROM_TOPIC TO_PORT TO_TOPIC: does a message published on one side reach the
# other? Retained with a fresh payload, so the reader finds it whenever it subscribes; a topic the
# bridge does not carry leaves nothing there, and the reader gives up after a second.
n=0
moved() {
  n=$((n + 1))
  mosquitto_pub -h 127.0.0.1 -p "$1" -t "$2" -q 1 -r -m "probe-$n"
  # (an older retained payload of the same topic is skipped: only this one counts)
  grep -m1 -qx "probe-$n" < <(mosquitto_sub -h 127.0.0.1 -p "$3" -t "$4" -W 1 2>/dev/null)
}
expect() { if "$@"; then :; else echo "FAIL: $*"; cat "$dir/local.log"; exit 1; fi; }
refuse() { if "$@"; then echo "FAIL (carried): $*"; exit 1; fi; }
expect moved "$local" alfaspark/home/pack/0000a1b2c3d4/state "$cloud" alfaspark/site-8f3a2c/pack/0000a1b2c3d4/state
expect moved "$local" alfaspark/home/cmd/result "$cloud" alfaspark/site-8f3a2c/cmd/result
expect moved "$local" alfaspark/home/event "$cloud" alfaspark/site-8f3a2c/event
expect moved "$cloud" alfaspark/site-8f3a2c/cmd/set_mode "$local" alfaspark/home/cmd/set_mode
expect moved "$cloud" alfaspark/site-8f3a2c/pack/0000a1b2c3d4/cmd/reboot "$local" alfaspark/home/pack/0000a1b2c3d4/cmd/reboot
refuse moved "$cloud" alfaspark/site-8f3a2c/cmd/result "$local" alfaspark/home/cmd/result
refuse moved "$cloud" alfaspark/site-8f3a2c/pack/0000a1b2c3d4/state "$local" alfaspark/home/pack/0000a1b2c3d4/state
refuse moved "$local" alfaspark/home/cmd/set_mode "$cloud" alfaspark/site-8f3a2c/cmd/set_mode
echo "ok: the bridge carries state, events and results out, commands in, and no result in"

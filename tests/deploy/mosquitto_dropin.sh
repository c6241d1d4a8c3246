#!/usr/bin/env bash
# The shipped broker drop-in loaded the way Debian loads it: Debian's own mosquitto.conf (only its
# paths moved into a temporary directory) including conf.d/alfaspark.conf, with the shipped ACL;
# then the logins and rights an installation relies on, against the running broker.
set -euo pipefail
src="${ALFA_SOURCE_DIR:?}"
stock=/etc/mosquitto/mosquitto.conf
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || { echo "skip: mosquitto not installed"; exit 77; }
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[ -r "$stock" ] || { echo "skip: no $stock"; exit 77; }
want=$(dpkg-query -W -f='${Conffiles}\n' mosquitto 2>/dev/null | awk '$1 == "/etc/mosquitto/mosquitto.conf" {print $2}')
[ "$(md5sum <"$stock" | cut -d' ' -f1)" = "$want" ] || { echo "skip: $stock is not Debian's stock file"; exit 77; }
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mqtt=$(free_port)
ws=$(free_port)
mkdir -p "$dir/conf.d" "$dir/lib" "$dir/app"
echo '<p>app</p>' >"$dir/app/index.html"
# Debian's file, line for line, with its paths moved: every option it sets is still set.
sed -e "s|/run/mosquitto/mosquitto.pid|$dir/mosquitto.pid|" -e "s|/var/lib/mosquitto/|$dir/lib/|" \
    -e "s|/var/log/mosquitto/mosquitto.log|$dir/mosquitto.log|" -e "s|/etc/mosquitto/conf.d|$dir/conf.d|" \
    "$stock" >"$dir/mosquitto.conf"
grep -q "^include_dir $dir/conf.d$" "$dir/mosquitto.conf"
# The drop-in, with only the listener ports, addresses and file paths of this test.
sed -e "s|^listener 1883$|listener $mqtt 127.0.0.1|" -e "s|^listener 9001$|listener $ws 127.0.0.1|" \
    -e "s|/etc/mosquitto/alfaspark.passwd|$dir/passwd|" -e "s|/etc/mosquitto/alfaspark.acl|$dir/acl|" \
    -e "s|/usr/share/alfaspark/app|$dir/app|" "$src/deploy/mosquitto/alfaspark.conf" >"$dir/conf.d/alfaspark.conf"
[ "$(grep -c "^listener" "$dir/conf.d/alfaspark.conf")" -eq 2 ]
cp "$src/deploy/mosquitto/acl.example" "$dir/acl"
# running as root, mosquitto would switch to its own user: our temporary files are ours
[ "$(id -u)" -eq 0 ] && echo "user root" >"$dir/conf.d/zz-test.conf"
: >"$dir/passwd"
for u in alfaspark-gateway homeassistant home away; do mosquitto_passwd -b "$dir/passwd" "$u" "pw-$u"; done
chmod 600 "$dir/passwd"
"$mosquitto" -c "$dir/mosquitto.conf" >"$dir/stdout" 2>&1 &
pid=$!
up=0
for _ in $(seq 50); do
  if mosquitto_pub -h 127.0.0.1 -p "$mqtt" -u alfaspark-gateway -P pw-alfaspark-gateway -t alfaspark/home/x -n 2>/dev/null; then up=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ "$up" -ne 1 ]; then cat "$dir/stdout" "$dir/mosquitto.log" 2>/dev/null; echo "FAIL: the broker did not start with Debian's file + the drop-in"; exit 1; fi
echo "ok: Debian's mosquitto.conf + conf.d/alfaspark.conf start (no duplicate options)"

# Publish (retained, a fresh payload) as one user, then read as another: did it get through? A
# retained message is there whenever the reader subscribes, so nothing depends on timing; a
# publish the ACL refuses is dropped, and the reader waits one second for nothing.
n=0
delivered() { # delivered READER TOPIC PUBLISHER
  n=$((n + 1))
  mosquitto_pub -h 127.0.0.1 -p "$mqtt" -q 1 -r -u "$3" -P "pw-$3" -t "$2" -m "probe-$n" 2>/dev/null || true
  # (an older retained payload of the same topic is skipped: only this one counts)
  grep -m1 -qx "probe-$n" < <(mosquitto_sub -h 127.0.0.1 -p "$mqtt" -u "$1" -P "pw-$1" -t "$2" -W 1 2>/dev/null)
}
expect() { if "$@"; then :; else echo "FAIL: $*"; exit 1; fi; }
refuse() { if "$@"; then echo "FAIL (allowed): $*"; exit 1; fi; }

if mosquitto_sub -h 127.0.0.1 -p "$mqtt" -t '#' -C 1 -W 1 2>"$dir/anon.err"; then echo "FAIL: anonymous login"; exit 1; fi
grep -qi "not authori" "$dir/anon.err"
if mosquitto_sub -h 127.0.0.1 -p "$mqtt" -u home -P wrong -t '#' -C 1 -W 1 2>/dev/null; then echo "FAIL: wrong password"; exit 1; fi
echo "ok: anonymous and wrong passwords refused"
expect delivered home alfaspark/home/pack/0000a1b2c3d4/state alfaspark-gateway
expect delivered home alfaspark/home/cmd/result alfaspark-gateway
expect delivered alfaspark-gateway alfaspark/home/cmd/set_mode home
expect delivered alfaspark-gateway alfaspark/home/pack/0000a1b2c3d4/cmd/identify home
refuse delivered alfaspark-gateway alfaspark/home/cmd/result home         # only the gateway writes results
refuse delivered alfaspark-gateway alfaspark/home/pack/0000a1b2c3d4/state home
refuse delivered away alfaspark/home/pack/0000a1b2c3d4/state alfaspark-gateway  # another site's app user
refuse delivered alfaspark-gateway alfaspark/home/cmd/set_mode away
expect delivered alfaspark-gateway alfaspark/home/cmd/set_eco_limit homeassistant
refuse delivered alfaspark-gateway alfaspark/home/cmd/result homeassistant
expect delivered homeassistant alfaspark/home/site/state alfaspark-gateway
echo "ok: the ACL: the site's app user reads its site and sends commands; nobody but the gateway writes results or state"
# The WebSocket listener serves the app's files (http_dir).
python3 - "$ws" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/index.html" % sys.argv[1], timeout=5).read()
assert b"app" in body, body
PY
echo "ok: the WebSocket listener serves the app's directory"

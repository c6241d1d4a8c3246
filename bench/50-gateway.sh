#!/usr/bin/env bash
# Gateway benchmarks: CAN frames ingested per second through SLCAN on a pty, and MQTT command -> CAN frame latency (1,000 commands).
set -euo pipefail
bin=${ALFA_BIN_DIR:-build/bin}
"$bin/alfaspark-gw-bench" ingest 1000000
"$bin/alfaspark-gw-bench" latency 1000

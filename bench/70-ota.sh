#!/usr/bin/env bash
# Firmware update on the timed 500 kbit/s bus: 1.2 MB to 32 packs at 1 % loss each, with heartbeats, telemetry and commands.
set -euo pipefail
"${ALFA_BIN_DIR:-build/bin}/alfaspark-otabench"

#!/usr/bin/env bash
# CAN figures on the timed 500 kbit/s bus model: bus load (8, 32 packs), broadcast acks, failover.
set -euo pipefail
"${ALFA_BIN_DIR:-build/bin}/alfaspark-canbench"

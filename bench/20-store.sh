#!/usr/bin/env bash
# Settings-store wear figures (bytes per change, erase cycles a year, years to wear-out), counted on the flash simulator.
set -euo pipefail
"${ALFA_BIN_DIR:-build/bin}/alfaspark-bench-store"

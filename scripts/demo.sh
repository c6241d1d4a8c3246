#!/usr/bin/env bash
# `make demo`: for now one pack's real core through a scripted sunny day, printed hour by hour
# (the whole-site simulator replaces it when it lands).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${ALFA_BIN_DIR:-build/bin}"
exec "$bin/alfaspark-core-demo"

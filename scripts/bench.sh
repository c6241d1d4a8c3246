#!/usr/bin/env bash
# Runs every benchmark script in bench/ (in name order); each prints `bench <name> <value> <unit>` lines.
set -euo pipefail
cd "$(dirname "$0")/.."
export ALFA_BIN_DIR="$PWD/build/bin" ALFA_SOURCE_DIR="$PWD"
status=0
for b in bench/*.sh; do
  [ -e "$b" ] || continue
  bash "$b" || { echo "bench: $b failed" >&2; status=1; }
done
exit $status

#!/usr/bin/env bash
# Line coverage of the firmware core and protocol library from the build/cov test run (lcov).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/cov
lcov --quiet --capture --directory "$out" --output-file "$out/all.info" 2>/dev/null
lcov --quiet --extract "$out/all.info" "$PWD/core/src/*" "$PWD/protocol/src/*" --output-file "$out/core.info" 2>/dev/null
lcov --list "$out/core.info" | sed -n '/^Filename/,$p' | grep -v '^\[' 
rate=$(lcov --summary "$out/core.info" 2>&1 | awk '/lines\.\.\.\.\.\.:/ {print $2}')
echo "coverage core+protocol lines ${rate}"

#!/usr/bin/env bash
# Line coverage of the firmware core and protocol library from the build/cov test run.
set -euo pipefail
cd "$(dirname "$0")/.."
gcovr -r . --object-directory build/cov --filter 'core/src/' --filter 'protocol/src/' \
  --print-summary -o build/cov/coverage.txt >build/cov/summary.txt
cat build/cov/coverage.txt
grep -E '^lines:' build/cov/summary.txt | sed 's/^/coverage core /'

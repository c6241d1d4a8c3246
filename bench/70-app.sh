#!/usr/bin/env bash
# App and history benchmarks: the first screen's gzip size, navigation to the first live value in Chromium, a month of history.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${ALFA_BIN_DIR:-build/bin}
dist=${ALFA_APP_DIST:-build/app/dist}
node -e 'const f=require(process.argv[1]); console.log(`bench app_first_load_kb ${(f.gzip_bytes/1024).toFixed(1)} KB`); console.error(`app first load: ${f.files.join(", ")}`)' "$PWD/$dist/first-load.json"
node app/bench/time-to-live.mjs
"$bin/alfaspark-history-bench"

#!/bin/sh
# Installs the app's npm packages from package-lock.json (npm ci) when the lockfile changed since the last install; otherwise nothing.
set -e
cd "$(dirname "$0")/.."
stamp=node_modules/.alfaspark-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
echo "app: npm ci (package-lock.json changed)"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"

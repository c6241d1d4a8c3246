#!/usr/bin/env bash
# Static analysis in CI: cppcheck over all project sources (warnings are errors).
set -euo pipefail
cd "$(dirname "$0")/.."
dirs=()
for d in core protocol port tools sim gateway app/schema; do
  [ -d "$d" ] && dirs+=("$d")
done
incs=()
for d in $(find . -path ./build -prune -o -type d -name include -print); do incs+=(-I "$d"); done
cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
  --inline-suppr --suppress=missingIncludeSystem -D__GNUC__ "${incs[@]}" "${dirs[@]}"
echo "lint: cppcheck clean"

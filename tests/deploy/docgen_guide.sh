#!/usr/bin/env bash
# docs/guide.md's generated tables equal what alfaspark-docgen makes from the project's tables, and
# the check does fail when a row of the guide differs (it is not a check that cannot fail).
set -euo pipefail
src="${ALFA_SOURCE_DIR:?}"
bin="${ALFA_BIN_DIR:?}"
"$bin/alfaspark-docgen" --check "$src/docs/guide.md"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$src/docs/guide.md" "$dir/guide.md"
sed -i 's/^| `eco_limit_w` \(.*\) 100 … 40000 |$/| `eco_limit_w` \1 100 … 50000 |/' "$dir/guide.md"
! cmp -s "$src/docs/guide.md" "$dir/guide.md" || { echo "FAIL: the test could not alter the eco_limit_w row"; exit 1; }
if "$bin/alfaspark-docgen" --check "$dir/guide.md" 2>"$dir/err"; then echo "FAIL: a changed range went unnoticed"; exit 1; fi
grep -q "settings-table differs" "$dir/err"
"$bin/alfaspark-docgen" --update "$dir/guide.md" >/dev/null
cmp "$src/docs/guide.md" "$dir/guide.md"
echo "ok: the guide's settings and faults tables are the project's"

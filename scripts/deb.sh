#!/usr/bin/env bash
# `make deb`: the Debian packages alfaspark-gateway, alfaspark-pack and alfaspark-tools, built with
# dpkg-buildpackage + debhelper (deploy/debian) for amd64 and, cross-compiled, arm64.
#
#   scripts/deb.sh [--arch amd64|arm64]... [--version VERSION] [--out DIR] [--src DIR] [--lintian]
#
# The version is the CMake project's (CMakeLists.txt: project(alfaspark VERSION ...)) unless
# --version gives one (deb-test builds 2.5.0+test1 to upgrade to). --src builds another copy of
# the tree. Packages land in DIR (default build/deb); --lintian checks them (errors and warnings
# fail; deploy/debian/*.lintian-overrides says why each remaining tag is accepted).
# ALFA_DEB_OPTIONS adds to DEB_BUILD_OPTIONS (deb-test: noddebs, no debug-symbol packages).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here
out=$here/build/deb
archs=()
version=
lint=0
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) archs+=("$2"); shift 2 ;;
    --version) version=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --src) src=$(cd "$2" && pwd); shift 2 ;;
    --lintian) lint=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "deb.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
[ ${#archs[@]} -gt 0 ] || archs=(amd64 arm64)
if [ -z "$version" ]; then
  version=$(sed -n 's/^project(alfaspark VERSION \([0-9][0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
  [ -n "$version" ] || { echo "deb.sh: no project VERSION in $src/CMakeLists.txt" >&2; exit 1; }
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The app's built files go into alfaspark-gateway (deploy/CMakeLists.txt, ALFA_APP_PREBUILT): they
# are the same for every architecture, so they are built once here, natively (the schema comes
# from the C settings table through a host program), and the packaged tree carries them in app/dist.
appdist=
cmake -S "$src" -B "$src/build" >/dev/null # the native build: the app's schema program, the development key
if [ -f "$src/app/package.json" ]; then
  echo "deb: building the app (its schema, npm, esbuild) in build/"
  cmake --build "$src/build" --target app -j"$(nproc)" >/dev/null
  appdist=$src/build/app/dist
  [ -f "$appdist/index.html" ] || { echo "deb: the app's build left no $appdist/index.html" >&2; exit 1; }
fi

# The public keys the packaged alfaspark-pack trusts for firmware updates: a release names its own
# (ALFA_FW_PUBKEYS="a.pem;b.pem"); by default the development key of build/keys/, whose private
# half stays there (so images signed with it can update packs installed from these packages).
pubkeys=${ALFA_FW_PUBKEYS:-$src/build/keys/dev-pub.pem}
IFS=';' read -r -a keylist <<<"$pubkeys"
for k in "${keylist[@]}"; do
  [ -f "$k" ] || { echo "deb: firmware public key $k is missing (ALFA_FW_PUBKEYS, or make build for the development key)" >&2; exit 1; }
done
[ -n "${ALFA_FW_PUBKEYS:-}" ] || echo "deb: packs will trust the development key $pubkeys (a release sets ALFA_FW_PUBKEYS)"

commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
for arch in "${archs[@]}"; do
  t0=$(date +%s)
  stage=$out/stage-$arch
  rm -rf "$stage"
  mkdir -p "$stage/alfaspark-$version"
  # The source as it is in the tree (uncommitted changes included), without build outputs.
  tar -C "$src" --exclude=./.git --exclude=./build --exclude='./build-*' --exclude=node_modules -cf - . |
    tar -C "$stage/alfaspark-$version" -xf -
  cp -r "$src/deploy/debian" "$stage/alfaspark-$version/debian"
  mkdir -p "$stage/alfaspark-$version/debian/fw-keys"
  IFS=';' read -r -a keys <<<"$pubkeys"
  for k in "${keys[@]}"; do cp "$k" "$stage/alfaspark-$version/debian/fw-keys/"; done
  if [ -n "$appdist" ]; then
    rm -rf "$stage/alfaspark-$version/app/dist"
    cp -r "$appdist" "$stage/alfaspark-$version/app/dist"
  fi
  cat >"$stage/alfaspark-$version/debian/changelog" <<EOF
alfaspark ($version) bookworm; urgency=medium

  * Built from the Alfaspark tree at commit $commit.

 -- Alfaspark packaging <packages@alfaspark.invalid>  $(date -R)
EOF
  opts=(-b -us -uc -j"$(nproc)")
  if [ "$arch" != "$(dpkg --print-architecture)" ]; then
    opts+=(-a "$arch")
  fi
  log=$out/build-$arch.log
  if ! (cd "$stage/alfaspark-$version" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc) ${ALFA_DEB_OPTIONS:-}" dpkg-buildpackage "${opts[@]}") >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "deb: the $arch build failed (whole log: $log)" >&2
    exit 1
  fi
  for f in "$stage"/*.deb "$stage"/*.changes "$stage"/*.buildinfo; do mv -f "$f" "$out/"; done
  rm -rf "$stage"
  echo "deb: $arch $version in $(( $(date +%s) - t0 )) s:" $(cd "$out" && ls alfaspark-*_"${version}"_"$arch".deb)
done

if [ "$lint" -eq 1 ]; then
  for arch in "${archs[@]}"; do
    changes=$out/alfaspark_${version}_$arch.changes
    echo "deb: lintian $(basename "$changes")"
    lintian --fail-on error,warning --info --display-level '>=warning' "$changes"
  done
fi

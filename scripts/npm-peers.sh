#!/usr/bin/env bash
# Installs the npm packages of one test peer (test/peers/NAME/package.json,
# versions pinned by its package-lock.json) into ./build-NAME-peers with
# `npm ci`. Idempotent: skipped when the installed lock matches and MARKER
# (a path under node_modules/) is there. Needs Node.js, npm and the registry.
#   scripts/npm-peers.sh NAME MARKER    prints the directory holding node_modules/
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1 marker=$2
src=test/peers/$name
dir=build-$name-peers
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "$name-peers: node and npm are needed to install $src" >&2
  exit 1
fi
if [ -f "$dir/package-lock.json" ] && cmp -s "$src/package-lock.json" "$dir/package-lock.json" \
   && [ -e "$dir/node_modules/$marker" ]; then
  echo "$PWD/$dir"
  exit 0
fi
mkdir -p "$dir"
cp "$src/package.json" "$src/package-lock.json" "$dir/"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
echo "$PWD/$dir"

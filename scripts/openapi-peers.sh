#!/usr/bin/env bash
# Installs the OpenAPI contract checker's packages (test/peers/openapi/
# package.json: ajv, ajv-formats, yaml, @seriousme/openapi-schema-validator;
# versions pinned by its package-lock.json) into ./build-openapi-peers with
# `npm ci`. Idempotent: skipped when the installed lock matches. Needs Node.js
# and npm (on the machine) and the npm registry.
#   scripts/openapi-peers.sh    prints the directory holding node_modules/
set -euo pipefail
cd "$(dirname "$0")/.."
src=test/peers/openapi
dir=build-openapi-peers
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "openapi-peers: node and npm are needed to install the OpenAPI contract checker" >&2
  exit 1
fi
if [ -f "$dir/package-lock.json" ] && cmp -s "$src/package-lock.json" "$dir/package-lock.json" \
   && [ -d "$dir/node_modules/ajv" ]; then
  echo "$PWD/$dir"
  exit 0
fi
mkdir -p "$dir"
cp "$src/package.json" "$src/package-lock.json" "$dir/"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
echo "$PWD/$dir"

#!/usr/bin/env bash
# Installs the real MCP servers the tests talk to (test/peers/mcp/package.json,
# versions pinned by its package-lock.json) into ./build-mcp-peers with
# `npm ci`. Idempotent: skipped when the installed lock matches. Needs Node.js
# and npm (on the machine) and the npm registry.
#   scripts/mcp-peers.sh        prints the directory holding node_modules/
set -euo pipefail
cd "$(dirname "$0")/.."
src=test/peers/mcp
dir=build-mcp-peers
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "mcp-peers: node and npm are needed to install the MCP test servers" >&2
  exit 1
fi
if [ -f "$dir/package-lock.json" ] && cmp -s "$src/package-lock.json" "$dir/package-lock.json" \
   && [ -d "$dir/node_modules/@modelcontextprotocol" ]; then
  echo "$PWD/$dir"
  exit 0
fi
mkdir -p "$dir"
cp "$src/package.json" "$src/package-lock.json" "$dir/"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
echo "$PWD/$dir"

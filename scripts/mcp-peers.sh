#!/usr/bin/env bash
# Installs the real MCP servers the tests talk to (test/peers/mcp/package.json:
# server-everything, server-filesystem) into ./build-mcp-peers
# (scripts/npm-peers.sh); prints that directory.
exec "$(dirname "$0")/npm-peers.sh" mcp @modelcontextprotocol

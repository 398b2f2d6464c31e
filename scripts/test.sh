#!/usr/bin/env bash
# Sets everything up (packages, the test-only ones too, the build, the npm
# peers the tests talk to: MCP servers, the OpenAPI contract checker,
# playwright-core, protobufjs: scripts/*-peers.sh), runs every test through CTest, then checks the
# installed package (scripts/test-install.sh: install, build examples/embed
# against it as an outside project, run it, internal headers unreachable).
# Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
# What only the tests use: promtool (checks /metrics and the alert rules),
# Debian's Chromium (the dashboard's browser tests).
scripts/setup.sh --packages-only prometheus chromium
scripts/setup.sh
scripts/mcp-peers.sh >/dev/null # the real MCP servers the MCP tests talk to
scripts/openapi-peers.sh >/dev/null # what checks the HTTP API against docs/openapi.yaml
scripts/browser-peers.sh >/dev/null # playwright-core, driving Debian's Chromium
scripts/otlp-peers.sh >/dev/null # protobufjs: checks OTLP exports against the official protos
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
scripts/test-install.sh build

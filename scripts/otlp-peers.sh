#!/usr/bin/env bash
# Installs the OTLP export checker's package (test/peers/otlp/package.json:
# protobufjs) into ./build-otlp-peers (scripts/npm-peers.sh); prints that
# directory.
exec "$(dirname "$0")/npm-peers.sh" otlp protobufjs

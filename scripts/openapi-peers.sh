#!/usr/bin/env bash
# Installs the OpenAPI contract checker's packages (test/peers/openapi/
# package.json: ajv, ajv-formats, yaml, @seriousme/openapi-schema-validator)
# into ./build-openapi-peers (scripts/npm-peers.sh); prints that directory.
exec "$(dirname "$0")/npm-peers.sh" openapi ajv

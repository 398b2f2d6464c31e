#!/usr/bin/env bash
# Installs the dashboard browser test's package (test/peers/browser/
# package.json: playwright-core, which drives Debian's chromium; it downloads
# no browser) into ./build-browser-peers (scripts/npm-peers.sh); prints that
# directory.
exec "$(dirname "$0")/npm-peers.sh" browser playwright-core

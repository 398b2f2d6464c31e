#!/usr/bin/env bash
# Sets everything up, runs every test through CTest, then checks the
# installed package (scripts/test-install.sh: install, build examples/embed
# against it as an outside project, run it, internal headers unreachable).
# Extra arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
scripts/test-install.sh build

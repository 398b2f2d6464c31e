#!/usr/bin/env bash
# The sanitizer lane: the whole project built with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc) into ./build-asan, then every CTest test.
# Any ASan report or any undefined behaviour fails the test that hit it
# (-fno-sanitize-recover=undefined, halt_on_error). Extra arguments go to
# ctest (e.g. -R sandbox_test). docs/testing.md explains the choices.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --packages-only prometheus chromium # test-only: scripts/test.sh
scripts/mcp-peers.sh >/dev/null
scripts/openapi-peers.sh >/dev/null
scripts/browser-peers.sh >/dev/null # playwright-core, driving Debian's Chromium
scripts/otlp-peers.sh >/dev/null # protobufjs: checks OTLP exports against the official protos

dir=build-asan
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  # Hits across clones (CI builds a fresh clone): paths relative to the
  # checkout, and -g does not hash the working directory.
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
fi
# -O1: fast enough to run every test, keeps stacks readable. Line tables
# only (-g1) by default: a quarter less compile time; reports still name
# function, file and line, but not inlined frames. TROUPE_ASAN_DEBUG=-g for
# full debug info.
debug=${TROUPE_ASAN_DEBUG:--g1}
cmake -S . -B "$dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 $debug" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 $debug" \
  -DTROUPE_SANITIZE=address,undefined -DTROUPE_SANITIZE_DEBUG="$debug" \
  "${launcher[@]}" >/dev/null
# Serialized with other builds on this machine when flock is there.
if command -v flock >/dev/null; then
  flock /tmp/troupe-build.lock cmake --build "$dir" -j "$(nproc)"
else
  cmake --build "$dir" -j "$(nproc)"
fi

# halt_on_error / abort_on_error=0: the first report ends the process with
# exitcode, so the test fails. Leak detection: see docs/testing.md.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_init_order=1:halt_on_error=1:exitcode=86}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp:print_suppressions=0}"
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" --timeout 600 "$@"

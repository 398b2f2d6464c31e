#!/usr/bin/env bash
# Installs what troupe needs (Debian 12, as root), then configures and builds
# into ./build. Idempotent: packages already present are not reinstalled and
# the build is incremental (ccache when present).
#   scripts/setup.sh --packages-only [EXTRA_PACKAGE...]
# installs only (the packages below plus the extras) and builds nothing: how
# scripts/test-sanitize.sh and scripts/fuzz.sh get what they need.
set -euo pipefail
cd "$(dirname "$0")/.."

packages_only=false
extra=()
if [ "${1:-}" = "--packages-only" ]; then
  packages_only=true
  shift
  extra=("$@")
fi

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libcaf-dev capnproto libcapnp-dev libssl-dev zlib1g-dev
  libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev libboost-test-dev
  nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libcurl4-openssl-dev
  libgoogle-perftools-dev  # tcmalloc for the troupe executable (CMakeLists.txt)
  python3 procps  # hostile tests run python3 programs in the sandbox, pgrep checks
)
packages+=(${extra[@]+"${extra[@]}"})
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages and not root; run as root or install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if $packages_only; then
  exit 0
fi

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build build -j "$jobs"
echo "setup: built build/bin/troupe"

#!/usr/bin/env bash
# Checks that the installed troupe is a CMake package an outside project can
# use, and that it shows its public headers only (docs/embedding.md):
#   1. installs the already built BUILD_DIR (default build/) into a temporary prefix;
#   2. the prefix has no detail/ path and no generated Cap'n Proto header;
#   3. examples/embed, copied out of the tree, is configured as its own project
#      with find_package(troupe) and -DCMAKE_PREFIX_PATH=<prefix> only, and
#      built; no path of this checkout is on its compile or link lines;
#   4. the example runs (its runs complete, journal in the temporary dir);
#   5. internal headers are out of reach: a TU including one of them, compiled
#      with the example's own flags, fails with "No such file or directory".
#   scripts/test-install.sh [BUILD_DIR]
# Prints one line per check; exits non-zero at the first failure, keeping the
# temporary directory for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)
build=${1:-build}
start=$SECONDS

say() { echo "test-install: [$((SECONDS - start)) s] $*"; }
fail() {
  echo "test-install: FAILED: $*" >&2
  echo "test-install: kept $tmp" >&2
  trap - EXIT
  exit 1
}

if [ ! -f "$build/CMakeCache.txt" ]; then
  echo "test-install: FAILED: $build is not a configured build (run scripts/setup.sh)" >&2
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/troupe-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

# 1. install
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" \
  || { cat "$tmp/install.log" >&2; fail "cmake --install $build"; }
headers=$(find "$prefix/include" -type f | wc -l)
libs=$(find "$prefix/lib" -name '*.a' | wc -l)
say "installed into $prefix: $headers headers, $libs static libraries," \
    "$(find "$prefix/lib/cmake/troupe" -type f | wc -l) package files," \
    "$(find "$prefix/bin" -type f | wc -l) programs"

# 2. nothing internal installed
leaked=$(cd "$prefix" && find . -path '*/detail*' -o -name '*.capnp*')
[ -z "$leaked" ] || fail "internal files installed: $leaked"
[ -f "$prefix/include/troupe/troupe/runtime.hpp" ] \
  || fail "include/troupe/troupe/runtime.hpp not installed"
say "ok: no detail/ path and no generated capnp header under the prefix"

# 3. the example as an outside project
cp -r examples/embed "$tmp/embed"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$tmp" CCACHE_NOHASHDIR=1  # hits across temporary dirs
fi
ext=$tmp/embed-build
cmake -S "$tmp/embed" -B "$ext" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" >"$tmp/configure.log" 2>&1 \
  || { cat "$tmp/configure.log" >&2; fail "configuring examples/embed against the prefix"; }
# Serialized with other builds on this machine when flock is there.
lock=()
if command -v flock >/dev/null; then
  lock=(flock /tmp/troupe-build.lock)
fi
"${lock[@]}" cmake --build "$ext" >"$tmp/build.log" 2>&1 \
  || { cat "$tmp/build.log" >&2; fail "building examples/embed against the prefix"; }
commands=$(ninja -C "$ext" -t commands troupe_embed_example)
compile=$(grep -- " -c $tmp/embed/main.cpp" <<<"$commands") \
  || fail "no compile command for main.cpp in $ext"
if grep -qF -- "$root/" <<<"$commands"; then
  fail "the outside build names this checkout: $(grep -oF -- "$root/[^ ]*" <<<"$commands" | head -3)"
fi
grep -qF -- "$prefix/lib/libtroupe_runtime.a" <<<"$commands" \
  || fail "the example does not link the installed libtroupe_runtime.a"
say "ok: examples/embed configured with find_package(troupe) and built;" \
    "include flags: $(grep -oE -- '-(I|isystem|iquote) ?[^ ]+' <<<"$compile" | tr '\n' ' ')"

# 4. run it
"$ext/troupe_embed_example" "$tmp/embed.db" >"$tmp/run.log" 2>&1 \
  || { cat "$tmp/run.log" >&2; fail "the example did not complete its runs"; }
say "ok: the example ran: $(grep -c ': completed:' "$tmp/run.log") runs completed"

# 5. internal headers out of reach, with exactly the example's flags
flags=${compile% -o *}
for internal in actors/run.hpp sandbox/detail/sandbox_exec.hpp sandbox/shell_tool.hpp \
                persistence/store.hpp core/run_state.hpp schemas/codec.hpp journal.capnp.h; do
  probe=$tmp/probe_$(tr '/.' '__' <<<"$internal").cpp
  printf '#include "%s"\nint main() {}\n' "$internal" >"$probe"
  if out=$(cd "$ext" && bash -c "$flags -fsyntax-only $probe" 2>&1); then
    fail "\"$internal\" compiles against the installed package"
  fi
  grep -qF "$internal: No such file or directory" <<<"$out" \
    || { echo "$out" >&2; fail "\"$internal\" is reachable under the prefix (its compile failed later, above)"; }
done
say "ok: internal headers (actors/, sandbox/, persistence/, core/run_state, schemas/codec, capnp) not found"

say "passed"

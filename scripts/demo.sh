#!/usr/bin/env bash
# Sets everything up, runs the demo agent scenario and shows its journal.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
db=build/demo.db
rm -f "$db" "$db-wal" "$db-shm"
rm -rf examples/scenarios/work/hello
build/bin/troupe run examples/scenarios/hello.toml --db "$db" --progress
run_id=$(build/bin/troupe runs --db "$db" --json | sed -n 's/.*"run_id":"\([^"]*\)".*/\1/p' | head -1)
echo
build/bin/troupe show "$run_id" --db "$db"
echo
build/bin/troupe doctor --db "$db"

#!/usr/bin/env bash
# Sets everything up, starts `troupe serve` on the example scenarios with the
# dashboard and /metrics, and keeps submitting the example runs so there is
# something to watch: open the printed address, paste the printed key.
#   scripts/serve-demo.sh [HOST:PORT]      (default 127.0.0.1:8080; Ctrl-C ends it)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --packages-only curl
scripts/setup.sh
listen=${1:-127.0.0.1:8080}
dir=build/serve-demo
rm -rf "$dir" examples/scenarios/work/hello examples/scenarios/work/governance
mkdir -p "$dir"
T=build/bin/troupe
db=$dir/serve.db
$T tenants add acme --db "$db" --max-concurrent 4 --per-minute 120 >/dev/null
$T tenants add globex --db "$db" >/dev/null
key=$($T tenants key-create acme --role operator --db "$db" | head -1)
other=$($T tenants key-create globex --role viewer --db "$db" | head -1)
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/metrics.token"

$T serve --db "$db" --scenarios examples/scenarios --listen "$listen" \
  --metrics-token-file "$dir/metrics.token" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
until curl -sf "http://$listen/healthz" >/dev/null; do sleep 0.2; done

cat <<EOF

  dashboard   http://$listen/          operator key of tenant acme:
              $key
              (tenant globex, viewer: $other)
  metrics     curl -H "Authorization: Bearer \$(cat $dir/metrics.token)" http://$listen/metrics
  report      $T report --db $db

  Submitting the example runs every few seconds; the governance run asks
  before \`rm\`: approve or deny it on the dashboard's Approvals page within 5 s.
  Ctrl-C stops.

EOF
n=0
while kill -0 $server 2>/dev/null; do
  n=$((n + 1))
  for job in "hello|Write hello.txt and notes, check them, then finish." \
             "governance|Tidy the workspace: write notes, count lines, remove scratch.txt."; do
    curl -s -o /dev/null -X POST "http://$listen/v1/runs" -H "Authorization: Bearer $key" \
      -H "Idempotency-Key: demo-$n-${job%%|*}" \
      -d "{\"scenario\":\"${job%%|*}\",\"task\":\"${job#*|}\",\"labels\":[\"demo\"]}"
  done
  sleep 4
done

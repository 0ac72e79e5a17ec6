#!/usr/bin/env bash
# Runs read-api's `linkerd` /warzone query table (crates/warzone/src/queries.rs)
# against each sandbox cluster's linkerd-viz Prometheus (up.sh first, with traffic flowing) and
# prints, per query, how many series each cluster answered. A query no cluster answers is
# "no data" on the page; the script fails if one of Linkerd's (all but the consumers' own
# kafka> rate and lag, which linkerd-viz does not scrape) is.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
# shellcheck source=kind/sandbox/cluster.sh
. "$here/cluster.sh"
cd "$SANDBOX_ROOT"
# shellcheck source=/dev/null  # scripts/env.sh: exports only
source scripts/env.sh
export KUBECONFIG=$SANDBOX_KUBECONFIG PATH=$SANDBOX_BIN:$PATH
pids=()
stop_forwards() { local p; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop_forwards EXIT
kubectl --context kind-usactar-a -n linkerd-viz port-forward svc/prometheus 19090:9090 >/dev/null 2>&1 &
pids+=("$!")
kubectl --context kind-usactar-b -n linkerd-viz port-forward svc/prometheus 19091:9090 >/dev/null 2>&1 &
pids+=("$!")
for port in 19090 19091; do
  for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
done
cargo run -q -p read-api --example warzone_queries -- linkerd | python3 -c '
import json, sys, urllib.parse, urllib.request
missing = []
print("%-34s %10s %10s" % ("query", "cluster a", "cluster b"))
for line in sys.stdin:
    q = json.loads(line)
    counts = []
    for port in (19090, 19091):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q["promql"]}))
        r = json.load(urllib.request.urlopen(url, timeout=10))
        counts.append(len([s for s in r["data"]["result"] if s["value"][1] != "NaN"]))
    print("%-34s %10d %10d" % (q["name"], counts[0], counts[1]))
    # The consumers rate and lag are the apps own metrics: linkerd-viz scrapes only proxies.
    if sum(counts) == 0 and not q["name"].startswith("kafka>"):
        missing.append(q["name"])
if missing:
    print("never answered by either cluster: " + ", ".join(missing))
    sys.exit(1)
'

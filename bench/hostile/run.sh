#!/usr/bin/env bash
# Issue 15's hostile loads against the local stack's real services, each process's resident
# memory sampled every 100 ms against its Kubernetes manifest's limit (256 Mi for ingest,
# read-api and FerretDB): 1 MiB bodies and 1,000-pair arrays at ingest, 1,000 WebSockets and
# 1 MiB frames at read-api, unindexed filters and first pages over a store of STORED documents.
#
#   bench/hostile/run.sh                    # 20 s per load, 100,000 documents stored
#   SECONDS_PER_LOAD=10 STORED=10000 bench/hostile/run.sh
#
# A measurement, not a test: the client (bench/hostile/hostile.py, standard library only) shares
# the two cores with the stack.
set -euo pipefail
SECONDS_PER_LOAD=${SECONDS_PER_LOAD:-20}
STORED=${STORED:-100000}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"

release_build --example fill_logs
machine_line

STATE=$WORK/state
start_stack "$BIN" "$STATE"
MONGO="mongodb://127.0.0.1:$(python3 -c "import json;print(json.load(open('$STATE/stack.json'))['ports']['mongodb'])")/?directConnection=true"
echo "==> filling the store to $STORED documents"
"$BIN/examples/fill_logs" "$MONGO" "$STORED" "$ROOT/loadgen/data/predictions.json"
echo "==> the loads, $SECONDS_PER_LOAD s each"
python3 "$HERE/hostile.py" "$STATE" "$SECONDS_PER_LOAD"

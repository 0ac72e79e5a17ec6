#!/usr/bin/env bash
# The pipeline's throughput-latency curve on this machine, against NGINX answering a fixed 202
# driven the same way in the same run (the ceiling: what loadgen and an HTTP server reach on
# these cores with nothing behind them).
#
#   bench/pipeline/run.sh                                  # 30 s per point, the full curve
#   DURATION=60 USERS="32" BATCHES="1" bench/pipeline/run.sh   # one point
#   DURATION=60 USERS=10 BATCHES=100 RATE=10500 bench/pipeline/run.sh   # a sustained rate
#                                  # (predictions/s, as requests of BATCHES; DRAIN_LIMIT seconds)
#
# 1. Release build; NGINX with a fixed 202 on a free port (the baseline).
# 2. The whole local stack (its own free ports and state folder), timed until ready; curve.py
#    prints that and the stack's resident memory once idle.
# 3. bench/pipeline/curve.py: each point (USERS simultaneous requests x BATCHES predictions per
#    request) on the baseline, then on the pipeline while probe.py measures 202 -> visible in
#    /api/live; per-process CPU; Kafka's records per produce request and broker CPU per 1,000
#    records; the drain, and accepted == MongoDB == Redis at every point. Then the seed's own
#    command (10 simultaneous, 10,000 requests).
# A benchmark, not a test: the load generator, NGINX and every server share the machine's cores.
# Results and what changed between them: bench/RESULTS.md.
set -euo pipefail
DURATION=${DURATION:-30}
USERS=${USERS:-10 32 128 512}
BATCHES=${BATCHES:-1 100}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"

release_build --example count_logs
machine_line

# --- 1. baseline: NGINX with a fixed 202 -------------------------------------------------------
BPORT=$(free_port)
start_nginx "server { listen 127.0.0.1:$BPORT; location /input { return 202 '{\"accepted\":1}'; } }"

# --- 2. the stack --------------------------------------------------------------------------------
probe_fixtures "$WORK/fixtures.json"
STATE=$WORK/state
started=$(date +%s.%N)
# A long backend bound: the drain checks read /api/stats while FerretDB is still busy storing the
# backlog of the point before.
USACTAR_BACKEND_TIMEOUT=60s USACTAR_FIXTURES=$WORK/fixtures.json start_stack "$BIN" "$STATE"
ready=$(date +%s.%N)
sleep 10

# --- 3. the curve -------------------------------------------------------------------------------
python3 "$HERE/curve.py" "$WORK" "$BIN" "http://127.0.0.1:$BPORT/input" "$STATE" "$DURATION" "$USERS" "$BATCHES" \
  "$(python3 -c "print($ready - $started)")" "${RATE:-}"
echo "every number: $WORK/curve.json"

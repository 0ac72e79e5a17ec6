#!/usr/bin/env bash
# The pipeline's throughput and lag on this machine, against a baseline measured in the same run.
#
#   bench/pipeline/run.sh                 # 60 s each, 32 simultaneous requests
#   DURATION=30 USERS=16 bench/pipeline/run.sh
#
# 1. Baseline: NGINX answering a fixed 202 with nothing behind it, driven by loadgen.
# 2. Pipeline: the whole local stack (release build, its own free ports), driven the same way
#    through NGINX into ingest, while a probe measures 202 → visible in /api/live.
# Then it waits for the pipeline to drain and checks that nothing was lost:
# accepted == documents in MongoDB == the live total in Redis.
# A benchmark, not a test: everything shares this machine's cores.
set -euo pipefail
DURATION=${DURATION:-60}
USERS=${USERS:-32}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$ROOT/scripts/env.sh"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "==> release build"
(cd "$ROOT" && cargo build --release --locked --workspace --bins -q)
BIN=$CARGO_TARGET_DIR/release
DATA=$ROOT/loadgen/data/predictions.json
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- 1. baseline: NGINX with a fixed 202 -------------------------------------------------------
BPORT=$(free_port)
mkdir -p "$WORK/nginx"
{
  [[ $(id -u) == 0 ]] && echo "user root;"
  cat <<CONF
master_process off;
worker_processes 1;
error_log $WORK/nginx/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  server {
    listen 127.0.0.1:$BPORT;
    location /input { return 202 '{"accepted":1}'; }
  }
}
CONF
} > "$WORK/nginx/nginx.conf"
/usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e stderr -g 'daemon off;' &
PIDS+=($!)
sleep 0.5
echo "==> baseline: loadgen → NGINX fixed 202, $USERS simultaneous requests, ${DURATION}s"
set +e
"$BIN/loadgen" run -f "$DATA" --url "http://127.0.0.1:$BPORT/input" --concurrence "$USERS" \
  -n 100000000 --timeout "${DURATION}s" --report "$WORK/baseline.json" > "$WORK/baseline.out" 2>&1
set -e
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()

# --- 2. the pipeline ----------------------------------------------------------------------------
PORTS=()
for name in ingress prometheus kafka kafka-controller mongodb redis toxiproxy control ferretdb-metrics \
  nginx-status kafka-jmx redis-exporter nginx-exporter node-exporter process-exporter ingest read-api \
  live-store live-link ingest-admin read-api-admin live-store-admin logs-writer-admin live-forwarder-admin; do
  PORTS+=(--port "$name=$(free_port)")
done
# /api/stats counts MongoDB's documents; FerretDB's SQLite backend takes seconds for that once
# the run has written a few hundred thousand, so give read-api's backend calls more time.
USACTAR_BACKEND_TIMEOUT=60s "$BIN/experiments" up --state-dir "$WORK/state" "${PORTS[@]}" > "$WORK/up.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 120); do [[ -f $WORK/state/stack.json ]] && break; sleep 1; done
[[ -f $WORK/state/stack.json ]] || { cat "$WORK/up.out"; echo "the stack did not start" >&2; exit 1; }
INGRESS=$(python3 -c "import json;print('http://127.0.0.1:%d' % json.load(open('$WORK/state/stack.json'))['ports']['ingress'])")
echo "==> pipeline: loadgen → NGINX → ingest → Kafka → consumers, $USERS simultaneous requests, ${DURATION}s"
CONTROL=$(python3 -c "import json;print(json.load(open('$WORK/state/stack.json'))['control'])")
python3 "$HERE/cpu.py" "$CONTROL" > "$WORK/cpu-before.json"
python3 "$HERE/probe.py" "$INGRESS" "$DURATION" > "$WORK/probe.json" &
PROBE=$!
set +e
"$BIN/loadgen" run -f "$DATA" --url "$INGRESS/input" --concurrence "$USERS" \
  -n 100000000 --timeout "${DURATION}s" --report "$WORK/pipeline.json" > "$WORK/pipeline.out" 2>&1 &
LOADGEN=$!
python3 "$HERE/cpu.py" "$CONTROL" loadgen=$LOADGEN > "$WORK/cpu-start.json"
wait $LOADGEN
python3 "$HERE/cpu.py" "$CONTROL" loadgen=$LOADGEN > "$WORK/cpu-end.json" 2>/dev/null || true
set -e
wait $PROBE

echo "==> waiting for the pipeline to drain"
python3 - "$WORK" "$INGRESS" "$DURATION" <<'PY'
import json, sys, time, urllib.request
work, ingress, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
base = json.load(open(f"{work}/baseline.json"))
pipe = json.load(open(f"{work}/pipeline.json"))
probe = json.load(open(f"{work}/probe.json"))
# Requests still in flight when the timeout stopped loadgen may have been accepted: count them
# as a range.
accepted = pipe["succeeded"] + len(probe["samples_ms"]) + probe["not_visible_in_30s"]
in_flight = pipe.get("unanswered", 0)
start = time.time()
stats = {"live_total": -1, "logs_total": -1}
while time.time() - start < 600:
    try:
        stats = json.load(urllib.request.urlopen(f"{ingress}/api/stats", timeout=90))
    except Exception as e:
        print(f"  /api/stats: {e}; retrying")
    if stats["live_total"] >= accepted and stats["logs_total"] >= accepted and stats["live_total"] == stats["logs_total"]:
        break
    time.sleep(2)
drain = time.time() - start
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(q * len(v) + 0.5)) - 1))] if v else float("nan")
lag = probe["samples_ms"]
b_rps, p_rps = base["requests_per_sec"], pipe["succeeded"] / pipe["elapsed_secs"]
print()
print(f"baseline  NGINX fixed 202        {b_rps:>9.0f} req/s   p50 {base['latency']['p50_ms']:.2f} ms  p99 {base['latency']['p99_ms']:.2f} ms")
print(f"pipeline  accepted predictions   {p_rps:>9.0f} /s      p50 {pipe['latency']['p50_ms']:.2f} ms  p99 {pipe['latency']['p99_ms']:.2f} ms"
      f"   ({pipe['failed']} failed: {pipe['failed_by_status']})")
print(f"ratio     pipeline / baseline    {p_rps / b_rps:>9.3f}")
print(f"e2e lag   202 → visible in /api/live: p50 {pct(lag, .5):.0f} ms  p99 {pct(lag, .99):.0f} ms  ({len(lag)} probes, {probe['not_visible_in_30s']} not visible within 30 s)")
exact = stats['live_total'] == stats['logs_total'] and accepted <= stats['live_total'] <= accepted + in_flight
print(f"loss      accepted {accepted} (+ up to {in_flight} in flight at the stop), Redis live total {stats['live_total']}, MongoDB {stats['logs_total']}"
      f"  -> {'zero loss' if exact else 'MISMATCH'} (drained {drain:.0f} s after the load)")
try:
    start_cpu = json.load(open(f"{work}/cpu-start.json"))
    end_cpu = json.load(open(f"{work}/cpu-end.json"))
    spent = {k: end_cpu[k] - start_cpu[k] for k in end_cpu if k in start_cpu}
    total = sum(spent.values())
    print(f"cpu       where the time went during the load (CPU seconds of {duration:.0f} s x 2 cores):")
    for k, v in sorted(spent.items(), key=lambda kv: -kv[1]):
        if v >= 0.5:
            print(f"            {k:<18} {v:>6.1f} s  {100 * v / total:>5.1f}%")
except Exception as e:
    print(f"cpu       not measured: {e}")
target = p_rps >= 10000 and exact and pct(lag, .99) < 1000
print(f"target    >= 10,000/s for {duration:.0f} s, zero loss, lag p99 < 1 s: {'met' if target else 'NOT met'}")
PY

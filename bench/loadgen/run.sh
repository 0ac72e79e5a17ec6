#!/usr/bin/env bash
# loadgen vs Locust vs wrk against one NGINX endpoint answering a fixed 202.
#
#   bench/loadgen/run.sh                      # 10 connections, 3 rounds of 10 s per tool
#   USERS=10 DURATION=20 ROUNDS=1 bench/loadgen/run.sh
#
# Starts its own NGINX on a free loopback port, builds loadgen in release mode, installs Locust
# from PyPI when it is missing, runs the three tools one after the other with the same
# concurrency and duration (in interleaved rounds), and prints each one's requests/s and the
# ratios of the medians.
# A benchmark, not a test: numbers depend on the machine (2 cores here, shared by all three
# tools and NGINX).
set -euo pipefail

USERS=${USERS:-10}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$ROOT/scripts/env.sh"
NGINX=${NGINX:-/usr/sbin/nginx}
WRK=${WRK:-/usr/bin/wrk}
WORK=$(mktemp -d)
NGINX_PID=

cleanup() {
    if [[ -n $NGINX_PID ]]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT/input"
BODY='{"team1":"Argentina","team2":"France","score":"3-3","phase":4}'

# --- NGINX with one worker: it takes one core, the load tool gets the other.
mkdir -p "$WORK/nginx/logs"
{
    [[ $(id -u) == 0 ]] && echo "user root;"
    cat <<CONF
worker_processes 1;
error_log $WORK/nginx/logs/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$PORT;
        location /input { return 202; }
    }
}
CONF
} > "$WORK/nginx.conf"
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx.conf" -g 'daemon off;' &
NGINX_PID=$!
for _ in $(seq 50); do
    curl -s -o /dev/null -X POST -d "$BODY" "$URL" && break
    sleep 0.1
done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' -d "$BODY" "$URL")
[[ $code == 202 ]] || { echo "nginx did not answer 202 on $URL (got $code)" >&2; exit 1; }
echo "nginx on $URL; $USERS connections, $ROUNDS rounds of ${DURATION}s per tool"

(cd "$ROOT" && cargo build --release -j 2 -p loadgen --quiet)
LOADGEN="$CARGO_TARGET_DIR/release/loadgen"
if ! python3 -c 'import locust' 2>/dev/null; then
    echo "installing locust from PyPI…"
    python3 -m pip install --quiet locust || { echo "locust could not be installed" >&2; exit 1; }
fi
cat > "$WORK/locustfile.py" <<PY
from locust import FastHttpUser, task

BODY = '$BODY'

class Fan(FastHttpUser):
    @task
    def predict(self):
        self.client.post("/input", data=BODY, headers={"content-type": "application/json"})
PY
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA

# loadgen: a -n far above what fits in DURATION, stopped by --timeout (exit 3 expected).
run_loadgen() {
    local status=0
    "$LOADGEN" run -f "$ROOT/loadgen/data/predictions.json" --concurrence "$USERS" -n 1000000000 \
        --timeout "${DURATION}s" --url "$URL" --report "$WORK/loadgen.json" >/dev/null 2>&1 || status=$?
    [[ $status == 0 || $status == 3 ]] || { echo "loadgen failed ($status)" >&2; exit 1; }
    python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['requests_per_sec']))" "$WORK/loadgen.json"
}

# Locust: FastHttpUser, one process, headless, no wait between requests.
run_locust() {
    (cd "$WORK" && python3 -m locust -f locustfile.py --headless -u "$USERS" -r "$USERS" \
        -t "${DURATION}s" -H "http://127.0.0.1:$PORT" --csv "$WORK/locust" --only-summary \
        --loglevel WARNING >/dev/null 2>&1) || true
    python3 - "$WORK/locust_stats.csv" <<'PY'
import csv, sys
for row in csv.DictReader(open(sys.argv[1])):
    if row["Name"] == "Aggregated":
        print(round(float(row["Requests/s"])))
PY
}

# wrk: two threads (one per core), USERS connections.
run_wrk() {
    "$WRK" -t 2 -c "$USERS" -d "${DURATION}s" -s "$WORK/post.lua" "$URL" \
        | awk '/^Requests\/sec:/ {printf "%d\n", $2}'
}

# The three tools take turns, ROUNDS times, so that whatever else the machine is doing weighs on
# each of them alike; the ratios use the medians.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
L=() O=() W=()
for round in $(seq "$ROUNDS"); do
    L+=("$(run_loadgen)"); O+=("$(run_locust)"); W+=("$(run_wrk)")
    echo "round $round: loadgen ${L[-1]}  locust ${O[-1]}  wrk ${W[-1]} requests/s"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
LOADGEN_RPS=$(median "${L[@]}") LOCUST_RPS=$(median "${O[@]}") WRK_RPS=$(median "${W[@]}")

echo
printf '%-10s %12s\n' tool 'median req/s'
printf '%-10s %12s\n' loadgen "$LOADGEN_RPS" locust "$LOCUST_RPS" wrk "$WRK_RPS"
python3 - "$LOADGEN_RPS" "$LOCUST_RPS" "$WRK_RPS" <<'PY'
import sys
l, lo, w = map(float, sys.argv[1:])
print(f"loadgen/locust = {l/lo:.2f}x (target >= 5)")
print(f"loadgen/wrk    = {l/w:.2f}x (target >= 0.5)")
PY

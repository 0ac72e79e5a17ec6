#!/usr/bin/env bash
# Reads on a big store: /api/logs (first page, a filtered page) and /api/stats through NGINX
# into read-api, with wrk, against NGINX serving the same first page as a static file (the
# baseline, in the same run), at two store sizes.
#
#   bench/reads/run.sh                         # 10,000 then 1,000,000 predictions stored
#   SIZES="10000 200000" DURATION=5 bench/reads/run.sh
#
# The store is filled by logs-writer's own document code (services/consumer/examples/
# fill_logs.rs), straight into FerretDB, so a million documents take minutes, not the hours the
# pipeline at its rate would. Targets (issue 16): first and filtered page p99 <= 50 ms, stats
# p99 <= 20 ms, never a 503 from size alone.
# A benchmark, not a test: wrk, NGINX and the stack share the machine's cores.
set -euo pipefail
SIZES=${SIZES:-10000 1000000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=/dev/null  # scripts/env.sh: exports only
source "$ROOT/scripts/env.sh"
WORK=${BENCH_WORK:-$(mktemp -d)}
mkdir -p "$WORK"
WRK=${WRK:-/usr/bin/wrk}
[[ -x $WRK ]] || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

echo "==> release build"
(cd "$ROOT" && cargo build --release --locked -p experiments -p ingest -p consumer -p live-store \
  -p read-api -q && cargo build --release --locked -p consumer --example fill_logs -q)
BIN=$CARGO_TARGET_DIR/release
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
echo "machine: $(nproc) cores, $(uname -r); commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ' (with local changes)'); $(date -u +%FT%TZ)"

PORTS=()
for name in ingress prometheus kafka kafka-controller mongodb redis toxiproxy control ferretdb-metrics \
  nginx-status kafka-jmx redis-exporter nginx-exporter node-exporter process-exporter ingest read-api \
  live-store live-link ingest-admin read-api-admin live-store-admin logs-writer-admin live-forwarder-admin; do
  PORTS+=(--port "$name=$(free_port)")
done
STATE=$WORK/state
"$BIN/experiments" up --state-dir "$STATE" "${PORTS[@]}" > "$WORK/up.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1200); do grep -q "^ready in" "$WORK/up.out" 2>/dev/null && break; sleep 0.1; done
grep -q "^ready in" "$WORK/up.out" || { cat "$WORK/up.out"; echo "the stack did not start" >&2; exit 1; }
port() { python3 -c "import json;print(json.load(open('$STATE/stack.json'))['ports']['$1'])"; }
API=http://127.0.0.1:$(port ingress)
MONGO="mongodb://127.0.0.1:$(port mongodb)/?directConnection=true"

# The baseline: NGINX serving a first page of /api/logs as a file.
BPORT=$(free_port)
mkdir -p "$WORK/nginx/www"
{
  [[ $(id -u) == 0 ]] && echo "user root;"
  cat <<CONF
worker_processes 1;
error_log $WORK/nginx/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  server { listen 127.0.0.1:$BPORT; root $WORK/nginx/www; location / { default_type application/json; } }
}
CONF
} > "$WORK/nginx/nginx.conf"
/usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e stderr -g 'daemon off;' &
PIDS+=($!)

stored=0
: > "$WORK/results.tsv"
for size in $SIZES; do
  echo "==> filling the store to $size predictions"
  if (( size > stored )); then
    "$BIN/examples/fill_logs" "$MONGO" $((size - stored)) "$ROOT/loadgen/data/predictions.json"
    stored=$size
  fi
  curl -fsS "$API/api/logs" -o "$WORK/nginx/www/page.json"
  for what in "baseline=http://127.0.0.1:$BPORT/page.json" "first page=$API/api/logs" \
    "filtered page=$API/api/logs?team1=Argentina&team2=Mexico" "stats=$API/api/stats"; do
    name=${what%%=*} url=${what#*=}
    out=$("$WRK" -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url")
    printf '%s\t%s\t%s\n' "$size" "$name" "$(echo "$out" | tr '\n' '|')" >> "$WORK/results.tsv"
  done
done

python3 - "$WORK/results.tsv" "$CONNECTIONS" <<'PY'
import re, sys
rows = []
for line in open(sys.argv[1]):
    size, name, out = line.rstrip("\n").split("\t")
    def ms(label):
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\|", out)
        if not m:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: ([^|]+)", out)
    rows.append((int(size), name, rps, ms(50), ms(99), int(bad.group(1)) if bad else 0, errors.group(1) if errors else ""))
targets = {"first page": 50, "filtered page": 50, "stats": 20}
print(f"\n{sys.argv[2]} connections each (wrk):\n")
print("| stored | what | requests/s | ratio to baseline | p50 ms | p99 ms | non-2xx | target p99 |")
print("|---|---|---|---|---|---|---|---|")
for size in sorted({r[0] for r in rows}):
    base = next(r for r in rows if r[0] == size and r[1] == "baseline")
    for r in (r for r in rows if r[0] == size):
        t = targets.get(r[1])
        verdict = "" if t is None else f"<= {t} ms: {'met' if r[4] <= t and r[5] == 0 else 'NOT met'}"
        print(f"| {size:,} | {r[1]} | {r[2]:,.0f} | {r[2] / base[2]:.3f} | {r[3]:.2f} | {r[4]:.2f} | {r[5]}{' ' + r[6] if r[6] else ''} | {verdict} |")
PY

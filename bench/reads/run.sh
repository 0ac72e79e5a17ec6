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
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"
WRK=${WRK:-/usr/bin/wrk}
[[ -x $WRK ]] || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

release_build --example fill_logs
machine_line

STATE=$WORK/state
start_stack "$BIN" "$STATE"
port() { python3 -c "import json;print(json.load(open('$STATE/stack.json'))['ports']['$1'])"; }
API=http://127.0.0.1:$(port ingress)
MONGO="mongodb://127.0.0.1:$(port mongodb)/?directConnection=true"

# The baseline: NGINX serving a first page of /api/logs as a file.
BPORT=$(free_port)
mkdir -p "$WORK/nginx/www"
start_nginx "server { listen 127.0.0.1:$BPORT; root $WORK/nginx/www; location / { default_type application/json; } }"

stored=0
: > "$WORK/results.tsv"
for size in $SIZES; do
  echo "==> filling the store to $size predictions"
  if (( size > stored )); then
    "$BIN/examples/fill_logs" "$MONGO" $((size - stored)) "$ROOT/loadgen/data/predictions.json"
    stored=$size
  fi
  # The baseline serves the first page as read-api answered it; when read-api cannot answer it at
  # this size, the page of the smaller store stays (same shape), and wrk counts read-api's 503s.
  curl -fsS "$API/api/logs" -o "$WORK/page.json" && mv "$WORK/page.json" "$WORK/nginx/www/page.json" ||
    echo "  GET /api/logs at $size stored: $(curl -sS "$API/api/logs")"
  for what in "baseline=http://127.0.0.1:$BPORT/page.json" "first page=$API/api/logs" \
    "filtered page=$API/api/logs?team1=Argentina&team2=Mexico" "team page=$API/api/logs?team1=Argentina" \
    "phase page=$API/api/logs?phase=1" "stats=$API/api/stats"; do
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
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\s*\|", out)
        if not m:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: [^|]*timeout (\d+)", out)
    answered = re.search(r"(\d+) requests in", out)
    timeouts = int(errors.group(1)) if errors else 0
    none = timeouts and answered and timeouts >= int(answered.group(1))
    rows.append((int(size), name, rps, float("nan") if none else ms(50), float("nan") if none else ms(99),
                 int(bad.group(1)) if bad else 0,
                 f"({timeouts} of {answered.group(1)} timed out at wrk's 2 s)" if timeouts else ""))
targets = {"first page": 50, "filtered page": 50, "team page": 50, "phase page": 50, "stats": 20}
print(f"\n{sys.argv[2]} connections each (wrk):\n")
print("| stored | what | requests/s | ratio to baseline | p50 ms | p99 ms | non-2xx | target p99 |")
print("|---|---|---|---|---|---|---|---|")
for size in sorted({r[0] for r in rows}):
    base = next(r for r in rows if r[0] == size and r[1] == "baseline")
    for r in (r for r in rows if r[0] == size):
        t = targets.get(r[1])
        verdict = "" if t is None else f"<= {t} ms: {'met' if r[4] <= t and r[5] == 0 else 'NOT met'}"
        lat = lambda v: "none answered" if v != v else f"{v:.2f}"
        print(f"| {size:,} | {r[1]} | {r[2]:,.0f} | {r[2] / base[2]:.3f} | {lat(r[3])} | {lat(r[4])} | {r[5]}{' ' + r[6] if r[6] else ''} | {verdict} |")
PY

#!/usr/bin/env bash
# How fast a change reaches /api/live/ws viewers while predictions arrive (issue 16's target:
# 1,000 viewers see a change within 500 ms at p99 while 5,000 predictions/s arrive), against one
# viewer under the same load in the same run (the baseline).
#
#   bench/viewers/run.sh                          # 1,000 viewers, 5,000 predictions/s, 40 probes
#   VIEWERS=200 RATE=2000 bench/viewers/run.sh
#   BATCH=10 bench/viewers/run.sh                 # the same predictions/s, as arrays of 10
#
# 1. Release build (read-api's example ws_viewers); the local stack on its own ports with the
#    Qatar 2022 fixtures plus a "Probe v Marker" match that only the probes send.
# 2. For 1 viewer, then VIEWERS: loadgen posts RATE predictions/s (64 simultaneous; one per
#    request, or arrays of BATCH) through the ingress for LOAD_S seconds; 5 s in, ws_viewers opens the sockets through the ingress, posts
#    PROBES predictions of the probe match 300 ms apart, and times each from its 202 to the push
#    that shows it, on every socket.
# Prints each run's JSON and a table. A benchmark, not a test: the sockets, the load and the
# stack share the machine's two cores.
set -euo pipefail
VIEWERS=${VIEWERS:-1000}
RATE=${RATE:-5000}
PROBES=${PROBES:-40}
LOAD_S=${LOAD_S:-60}
BATCH=${BATCH:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"

release_build --example ws_viewers
machine_line
# VIEWERS sockets here, and twice as many in NGINX (client and upstream side).
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < 2 * VIEWERS + 1000)); then
  echo "open files are limited to $(ulimit -n) (hard limit); $((2 * VIEWERS + 1000)) are needed for $VIEWERS viewers" >&2
  exit 1
fi

probe_fixtures "$WORK/fixtures.json"
STATE=$WORK/state
USACTAR_FIXTURES=$WORK/fixtures.json start_stack "$BIN" "$STATE"
INGRESS=http://$(python3 -c "import json,sys; print('127.0.0.1:%d' % json.load(open(sys.argv[1]))['ports']['ingress'])" "$STATE/stack.json")
sleep 10

# Every stack process's CPU seconds so far and resident bytes now, with the time, as JSON.
cpu_snapshot() {
  python3 - "$STATE" <<'PY'
import json, os, sys, time
sys.path.insert(0, os.environ["ROOT"] + "/bench")
from stack_procs import processes, stack_file, tree_cpu, tree_rss
procs = processes(stack_file(sys.argv[1]))
print(json.dumps({"t": time.time(), "cpu": {n: tree_cpu(p) for n, p in procs.items()},
                  "rss": {n: tree_rss(p) for n, p in procs.items()}}))
PY
}
export ROOT

for viewers in 1 "$VIEWERS"; do
  echo "==> $viewers viewer(s), $RATE predictions/s arriving, $BATCH per request"
  "$BIN/loadgen" run -f "$ROOT/loadgen/data/predictions.json" --url "$INGRESS/input" --concurrence 64 \
    --batch "$BATCH" --rate "$(python3 -c "print($RATE / $BATCH)")" -n $((RATE * LOAD_S / BATCH)) \
    --timeout "${LOAD_S}s" --report "$WORK/load-$viewers.json" > /dev/null 2>&1 &
  load=$!
  sleep 5
  cpu_snapshot > "$WORK/cpu-before-$viewers.json"
  # Memory while the sockets are open: sampled 15 s in, during the probes.
  (sleep 15 && cpu_snapshot > "$WORK/cpu-middle-$viewers.json") &
  "$BIN/examples/ws_viewers" "$INGRESS" "$viewers" "$PROBES" Probe Marker 1 | tee "$WORK/viewers-$viewers.json"
  cpu_snapshot > "$WORK/cpu-after-$viewers.json"
  wait "$load" || (($? == 3)) # 3: stopped by its --timeout, as intended
done

python3 - "$WORK" "$VIEWERS" "$RATE" "$BATCH" <<'PY'
import json, sys
work, many, rate, batch = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
rows = []
for v in ["1", many]:
    r = json.load(open(f"{work}/viewers-{v}.json"))
    load = json.load(open(f"{work}/load-{v}.json"))
    r["arriving"] = load["succeeded"] * batch / load["elapsed_secs"]
    r["load_failed"] = load["failed"]
    a, b = (json.load(open(f"{work}/cpu-{w}-{v}.json")) for w in ("before", "after"))
    r["window_s"] = b["t"] - a["t"]
    r["cpu_s"] = {n: b["cpu"][n] - a["cpu"][n] for n in b["cpu"] if n in a["cpu"]}
    r["cpu_s"]["the viewers (this benchmark)"] = r["own_cpu_s"]
    r["rss_mib"] = {n: b / 2**20 for n, b in json.load(open(f"{work}/cpu-middle-{v}.json"))["rss"].items()}
    rows.append(r)
base, big = rows
def ms(v):
    return "none" if v is None else f"{v:.0f}"
print()
print(f"Predictions arriving {'one per request' if batch == 1 else f'as arrays of {batch}'}, 64 requests at a time.")
print()
print("| viewers | sockets opened (refused) | predictions arriving, accepted/s (failed requests) | (probe, viewer) pairs timed / missed | 202 → on screen p50 / p99 / max ms |")
print("|---|---|---|---|---|")
for name, r in [("1 (baseline)", base), (many, big)]:
    print(f"| {name} | {r['sockets_opened']} ({r['sockets_refused']}) | {r['arriving']:,.0f} ({r['load_failed']}) "
          f"| {r['pairs_timed']} / {r['pairs_missed']} | {ms(r['p50_ms'])} / {ms(r['p99_ms'])} / {ms(r['max_ms'])} |")
print()
print("What the sockets received while the probes ran, and where the CPU went (2 cores):")
for name, r in [("1 viewer", base), (f"{many} viewers", big)]:
    top = sorted(r["cpu_s"].items(), key=lambda kv: -kv[1])
    print(f"  {name}: {r['received_mb_per_s']:.1f} MB/s in {r['messages_per_s']:,.0f} messages/s of {r['mean_message_kb']:.1f} KB on average; "
          f"CPU-s in the {r['window_s']:.0f} s window: " + ", ".join(f"{k} {v:.1f}" for k, v in top if v >= 0.5)
          + f"; resident during the probes: NGINX {r['rss_mib']['nginx']:.0f} MiB, read-api {r['rss_mib']['read-api']:.0f} MiB")
ratio = big["p99_ms"] / base["p99_ms"] if big["p99_ms"] and base["p99_ms"] else None
print()
print(f"p99 with {many} viewers / p99 with 1 viewer: {ratio:.2f}" if ratio else "ratio: not measured")
met = (big["p99_ms"] is not None and big["p99_ms"] <= 500 and big["pairs_missed"] == 0
       and big["sockets_opened"] >= 1000 and big["arriving"] >= 0.98 * 5000)
print(f"target (1,000 viewers, p99 <= 500 ms, while 5,000 predictions/s arrive): {'met' if met else 'NOT met'}"
      f" (viewers {big['sockets_opened']}, p99 {ms(big['p99_ms'])} ms, missed {big['pairs_missed']}, arriving {big['arriving']:,.0f}/s"
      f"{'' if batch == 1 else f' in arrays of {batch}'})")
PY

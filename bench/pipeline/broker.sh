#!/usr/bin/env bash
# The broker's threads and heap, chosen from measurements (issue 16): the same short curve
# (single predictions at 10 and 32 simultaneous, then the seed's command on the fresh stack and
# after the curve) once per variant, each on a stack of its own, then one table. The first
# variant is the stack's default: the baseline every other is compared with.
#
#   bench/pipeline/broker.sh
#   DURATION=30 OUT=bench/pipeline/2026-11-30-broker bench/pipeline/broker.sh
#   VARIANTS="default||; threads-1-2|num.network.threads=1,num.io.threads=2|" bench/pipeline/broker.sh
#   TABLE_ONLY=1 OUT=bench/pipeline/2026-11-30-broker bench/pipeline/broker.sh   # the table again
#
# A variant is `name|broker properties|JVM options|services' librdkafka properties`
# (USACTAR_KAFKA_BROKER_CONFIG and USACTAR_KAFKA_BROKER_JVM of `experiments up`, and the
# services' USACTAR_KAFKA_CONFIG; empty for the stack's own), separated by `;`.
# Each run's curve.json and log go to OUT. A benchmark, not a test: the runs follow each other
# on the same cores, and the machine's own speed drifts between them (each run's NGINX baseline
# is in its table).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DURATION=${DURATION:-20}
OUT=${OUT:-$(mktemp -d)}
VARIANTS=${VARIANTS:-"default||;
  network-1-io-2|num.network.threads=1,num.io.threads=2|;
  network-2-io-4|num.network.threads=2,num.io.threads=4|;
  heap-1g||-Xms256m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20;
  parallel-gc||-Xms256m -Xmx512m -XX:+UseParallelGC;
  c1-only||-Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1;
  linger-0.5|||linger.ms=0.5"}
mkdir -p "$OUT"
names=()
IFS=';' read -ra variants <<< "${VARIANTS//$'\n'/}"
for variant in "${variants[@]}"; do
  IFS='|' read -r name config jvm clients <<< "$variant"
  name=${name// /}
  names+=("$name")
  [[ -n ${TABLE_ONLY:-} ]] && continue
  echo "==> $name: broker config '${config:-the stack default}', JVM '${jvm:-the stack default}', clients '${clients:-the services default}'"
  work=$(mktemp -d)
  BENCH_WORK=$work DURATION=$DURATION USERS="10 32" BATCHES=1 \
    USACTAR_KAFKA_BROKER_CONFIG=$config USACTAR_KAFKA_BROKER_JVM=$jvm USACTAR_KAFKA_CONFIG=$clients \
    bash "$HERE/run.sh" 2>&1 | tee "$OUT/$name.log"
  cp "$work/curve.json" "$OUT/$name.json"
  rm -rf "$work"
done

python3 - "$OUT" "${names[@]}" <<'PY'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
rows = []
for name in names:
    d = json.load(open(f"{out}/{name}.json"))
    pts = {p["users"]: p for p in d["points"] if p["batch"] == 1}
    rows.append((name, pts, d["seed"]))
base = rows[0]
print(f"\n| variant | accepted/s at 10 (ratio to NGINX) | at 32 (ratio) | ingest p50 / p99 ms at 10 | broker CPU ms per 1,000 records (10 / 32) | records per produce request (10 / 32) | seed's command requests/s, fresh / after (p50 ms) |")
print("|---|---|---|---|---|---|---|")
for name, pts, seed in rows:
    a, b = pts[10], pts[32]
    print(f"| {name} | {a['accepted_per_s']:,.0f} ({a['ratio']:.3f}) | {b['accepted_per_s']:,.0f} ({b['ratio']:.3f}) "
          f"| {a['ingest_p50_ms']:.1f} / {a['ingest_p99_ms']:.1f} "
          f"| {a['broker_cpu_ms_per_1000_records']:.0f} / {b['broker_cpu_ms_per_1000_records']:.0f} "
          f"| {a['records_per_produce_request']:.1f} / {b['records_per_produce_request']:.1f} "
          f"| {seed['fresh']['requests_per_s']:,.0f} / {seed['after_curve']['requests_per_s']:,.0f} "
          f"({seed['fresh']['p50_ms']:.1f} / {seed['after_curve']['p50_ms']:.1f}) |")
# The machine's speed drifts between runs; each run's NGINX baseline measures it, so variants
# compare by their ratio to their own baseline.
print(f"\nAgainst {base[0]} (same invocation): each variant's ratio to its own NGINX baseline, divided by {base[0]}'s, at 10 / 32 simultaneous:")
for name, pts, seed in rows[1:]:
    r = lambda u: pts[u]["ratio"] / base[1][u]["ratio"]
    print(f"- {name}: {r(10):.2f} / {r(32):.2f}")
PY
echo "every run: $OUT"

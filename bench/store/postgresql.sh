#!/usr/bin/env bash
# PostgreSQL's settings for the logs' inserts (issue 16): the same fill, 200,000 logs in
# logs-writer's batches of 500 (services/consumer/examples/fill_logs.rs) into a fresh stack with
# read-api's indexes, once per variant and round, each on a stack of its own; then one table of
# seconds, PostgreSQL's CPU-seconds and WAL bytes per variant, with each round's ratio to the
# first variant, the stack's default, run in the same round.
#
#   bench/store/postgresql.sh
#   N=100000 ROUNDS=3 VARIANTS="default|; lz4|wal_compression=lz4" bench/store/postgresql.sh
#
# A variant is `name|USACTAR_POSTGRESQL_CONFIG` (empty for the stack's own), variants separated
# by `;`. Rounds run the variants in turn (A B C A B C ...), so the machine's drift falls on each
# alike. A benchmark, not a test: the stack's other servers idle on the same cores.
set -euo pipefail
N=${N:-200000}
ROUNDS=${ROUNDS:-2}
VARIANTS=${VARIANTS:-"default|; lz4|wal_compression=lz4; off|wal_compression=off"}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"
PSQL=$(printf "%s\n" /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)

release_build --example fill_logs
machine_line
IFS=';' read -ra variants <<< "${VARIANTS//$'\n'/}"
: > "$WORK/results.tsv"
STATE=$WORK/state
# The running stack's port NAME; a statement's result from its PostgreSQL; PostgreSQL's CPU
# seconds so far (the postmaster and its backends).
port() { python3 -c "import json;print(json.load(open('$STATE/stack.json'))['ports']['$1'])"; }
sql() { "$PSQL" -h 127.0.0.1 -p "$(port postgresql)" -U postgres -d postgres -Atc "$1"; }
cpu() {
  python3 -c "
import sys; sys.path.insert(0, '$ROOT/bench')
from stack_procs import processes, stack_file, tree_cpu
print(tree_cpu(processes(stack_file('$STATE'))['postgresql']))"
}
for round in $(seq "$ROUNDS"); do
  for variant in "${variants[@]}"; do
    IFS='|' read -r name config <<< "$variant"
    name=${name// /}
    echo "==> round $round, $name: ${config:-the stack default}"
    USACTAR_POSTGRESQL_CONFIG=$config start_stack "$BIN" "$STATE"
    echo "  PostgreSQL says: $(sql "select string_agg(name || '=' || setting, ', ' order by name) from pg_settings where name in ('wal_compression', 'max_wal_size', 'fsync', 'synchronous_commit', 'full_page_writes')")"
    # read-api creates the logs' collection and its 5 indexes once it is ready (services/read-api/
    # src/logs.rs, INDEXES); the fill must pay for them as logs-writer does: 6 with `_id`.
    indexes=0
    for _ in $(seq 150); do
      indexes=$(sql "select count(*) from pg_indexes where schemaname = 'documentdb_data'")
      ((indexes >= 6)) && break
      sleep 0.2
    done
    ((indexes >= 6)) || { echo "read-api's indexes did not appear in 30 s ($indexes in documentdb_data)" >&2; exit 1; }
    lsn=$(sql "select pg_current_wal_lsn()")
    cpu0=$(cpu)
    t0=$(date +%s.%N)
    "$BIN/examples/fill_logs" "mongodb://127.0.0.1:$(port mongodb)/?directConnection=true" "$N" \
      "$ROOT/loadgen/data/predictions.json" > "$WORK/fill.out"
    t1=$(date +%s.%N)
    cpu1=$(cpu)
    wal=$(sql "select pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn')")
    printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$(echo "$t1 - $t0" | bc)" "$(echo "$cpu1 - $cpu0" | bc)" "$wal" |
      tee -a "$WORK/results.tsv"
    kill "${PIDS[-1]}"
    wait "${PIDS[-1]}" 2>/dev/null || true
    unset 'PIDS[-1]'
    rm -rf "$STATE"
  done
done

python3 - "$WORK/results.tsv" "$N" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
n = int(sys.argv[2])
base = {r[0]: r for r in rows if r[1] == rows[0][1]}
print(f"\n{n:,} logs inserted per run (batches of 500), with read-api's indexes:\n")
print("| round | variant | seconds | inserts/s | PostgreSQL CPU-s | WAL MB | ratio to the default: seconds / CPU / WAL |")
print("|---|---|---|---|---|---|---|")
for rnd, name, secs, cpu, wal in rows:
    b = base[rnd]
    ratio = lambda i, v: float(v) / float(b[i])
    print(f"| {rnd} | {name} | {float(secs):.1f} | {n / float(secs):,.0f} | {float(cpu):.1f} | {int(wal) / 1e6:,.0f} "
          f"| {ratio(2, secs):.2f} / {ratio(3, cpu):.2f} / {ratio(4, wal):.2f} |")
PY

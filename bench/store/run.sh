#!/usr/bin/env bash
# The MongoDB-compatible store for the logs workload: FerretDB 1.24 on SQLite (the stack's
# default) against FerretDB 1.24 on PostgreSQL (Debian's), holding the same documents, in one run.
#
#   bench/store/run.sh                      # 10,000 then 100,000 documents, 10 repeats a query
#   SIZES="10000 300000" REPEATS=5 bench/store/run.sh
#
# Writes go through logs-writer's own sink (fill_logs: insert_many batches of 500 as logs-writer
# sends, plus the totals it keeps); reads are read-api's own queries (time_queries: a page of 50
# with the total read-api answers with, unfiltered and by match, team and phase; the total of
# /api/stats), timed without HTTP and with a 60 s bound instead of read-api's 2 s, so the table
# shows what each query costs. A benchmark, not a test: everything shares the machine's cores.
set -euo pipefail
SIZES=${SIZES:-10000 100000}
REPEATS=${REPEATS:-10}
BATCH=${BATCH:-500}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"
PG_BIN=${PG_BIN:-$(find /usr/lib/postgresql -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -1)}
[[ -x ${PG_BIN:-}/postgres ]] || { echo "PostgreSQL is missing: apt-get install -y postgresql" >&2; exit 1; }
release_build --example fill_logs --example time_queries
FERRETDB=$(command -v ferretdb || echo "$USACTAR_HOME/bin/ferretdb")
[[ -x $FERRETDB ]] || { echo "FerretDB is missing: run scripts/setup first" >&2; exit 1; }
machine_line
echo "ferretdb: $("$FERRETDB" --version 2>&1 | grep -m1 -i version); postgresql: $("$PG_BIN/postgres" --version)"

# PostgreSQL refuses to run as root: as the postgres user when root, in a folder it owns.
as_pg() { if (( EUID == 0 )); then runuser -u postgres -- "$@"; else "$@"; fi; }
PG_PORT=$(free_port)
mkdir -p "$WORK/pg"
(( EUID == 0 )) && chown postgres "$WORK/pg"
as_pg "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust -E UTF8 > "$WORK/pg/initdb.log"
# Durability as shipped (fsync, synchronous_commit on): the comparison trades nothing away.
# Started and stopped by pg_ctl: killing runuser (or a shell) would leave the server running.
as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/postgres.log" -w start \
  -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1" > /dev/null
stop_postgres() { as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w stop > /dev/null 2>&1 || true; }
trap 'stop_started; stop_postgres' EXIT
as_pg "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE ferretdb"

declare -A URI
for backend in sqlite postgresql; do
  port=$(free_port) debug=$(free_port)
  mkdir -p "$WORK/$backend/data"
  args=(--handler="$backend" --state-dir="$WORK/$backend" --listen-addr="127.0.0.1:$port"
    --debug-addr="127.0.0.1:$debug" --telemetry=disable --log-level=error)
  if [[ $backend == sqlite ]]; then
    args+=(--sqlite-url="file:$WORK/sqlite/data/")
  else
    args+=(--postgresql-url="postgres://postgres@127.0.0.1:$PG_PORT/ferretdb")
  fi
  "$FERRETDB" "${args[@]}" > "$WORK/$backend/ferretdb.log" 2>&1 &
  PIDS+=($!)
  URI[$backend]="mongodb://127.0.0.1:$port/?directConnection=true"
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
done

stored=0
: > "$WORK/results.tsv"
for size in $SIZES; do
  (( size > stored )) || continue
  for backend in sqlite postgresql; do
    echo "==> $backend: writing $((size - stored)) documents (to $size), batches of $BATCH"
    started=$(date +%s.%N)
    "$BIN/examples/fill_logs" "${URI[$backend]}" $((size - stored)) \
      "$ROOT/loadgen/data/predictions.json" "$BATCH" > /dev/null
    rate=$(python3 -c "import time;print(round($((size - stored))/(time.time()-$started)))")
    printf '%s\t%s\twrite (docs/s)\t%s\n' "$size" "$backend" "$rate" >> "$WORK/results.tsv"
    echo "==> $backend: read-api's queries at $size stored, $REPEATS each"
    "$BIN/examples/time_queries" "${URI[$backend]}" "$REPEATS" | tail -n +2 |
      while IFS=$'\t' read -r name _answers errors p50 p99; do
        printf '%s\t%s\t%s\t%s\n' "$size" "$backend" "$name p50 / p99 (ms)" \
          "$p50 / $p99$( ((errors > 0)) && echo " ($errors of $REPEATS failed)")" >> "$WORK/results.tsv"
      done
  done
  stored=$size
done

python3 - "$WORK/results.tsv" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
sizes = list(dict.fromkeys(r[0] for r in rows))
for size in sizes:
    print(f"\n{int(size):,} documents stored")
    print(f"  {'':34s} {'SQLite':>18s} {'PostgreSQL':>18s}")
    names = list(dict.fromkeys(r[2] for r in rows if r[0] == size))
    for name in names:
        v = {r[1]: r[3] for r in rows if r[0] == size and r[2] == name}
        print(f"  {name:34s} {v.get('sqlite', '-'):>18s} {v.get('postgresql', '-'):>18s}")
PY
echo "raw figures: $WORK/results.tsv"

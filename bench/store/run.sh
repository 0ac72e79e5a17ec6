#!/usr/bin/env bash
# The MongoDB-compatible store for the logs workload: FerretDB 1.24 on SQLite (the stack's
# default) against FerretDB 1.24 on PostgreSQL (Debian's), and FerretDB v2.7 on PostgreSQL 15 with
# the DocumentDB extension (issue 16: sorts and filters pushed down to indexes), holding the same
# documents, in one run.
#
#   bench/store/run.sh                      # sqlite and postgresql, 10,000 then 100,000 documents
#   SIZES="10000 300000" REPEATS=5 bench/store/run.sh
#   BACKENDS="sqlite documentdb" SIZES="10000 1000000" UPTO="sqlite:10000" bench/store/run.sh
#
# UPTO="backend:n ..." stops filling (and timing) a backend past n documents: SQLite at 1,000,000
# is known to take > 30 s a page (2026-11-30-ferretdb-pushdown/RESULTS.md).
#
# BACKENDS picks any of sqlite, postgresql, documentdb (default: the first two). documentdb needs
# scripts/build-documentdb run first (scripts/setup runs it) (FerretDB v2 in $USACTAR_HOME/documentdb/bin, the
# extension in Debian's PostgreSQL 15); it runs on a PostgreSQL cluster of its own.
#
# Writes go through logs-writer's own sink (fill_logs: insert_many batches of 500 as logs-writer
# sends, plus the totals it keeps); reads are read-api's own queries (time_queries: a page of 50
# with the total read-api answers with, unfiltered and by match, team and phase; the total of
# /api/stats), timed without HTTP and with a 60 s bound instead of read-api's 2 s, so the table
# shows what each query costs. After each size: the store's size on disk and the resident memory
# of the store's processes a few seconds idle. With pymongo in $DOCDB_HOME/venv (scripts/build-documentdb makes
# it): for documentdb the plans of the page queries after each size (documentdb/explain.py), and
# at the end, on every backend, what the services rely on (documentdb/compat.py: read-api's
# indexes, logs-writer's replays failing 11000, log_totals' $inc upserts). A benchmark, not a
# test: everything shares the machine's cores.
set -euo pipefail
SIZES=${SIZES:-10000 100000}
REPEATS=${REPEATS:-10}
BATCH=${BATCH:-500}
BACKENDS=${BACKENDS:-sqlite postgresql}
UPTO=${UPTO:-}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"
for backend in $BACKENDS; do
  [[ $backend =~ ^(sqlite|postgresql|documentdb)$ ]] || { echo "unknown backend $backend" >&2; exit 1; }
done
has() { [[ " $BACKENDS " == *" $1 "* ]]; }
PG_BIN=${PG_BIN:-$(find /usr/lib/postgresql -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -1)}
[[ -x ${PG_BIN:-}/postgres ]] || { echo "PostgreSQL is missing: apt-get install -y postgresql" >&2; exit 1; }
# DocumentDB is built for Debian's PostgreSQL 15 (scripts/build-documentdb installs it there).
DOCDB_HOME=${DOCDB_HOME:-$USACTAR_HOME/documentdb}
DOCDB_PG_BIN=${DOCDB_PG_BIN:-/usr/lib/postgresql/15/bin}
FERRETDB2=$DOCDB_HOME/bin/ferretdb
if has documentdb; then
  [[ -x $FERRETDB2 && -f $("$DOCDB_PG_BIN/pg_config" --sharedir)/extension/documentdb.control ]] ||
    { echo "FerretDB v2 or DocumentDB is missing: run scripts/setup (scripts/build-documentdb)" >&2; exit 1; }
fi
release_build --example fill_logs --example time_queries
FERRETDB=$(command -v ferretdb || echo "$USACTAR_HOME/bin/ferretdb")
[[ -x $FERRETDB ]] || { echo "FerretDB is missing: run scripts/setup first" >&2; exit 1; }
machine_line
echo "backends: $BACKENDS"
echo "ferretdb: $("$FERRETDB" --version 2>&1 | grep -m1 -i version); postgresql: $("$PG_BIN/postgres" --version)"
has documentdb && echo "documentdb: $("$FERRETDB2" --version 2>&1 | grep -m1 -i version)" \
  "on $("$DOCDB_PG_BIN/postgres" --version), DocumentDB $(cat "$DOCDB_HOME/src/documentdb.ref" 2>/dev/null)" \
  "$(cut -c1-10 "$DOCDB_HOME/src/documentdb.stamp" 2>/dev/null)"

# PostgreSQL refuses to run as root: as the postgres user when root, in a folder it owns.
as_pg() { if (( EUID == 0 )); then runuser -u postgres -- "$@"; else "$@"; fi; }
# Clusters are started and stopped by pg_ctl: killing runuser (or a shell) would leave the server
# running. Each cluster: bin folder, data folder, port.
CLUSTERS=()
stop_postgres() {
  local c bin dir
  for c in "${CLUSTERS[@]}"; do
    read -r bin dir _ <<< "$c"
    as_pg "$bin/pg_ctl" -D "$dir" -m fast -w stop > /dev/null 2>&1 || true
  done
}
trap 'stop_started; stop_postgres' EXIT
# new_cluster BIN DIR PORT [postgres -c settings...]: initdb and start.
new_cluster() {
  local bin=$1 dir=$2 port=$3 home opts setting
  home=$(dirname "$dir")
  opts="-p $port -k $home -c listen_addresses=127.0.0.1"
  shift 3
  for setting in "$@"; do opts+=" -c $setting"; done
  mkdir -p "$home"
  # mktemp's folder is root's alone: the postgres user must be able to pass through it.
  (( EUID == 0 )) && chmod o+x "$WORK" && chown postgres "$home"
  as_pg "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 > "$home/initdb.log"
  # Durability as shipped (fsync, synchronous_commit on): the comparison trades nothing away.
  CLUSTERS+=("$bin $dir $port")
  as_pg "$bin/pg_ctl" -D "$dir" -l "$home/postgres.log" -w start -o "$opts" > /dev/null
}
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

: > "$WORK/results.tsv"
declare -A URI DATA
if has postgresql; then
  PG_PORT=$(free_port)
  new_cluster "$PG_BIN" "$WORK/pg/data" "$PG_PORT"
  as_pg "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE ferretdb"
fi
if has documentdb; then
  # The settings FerretDB's docs give for DocumentDB's postgresql.conf
  # (website/docs/installation/documentdb/deb.md in v2.7.0, as the fork's packaging/10-preload.sh):
  # the libraries preloaded, pg_cron's jobs (DocumentDB's background work) in the `postgres`
  # database, where the extension is created and FerretDB connects. All else as Debian ships it.
  # (enableSortbyIdPushDownToPrimaryKey is not a parameter of the DocumentDB the mirror holds,
  # the `ferretdb` branch of 2025-08: PostgreSQL keeps it as an unused placeholder.)
  DOCDB_PRELOAD=${DOCDB_PRELOAD:-pg_cron,pg_documentdb_core,pg_documentdb}
  DOCDB_SETTINGS=("shared_preload_libraries=$DOCDB_PRELOAD"
    "cron.database_name=postgres" documentdb.enableCompact=true
    documentdb.enableLetAndCollationForQueryMatch=true documentdb.enableNowSystemVariable=true
    documentdb.enableSortbyIdPushDownToPrimaryKey=true documentdb.enableSchemaValidation=true
    documentdb.enableBypassDocumentValidation=true documentdb.enableUserCrud=true
    documentdb.maxUserLimit=100)
  # DOCDB_EXTRA="name=value ...": more settings, e.g. DocumentDB's experimental sort pushdown
  # (documentdb.defaultUseCompositeOpClass=true documentdb.enableIndexOrderbyPushdown=true);
  # DOCDB_PRELOAD and DOCDB_EXTENSIONS (default: documentdb) for the opt-in extended_rum index
  # access method (scripts/build-documentdb builds it): 2026-11-30-documentdb/RESULTS.md has the line.
  # shellcheck disable=SC2206  # one setting a word
  DOCDB_SETTINGS+=(${DOCDB_EXTRA:-})
  [[ -n ${DOCDB_EXTRA:-} ]] && echo "documentdb extra settings: $DOCDB_EXTRA"
  DOCDB_PORT=$(free_port)
  # Timed from nothing to a store that answers: what a fresh-state local stack would wait for.
  t0=$(date +%s.%N)
  new_cluster "$DOCDB_PG_BIN" "$WORK/documentdb/pg/data" "$DOCDB_PORT" "${DOCDB_SETTINGS[@]}"
  t1=$(date +%s.%N)
  create=(-c "SET client_min_messages = warning")
  for e in ${DOCDB_EXTENSIONS:-documentdb}; do create+=(-c "CREATE EXTENSION $e CASCADE"); done
  as_pg "$DOCDB_PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$DOCDB_PORT" -U postgres -d postgres \
    "${create[@]}"
  t2=$(date +%s.%N)
  as_pg "$DOCDB_PG_BIN/psql" -q -h 127.0.0.1 -p "$DOCDB_PORT" -U postgres -d postgres -At \
    -c "SELECT extname || ' ' || extversion FROM pg_extension ORDER BY 1" | tr '\n' ',' | sed 's/,$/\n/'
fi

for backend in $BACKENDS; do
  port=$(free_port) debug=$(free_port)
  mkdir -p "$WORK/$backend/data"
  args=(--state-dir="$WORK/$backend" --listen-addr="127.0.0.1:$port" --debug-addr="127.0.0.1:$debug"
    --telemetry=disable --log-level=error)
  bin=$FERRETDB
  case $backend in
    sqlite)
      args+=(--handler=sqlite --sqlite-url="file:$WORK/sqlite/data/")
      DATA[$backend]=$WORK/sqlite/data ;;
    postgresql)
      args+=(--handler=postgresql --postgresql-url="postgres://postgres@127.0.0.1:$PG_PORT/ferretdb")
      DATA[$backend]=$WORK/pg/data ;;
    documentdb)
      # FerretDB v2: one backend only (no --handler); authentication is on by default, off here
      # as FerretDB 1.24 runs in the stack.
      bin=$FERRETDB2
      args+=(--postgresql-url="postgres://postgres@127.0.0.1:$DOCDB_PORT/postgres?sslmode=disable" --no-auth)
      DATA[$backend]=$WORK/documentdb/pg/data ;;
  esac
  "$bin" "${args[@]}" > "$WORK/$backend/ferretdb.log" 2>&1 &
  PIDS+=($!)
  eval "FERRET_PID_$backend=$!"
  URI[$backend]="mongodb://127.0.0.1:$port/?directConnection=true"
  wait_port "$port" || { cat "$WORK/$backend/ferretdb.log"; echo "FerretDB ($backend) did not start" >&2; exit 1; }
  if [[ $backend == documentdb ]]; then
    t3=$(date +%s.%N)
    python3 - "$t0" "$t1" "$t2" "$t3" "${DOCDB_EXTENSIONS:-documentdb}" <<'PY' | tee "$WORK/documentdb/startup.txt"
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:5])
print(f"documentdb ready in {t3 - t0:.1f} s: initdb + start {t1 - t0:.1f} s, "
      f"CREATE EXTENSION {sys.argv[5]} CASCADE {t2 - t1:.1f} s, FerretDB listening {t3 - t2:.1f} s")
PY
  fi
done

# memory BACKEND: resident memory of the store's processes (FerretDB, and the PostgreSQL
# postmaster with all its children), as RSS summed and as PSS summed (shared pages counted once).
memory() {
  local pids pid
  pids=("$(eval echo "\$FERRET_PID_$1")")
  if [[ $1 != sqlite ]]; then
    pid=$(head -1 "${DATA[$1]}/postmaster.pid")
    mapfile -t -O 1 pids < <(echo "$pid"; pgrep -P "$pid")
  fi
  python3 - "${pids[@]}" <<'PY'
import sys
rss = pss = 0
for pid in sys.argv[1:]:
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            k, v = line.split(":", 1)[0], line.split()[1:2]
            if k == "Rss": rss += int(v[0])
            if k == "Pss": pss += int(v[0])
    except (FileNotFoundError, IndexError):
        pass
print(f"{rss / 1024:.0f} / {pss / 1024:.0f}")
PY
}
# disk BACKEND: the store's data folder (for PostgreSQL: the cluster, WAL included).
disk() { du -sm "${DATA[$1]}" | cut -f1; }

PY_VENV=$DOCDB_HOME/venv/bin/python
# upto BACKEND: the most documents it is filled with (UPTO), or none.
upto() { local u; for u in $UPTO; do [[ ${u%%:*} == "$1" ]] && { echo "${u#*:}"; return; }; done; echo 0; }
declare -A STORED
stored=0
for size in $SIZES; do
  (( size > stored )) || continue
  for backend in $BACKENDS; do
    max=$(upto "$backend")
    if (( max > 0 && size > max )); then
      echo "==> $backend: skipped at $size (UPTO $max)"
      continue
    fi
    n=$((size - ${STORED[$backend]:-0}))
    STORED[$backend]=$size
    echo "==> $backend: writing $n documents (to $size), batches of $BATCH"
    started=$(date +%s.%N)
    "$BIN/examples/fill_logs" "${URI[$backend]}" "$n" \
      "$ROOT/loadgen/data/predictions.json" "$BATCH" > /dev/null
    rate=$(python3 -c "import time;print(round($n/(time.time()-$started)))")
    printf '%s\t%s\twrite (docs/s)\t%s\n' "$size" "$backend" "$rate" >> "$WORK/results.tsv"
    echo "==> $backend: read-api's queries at $size stored, $REPEATS each"
    "$BIN/examples/time_queries" "${URI[$backend]}" "$REPEATS" | tail -n +2 |
      while IFS=$'\t' read -r name _answers errors p50 p99; do
        printf '%s\t%s\t%s\t%s\n' "$size" "$backend" "$name p50 / p99 (ms)" \
          "$p50 / $p99$( ((errors > 0)) && echo " ($errors of $REPEATS failed)")" >> "$WORK/results.tsv"
      done
    if [[ $backend == documentdb && -x $PY_VENV ]]; then
      "$PY_VENV" "$HERE/documentdb/explain.py" "${URI[$backend]}" > "$WORK/documentdb/explain-$size.txt" 2>&1 ||
        echo "explain failed: $WORK/documentdb/explain-$size.txt"
      grep '^plan' "$WORK/documentdb/explain-$size.txt" || true
    fi
  done
  # Sizes and memory once every backend has been written and read, a few seconds idle.
  sleep 5
  for backend in $BACKENDS; do
    [[ ${STORED[$backend]:-0} == "$size" ]] || continue
    [[ $backend == documentdb ]] &&
      as_pg "$DOCDB_PG_BIN/psql" -q -h 127.0.0.1 -p "$DOCDB_PORT" -U postgres -d postgres -c CHECKPOINT
    printf '%s\t%s\tdisk (MiB)\t%s\n' "$size" "$backend" "$(disk "$backend")" >> "$WORK/results.tsv"
    printf '%s\t%s\tidle RSS / PSS (MiB)\t%s\n' "$size" "$backend" "$(memory "$backend")" >> "$WORK/results.tsv"
  done
  stored=$size
done

if [[ -x $PY_VENV ]]; then
  for backend in $BACKENDS; do
    echo "==> $backend: what the services rely on (compat.py)"
    "$PY_VENV" "$HERE/documentdb/compat.py" "${URI[$backend]}" 2>&1 | tee "$WORK/$backend/compat.txt" || true
  done
fi

# shellcheck disable=SC2086  # one argument a backend
python3 - "$WORK/results.tsv" $BACKENDS <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
backends = sys.argv[2:]
title = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "documentdb": "DocumentDB"}
sizes = list(dict.fromkeys(r[0] for r in rows))
for size in sizes:
    print(f"\n{int(size):,} documents stored")
    print(f"  {'':34s}" + "".join(f" {title[b]:>18s}" for b in backends))
    names = list(dict.fromkeys(r[2] for r in rows if r[0] == size))
    for name in names:
        v = {r[1]: r[3] for r in rows if r[0] == size and r[2] == name}
        print(f"  {name:34s}" + "".join(f" {v.get(b, '-'):>18s}" for b in backends))
PY
has documentdb && cat "$WORK/documentdb/startup.txt"
echo "raw figures: $WORK/results.tsv"

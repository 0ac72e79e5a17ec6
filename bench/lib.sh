# shellcheck shell=bash
# Shared by the benchmarks (sourced first): ROOT (the clone), the project's environment
# (scripts/env.sh), WORK (BENCH_WORK, or a fresh folder), the release build, free ports, the local
# stack on its own ports, an NGINX baseline, and stopping all of it on exit (and removing the
# stack's state folder, unless KEEP_STATE=1). What a benchmark
# starts in the background goes into PIDS.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=/dev/null  # scripts/env.sh: exports only
source "$ROOT/scripts/env.sh"
WORK=${BENCH_WORK:-$(mktemp -d)}
mkdir -p "$WORK"

PIDS=()
# On exit: stop what the benchmark started, then remove the stack's state folder (its Kafka log,
# store and Redis: a gigabyte or more after a run, and each run starts a fresh one), keeping the
# small result files in WORK. KEEP_STATE=1 keeps it too.
stop_started() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [[ -z ${KEEP_STATE:-} && -d $WORK/state ]]; then rm -rf "$WORK/state"; fi
}
trap stop_started EXIT

# release_build [cargo target args, e.g. --example fill_logs]: one release build shared by every
# benchmark (the same packages, so cargo unifies their features alike), then the extra targets
# named; sets BIN to the folder of the binaries (examples in BIN/examples).
BENCH_PACKAGES=(-p experiments -p loadgen -p ingest -p consumer -p live-store -p read-api)
release_build() {
  echo "==> release build"
  (cd "$ROOT" && cargo build --release --locked "${BENCH_PACKAGES[@]}" -q &&
    if (($#)); then cargo build --release --locked "${BENCH_PACKAGES[@]}" "$@" -q; fi)
  # shellcheck disable=SC2034  # read by the scripts that source this file
  BIN=$CARGO_TARGET_DIR/release
}

# A free port below the kernel's ephemeral range: a port the kernel handed out (port 0) can be
# taken again by any outgoing connection before the server binds it (seen here: ingest failed
# "Address already in use" for 2 minutes while a client connection held its port). Ports given
# out are noted in $WORK/ports, so two names never get the same one.
free_port() {
  python3 -c '
import os, random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
taken = set(open(sys.argv[1]).read().split()) if os.path.exists(sys.argv[1]) else set()
while True:
    port = random.randrange(20000, low)
    if str(port) in taken:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port)); print(port); open(sys.argv[1], "a").write(f"{port}\n"); break
    except OSError:
        pass
    finally:
        s.close()
' "$WORK/ports"
}

machine_line() {
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r); commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ' (with local changes)'); $(date -u +%FT%TZ)"
}

# start_stack BIN STATE: `experiments up` on free ports of its own in STATE (in the background,
# its pid appended to PIDS), waiting until it prints "ready in"; the caller's environment (e.g.
# USACTAR_KAFKA_CONFIG) reaches every service.
start_stack() {
  local bin=$1 state=$2 ports=() name
  for name in ingress prometheus kafka kafka-controller mongodb redis toxiproxy control ferretdb-metrics postgresql \
    nginx-status kafka-jmx redis-exporter nginx-exporter node-exporter process-exporter ingest read-api \
    live-store live-link ingest-admin read-api-admin live-store-admin logs-writer-admin live-forwarder-admin; do
    ports+=(--port "$name=$(free_port)")
  done
  "$bin/experiments" up --state-dir "$state" "${ports[@]}" > "$WORK/up.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1200); do grep -q "^ready in" "$WORK/up.out" 2>/dev/null && return 0; sleep 0.1; done
  cat "$WORK/up.out"
  echo "the stack did not start" >&2
  return 1
}

# probe_fixtures FILE: Qatar 2022's 64 matches plus "Probe v Marker" (phase 1) into FILE. The load
# never sends that match, so /api/live counts only a benchmark's probes there.
probe_fixtures() {
  python3 - "$ROOT/crates/model/data/worldcup-2022.json" "$1" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["matches"].append({"team1": "Probe", "team2": "Marker", "phase": 1})
json.dump(f, open(sys.argv[2], "w"))
PY
}

# start_nginx SERVER_BLOCK: NGINX with one worker and the given `server { ... }` (the
# baseline each benchmark compares with), in $WORK/nginx, its pid appended to PIDS.
start_nginx() {
  local server=$1
  mkdir -p "$WORK/nginx"
  {
    [[ $(id -u) == 0 ]] && echo "user root;"
    cat <<CONF
worker_processes 1;
error_log $WORK/nginx/error.log warn;
pid $WORK/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  $server
}
CONF
  } > "$WORK/nginx/nginx.conf"
  /usr/sbin/nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e stderr -g 'daemon off;' &
  PIDS+=($!)
}

#!/usr/bin/env bash
# Sourced by the kind/sandbox scripts: where the sandbox keeps its builds and state, timed
# steps, low-priority builds and upstream checkouts.
# shellcheck disable=SC2034  # the variables below are read by the scripts that source this file

SANDBOX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SANDBOX_CACHE=${USACTAR_HOME:-$HOME/.cache/usactar}/sandbox
SANDBOX_BIN=$SANDBOX_CACHE/bin
SANDBOX_SRC=$SANDBOX_CACHE/src
SANDBOX_LOGS=$SANDBOX_CACHE/logs
mkdir -p "$SANDBOX_BIN" "$SANDBOX_SRC" "$SANDBOX_LOGS"

# Pinned releases.
K8S_VERSION=1.33.4
COREDNS_REF=v1.12.1
HELM_VERSION=3.18.6
LINKERD_REF=edge-26.8.3
LINKERD_PROXY_REF=release/v2.366.0
PROXY_INIT_REF=proxy-init/v2.4.9
PROMETHEUS_VERSION=2.55.1
CHAOS_MESH_REF=v2.8.3
# The proxy pins Rust 1.90 in rust-toolchain.toml; this machine has 1.95, which builds it.
SANDBOX_RUST_TOOLCHAIN=${SANDBOX_RUST_TOOLCHAIN:-1.95.0}

# Builds run niced and at idle I/O priority: they yield to everything else on the machine.
# Go builds one package at a time and cargo one crate at a time unless told otherwise.
SANDBOX_JOBS=${SANDBOX_JOBS:-1}
lowprio() { nice -n 19 ionice -c3 "$@"; }
# lowprio_self: the calling script and everything it starts from now on run at low priority.
lowprio_self() { renice -n 19 -p $$ >/dev/null; ionice -c3 -p $$; }

now() { date +%s; }
# step NAME CMD...: runs CMD, prints and logs how long it took; fails when it fails. CMD runs
# as a job of its own so that `set -e` holds inside it (bash ignores it in a function called
# from `f || ...`); what it sets in variables is not seen afterwards.
step() {
  local name=$1 t0 rc=0
  shift
  t0=$(now)
  printf '[%s] %s: start\n' "$(date +%T)" "$name"
  "$@" &
  wait "$!" || rc=$?
  printf '[%s] %s: %s after %ss\n' "$(date +%T)" "$name" "$([ "$rc" = 0 ] && echo ok || echo "FAILED ($rc)")" "$(( $(now) - t0 ))"
  return "$rc"
}

# checkout NAME ENV_VAR URL REF: a work tree of upstream NAME at REF under $SANDBOX_SRC/NAME.
# The source is the git repository named by ENV_VAR (a snapshot already on this machine, bare or
# not) when set, the public URL otherwise. Prints the work tree's path.
checkout() {
  local name=$1 var=$2 url=$3 ref=$4 dest=$SANDBOX_SRC/$1 from
  from=${!var:-$url}
  if [ -d "$dest/.git" ] && [ "$(cat "$dest/.sandbox-ref" 2>/dev/null)" = "$ref" ]; then
    echo "$dest"
    return
  fi
  rm -rf "$dest"
  git clone -q --no-checkout "$from" "$dest" >&2
  git -C "$dest" -c advice.detachedHead=false checkout -q "$ref" >&2
  echo "$ref" > "$dest/.sandbox-ref"
  echo "$dest"
}

# port_forward CONTEXT NAMESPACE SERVICE LOCAL:REMOTE: a `kubectl port-forward`, up before it
# returns; stop_port_forwards (an EXIT trap) stops them all. A port-forward reaches the pod on
# its loopback, where a Linkerd policy does not apply (the proxy intercepts only what arrives on
# the pod's address).
port_forwards=()
stop_port_forwards() { for pid in "${port_forwards[@]}"; do kill "$pid" 2>/dev/null || true; done; }
port_forward() {
  local ctx=$1 ns=$2 svc=$3 ports=$4 log
  log=$SANDBOX_LOGS/port-forward-$ctx-$svc.log
  kubectl --context "$ctx" -n "$ns" port-forward "svc/$svc" "$ports" >"$log" 2>&1 &
  port_forwards+=("$!")
  for _ in $(seq 50); do
    grep -q "Forwarding from" "$log" && return 0
    sleep 0.2
  done
  echo "$(basename "$0"): could not forward $svc of $ctx to :${ports%%:*} ($log):" >&2
  cat "$log" >&2
  return 1
}

# The stores' counts, read from the stores themselves through port-forwards to cluster b (the
# pods' loopback: their Linkerd policies admit only the services' identities on the pods'
# addresses). store_forwards MONGO_PORT REDIS_PORT opens them on those local ports (each script
# its own, so that a forward another script left behind cannot answer for it); then
# store_documents is the number of documents in MongoDB usactar.logs (FerretDB, over the wire
# protocol) and store_total is Redis's `total`.
store_forwards() {
  STORE_MONGO_PORT=$1 STORE_REDIS_PORT=$2
  port_forward kind-usactar-b usactar-data mongodb "$STORE_MONGO_PORT:27017"
  port_forward kind-usactar-b usactar-data redis "$STORE_REDIS_PORT:6379"
}
store_documents() { python3 "$SANDBOX_ROOT/kind/sandbox/mongo-count.py" "127.0.0.1:$STORE_MONGO_PORT" usactar logs; }
store_total() {
  local n
  n=$(redis-cli -p "$STORE_REDIS_PORT" --raw get total)
  echo "${n:-0}"
}

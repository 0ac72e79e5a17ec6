#!/usr/bin/env bash
# Builds everything the sandbox clusters need, once, into ${USACTAR_HOME:-~/.cache/usactar}/sandbox/bin:
# Kubernetes 1.33.4, CoreDNS, Helm, Linkerd's CLI, control plane, proxy and proxy-init, Chaos
# Mesh (build-chaos-mesh.sh, at nice 10 after the other Go programs). Two lanes
# run side by side, each one job at a time and at the lowest CPU and I/O priority: the Go lane
# (Kubernetes, then the other Go programs) and the Rust lane (the proxy, then the policy
# controller). Each lane logs to $SANDBOX_LOGS/<lane>.log; this prints how long each step took.
# A second run finds every binary and returns at once.
#
#   USACTAR_LINKERD2_SRC=... USACTAR_LINKERD2_PROXY_SRC=... USACTAR_LINKERD2_PROXY_INIT_SRC=... \
#   USACTAR_LINKERD_KUBERT_SRC=... USACTAR_COREDNS_SRC=... USACTAR_CHAOS_MESH_SRC=... kind/sandbox/build.sh
#
# (each a git repository of that upstream on this machine; unset, the public repository is cloned).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"

go_lane() {
  step kubernetes "$here/build-kubernetes.sh"
  "$here/build-go.sh"
  step chaos-mesh "$here/build-chaos-mesh.sh"
}
rust_lane() {
  "$here/build-linkerd-rust.sh"
  step usactar-services "$here/build-services.sh"
}

t0=$(now)
go_lane > "$SANDBOX_LOGS/go.log" 2>&1 &
go_pid=$!
rust_lane > "$SANDBOX_LOGS/rust.log" 2>&1 &
rust_pid=$!
rc=0
wait "$go_pid" || rc=1
wait "$rust_pid" || rc=1
grep -h -E '^\[[0-9:]+\] .*(ok|FAILED).* after [0-9]+s$' "$SANDBOX_LOGS/go.log" "$SANDBOX_LOGS/rust.log" || true
echo "build.sh: $([ "$rc" = 0 ] && echo ok || echo FAILED) after $(( $(now) - t0 ))s; logs in $SANDBOX_LOGS; binaries in $SANDBOX_BIN"
ls "$SANDBOX_BIN"
exit "$rc"

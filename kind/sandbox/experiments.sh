#!/usr/bin/env bash
# The experiment kit against the sandbox clusters (up.sh first): every experiment of
# `experiments list` through Chaos Mesh, golden metrics from each cluster's linkerd-viz
# Prometheus, consumer lag from the broker, reports under reports/kube/<experiment>/<run-id>/.
#
#   kind/sandbox/experiments.sh                       # `all --target kube` (3 repeats)
#   kind/sandbox/experiments.sh all --repeat 1        # one run of each
#   kind/sandbox/experiments.sh run podkill-read-api  # one experiment
#   USACTAR_KUBE_OUT=/tmp/x kind/sandbox/experiments.sh ...   # reports elsewhere
#
# What it wires (kind/up.sh prints the same for kind, on localhost ports):
#   - linkerd-viz's Prometheus of cluster a on 127.0.0.1:9090 and of b on :9091, by
#     `kubectl port-forward`, stopped on exit;
#   - the ingresses: a at http://172.30.0.11 (POST /input), b at http://172.30.0.12 (/api);
#   - Kafka's kafka-external listener, node port 30092 on cluster a's node
#     (deploy/overlays/kind/a/kafka-external.yaml);
#   - cluster b's gateway address for the network faults' externalTargets.
# The experiments binary is the release build of this checkout (built when missing or stale).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
# shellcheck source=kind/sandbox/cluster.sh
. "$here/cluster.sh"
cd "$SANDBOX_ROOT"
# shellcheck source=scripts/env.sh
source scripts/env.sh
export KUBECONFIG=$SANDBOX_KUBECONFIG PATH=$SANDBOX_BIN:$PATH

cluster_vars usactar-a
a_ip=$NODE_IP
cluster_vars usactar-b
b_ip=$NODE_IP
for ctx in kind-usactar-a kind-usactar-b; do
  kubectl --context "$ctx" get --raw /readyz >/dev/null 2>&1 ||
    { echo "experiments.sh: $ctx does not answer: run kind/sandbox/up.sh first" >&2; exit 1; }
done

forwards=()
cleanup() { for pid in "${forwards[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
forward() {
  local ctx=$1 port=$2 log
  log=$SANDBOX_LOGS/port-forward-$ctx.log
  kubectl --context "$ctx" -n linkerd-viz port-forward svc/prometheus "$port:9090" >"$log" 2>&1 &
  forwards+=("$!")
  for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "experiments.sh: linkerd-viz's Prometheus of $ctx is not reachable on :$port ($log):" >&2
  cat "$log" >&2
  return 1
}
forward kind-usactar-a 9090
forward kind-usactar-b 9091

cargo build --release --locked -p experiments
[ $# -gt 0 ] || set -- all
cmd=$1
shift
exec "$CARGO_TARGET_DIR/release/experiments" "$cmd" --target kube \
  --context-a kind-usactar-a --context-b kind-usactar-b \
  --ingress "http://$a_ip" --api "http://$b_ip" \
  --prometheus-a http://127.0.0.1:9090 --prometheus-b http://127.0.0.1:9091 \
  --kafka "$a_ip:30092" --gateway "$b_ip" \
  --out "${USACTAR_KUBE_OUT:-reports/kube}" "$@"

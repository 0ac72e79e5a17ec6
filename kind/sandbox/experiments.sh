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
#     (deploy/components/kafka-external), as usactar-admin (deploy/components/kafka-sasl-external,
#     in every overlay of cluster a), whose password is read from the Secret usactar-kafka-users
#     into USACTAR_KAFKA_PASSWORD (never onto a command line);
#   - cluster b's gateway address for the network faults' externalTargets;
#   - cluster b's MongoDB on 127.0.0.1:27117 and Redis on :6479, by port-forward, for the counts.
# The experiments binary is the release build of this checkout (built when missing or stale).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
# shellcheck source=kind/sandbox/cluster.sh
. "$here/cluster.sh"
cd "$SANDBOX_ROOT"
# shellcheck source=/dev/null  # scripts/env.sh: exports only
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

trap stop_port_forwards EXIT
port_forward kind-usactar-a linkerd-viz prometheus 9090:9090
port_forward kind-usactar-b linkerd-viz prometheus 9091:9090
# The data invariant counts the stores directly: read-api's /api/stats gives up after 2 s, and
# FerretDB on SQLite counts tens of thousands of documents slower than that under load.
port_forward kind-usactar-b usactar-data mongodb 27117:27017
port_forward kind-usactar-b usactar-data redis 6479:6379

# The broker's external listener asks for a user where deploy/components/kafka-sasl-external is
# applied (its protocol map says EXTERNAL:SASL_PLAINTEXT): every overlay of cluster a since
# 2026-11-30. Not the Secret's mere existence: it outlives a cluster a applied from an older
# checkout, whose listener is PLAINTEXT, and a client that logs in there gets no answer (lag
# "not measured").
kafka_user=()
protocols=$(kubectl --context kind-usactar-a -n usactar-data get statefulset kafka -o \
  jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="KAFKA_LISTENER_SECURITY_PROTOCOL_MAP")].value}' \
  2>/dev/null || true)
if [[ ",$protocols," == *,EXTERNAL:SASL_PLAINTEXT,* ]]; then
  admin_password=$(kubectl --context kind-usactar-a -n usactar-data get secret usactar-kafka-users \
    -o jsonpath='{.data.usactar-admin}' 2>/dev/null || true)
  [ -n "$admin_password" ] || {
    echo "experiments.sh: Kafka's external listener asks for a user, but usactar-data/usactar-kafka-users has no usactar-admin" >&2
    exit 1
  }
  USACTAR_KAFKA_PASSWORD=$(printf '%s' "$admin_password" | base64 -d)
  export USACTAR_KAFKA_PASSWORD
  kafka_user=(--kafka-username usactar-admin)
fi

# The same selection as scripts/run's build, so that one build serves both: built alone,
# `-p experiments` unifies the dependencies' features differently and recompiled about 60
# crates (16 minutes here).
cargo build --release --locked --workspace --bins
[ $# -gt 0 ] || set -- all
cmd=$1
shift
# Not exec: the port-forwards are stopped by the EXIT trap once the experiments are over.
"$CARGO_TARGET_DIR/release/experiments" "$cmd" --target kube \
  --context-a kind-usactar-a --context-b kind-usactar-b \
  --ingress "http://$a_ip" --api "http://$b_ip" \
  --prometheus-a http://127.0.0.1:9090 --prometheus-b http://127.0.0.1:9091 \
  --kafka "$a_ip:30092" "${kafka_user[@]}" --gateway "$b_ip" \
  --mongodb "mongodb://127.0.0.1:27117/?directConnection=true" --redis redis://127.0.0.1:6479 \
  --out "${USACTAR_KUBE_OUT:-reports/kube}" "$@"

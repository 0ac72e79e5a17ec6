#!/usr/bin/env bash
# Two kind clusters joined by Linkerd multicluster, with Chaos Mesh, Kafka, Redis, MongoDB,
# Prometheus, Grafana and the Nix-built Usactar images: the Kubernetes path on one machine.
#
#   nix develop          # kind, kubectl, linkerd, helm, step, docker client...
#   kind/up.sh           # ~10 minutes on a laptop; needs Docker (or Podman) running
#   kind/down.sh
#
# Idempotent: rerunning it skips existing clusters and re-applies everything else.
# Contexts: kind-usactar-a (cluster A, "gke") and kind-usactar-b (cluster B, "aks").
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

A=usactar-a
B=usactar-b
CTX_A=kind-$A
CTX_B=kind-$B
STATE=${USACTAR_KIND_STATE:-$root/kind/.state}

log() { printf '\n==> %s\n' "$*"; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "missing $1: run inside 'nix develop'" >&2; exit 1; }; }
for tool in kind kubectl linkerd helm docker nix; do need "$tool"; done
mkdir -p "$STATE"

# What only kind does: create the clusters and load the images. The rest (Linkerd, Chaos Mesh,
# ingress, the overlays, monitoring, the link) is kind/platform.sh, shared with kind/sandbox/.
create_cluster() {
  local name=$1 config=$2
  if kind get clusters 2>/dev/null | grep -qx "$name"; then
    log "cluster $name exists"
  else
    log "creating cluster $name"
    kind create cluster --config "$config" --wait 120s
  fi
}
create_cluster "$A" kind/cluster-a.yaml
create_cluster "$B" kind/cluster-b.yaml

log "building the images with Nix and loading them into the clusters"
load() {
  local image=$1 cluster=$2 archive
  nix build ".#$image-image" -o "$STATE/$image-image"
  # buildLayeredImage writes a gzipped docker archive; kind wants a plain tar.
  archive=$STATE/$image.tar
  gzip -dc "$STATE/$image-image" > "$archive"
  kind load image-archive "$archive" --name "$cluster"
}
for image in ingest logs-writer live-forwarder; do load "$image" "$A"; done
for image in live-store read-api; do load "$image" "$B"; done

# From inside cluster a, cluster b's API server is its control-plane container on the docker
# network "kind", and its gateway the NodePort on that node.
b_node_ip=$(docker inspect -f '{{.NetworkSettings.Networks.kind.IPAddress}}' "$B-control-plane")
CTX_A=$CTX_A CTX_B=$CTX_B USACTAR_KIND_STATE=$STATE \
  USACTAR_B_API_SERVER="https://$B-control-plane:6443" USACTAR_B_GATEWAY_ADDRESS="$b_node_ip" \
  "$root/kind/platform.sh"

cat <<EOF

Usactar is up.
  POST predictions:   curl -XPOST localhost:8080/input -H 'content-type: application/json' \\
                        -d '{"team1":"Argentina","team2":"France","score":"3-3","phase":4}'
  read API:           curl localhost:8081/api/stats
  golden metrics:     linkerd --context $CTX_B viz stat deploy -n usactar-api
  Prometheus (viz), both, where the kit expects them (a on 9090, b on 9091):
                      kubectl --context $CTX_A -n linkerd-viz port-forward svc/prometheus 9090 &
                      kubectl --context $CTX_B -n linkerd-viz port-forward svc/prometheus 9091:9090 &
  Grafana:            kubectl --context $CTX_A -n usactar-monitoring port-forward svc/grafana 3000:80
                      (admin / usactar)
  the netdelay gateway address (for --gateway): $b_node_ip
  Kafka's administrator, for the kit's lag readers on node port 30092 (only it may log in there):
                      export USACTAR_KAFKA_PASSWORD=\$(kubectl --context $CTX_A -n usactar-data \\
                        get secret usactar-kafka-users -o jsonpath='{.data.usactar-admin}' | base64 -d)
  an experiment:      cargo run -p experiments -- podkill --target kube \\
                        --kafka \$(docker inspect -f '{{.NetworkSettings.Networks.kind.IPAddress}}' $A-control-plane):30092 \\
                        --kafka-username usactar-admin
EOF

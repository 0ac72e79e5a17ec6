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
# Pinned so a rerun months later builds the same thing. Linkerd 2.14 is the last open-source
# stable release (nixpkgs' `linkerd`); its CLI still has `multicluster link`.
CHAOS_MESH_VERSION=2.7.2
INGRESS_NGINX_VERSION=controller-v1.12.0
PROMETHEUS_CHART_VERSION=27.5.1
GRAFANA_CHART_VERSION=8.10.1
STATE=${USACTAR_KIND_STATE:-$root/kind/.state}

log() { printf '\n==> %s\n' "$*"; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "missing $1: run inside 'nix develop'" >&2; exit 1; }; }
for tool in kind kubectl linkerd helm docker nix; do need "$tool"; done
mkdir -p "$STATE"

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

# One trust anchor for both clusters, so each proxy trusts the other cluster's identities; one
# issuer per cluster, signed by it. step when present, openssl otherwise.
make_certs() {
  local dir=$STATE/certs
  mkdir -p "$dir"
  if [ -f "$dir/ca.crt" ]; then return; fi
  log "generating the shared Linkerd trust anchor"
  if command -v step >/dev/null 2>&1; then
    step certificate create root.linkerd.cluster.local "$dir/ca.crt" "$dir/ca.key" \
      --profile root-ca --no-password --insecure --not-after 87600h
    for c in a b; do
      step certificate create identity.linkerd.cluster.local "$dir/issuer-$c.crt" "$dir/issuer-$c.key" \
        --profile intermediate-ca --not-after 8760h --no-password --insecure \
        --ca "$dir/ca.crt" --ca-key "$dir/ca.key"
    done
  else
    openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key"
    openssl req -x509 -new -key "$dir/ca.key" -days 3650 -subj "/CN=root.linkerd.cluster.local" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$dir/ca.crt"
    for c in a b; do
      openssl ecparam -name prime256v1 -genkey -noout -out "$dir/issuer-$c.key"
      openssl req -new -key "$dir/issuer-$c.key" -subj "/CN=identity.linkerd.cluster.local" \
        -out "$dir/issuer-$c.csr"
      openssl x509 -req -in "$dir/issuer-$c.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 365 -out "$dir/issuer-$c.crt" \
        -extfile <(printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n')
    done
  fi
}
make_certs

install_linkerd() {
  local ctx=$1 c=$2 dir=$STATE/certs
  log "Linkerd, linkerd-viz and multicluster on $ctx"
  linkerd --context "$ctx" install --crds | kubectl --context "$ctx" apply -f -
  linkerd --context "$ctx" install \
    --identity-trust-anchors-file "$dir/ca.crt" \
    --identity-issuer-certificate-file "$dir/issuer-$c.crt" \
    --identity-issuer-key-file "$dir/issuer-$c.key" | kubectl --context "$ctx" apply -f -
  linkerd --context "$ctx" check --wait 5m >/dev/null
  linkerd --context "$ctx" viz install | kubectl --context "$ctx" apply -f -
  # kind has no LoadBalancer: the gateway is a NodePort on the docker network "kind", which
  # both clusters' nodes share.
  linkerd --context "$ctx" multicluster install --set gateway.serviceType=NodePort |
    kubectl --context "$ctx" apply -f -
}
install_linkerd "$CTX_A" a
install_linkerd "$CTX_B" b

for ctx in "$CTX_A" "$CTX_B"; do
  log "Chaos Mesh $CHAOS_MESH_VERSION on $ctx"
  helm repo add chaos-mesh https://charts.chaos-mesh.org >/dev/null 2>&1 || true
  helm repo update chaos-mesh >/dev/null
  # kind nodes run containerd: chaos-daemon must talk to its socket, not Docker's.
  helm --kube-context "$ctx" upgrade --install chaos-mesh chaos-mesh/chaos-mesh \
    --namespace chaos-mesh --create-namespace --version "$CHAOS_MESH_VERSION" \
    --set chaosDaemon.runtime=containerd \
    --set chaosDaemon.socketPath=/run/containerd/containerd.sock \
    --set dashboard.securityMode=false --wait

  log "ingress-nginx on $ctx (meshed, so its calls show in Linkerd's metrics)"
  kubectl --context "$ctx" apply -f \
    "https://raw.githubusercontent.com/kubernetes/ingress-nginx/$INGRESS_NGINX_VERSION/deploy/static/provider/kind/deploy.yaml"
  kubectl --context "$ctx" -n ingress-nginx rollout status deploy/ingress-nginx-controller --timeout 5m
  kubectl --context "$ctx" -n ingress-nginx get deploy ingress-nginx-controller -o yaml |
    linkerd inject - | kubectl --context "$ctx" apply -f -
done

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

log "deploying Usactar (deploy/overlays/kind/{a,b}: services, Kafka, Redis, MongoDB, dashboards)"
kubectl --context "$CTX_B" apply -k deploy/overlays/kind/b
kubectl --context "$CTX_A" apply -k deploy/overlays/kind/a

for ctx in "$CTX_A" "$CTX_B"; do
  log "Prometheus and Grafana on $ctx"
  helm repo add prometheus-community https://prometheus-community.github.io/helm-charts >/dev/null 2>&1 || true
  helm repo add grafana https://grafana.github.io/helm-charts >/dev/null 2>&1 || true
  helm repo update prometheus-community grafana >/dev/null
  helm --kube-context "$ctx" upgrade --install prometheus prometheus-community/prometheus \
    --namespace usactar-monitoring --version "$PROMETHEUS_CHART_VERSION" \
    -f kind/prometheus-values.yaml --wait
  helm --kube-context "$ctx" upgrade --install grafana grafana/grafana \
    --namespace usactar-monitoring --version "$GRAFANA_CHART_VERSION" \
    -f kind/grafana-values.yaml --wait
done

log "linking the clusters: cluster a mirrors cluster b's exported services"
# From inside cluster a, cluster b's API server is its control-plane container on the docker
# network, and its gateway the NodePort on that node.
b_node_ip=$(docker inspect -f '{{.NetworkSettings.Networks.kind.IPAddress}}' "$B-control-plane")
b_gateway_port=$(kubectl --context "$CTX_B" -n linkerd-multicluster get svc linkerd-gateway \
  -o jsonpath='{.spec.ports[?(@.name=="mc-gateway")].nodePort}')
b_probe_port=$(kubectl --context "$CTX_B" -n linkerd-multicluster get svc linkerd-gateway \
  -o jsonpath='{.spec.ports[?(@.name=="mc-probe")].nodePort}')
linkerd --context "$CTX_B" multicluster link --cluster-name "$B" \
  --api-server-address "https://$B-control-plane:6443" \
  --gateway-addresses "$b_node_ip" --gateway-port "$b_gateway_port" \
  --gateway-probe-port "$b_probe_port" |
  kubectl --context "$CTX_A" apply -f -
linkerd --context "$CTX_A" multicluster check --wait 5m

log "waiting for the services"
kubectl --context "$CTX_B" -n usactar-live rollout status deploy/live-store --timeout 5m
kubectl --context "$CTX_B" -n usactar-api rollout status deploy/read-api --timeout 5m
kubectl --context "$CTX_A" -n usactar-data rollout status statefulset/kafka --timeout 5m
kubectl --context "$CTX_A" -n usactar-ingest rollout status deploy/ingest --timeout 5m
kubectl --context "$CTX_A" -n usactar-pipeline rollout status deploy/consumer --timeout 5m

cat <<EOF

Usactar is up.
  POST predictions:   curl -XPOST localhost:8080/input -H 'content-type: application/json' \\
                        -d '{"team1":"Guatemala","team2":"Argentina","score":"2-5","phase":1}'
  read API:           curl localhost:8081/api/stats
  golden metrics:     linkerd --context $CTX_B viz stat deploy -n usactar-api
  Prometheus (viz):   kubectl --context $CTX_B -n linkerd-viz port-forward svc/prometheus 9090
  Grafana:            kubectl --context $CTX_A -n usactar-monitoring port-forward svc/grafana 3000:80
                      (admin / usactar)
  the netdelay gateway address (for --gateway): $b_node_ip
  an experiment:      cargo run -p experiments -- podkill --target kube
EOF

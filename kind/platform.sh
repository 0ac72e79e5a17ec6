#!/usr/bin/env bash
# The platform on two clusters that already exist and already hold the images they run: one
# trust anchor, Linkerd (control plane, viz, multicluster), Chaos Mesh, ingress-nginx, the
# Usactar overlays, Prometheus and Grafana, and cluster b linked into cluster a.
#
# Shared by every way of making the clusters, so that only cluster creation and image loading
# differ between them: kind/up.sh (kind) calls it, and so can kind/sandbox/ (clusters without a
# container engine). Idempotent: every step is an apply or an upgrade, and what cannot be
# re-applied (linkerd install) is skipped once it is there.
#
# What differs between the callers comes in through the environment:
#   CTX_A, CTX_B                  kubeconfig contexts (default kind-usactar-a, kind-usactar-b)
#   USACTAR_B_API_SERVER          cluster b's API server as cluster a's pods reach it (required)
#   USACTAR_B_GATEWAY_ADDRESS     cluster b's multicluster gateway address from cluster a (required)
#   USACTAR_LINKERD_INSTALL_ARGS  extra `linkerd install` arguments (e.g. --set proxy.await=false)
#   USACTAR_VIZ_INSTALL_ARGS      extra `linkerd viz install` arguments (e.g. a local Prometheus image)
#   USACTAR_CHAOS_MESH_CHART      Chaos Mesh's chart folder (the sandbox: the one build-chaos-mesh.sh
#                                 takes from the release's source); default the published chart
#                                 at the version kind/chaos-mesh.sh pins
#   USACTAR_CHAOS_MESH_SOCKET_A, USACTAR_CHAOS_MESH_SOCKET_B
#                                 containerd's socket on each cluster's nodes (default kind's
#                                 /run/containerd/containerd.sock)
#   USACTAR_INGRESS_NGINX_MANIFEST  a file or URL (default the pinned kind provider manifest,
#                                 downloaded once and checked against its sha256)
#   USACTAR_OVERLAYS              the folder holding the overlays a/ and b/ (default
#                                 deploy/overlays/kind; the sandbox's build on them)
#   USACTAR_SKIP                  space-separated steps to leave out: chaos-mesh ingress monitoring
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

A=usactar-a
B=usactar-b
CTX_A=${CTX_A:-kind-$A}
CTX_B=${CTX_B:-kind-$B}
INGRESS_NGINX_VERSION=controller-v1.12.0
# sha256 of deploy/static/provider/kind/deploy.yaml at that tag (its images are pinned by digest
# inside): a download that differs is refused, not applied.
INGRESS_NGINX_SHA256=8ad30e7c453834eb4237a09404221e36b801b60a283f92ce1da58395caaf164f
PROMETHEUS_CHART_VERSION=27.5.1
GRAFANA_CHART_VERSION=8.10.1
# Chaos Mesh's default pod-failure image is gcr.io/google-containers/pause:latest, a registry
# path that no longer serves; registry.k8s.io's pause is what kubelets use anyway.
PAUSE_IMAGE=registry.k8s.io/pause:3.10
STATE=${USACTAR_KIND_STATE:-$root/kind/.state}
: "${USACTAR_B_API_SERVER:?the API server of cluster b, as cluster a reaches it}"
: "${USACTAR_B_GATEWAY_ADDRESS:?the multicluster gateway of cluster b, as cluster a reaches it}"
read -r -a linkerd_args <<< "${USACTAR_LINKERD_INSTALL_ARGS:-}"
read -r -a viz_args <<< "${USACTAR_VIZ_INSTALL_ARGS:-}"
overlays=${USACTAR_OVERLAYS:-deploy/overlays/kind}
skip=" ${USACTAR_SKIP:-} "

started=$(date +%s)
step_started=$started
log() {
  local now; now=$(date +%s)
  printf '\n==> %s   (previous step %ss, %ss in all)\n' "$*" "$((now - step_started))" "$((now - started))"
  step_started=$now
}
need() { command -v "$1" >/dev/null 2>&1 || { echo "missing $1: run inside 'nix develop' (kind) or see kind/sandbox/README.md" >&2; exit 1; }; }
for tool in kubectl linkerd helm openssl; do need "$tool"; done
mkdir -p "$STATE"

# The ingress-nginx manifest to apply: USACTAR_INGRESS_NGINX_MANIFEST as given (the sandbox's
# own file), else the pinned upstream file, downloaded once into $STATE and checked.
ingress_nginx_manifest() {
  if [ -n "${USACTAR_INGRESS_NGINX_MANIFEST:-}" ]; then
    echo "$USACTAR_INGRESS_NGINX_MANIFEST"
    return
  fi
  local file="$STATE/ingress-nginx-$INGRESS_NGINX_VERSION.yaml"
  if [ ! -f "$file" ]; then
    need curl
    curl -fsSL -o "$file.part" \
      "https://raw.githubusercontent.com/kubernetes/ingress-nginx/$INGRESS_NGINX_VERSION/deploy/static/provider/kind/deploy.yaml"
    mv "$file.part" "$file"
  fi
  if ! echo "$INGRESS_NGINX_SHA256  $file" | sha256sum --check --status; then
    echo "the ingress-nginx manifest $file does not have the pinned sha256 $INGRESS_NGINX_SHA256: refused (delete it to download again)" >&2
    exit 1
  fi
  echo "$file"
}

"$root/kind/certs.sh" "$STATE/certs"

install_linkerd() {
  local ctx=$1 c=$2 dir=$STATE/certs
  log "Linkerd, linkerd-viz and multicluster on $ctx"
  # `linkerd install` refuses to run once linkerd-config exists, --crds too (found on the
  # sandbox): a rerun renders the CRDs with `upgrade --crds` and keeps the control plane as it is
  # (`linkerd upgrade` is the tool for changing it).
  local installed=0 crds_verb=install
  if kubectl --context "$ctx" -n linkerd get configmap linkerd-config >/dev/null 2>&1; then
    installed=1 crds_verb=upgrade
  fi
  # Recent Linkerd (edge-26.x) needs the Gateway API CRDs, which its CRD chart installs on request.
  # Server-side: two of them (httproutes) are larger than the 256 KiB annotation a client-side
  # apply writes.
  linkerd --context "$ctx" "$crds_verb" --crds --set installGatewayAPI=true |
    kubectl --context "$ctx" apply --server-side --force-conflicts -f -
  if [ "$installed" = 1 ]; then
    echo "Linkerd's control plane is already installed on $ctx: kept"
  else
    # No heartbeat: nothing in the clusters calls outside the machine.
    linkerd --context "$ctx" install \
      --identity-trust-anchors-file "$dir/ca.crt" \
      --identity-issuer-certificate-file "$dir/issuer-$c.crt" \
      --identity-issuer-key-file "$dir/issuer-$c.key" \
      --set disableHeartBeat=true "${linkerd_args[@]}" | kubectl --context "$ctx" apply -f -
  fi
  kubectl --context "$ctx" -n linkerd rollout status deploy --timeout 5m
  # Rendering viz or multicluster again makes new webhook and tap certificates that the running
  # pods do not have: once installed, they are kept (their `upgrade` commands change them).
  if kubectl --context "$ctx" get namespace linkerd-viz >/dev/null 2>&1; then
    echo "linkerd-viz is already installed on $ctx: kept"
  else
    linkerd --context "$ctx" viz install "${viz_args[@]}" | kubectl --context "$ctx" apply -f -
  fi
  kubectl --context "$ctx" -n linkerd-viz rollout status deploy --timeout 5m
  if kubectl --context "$ctx" get namespace linkerd-multicluster >/dev/null 2>&1; then
    echo "linkerd-multicluster is already installed on $ctx: kept"
  else
    # Neither kind nor the sandbox has a LoadBalancer: the gateway is a NodePort on the node.
    # Its pause container is the kubelets' pause image, not the chart's pause:3.2.
    linkerd --context "$ctx" multicluster install --set gateway.serviceType=NodePort \
      --set gateway.pauseImage="$PAUSE_IMAGE" | kubectl --context "$ctx" apply -f -
  fi
  kubectl --context "$ctx" -n linkerd-multicluster rollout status deploy/linkerd-gateway --timeout 5m
}
install_linkerd "$CTX_A" a
install_linkerd "$CTX_B" b

for ctx in "$CTX_A" "$CTX_B"; do
  if [[ $skip != *" chaos-mesh "* ]]; then
    log "Chaos Mesh on $ctx"
    # The release and its values (containerd, registry.k8s.io's pause for pod failure, no
    # dashboard) are kind/chaos-mesh.sh's; only the nodes' containerd socket differs per cluster.
    if [ "$ctx" = "$CTX_A" ]; then sock=${USACTAR_CHAOS_MESH_SOCKET_A:-}; else sock=${USACTAR_CHAOS_MESH_SOCKET_B:-}; fi
    USACTAR_CHAOS_MESH_SOCKET=${sock:-/run/containerd/containerd.sock} USACTAR_PAUSE_IMAGE=$PAUSE_IMAGE \
      "$root/kind/chaos-mesh.sh" "$ctx"
  fi

  if [[ $skip != *" ingress "* ]]; then
    log "ingress-nginx on $ctx (meshed, so its calls show in Linkerd's metrics)"
    manifest=$(ingress_nginx_manifest)
    kubectl --context "$ctx" apply -f "$manifest"
    kubectl --context "$ctx" -n ingress-nginx rollout status deploy/ingress-nginx-controller --timeout 5m
    # What `linkerd inject` does to a Deployment, without its control-plane check (which fails
    # while linkerd-destination restarts, seen on the sandbox under load): the annotation that
    # has the proxy injector add the proxy. Unchanged when it is there already.
    kubectl --context "$ctx" -n ingress-nginx patch deploy ingress-nginx-controller --type merge \
      -p '{"spec":{"template":{"metadata":{"annotations":{"linkerd.io/inject":"enabled"}}}}}'
    kubectl --context "$ctx" -n ingress-nginx rollout status deploy/ingress-nginx-controller --timeout 5m
  fi
done

log "deploying Usactar ($overlays/{a,b}: services, Kafka, Redis, MongoDB, dashboards)"
kubectl --context "$CTX_B" apply -k "$overlays/b"
# Kafka's users (deploy/components/kafka-sasl): their Secrets, random passwords made here and
# kept in the cluster only, before the pods that read them. Again changes nothing.
"$root/deploy/kafka-users.sh" --context "$CTX_A"
kubectl --context "$CTX_A" apply -k "$overlays/a"

if [[ $skip != *" monitoring "* ]]; then
  for ctx in "$CTX_A" "$CTX_B"; do
    log "Prometheus and Grafana on $ctx"
    helm repo add prometheus-community https://prometheus-community.github.io/helm-charts >/dev/null 2>&1 || true
    helm repo add grafana https://grafana.github.io/helm-charts >/dev/null 2>&1 || true
    helm repo update prometheus-community grafana >/dev/null
    helm --kube-context "$ctx" upgrade --install prometheus prometheus-community/prometheus \
      --namespace usactar-monitoring --version "$PROMETHEUS_CHART_VERSION" \
      -f kind/prometheus-values.yaml --wait
    # Grafana is meshed (grafana-values.yaml) and authorized to read linkerd-viz's Prometheus,
    # which admits only its own clients otherwise: without both the Linkerd panels stay empty.
    helm --kube-context "$ctx" upgrade --install grafana grafana/grafana \
      --namespace usactar-monitoring --version "$GRAFANA_CHART_VERSION" \
      -f kind/grafana-values.yaml --wait
    kubectl --context "$ctx" apply -f kind/grafana-viz-authorization.yaml
  done
fi

log "linking the clusters: cluster a mirrors cluster b's exported services"
b_gateway_port=$(kubectl --context "$CTX_B" -n linkerd-multicluster get svc linkerd-gateway \
  -o jsonpath='{.spec.ports[?(@.name=="mc-gateway")].nodePort}')
b_probe_port=$(kubectl --context "$CTX_B" -n linkerd-multicluster get svc linkerd-gateway \
  -o jsonpath='{.spec.ports[?(@.name=="mc-probe")].nodePort}')
# `link` has no --gateway-probe-port flag; with a NodePort gateway the probe must go to the probe's
# node port, set as a chart value (found on the sandbox: without it the gateway never turns alive).
linkerd --context "$CTX_B" multicluster link --cluster-name "$B" \
  --api-server-address "$USACTAR_B_API_SERVER" \
  --gateway-addresses "$USACTAR_B_GATEWAY_ADDRESS" --gateway-port "$b_gateway_port" \
  --set "gateway.probe.port=$b_probe_port" |
  kubectl --context "$CTX_A" apply -f -
# The gateway turns alive only after a few probe periods, and `multicluster check` does not wait
# for it (found on the sandbox: the check failed 5 s after the link).
for ((i = 0; i < 60; i++)); do
  linkerd --context "$CTX_A" multicluster gateways 2>/dev/null |
    awk -v b="$B" '$1 == b && $2 == "True" {ok = 1} END {exit !ok}' && break
  sleep 2
done

log "waiting for the services"
kubectl --context "$CTX_B" -n usactar-data rollout status statefulset/redis --timeout 5m
kubectl --context "$CTX_B" -n usactar-data rollout status statefulset/mongodb --timeout 5m
kubectl --context "$CTX_B" -n usactar-live rollout status deploy/live-store --timeout 5m
kubectl --context "$CTX_B" -n usactar-api rollout status deploy/read-api --timeout 5m
kubectl --context "$CTX_A" -n usactar-data rollout status statefulset/kafka --timeout 5m
kubectl --context "$CTX_A" -n usactar-ingest rollout status deploy/ingest --timeout 5m
kubectl --context "$CTX_A" -n usactar-pipeline rollout status deploy/consumer --timeout 5m
# Every check, the extensions' (viz, multicluster) included, once everything is in place (the
# multicluster check wants an endpoint behind every mirror: live-store running in cluster b).
log "linkerd multicluster check, linkerd check on both clusters"
linkerd --context "$CTX_A" multicluster check --wait 5m
linkerd --context "$CTX_A" check --wait 5m
linkerd --context "$CTX_B" check --wait 5m
log "platform ready"

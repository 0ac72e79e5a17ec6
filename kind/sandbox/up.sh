#!/usr/bin/env bash
# Usactar on two Kubernetes clusters built from source, without a container engine: what
# kind/up.sh does with kind, on this machine. Only the first two steps differ from kind/up.sh:
#   1. the clusters: clusters.sh (network namespaces with containerd, kubelet, a control plane);
#   2. the images: images.sh writes OCI archives (Linkerd, the ingress, the services, Kafka,
#      Redis, FerretDB) that are imported into each node's containerd: nothing is pulled;
#   3. kind/platform.sh, the same file kind/up.sh runs: Linkerd, viz, multicluster, the ingress,
#      the overlays (deploy/overlays/kind/sandbox/{a,b}: kind's, with the images this machine
#      can make), the link, the checks, and Chaos Mesh v2.8.3 built from source
#      (build-chaos-mesh.sh; chaos-daemon talks to each node's own containerd socket).
#      Monitoring (Prometheus, Grafana) is skipped: its Helm charts are not on this machine
#      (USACTAR_SKIP to change that).
#
#   kind/sandbox/build.sh    # once: Kubernetes, CoreDNS, Helm, Linkerd, the services
#   kind/sandbox/up.sh       # idempotent; prints how long each step took
#   kind/sandbox/down.sh     # removes everything up.sh made
#
# Contexts kind-usactar-a and kind-usactar-b in $SANDBOX_KUBECONFIG (and ~/.kube/config).
# The ingress of cluster a is http://172.30.0.11/ (POST /input), of cluster b
# http://172.30.0.12/ (/api/...): the nodes' addresses on the bridge usactar0.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
# shellcheck source=kind/sandbox/cluster.sh
. "$here/cluster.sh"
T0=$(now)

step clusters "$here/clusters.sh"

images() {
  local common a b
  mapfile -t common < <("$here/images.sh" linkerd ingress chaos_mesh)
  mapfile -t a < <("$here/images.sh" pipeline_a)
  mapfile -t b < <("$here/images.sh" pipeline_b)
  cluster_vars usactar-a
  import_images "${common[@]}" "${a[@]}"
  restart_stale_pods
  cluster_vars usactar-b
  import_images "${common[@]}" "${b[@]}"
  restart_stale_pods
}
step "images (build when changed, import)" images

cluster_vars usactar-b
b_ip=$NODE_IP
export KUBECONFIG=$SANDBOX_KUBECONFIG PATH=$SANDBOX_BIN:$PATH
# What differs from kind: b's API server and gateway by b's node address on the bridge; the
# ingress (ingress.yaml); proxy.await=false (linkerd-await is its own repository, not built
# here); linkerd-viz's Prometheus scraping every 2 s instead of 10 s, so the experiments'
# golden metrics resolve a fault of a few seconds (irate reads the last two scrapes); Chaos Mesh's chart from build-chaos-mesh.sh with each node's containerd socket; no
# monitoring charts.
step "kind/platform.sh" env CTX_A=kind-usactar-a CTX_B=kind-usactar-b \
  USACTAR_KIND_STATE="$SANDBOX_STATE" \
  USACTAR_B_API_SERVER="https://$b_ip:6443" USACTAR_B_GATEWAY_ADDRESS="$b_ip" \
  USACTAR_LINKERD_INSTALL_ARGS="--set proxy.await=false" \
  USACTAR_VIZ_INSTALL_ARGS="${USACTAR_VIZ_INSTALL_ARGS---set prometheus.globalConfig.scrape_interval=2s --set prometheus.globalConfig.scrape_timeout=2s}" \
  USACTAR_INGRESS_NGINX_MANIFEST="$here/ingress.yaml" \
  USACTAR_OVERLAYS=deploy/overlays/kind/sandbox \
  USACTAR_CHAOS_MESH_CHART="$SANDBOX_BIN/chaos-mesh/chart" \
  USACTAR_CHAOS_MESH_SOCKET_A="$SANDBOX_STATE/usactar-a/containerd.sock" \
  USACTAR_CHAOS_MESH_SOCKET_B="$SANDBOX_STATE/usactar-b/containerd.sock" \
  USACTAR_SKIP="${USACTAR_SKIP-monitoring}" \
  "$SANDBOX_ROOT/kind/platform.sh"

# Pods made again while a cluster's proxy injector was not back yet (restart_stale_pods above,
# right after the clusters came back) run without Linkerd's proxy: made again now.
remesh() {
  cluster_vars usactar-a
  restart_unmeshed_pods
  cluster_vars usactar-b
  restart_unmeshed_pods
}
step "pods without their Linkerd proxy" remesh

cat <<TXT
up.sh: Usactar is up after $(( $(now) - T0 ))s (KUBECONFIG=$SANDBOX_KUBECONFIG).
  POST predictions:  curl -XPOST 172.30.0.11/input -H 'content-type: application/json' \\
                       -d '{"team1":"Argentina","team2":"France","score":"3-3","phase":4}'
  read API:          curl 172.30.0.12/api/stats
  golden metrics:    linkerd --context kind-usactar-b viz stat deploy -n usactar-live
  the gateway:       linkerd --context kind-usactar-a multicluster gateways
TXT

#!/usr/bin/env bash
# Linkerd on the two sandbox clusters, from the binaries and images build.sh and images.sh make
# of linkerd2 edge-26.8.3 and linkerd2-proxy v2.366.0: the control plane with one shared trust
# anchor, linkerd-viz, linkerd-multicluster, cluster b linked into cluster a, then
# `linkerd check` and `linkerd multicluster check`. The same steps as kind/up.sh's
# install_linkerd and link (see kind/sandbox/NOTES.md for the split of kind/up.sh this stands
# in for), with what the sandbox needs on top:
#   - the Gateway API CRDs from Linkerd's CRD chart (installGatewayAPI=true): without them
#     `linkerd install` refuses to run (kind/up.sh has the same defect);
#   - proxy.await=false: linkerd-await is not built here (it is its own repository);
#   - disableHeartBeat=true: nothing leaves the machine;
#   - linkerd-viz's Prometheus is built from source (build-go.sh; Debian's lacks Kubernetes
#     service discovery);
#   - the gateway's pause container is the sandbox's registry.k8s.io/pause:3.10;
#   - the link names cluster b's API server and gateway by its node address on the bridge
#     (no --gateway-probe-port: `linkerd multicluster link` has no such flag; the probe's node
#     port goes in as --set gateway.probe.port).
# Idempotent: what is installed already is left as it is (`linkerd install` is not rerunnable).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
# shellcheck source=kind/sandbox/cluster.sh
. "$here/cluster.sh"
export KUBECONFIG=$SANDBOX_KUBECONFIG
export PATH=$SANDBOX_BIN:$PATH
T0=$(now)

images() {
  local archives c
  mapfile -t archives < <("$here/images.sh" base linkerd)
  for c in "${SANDBOX_CLUSTERS[@]}"; do
    cluster_vars "$c"
    import_images "${archives[@]}"
  done
}

# One trust anchor for both clusters; one issuer per cluster (the script kind/platform.sh uses).
certs() {
  "$here/../certs.sh" "$SANDBOX_STATE/certs"
}

control_plane() {
  local ctx=$1 c=$2 dir=$SANDBOX_STATE/certs
  # Since 2.18 Linkerd needs the Gateway API CRDs first and no longer installs them unless
  # asked; its CRD chart carries them, so nothing is fetched.
  # `linkerd install` (--crds too) refuses once linkerd-config exists: then `upgrade --crds`.
  local verb=install
  kubectl --context "$ctx" -n linkerd get configmap linkerd-config >/dev/null 2>&1 && verb=upgrade
  linkerd --context "$ctx" "$verb" --crds --set installGatewayAPI=true |
    kubectl --context "$ctx" apply --server-side --force-conflicts -f - >/dev/null
  if [ "$verb" = install ]; then
    linkerd --context "$ctx" install \
      --identity-trust-anchors-file "$dir/ca.crt" \
      --identity-issuer-certificate-file "$dir/issuer-$c.crt" \
      --identity-issuer-key-file "$dir/issuer-$c.key" \
      --set proxy.await=false --set disableHeartBeat=true |
      kubectl --context "$ctx" apply -f - >/dev/null
  fi
  # `linkerd check` also runs the installed extensions' checks: it comes at the end (checks).
  kubectl --context "$ctx" -n linkerd rollout status deploy --timeout 5m
}

viz() {
  local ctx=$1
  if ! kubectl --context "$ctx" get namespace linkerd-viz >/dev/null 2>&1; then
    linkerd --context "$ctx" viz install |
      kubectl --context "$ctx" apply -f - >/dev/null
  fi
  kubectl --context "$ctx" -n linkerd-viz rollout status deploy --timeout 5m
}

multicluster() {
  local ctx=$1
  if ! kubectl --context "$ctx" get namespace linkerd-multicluster >/dev/null 2>&1; then
    # No LoadBalancer here: the gateway is a NodePort on the node's bridge address.
    linkerd --context "$ctx" multicluster install --set gateway.serviceType=NodePort \
      --set gateway.pauseImage=registry.k8s.io/pause:3.10 |
      kubectl --context "$ctx" apply -f - >/dev/null
  fi
  kubectl --context "$ctx" -n linkerd-multicluster rollout status deploy/linkerd-gateway --timeout 5m
}

link() {
  cluster_vars usactar-b
  local b_ip=$NODE_IP b_port b_probe
  b_port=$(kubectl --context kind-usactar-b -n linkerd-multicluster get svc linkerd-gateway \
    -o jsonpath='{.spec.ports[?(@.name=="mc-gateway")].nodePort}')
  b_probe=$(kubectl --context kind-usactar-b -n linkerd-multicluster get svc linkerd-gateway \
    -o jsonpath='{.spec.ports[?(@.name=="mc-probe")].nodePort}')
  # With a NodePort gateway the Link probes the probe's node port, but the link chart gives the
  # local probe service (probe-gateway-usactar-b) port gateway.probe.port, 4191 by default: the
  # probe then hits a port the service lacks and the gateway never turns alive. Setting it to the
  # node port is what kind/up.sh's nonexistent --gateway-probe-port flag was meant to do.
  linkerd --context kind-usactar-b multicluster link --cluster-name usactar-b \
    --api-server-address "https://$b_ip:6443" \
    --gateway-addresses "$b_ip" --gateway-port "$b_port" --set "gateway.probe.port=$b_probe" |
    kubectl --context kind-usactar-a apply -f - >/dev/null
}

# Every check, extensions included (viz, multicluster), once everything is in place.
checks() {
  # The gateway's liveness probe needs a few periods after the link; the check does not wait.
  local i
  for ((i = 0; i < 60; i++)); do
    linkerd --context kind-usactar-a multicluster gateways 2>/dev/null |
      awk '$1 == "usactar-b" && $2 == "True" {ok = 1} END {exit !ok}' && break
    sleep 2
  done
  linkerd --context kind-usactar-a multicluster check --wait 5m
  linkerd --context kind-usactar-a check --wait 5m
  linkerd --context kind-usactar-b check --wait 5m
}

step "linkerd images" images
step "trust anchor" certs
step "linkerd on usactar-a" control_plane kind-usactar-a a
step "linkerd on usactar-b" control_plane kind-usactar-b b
for ctx in kind-usactar-a kind-usactar-b; do
  step "linkerd-viz on $ctx" viz "$ctx"
  step "linkerd-multicluster on $ctx" multicluster "$ctx"
done
step "link usactar-b into usactar-a" link
step "linkerd check, linkerd multicluster check" checks
echo "linkerd.sh: done after $(( $(now) - T0 ))s"

#!/usr/bin/env bash
# Chaos Mesh on one cluster, as kind/platform.sh installs it on each (and the sandbox, which
# builds it from source, can run it alone): the release's Helm chart with kind/chaos-mesh-values.yaml.
#
#   kind/chaos-mesh.sh CONTEXT             install or upgrade, and wait for it
#   kind/chaos-mesh.sh CONTEXT template    print the manifests it would install (no cluster needed)
#
#   USACTAR_CHAOS_MESH_CHART   a chart folder (the sandbox: the one build-chaos-mesh.sh copies from
#                              the release's source); unset, chaos-mesh/chaos-mesh from
#                              https://charts.chaos-mesh.org at CHAOS_MESH_VERSION
#   USACTAR_CHAOS_MESH_SOCKET  the containerd socket of the cluster's nodes (default
#                              /run/containerd/containerd.sock, kind's, GKE's and AKS's)
#   USACTAR_PAUSE_IMAGE        the image pod failure swaps in (default registry.k8s.io/pause:3.10:
#                              the chart's gcr.io/google-containers/pause:latest no longer serves,
#                              and every node holds the kubelets' pause image already)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CHAOS_MESH_VERSION=2.8.3
ctx=${1:?usage: kind/chaos-mesh.sh CONTEXT [template]}
mode=${2:-install}
case $mode in install | template) ;; *) echo "kind/chaos-mesh.sh: unknown mode $mode (install or template)" >&2; exit 2 ;; esac

chart=${USACTAR_CHAOS_MESH_CHART:-chaos-mesh/chaos-mesh}
version_args=()
if [ -n "${USACTAR_CHAOS_MESH_CHART:-}" ]; then
  [ -f "$chart/Chart.yaml" ] || { echo "kind/chaos-mesh.sh: $chart is not a chart folder (no Chart.yaml)" >&2; exit 1; }
  v=$(sed -n -E 's/^version: "?([^"]*)"?$/\1/p' "$chart/Chart.yaml")
  [ "$v" = "$CHAOS_MESH_VERSION" ] || { echo "kind/chaos-mesh.sh: $chart is version $v, not $CHAOS_MESH_VERSION" >&2; exit 1; }
else
  helm repo add chaos-mesh https://charts.chaos-mesh.org >/dev/null 2>&1 || true
  helm repo update chaos-mesh >/dev/null
  version_args=(--version "$CHAOS_MESH_VERSION")
fi
args=(chaos-mesh "$chart" "${version_args[@]}" --namespace chaos-mesh
  -f "$root/kind/chaos-mesh-values.yaml"
  --set "chaosDaemon.socketPath=${USACTAR_CHAOS_MESH_SOCKET:-/run/containerd/containerd.sock}"
  --set "controllerManager.podChaos.podFailure.pauseImage=${USACTAR_PAUSE_IMAGE:-registry.k8s.io/pause:3.10}")
if [ "$mode" = template ]; then
  helm --kube-context "$ctx" template "${args[@]}"
else
  helm --kube-context "$ctx" upgrade --install "${args[@]}" --create-namespace --wait --timeout 5m
fi

#!/usr/bin/env bash
# The part of the pipeline the sandbox has images for so far, deployed from
# deploy/overlays/kind/b unchanged but for what is left out: cluster b's Redis and live-store
# (meshed, exported), which cluster a sees as live-store-usactar-b through the Linkerd mirror.
# Left out, for want of images built here yet: MongoDB (mongo:7.0 and its exporter; FerretDB is
# the stand-in to come) and read-api, which needs it; cluster a's overlay (Kafka, ingest, the
# consumer pod) and ingress-nginx. The sandbox has no storage provisioner: each cluster gets
# hostPath PersistentVolumes of no class under its folder, which the StatefulSets' claims bind.
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
  mapfile -t archives < <("$here/images.sh" usactar)
  for c in "${SANDBOX_CLUSTERS[@]}"; do
    cluster_vars "$c"
    import_images "${archives[@]}"
  done
}

volumes() {
  local c i
  for c in "${SANDBOX_CLUSTERS[@]}"; do
    cluster_vars "$c"
    for i in 1 2 3 4; do
      mkdir -p "$D/pv/$i"
      chmod 777 "$D/pv/$i"  # hostPath volumes get no fsGroup
      kubectl --context "$CTX" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: sandbox-pv-$i}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: $D/pv/$i, type: Directory}
YAML
    done
  done
}

cluster_b() {
  kubectl kustomize "$SANDBOX_ROOT/deploy/overlays/kind/b" | python3 -c '
import sys, yaml
skip = {("StatefulSet", "mongodb"), ("Deployment", "read-api"), ("PodDisruptionBudget", "read-api"),
        ("Ingress", "read-api")}
docs = [d for d in yaml.safe_load_all(sys.stdin) if d and (d["kind"], d["metadata"]["name"]) not in skip]
yaml.safe_dump_all(docs, sys.stdout)' | kubectl --context kind-usactar-b apply -f - >/dev/null
  kubectl --context kind-usactar-b -n usactar-data rollout status statefulset/redis --timeout 300s
  kubectl --context kind-usactar-b -n usactar-live rollout status deploy/live-store --timeout 300s
}

mirror() {
  local i
  for ((i = 0; i < 60; i++)); do
    kubectl --context kind-usactar-a -n usactar-live get svc live-store-usactar-b >/dev/null 2>&1 && break
    sleep 2
  done
  kubectl --context kind-usactar-a -n usactar-live get svc live-store-usactar-b
}

step "pipeline images" images
step "persistent volumes" volumes
step "cluster b: Redis, live-store" cluster_b
step "cluster a: mirror live-store-usactar-b" mirror
echo "pipeline.sh: done after $(( $(now) - T0 ))s"

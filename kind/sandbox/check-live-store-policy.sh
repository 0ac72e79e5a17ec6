#!/usr/bin/env bash
# Issue 15 M5 on the sandbox clusters (up.sh first): live-store's gRPC port admits only cluster
# b's multicluster gateway (deploy/base/cluster-b/live-store-policy.yaml). Checks, and fails on
# any miss:
#   1. a meshed pod of cluster b (namespace usactar-api, beside read-api) calling live-store
#      directly is refused by live-store's proxy (HTTP 403), with the policy applied;
#   2. the same call is answered by live-store itself (not 403) once the policy is removed,
#      so the 403 is the policy's doing (the policy is then applied again);
#   3. predictions posted through cluster a's ingress still reach Redis's total: the link, which
#      arrives from the gateway, is admitted.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
# shellcheck source=kind/sandbox/cluster.sh
. "$here/cluster.sh"
cd "$SANDBOX_ROOT"
export KUBECONFIG=$SANDBOX_KUBECONFIG PATH=$SANDBOX_BIN:$PATH
b=(kubectl --context kind-usactar-b)
failed=0
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failed=1; fi; }

policy() { kubectl kustomize deploy/overlays/kind/sandbox/b | python3 -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d and d["apiVersion"].startswith("policy.linkerd.io/")]
print(yaml.safe_dump_all(docs))'; }

"${b[@]}" -n usactar-api delete pod policy-probe --ignore-not-found --wait=true >/dev/null
"${b[@]}" -n usactar-api run policy-probe --image usactar.local/busybox:sandbox --image-pull-policy Never \
  --restart Never --annotations linkerd.io/inject=enabled --command -- sleep 600 >/dev/null
"${b[@]}" -n usactar-api wait --for=condition=Ready pod/policy-probe --timeout 180s >/dev/null
# status CODE of a plain HTTP request to live-store's gRPC port, through the probe's proxy.
status() {
  "${b[@]}" -n usactar-api exec policy-probe -c policy-probe -- \
    sh -c 'wget -S -O /dev/null -T 10 http://live-store.usactar-live.svc.cluster.local:50051/ 2>&1 | sed -n "s/^ *HTTP\/[0-9.]* \([0-9]*\).*/\1/p" | head -1'
}

policy | "${b[@]}" apply -f - >/dev/null
sleep 5
with=$(status)
echo "with the policy: HTTP ${with:-none}"
check "a meshed pod of cluster b is refused by live-store's proxy (403)" [ "$with" = 403 ]

policy | "${b[@]}" delete -f - >/dev/null
sleep 5
without=$(status)
echo "without the policy: HTTP ${without:-none}"
check "without the policy the same call reaches live-store (not 403)" [ -n "$without" ] && [ "$without" != 403 ]
policy | "${b[@]}" apply -f - >/dev/null
sleep 5

total() { "${b[@]}" -n usactar-data exec redis-0 -c redis -- redis-cli GET total | tr -dc 0-9; }
before=$(total)
for _ in $(seq 20); do
  curl -fsS -o /dev/null -XPOST http://172.30.0.11/input -H 'content-type: application/json' \
    -d '{"team1":"Argentina","team2":"France","score":"3-3","phase":4}'
done
for _ in $(seq 30); do [ "$(total)" -ge $((before + 20)) ] && break; sleep 1; done
after=$(total)
echo "Redis total: $before -> $after"
check "20 predictions through the link still counted in Redis (the gateway is admitted)" [ "$after" -ge $((before + 20)) ]
"${b[@]}" -n usactar-api delete pod policy-probe --wait=false >/dev/null
exit "$failed"

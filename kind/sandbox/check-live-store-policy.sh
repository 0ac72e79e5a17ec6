#!/usr/bin/env bash
# Issue 15 M5 on the sandbox clusters (up.sh first): live-store's gRPC port admits only cluster
# b's multicluster gateway (deploy/base/cluster-b/live-store-policy.yaml). Checks, and fails on
# any miss:
#   1. a meshed pod of cluster b (namespace usactar-api, beside read-api) connecting to
#      live-store is refused by live-store's proxy, with the policy applied (its
#      inbound_tcp_authz_deny_total for that client grows);
#   2. the same connection is let through once the policy is removed (its
#      inbound_tcp_authz_allow_total grows), so the refusal is the policy's (then re-applied);
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
# The probe's attempt: a plain request to live-store's gRPC port through the probe's proxy (its
# answer does not matter: live-store's proxy decides, and says so in its authz counters).
attempt() {
  "${b[@]}" -n usactar-api exec policy-probe -c policy-probe -- sh -c \
    'printf "GET / HTTP/1.1\r\nHost: x\r\n\r\n" | nc -w 5 live-store.usactar-live.svc.cluster.local 50051' >/dev/null 2>&1 || true
}
# counter REGEX: the sum, over live-store's pods, of the proxy metric lines matching REGEX.
counter() {
  linkerd --context kind-usactar-b diagnostics proxy-metrics -n usactar-live deploy/live-store 2>/dev/null |
    grep -E "$1" | awk '{s += $NF} END {print s + 0}'
}
probe_denied='^inbound_tcp_authz_deny_total\{.*srv_name="live-store-grpc".*client_id="default\.usactar-api\.'
probe_allowed='^inbound_tcp_authz_allow_total\{.*target_port="50051".*client_id="default\.usactar-api\.'
gateway_allowed='^inbound_http_authz_allow_total\{.*srv_name="live-store-grpc".*authz_kind="authorizationpolicy".*client_id="linkerd-gateway\.linkerd-multicluster\.'

policy | "${b[@]}" apply -f - >/dev/null
sleep 5
d0=$(counter "$probe_denied"); attempt; sleep 2; d1=$(counter "$probe_denied")
echo "with the policy: the probe's connections denied by live-store's proxy: $d0 -> $d1"
check "a meshed pod of cluster b is refused by live-store's proxy" [ "$d1" -gt "$d0" ]

policy | "${b[@]}" delete -f - >/dev/null
sleep 5
a0=$(counter "$probe_allowed"); attempt; sleep 2; a1=$(counter "$probe_allowed")
echo "without the policy: the probe's connections allowed: $a0 -> $a1"
check "without the policy the same call is let through (so the refusal was the policy's)" [ "$a1" -gt "$a0" ]
policy | "${b[@]}" apply -f - >/dev/null
sleep 5

total() { "${b[@]}" -n usactar-data exec redis-0 -c redis -- redis-cli GET total | tr -dc 0-9; }
g0=$(counter "$gateway_allowed")
before=$(total)
for _ in $(seq 20); do
  curl -fsS -o /dev/null -XPOST http://172.30.0.11/input -H 'content-type: application/json' \
    -d '{"team1":"Argentina","team2":"France","score":"3-3","phase":4}'
done
for _ in $(seq 30); do [ "$(total)" -ge $((before + 20)) ] && break; sleep 1; done
after=$(total)
g1=$(counter "$gateway_allowed")
echo "Redis total: $before -> $after; requests from the gateway allowed by the policy: $g0 -> $g1"
check "20 predictions through the link still counted in Redis (the gateway is admitted)" [ "$after" -ge $((before + 20)) ]
check "live-store's proxy counted them as allowed by the policy, from the gateway's identity" [ "$g1" -gt "$g0" ]
"${b[@]}" -n usactar-api delete pod policy-probe --wait=false >/dev/null
exit "$failed"

#!/usr/bin/env bash
# The sandbox clusters, tested for real: up.sh, a pod on each cluster (DNS, the API through its
# service, cluster a's pods reaching cluster b's node), Linkerd when its binaries are built
# (linkerd.sh: checks, multicluster link), the memory both clusters use, and a counter on traffic
# from the pod ranges to anything outside the clusters, which must stay at zero. The output, with
# step timings, goes to reports/kube/sandbox-test-<time>.log.
#
#   kind/sandbox/test.sh [--down]     # --down: down.sh at the end
# shellcheck disable=SC2317  # shellcheck takes `exec > >(tee ...)` below for the script's end
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
# shellcheck source=kind/sandbox/cluster.sh
. "$here/cluster.sh"
report=$SANDBOX_ROOT/reports/kube/sandbox-test-$(date -u +%Y%m%dT%H%M%SZ).log
mkdir -p "$(dirname "$report")"
exec > >(tee "$report") 2>&1
echo "test.sh on $(hostname), $(date -u), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
T0=$(now)
failed=0
check() {
  local name=$1
  shift
  if "$@"; then echo "PASS $name"; else echo "FAIL $name"; failed=1; fi
}

# The egress counter: in each node's FORWARD chain, traffic from its pods to any address outside
# the clusters' ranges is counted and dropped; on the host, the same for anything forwarded.
egress_rules() {
  local c r
  for c in "${SANDBOX_CLUSTERS[@]}"; do
    cluster_vars "$c"
    in_node iptables -N USACTAR-EGRESS 2>/dev/null || in_node iptables -F USACTAR-EGRESS
    for r in "${SANDBOX_RANGES[@]}"; do in_node iptables -A USACTAR-EGRESS -d "$r" -j RETURN; done
    in_node iptables -A USACTAR-EGRESS -j DROP
    in_node iptables -C FORWARD -s "$POD_CIDR" -j USACTAR-EGRESS 2>/dev/null ||
      in_node iptables -I FORWARD -s "$POD_CIDR" -j USACTAR-EGRESS
  done
  iptables -N USACTAR-EGRESS 2>/dev/null || iptables -F USACTAR-EGRESS
  for r in "${SANDBOX_RANGES[@]}"; do iptables -A USACTAR-EGRESS -d "$r" -j RETURN; done
  iptables -A USACTAR-EGRESS -j DROP
  for r in 10.244.0.0/16 10.245.0.0/16 "$SANDBOX_NET"; do
    iptables -C FORWARD -s "$r" -j USACTAR-EGRESS 2>/dev/null || iptables -I FORWARD -s "$r" -j USACTAR-EGRESS
  done
}
egress_count() {
  local c n total=0
  for c in "${SANDBOX_CLUSTERS[@]}"; do
    cluster_vars "$c"
    n=$(in_node iptables -L USACTAR-EGRESS -v -x -n | awk '$3 == "DROP" {print $1}')
    total=$((total + n))
  done
  n=$(iptables -L USACTAR-EGRESS -v -x -n | awk '$3 == "DROP" {print $1}')
  echo $((total + n))
}

smoke() {
  local ctx=$1 other_ip=$2
  failed=0  # this step's own checks (it runs as a job: the script's count is untouched)
  local k=("$SANDBOX_BIN/kubectl" --kubeconfig "$SANDBOX_KUBECONFIG" --context "$ctx")
  "${k[@]}" delete pod sandbox-smoke --ignore-not-found --wait=true >/dev/null
  "${k[@]}" run sandbox-smoke --image usactar.local/busybox:sandbox --image-pull-policy Never \
    --restart Never --command -- sleep 600 >/dev/null
  "${k[@]}" wait --for=condition=Ready pod/sandbox-smoke --timeout 120s >/dev/null
  echo "  pod: $("${k[@]}" get pod sandbox-smoke -o jsonpath='{.status.podIP} on {.spec.nodeName}')"
  check "$ctx: DNS resolves kubernetes.default" \
    "${k[@]}" exec sandbox-smoke -- nslookup kubernetes.default.svc.cluster.local
  check "$ctx: the API's service (kube-proxy) accepts connections" \
    "${k[@]}" exec sandbox-smoke -- sh -c 'nc -w 5 kubernetes.default.svc.cluster.local 443 </dev/null'
  check "$ctx: reaches the other node ($other_ip:6443)" \
    "${k[@]}" exec sandbox-smoke -- sh -c "nc -w 5 $other_ip 6443 </dev/null"
  check "$ctx: no route beyond the bridge (1.1.1.1:443 unreachable)" \
    bash -c "! ${k[*]} exec sandbox-smoke -- sh -c 'nc -w 3 1.1.1.1 443 </dev/null'"
  "${k[@]}" delete pod sandbox-smoke --wait=false >/dev/null
  return "$failed"
}

# Cross-cluster traffic through the Linkerd gateway: a meshed client in a asks cluster b's
# exported echo through its mirror, echo-usactar-b; both show in linkerd viz stat.
multicluster_traffic() {
  failed=0  # this step's own checks (it runs as a job: the script's count is untouched)
  local ka=("$SANDBOX_BIN/kubectl" --kubeconfig "$SANDBOX_KUBECONFIG" --context kind-usactar-a)
  local kb=("$SANDBOX_BIN/kubectl" --kubeconfig "$SANDBOX_KUBECONFIG" --context kind-usactar-b)
  local l=("$SANDBOX_BIN/linkerd" --kubeconfig "$SANDBOX_KUBECONFIG")
  "${kb[@]}" apply -f "$here/demo-b.yaml" >/dev/null
  "${kb[@]}" -n sandbox-demo rollout status deploy/echo --timeout 180s >/dev/null
  local i
  for ((i = 0; i < 60; i++)); do
    "${ka[@]}" -n sandbox-demo get svc echo-usactar-b >/dev/null 2>&1 && break
    sleep 1
  done
  "${ka[@]}" apply -f "$here/demo-a.yaml" >/dev/null
  "${ka[@]}" -n sandbox-demo rollout status deploy/client --timeout 180s >/dev/null
  sleep 40
  local n
  n=$("${ka[@]}" -n sandbox-demo logs deploy/client -c client | grep -c 'hello from usactar-b' || true)
  check "cluster a's client got answers from cluster b through the gateway ($n in ~40s)" test "$n" -ge 10
  echo "  linkerd viz stat, cluster a:"
  "${l[@]}" --context kind-usactar-a viz stat deploy -n sandbox-demo | sed 's/^/    /'
  echo "  linkerd viz stat, cluster b:"
  "${l[@]}" --context kind-usactar-b viz stat deploy -n sandbox-demo | sed 's/^/    /'
  "${l[@]}" --context kind-usactar-b viz stat deploy -n linkerd-multicluster | sed 's/^/    /'
  check "linkerd viz stat shows echo's traffic on b" \
    bash -c "${l[*]} --context kind-usactar-b viz stat deploy/echo -n sandbox-demo | awk 'NR == 2 && \$3 ~ /%/ && \$4 != \"0.0rps\" {ok = 1} END {exit !ok}'"
  echo "  linkerd multicluster gateways:"
  "${l[@]}" --context kind-usactar-a multicluster gateways | sed 's/^/    /'
  return "$failed"
}

step up.sh "$here/up.sh"
step "egress counter" egress_rules
# (steps run as jobs: a check failing inside one comes back as the step's status)
step "smoke usactar-a" smoke kind-usactar-a 172.30.0.12 || failed=1
step "smoke usactar-b" smoke kind-usactar-b 172.30.0.11 || failed=1
if [ -x "$SANDBOX_BIN/linkerd" ] && [ -x "$SANDBOX_BIN/linkerd2-proxy" ] && [ -x "$SANDBOX_BIN/l5d/policy-controller" ]; then
  check "linkerd.sh (install, viz, multicluster, link, linkerd check, multicluster check)" step linkerd.sh "$here/linkerd.sh"
  step "cross-cluster traffic" multicluster_traffic || failed=1
else
  echo "SKIP Linkerd: its binaries are not all built yet (kind/sandbox/build.sh)"
fi
for c in "${SANDBOX_CLUSTERS[@]}"; do
  cluster_vars "$c"
  echo "memory $c: $(memory_mib) MiB"
done
echo "machine: $(free -m | awk '/Mem:/ {print $3 " MiB used of " $2}')"
n=$(egress_count)
check "egress counter is zero ($n packets)" test "$n" = 0
if [ "${1:-}" = --down ]; then step down.sh "$here/down.sh"; fi
echo "test.sh: $([ "$failed" = 0 ] && echo PASSED || echo FAILED) after $(( $(now) - T0 ))s; report $report"
exit "$failed"

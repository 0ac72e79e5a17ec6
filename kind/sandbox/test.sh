#!/usr/bin/env bash
# The Usactar pipeline on the sandbox clusters, tested for real, in one command: up.sh (clusters,
# images, kind/platform.sh), a pod on each cluster (DNS, the API's service, the other node, no
# route out), the README's curl through both ingresses, 1,000 predictions through cluster a's
# ingress with exact counts in MongoDB (FerretDB) and Redis, `linkerd viz stat` with live traffic
# for ingest, read-api and live-store, the multicluster gateway alive, the memory both clusters
# use (at most 16 GiB), the egress guard's counter at zero, then down.sh. The output, with step
# timings, goes to reports/kube/sandbox-test-<time>.log.
#
#   kind/sandbox/test.sh [--keep-up]     # --keep-up: leave the clusters running at the end
# shellcheck disable=SC2317  # shellcheck takes `exec > >(tee ...)` below for the script's end
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
# shellcheck source=kind/sandbox/cluster.sh
. "$here/cluster.sh"
keep_up=0
case ${1:-} in
  --keep-up) keep_up=1 ;;
  "") ;;
  *) echo "usage: kind/sandbox/test.sh [--keep-up]" >&2; exit 2 ;;
esac
report=$SANDBOX_ROOT/reports/kube/sandbox-test-$(date -u +%Y%m%dT%H%M%SZ).log
mkdir -p "$(dirname "$report")"
exec > >(tee "$report") 2>&1
echo "test.sh on $(hostname), $(date -u), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, commit $(git -C "$SANDBOX_ROOT" rev-parse --short HEAD), services from $(cut -c1-7 "$SANDBOX_BIN/usactar/COMMIT" 2>/dev/null || echo '?')"
echo "disk: $(df -h / | awk 'NR == 2 {print $4 " free of " $2}')"
T0=$(now)
export KUBECONFIG=$SANDBOX_KUBECONFIG PATH=$SANDBOX_BIN:$PATH
INGRESS_A=http://172.30.0.11
INGRESS_B=http://172.30.0.12
PREDICTIONS=1000
failed=0
indent() { sed 's/^/    /'; }
check() {
  local name=$1
  shift
  if "$@"; then echo "PASS $name"; else echo "FAIL $name"; failed=1; fi
}

smoke() {
  local ctx=$1 other_ip=$2
  failed=0  # this step's own checks (it runs as a job: the script's count is untouched)
  local k=(kubectl --context "$ctx")
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

# The README's curl (its example prediction and reads), at the sandbox's ingress addresses.
readme_curl() {
  failed=0
  local code
  code=$(curl -sS -o /tmp/sandbox-readme.out -w '%{http_code}' -XPOST "$INGRESS_A/input" \
    -H 'content-type: application/json' \
    -d '{"team1":"Argentina","team2":"France","score":"3-3","phase":4}')
  echo "  POST $INGRESS_A/input -> $code $(cat /tmp/sandbox-readme.out)"
  check "the README's POST /input is accepted (202)" test "$code" = 202
  local path
  for path in /api/live /api/logs /api/stats; do
    code=$(curl -sS -o /tmp/sandbox-readme.out -w '%{http_code}' "$INGRESS_B$path")
    echo "  GET $INGRESS_B$path -> $code $(head -c 200 /tmp/sandbox-readme.out)"
    check "GET $path answers 200" test "$code" = 200
  done
  rm -f /tmp/sandbox-readme.out
  return "$failed"
}

# 1,000 predictions, one POST each, 8 at a time, through cluster a's ingress; then both stores
# must hold exactly that many more, and read-api's /api/stats must say the same.
predictions() {
  failed=0
  local mongo0 redis0 bodies codes
  # predictions runs as a job of its own (step): its forwards end with it.
  trap stop_port_forwards EXIT
  store_forwards 27217 6579
  mongo0=$(store_documents)
  redis0=$(store_total)
  echo "  before: MongoDB usactar.logs $mongo0 documents, Redis total $redis0"
  bodies=$(mktemp)
  codes=$(mktemp)
  # Matches of the fixture list ingest accepts (Qatar 2022: team order and phase as in the
  # fixture; the phase of a round as crates/model/src/fixtures.rs maps it).
  python3 - "$SANDBOX_ROOT/crates/model/data/worldcup-2022.json" "$PREDICTIONS" > "$bodies" <<'PY'
import json, sys
PHASES = {"Round of 16": 2, "Quarter-finals": 3, "Semi-finals": 4, "Match for third place": 4, "Final": 4}
matches = json.load(open(sys.argv[1]))["matches"]
for i in range(int(sys.argv[2])):
    m = matches[i % len(matches)]
    phase = 1 if m["round"].startswith("Matchday ") else PHASES[m["round"]]
    print(json.dumps({"team1": m["team1"], "team2": m["team2"],
                      "score": f"{i % 5}-{i // 5 % 4}", "phase": phase}))
PY
  local t0 t1
  t0=$(date +%s.%N)
  xargs -P 8 -d '\n' -I{} curl -sS -o /dev/null -w '%{http_code}\n' -XPOST "$INGRESS_A/input" \
    -H 'content-type: application/json' -d {} < "$bodies" > "$codes"
  t1=$(date +%s.%N)
  local accepted
  accepted=$(grep -c '^202$' "$codes" || true)
  echo "  sent $(wc -l < "$bodies") predictions in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')s; answers: $(sort "$codes" | uniq -c | awk '{printf "%s x%s  ", $2, $1}')"
  check "all $PREDICTIONS predictions accepted (202)" test "$accepted" = "$PREDICTIONS"
  rm -f "$bodies" "$codes"
  # Drained: both stores hold exactly the accepted predictions more (at most 120 s). Meanwhile
  # read-api is asked too, which gives it traffic for linkerd viz stat.
  local m r stats waited
  for ((waited = 0; waited < 120; waited++)); do
    m=$(( $(store_documents) - mongo0 ))
    r=$(( $(store_total) - redis0 ))
    stats=$(curl -sS "$INGRESS_B/api/stats" || true)
    [ "$m" = "$accepted" ] && [ "$r" = "$accepted" ] && break
    sleep 1
  done
  echo "  after ${waited}s: MongoDB +$m, Redis +$r; read-api /api/stats: $stats"
  check "MongoDB holds exactly the $accepted accepted predictions more" test "$m" = "$accepted"
  check "Redis counted exactly the $accepted accepted predictions more" test "$r" = "$accepted"
  return "$failed"
}

# Readers: the pages' reads, 50 of each, through cluster b's ingress, for read-api's traffic.
# Their answers are shown per path, not checked: read-api answers 503 when a store does not
# answer within its deadline, which a machine this loaded can make happen (the check on read-api
# is its viz stat below).
reads() {
  local path i out
  out=$(for ((i = 0; i < 50; i++)); do
    for path in /api/stats /api/live /api/logs; do
      echo "$path $(curl -sS -o /dev/null -w '%{http_code}' "$INGRESS_B$path")"
    done
  done | sort | uniq -c | awk '{printf "%s %s x%s\n", $2, $3, $1}')
  indent <<< "$out"
}

# viz_stat CONTEXT NAMESPACE DEPLOY [EXTRA...]: linkerd viz stat over the last minute: meshed, a success
# rate, and at least 1 request/s. The kubelet's probes and the gateway's prober alone made
# 0.6/s here, so 1/s is traffic of the pipeline's own (it runs right after that traffic).
# EXTRA: more `viz stat` arguments (--to ...).
viz_stat() {
  local ctx=$1 ns=$2 deploy=$3 out
  shift 3
  out=$(linkerd --context "$ctx" viz stat "deploy/$deploy" -n "$ns" -t 1m "$@")
  indent <<< "$out"
  awk 'NR == 2 && $3 ~ /%$/ && $4 ~ /rps$/ && $4 + 0 >= 1 {ok = 1} END {exit !ok}' <<< "$out"
}
# Right after the predictions: the writers' path.
observe_writes() {
  failed=0
  check "linkerd viz stat: ingest (a) has live traffic" viz_stat kind-usactar-a usactar-ingest ingest
  check "linkerd viz stat: live-store (b) has live traffic" viz_stat kind-usactar-b usactar-live live-store
  check "linkerd viz stat: the consumer pod (a) calls live-store-usactar-b, the mirror" \
    viz_stat kind-usactar-a usactar-pipeline consumer --to svc/live-store-usactar-b --to-namespace usactar-live
  # (the gateway's own HTTP figures do not count the calls it forwards: 0.6 rps, the link's
  # prober, while live-store had 9.3 rps from it; its line is shown, not checked)
  echo "  cluster b's multicluster gateway:"
  linkerd --context kind-usactar-b viz stat deploy/linkerd-gateway -n linkerd-multicluster -t 1m | indent
  return "$failed"
}

# Right after the reads: read-api, and the link.
observe_reads() {
  failed=0
  check "linkerd viz stat: read-api (b) has live traffic" viz_stat kind-usactar-b usactar-api read-api
  echo "  linkerd multicluster gateways (cluster a):"
  local gw
  gw=$(linkerd --context kind-usactar-a multicluster gateways)
  indent <<< "$gw"
  # shellcheck disable=SC2016  # awk's own $1 and $2
  check "the multicluster gateway of usactar-b is alive" \
    awk '$1 == "usactar-b" && $2 == "True" {ok = 1} END {exit !ok}' <<< "$gw"
  return "$failed"
}

step up.sh "$here/up.sh" || { echo "test.sh: FAILED: up.sh failed; report $report"; exit 1; }
# (steps run as jobs: a check failing inside one comes back as the step's status)
step "smoke usactar-a" smoke kind-usactar-a 172.30.0.12 || failed=1
step "smoke usactar-b" smoke kind-usactar-b 172.30.0.11 || failed=1
step "the README's curl" readme_curl || failed=1
step "$PREDICTIONS predictions through the ingress, counted in both stores" predictions || failed=1
step "Linkerd: viz stat of the writers' path" observe_writes || failed=1
step "150 reads through cluster b's ingress" reads
step "Linkerd: viz stat of read-api, the multicluster gateway" observe_reads || failed=1

total=0
for c in "${SANDBOX_CLUSTERS[@]}"; do
  cluster_vars "$c"
  mem=$(memory_mib)
  echo "memory $c: $mem MiB"
  total=$((total + ${mem%% *}))
done
echo "machine: $(free -m | awk '/Mem:/ {print $3 " MiB used of " $2}'); disk: $(df -h / | awk 'NR == 2 {print $4 " free"}')"
check "both clusters use at most 16 GiB ($total MiB)" test "$total" -le 16384
n=$(egress_count)
check "egress counter is zero ($n packets from the pods to outside the clusters, whole run)" test "$n" = 0
if [ "$keep_up" = 0 ]; then
  step down.sh "$here/down.sh" || failed=1
else
  echo "the clusters stay up (--keep-up): kind/sandbox/down.sh removes them"
fi
echo "test.sh: $([ "$failed" = 0 ] && echo PASSED || echo FAILED) after $(( $(now) - T0 ))s; report $report"
exit "$failed"

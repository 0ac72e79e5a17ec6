#!/usr/bin/env bash
# Sourced by up.sh, down.sh and test.sh: the two sandbox clusters' names, addresses and folders.
# shellcheck disable=SC2034  # read by the scripts that source this file

SANDBOX_CLUSTERS=(usactar-a usactar-b)
SANDBOX_STATE=${USACTAR_SANDBOX_STATE:-$SANDBOX_CACHE/clusters}
SANDBOX_BRIDGE=usactar0
SANDBOX_BRIDGE_IP=172.30.0.1
SANDBOX_NET=172.30.0.0/24
SANDBOX_KUBECONFIG=$SANDBOX_STATE/kubeconfig
# Every range of both clusters: traffic from a pod to anything else is traffic leaving them.
SANDBOX_RANGES=(172.30.0.0/24 10.244.0.0/16 10.96.0.0/16 10.245.0.0/16 10.97.0.0/16)

# cluster_vars NAME: sets the variables of cluster NAME (usactar-a or usactar-b).
cluster_vars() {
  C=$1
  D=$SANDBOX_STATE/$C
  NODE=$C-control-plane
  NETNS=$C
  VETH=veth-$C
  CTX=kind-$C
  case $C in
    usactar-a) NODE_IP=172.30.0.11 POD_CIDR=10.244.0.0/16 NODE_POD_CIDR=10.244.0.0/24
               SVC_CIDR=10.96.0.0/16 API_SVC_IP=10.96.0.1 DNS_IP=10.96.0.10 NODE_LABELS=ingress-ready=true ;;
    usactar-b) NODE_IP=172.30.0.12 POD_CIDR=10.245.0.0/16 NODE_POD_CIDR=10.245.0.0/24
               SVC_CIDR=10.97.0.0/16 API_SVC_IP=10.97.0.1 DNS_IP=10.97.0.10 NODE_LABELS=ingress-ready=true ;;
    *) echo "unknown cluster $C" >&2; return 1 ;;
  esac
  API=https://$NODE_IP:6443
  SOCK=$D/containerd.sock
}

# in_node CMD...: CMD in the current cluster's node network namespace.
in_node() { nsenter --net="/run/netns/$NETNS" "$@"; }
node_ctr() { ctr --address "$SOCK" -n k8s.io "$@"; }
kc() { "$SANDBOX_BIN/kubectl" --kubeconfig "$D/pki/admin.kubeconfig" "$@"; }

# import_images ARCHIVE...: imports the archives not imported yet into the node's containerd.
import_images() {
  local a sum
  mkdir -p "$D/imported"
  local name
  for a in "$@"; do
    sum=$(sha256sum "$a" | cut -c1-16)
    # imported already, and still there (the kubelet's image GC may have removed it)
    name=$(tar -xOf "$a" index.json | jq -r '.manifests[0].annotations["io.containerd.image.name"]')
    if [ -f "$D/imported/$(basename "$a").$sum" ] && [ -n "$(node_ctr images ls -q "name==$name")" ]; then
      continue
    fi
    node_ctr images import "$a" >/dev/null
    rm -f "$D/imported/$(basename "$a")".*
    # The marker holds the image's name; its time is when it was imported (restart_stale_pods).
    echo "$name" > "$D/imported/$(basename "$a").$sum"
  done
}

# restart_stale_pods: deletes the pods of the current cluster that run an image imported again
# since they started (a rebuilt service under the same tag); their controllers make new ones.
restart_stale_pods() {
  local ns pod started images image marker
  while read -r ns pod started images; do
    for image in ${images//,/ }; do
      marker=$(grep -lx -- "$image" "$D"/imported/* 2>/dev/null | head -n1 || true)
      [ -n "$marker" ] || continue
      if [ "$(stat -c %Y "$marker")" -gt "$(date -d "$started" +%s)" ]; then
        echo "$C: $ns/$pod runs an older $image: restarted"
        kc -n "$ns" delete pod "$pod" --wait=false >/dev/null
        break
      fi
    done
  done < <(kc get pods -A -o json | jq -r '.items[] | select(.status.startTime != null)
    | "\(.metadata.namespace) \(.metadata.name) \(.status.startTime) \([.status.containerStatuses[]?.image, .status.initContainerStatuses[]?.image] | join(","))"')
  return 0
}

# unmeshed_pods: "NAMESPACE POD" of the current cluster's pods that should carry Linkerd's proxy
# (linkerd.io/inject: enabled on the pod, or on its namespace and not disabled on the pod), are
# made by a controller, and have no proxy.
unmeshed_pods() {
  kc get namespaces,pods --all-namespaces -o json | jq -r '
    [.items[] | select(.kind == "Namespace" and .metadata.annotations["linkerd.io/inject"] == "enabled")
      | .metadata.name] as $meshed
    | .items[] | select(.kind == "Pod" and .metadata.deletionTimestamp == null)
    | select(.status.phase == "Pending" or .status.phase == "Running")
    | select((.metadata.ownerReferences // []) | length > 0)
    | (.metadata.annotations["linkerd.io/inject"] // "") as $inject
    | select($inject == "enabled" or ($inject == "" and (.metadata.namespace as $ns | $meshed | index($ns))))
    | select([.spec.containers[].name, (.spec.initContainers // [])[].name] | index("linkerd-proxy") | not)
    | "\(.metadata.namespace) \(.metadata.name)"'
}

# restart_unmeshed_pods: deletes the current cluster's unmeshed_pods and waits (up to 5 minutes)
# until their controllers' new pods have the proxy and are Ready. Such pods were made while the
# cluster's proxy injector was not answering (its webhook ignores failures): restart_stale_pods
# deletes pods right after the clusters come back, before Linkerd's control plane is up again
# (seen on the sandbox: ingest and the consumer came back on cluster a without the proxy).
restart_unmeshed_pods() {
  local ns pod namespaces=() t left
  while read -r ns pod; do
    echo "$C: $ns/$pod has no Linkerd proxy (made while the proxy injector was down): restarted"
    kc -n "$ns" delete pod "$pod" --wait=false >/dev/null
    namespaces+=("$ns")
  done < <(unmeshed_pods)
  [ "${#namespaces[@]}" -gt 0 ] || return 0
  for ((t = 0; t < 150; t++)); do
    sleep 2
    [ -z "$(unmeshed_pods)" ] || continue
    left=$(for ns in $(printf '%s\n' "${namespaces[@]}" | sort -u); do
      kc -n "$ns" get pods -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null)
        | select(.status.phase == "Pending" or .status.phase == "Running")
        | select([.status.conditions[]? | select(.type == "Ready" and .status == "True")] | length == 0)
        | .metadata.name'
    done)
    [ -n "$left" ] || return 0
  done
  echo "$C: pods still not Ready after 5 minutes: $left" >&2
  return 1
}

# memory_mib: resident memory of the current cluster, in MiB: its supervised processes (control
# plane, containerd and its shims, kubelet, kube-proxy; one session each) plus its pods (rss of
# the cgroup tree /$C).
memory_mib() {
  local sids=() f procs=0 pods=0
  for f in "$D"/run/*.pid; do [ -f "$f" ] && sids+=("$(cat "$f")"); done
  if [ "${#sids[@]}" -gt 0 ]; then
    procs=$(ps -e -o sid=,rss= | awk -v s=" ${sids[*]} " 'index(s, " " $1 " ") {t += $2} END {print int(t / 1024)}')
  fi
  if [ -f "/sys/fs/cgroup/memory/$C/memory.stat" ]; then
    pods=$(awk '$1 == "total_rss" {print int($2 / 1048576)}' "/sys/fs/cgroup/memory/$C/memory.stat")
  fi
  echo "$((procs + pods)) (processes $procs, pods $pods)"
}

# egress_count: packets the egress guard (clusters.sh) dropped, on both nodes and the host.
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

# use_clusters: the calling script works on both clusters from the repository's root, with the
# sandbox's kubeconfig and binaries. check WHAT CMD...: "ok   WHAT" when CMD succeeds, else
# "FAIL WHAT" and failed=1 (the script's exit status at the end).
use_clusters() {
  cd "$SANDBOX_ROOT" || return
  export KUBECONFIG=$SANDBOX_KUBECONFIG PATH=$SANDBOX_BIN:$PATH
  failed=0
}
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failed=1; fi; }

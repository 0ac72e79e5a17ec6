#!/usr/bin/env bash
# Removes what kind/sandbox/up.sh made: every pod's processes, containerd's shims, the supervised
# processes (each a session up.sh started; its id is in $SANDBOX_STATE/<cluster>/run), mounts
# under the clusters' folders, cgroups /usactar-a and /usactar-b, the nodes' network namespaces
# (their iptables rules go with them), the veths and the bridge, the host's counting rules, and
# the contexts from the user's kubeconfig. --keep-state keeps the clusters' folders (etcd data,
# certificates, containerd's images) and the Linkerd trust anchor for a faster next up.sh; the
# builds are never touched.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
# shellcheck source=kind/sandbox/cluster.sh
. "$here/cluster.sh"
keep=0
[ "${1:-}" = --keep-state ] && keep=1
T0=$(now)

# pids_of_cgroup DIR: every process in the cgroup tree DIR.
pids_of_cgroup() { [ -d "$1" ] && find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null; }

stop_session() {
  local pidf=$1 pid i
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null
    for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null
  fi
  rm -f "$pidf"
}

down_cluster() {
  cluster_vars "$1"
  [ -d "$D" ] || [ -e "/run/netns/$NETNS" ] || return 0
  stop_session "$D/run/kubelet.pid"
  # The pods' processes: everything in the node's cgroup tree.
  local pids pid i
  for i in 1 2 3; do
    pids=$(pids_of_cgroup "/sys/fs/cgroup/pids/$C")
    [ -n "$pids" ] || break
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
    sleep 1
  done
  # containerd's shims (each in a process group of its own): those whose address is this node's.
  for pid in $(pgrep -f -- "containerd-shim-runc-v2 .*-address $SOCK( |$)" || true); do
    kill -KILL "$pid" 2>/dev/null
  done
  local n
  for n in kube-proxy containerd kube-scheduler kube-controller-manager kube-apiserver etcd; do
    stop_session "$D/run/$n.pid"
  done
  # Mounts under the cluster's folder (rootfs overlays, volumes, pod network namespaces), deepest first.
  local m
  while read -r m; do umount -l "$m" 2>/dev/null; done < <(awk -v d="$D/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r)
  # cgroups, deepest first.
  local h
  for h in /sys/fs/cgroup/*/"$C"; do
    [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  [ -e "/run/netns/$NETNS" ] && ip netns delete "$NETNS"
  ip link show "$VETH" >/dev/null 2>&1 && ip link delete "$VETH"
  if [ "$keep" = 0 ]; then rm -rf "$D"; fi
  # The context, from the user's kubeconfig.
  local user=${KUBECONFIG:-$HOME/.kube/config}
  user=${user%%:*}
  if [ -x "$SANDBOX_BIN/kubectl" ] && [ -f "$user" ]; then
    "$SANDBOX_BIN/kubectl" --kubeconfig "$user" config delete-context "$CTX" >/dev/null 2>&1
    "$SANDBOX_BIN/kubectl" --kubeconfig "$user" config delete-cluster "$CTX" >/dev/null 2>&1
    "$SANDBOX_BIN/kubectl" --kubeconfig "$user" config delete-user "$CTX" >/dev/null 2>&1
  fi
  return 0
}

for c in "${SANDBOX_CLUSTERS[@]}"; do step "down $c" down_cluster "$c"; done
# The host's egress guard (clusters.sh) and the bridge.
for r in 10.244.0.0/16 10.245.0.0/16 "$SANDBOX_NET"; do
  while iptables -D FORWARD -s "$r" -j USACTAR-EGRESS 2>/dev/null; do :; done
done
iptables -F USACTAR-EGRESS 2>/dev/null && iptables -X USACTAR-EGRESS 2>/dev/null
ip link show "$SANDBOX_BRIDGE" >/dev/null 2>&1 && ip link delete "$SANDBOX_BRIDGE"
# The kubeconfig and the Linkerd trust anchor and issuers (kind/platform.sh's, under the state).
[ "$keep" = 1 ] || rm -rf "$SANDBOX_KUBECONFIG" "$SANDBOX_STATE/certs"
echo "down.sh: done after $(( $(now) - T0 ))s"

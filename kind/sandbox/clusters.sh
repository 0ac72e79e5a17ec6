#!/usr/bin/env bash
# Two single-node Kubernetes clusters, usactar-a and usactar-b, on this machine without a
# container engine: the stand-in for `kind create cluster` where there is no Docker (up.sh runs
# it, then loads the images and runs kind/platform.sh). Each node is
# a network namespace (172.30.0.11 and .12 on the bridge usactar0, whose host side is
# 172.30.0.1) running its control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler), containerd (Debian's, with runc through runc-clamp.sh), kubelet (cgroupfs),
# kube-proxy (iptables), the bridge CNI plugin and CoreDNS. Every process runs under
# supervise.sh in a session of its own; state, logs and sockets live under
# $SANDBOX_STATE/<cluster>. The kubeconfig contexts are named as kind names them
# (kind-usactar-a, kind-usactar-b) and are merged into ${KUBECONFIG:-~/.kube/config}. As kind's
# default storage class does, each node offers hostPath volumes (under its folder) to claims.
# Idempotent; prints how long each step took.
#
#              usactar-a                usactar-b
#   node       172.30.0.11              172.30.0.12
#   pods       10.244.0.0/16            10.245.0.0/16
#   services   10.96.0.0/16 (DNS .10)   10.97.0.0/16 (DNS .10)
#
# The nodes have no default route: nothing from the clusters reaches beyond the bridge. CoreDNS
# answers the clusters' names and forwards nothing. Images come only from images.sh archives.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
# shellcheck source=kind/sandbox/cluster.sh
. "$here/cluster.sh"

[ "$(id -u)" = 0 ] || { echo "clusters.sh: needs root (network namespaces, cgroups, containerd)" >&2; exit 1; }
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  [ -x "$SANDBOX_BIN/$b" ] || { echo "clusters.sh: missing $SANDBOX_BIN/$b: run kind/sandbox/build.sh" >&2; exit 1; }
done
for b in containerd containerd-shim-runc-v2 runc ctr jq openssl nsenter iptables; do
  command -v "$b" >/dev/null || { echo "clusters.sh: missing $b (apt-get install containerd runc containernetworking-plugins jq iptables)" >&2; exit 1; }
done
CNI_BIN=${SANDBOX_CNI_BIN:-/usr/lib/cni}
[ -x "$CNI_BIN/bridge" ] || { echo "clusters.sh: no CNI plugins in $CNI_BIN (apt-get install containernetworking-plugins)" >&2; exit 1; }
T0=$(now)

# --- the bridge between the nodes -------------------------------------------------------------
network() {
  if ! ip link show "$SANDBOX_BRIDGE" >/dev/null 2>&1; then
    ip link add "$SANDBOX_BRIDGE" type bridge
    ip addr add "$SANDBOX_BRIDGE_IP/24" dev "$SANDBOX_BRIDGE"
  fi
  ip link set "$SANDBOX_BRIDGE" up
  local c
  for c in "${SANDBOX_CLUSTERS[@]}"; do
    cluster_vars "$c"
    [ -e "/run/netns/$NETNS" ] || ip netns add "$NETNS"
    if ! ip link show "$VETH" >/dev/null 2>&1; then
      ip link add "$VETH" type veth peer name eth0 netns "$NETNS"
      ip -n "$NETNS" addr add "$NODE_IP/24" dev eth0
    fi
    ip link set "$VETH" master "$SANDBOX_BRIDGE" up
    ip -n "$NETNS" link set lo up
    ip -n "$NETNS" link set eth0 up
    in_node sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 \
      net.bridge.bridge-nf-call-ip6tables=1 net.ipv4.conf.all.route_localnet=1
  done
}

# The egress guard: in each node's FORWARD chain, traffic from its pods to any address outside
# the clusters' ranges is counted and dropped; on the host, the same for anything forwarded from
# the pods or the nodes. test.sh reads the counters (egress_count), which must stay at zero.
egress_guard() {
  local c
  for c in "${SANDBOX_CLUSTERS[@]}"; do
    cluster_vars "$c"
    guard in_node "$POD_CIDR"
  done
  guard env 10.244.0.0/16 10.245.0.0/16 "$SANDBOX_NET"
}
# guard WRAPPER SOURCE...: the chain USACTAR-EGRESS (ranges returned, the rest dropped) and a
# FORWARD jump to it for each SOURCE, run through WRAPPER (in_node, or env for the host).
# A chain already complete is kept, with its counters.
guard() {
  local w=$1 r
  shift
  if ! "$w" iptables -S USACTAR-EGRESS 2>/dev/null | grep -q -- '-j DROP'; then
    "$w" iptables -N USACTAR-EGRESS 2>/dev/null || "$w" iptables -F USACTAR-EGRESS
    for r in "${SANDBOX_RANGES[@]}"; do "$w" iptables -A USACTAR-EGRESS -d "$r" -j RETURN; done
    "$w" iptables -A USACTAR-EGRESS -j DROP
  fi
  for r in "$@"; do
    "$w" iptables -C FORWARD -s "$r" -j USACTAR-EGRESS 2>/dev/null || "$w" iptables -I FORWARD -s "$r" -j USACTAR-EGRESS
  done
}

# --- certificates and kubeconfigs -------------------------------------------------------------
# cert NAME CA SUBJECT [SANS]: a key and certificate signed by CA (a name in the same folder).
cert() {
  local name=$1 ca=$2 subj=$3 sans=${4:-} p=$D/pki ext
  [ -f "$p/$name.crt" ] && return
  openssl ecparam -name prime256v1 -genkey -noout -out "$p/$name.key" 2>/dev/null
  openssl req -new -key "$p/$name.key" -subj "$subj" -out "$p/$name.csr" 2>/dev/null
  ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth"
  [ -z "$sans" ] || ext="$ext
subjectAltName=$sans"
  openssl x509 -req -in "$p/$name.csr" -CA "$p/$ca.crt" -CAkey "$p/$ca.key" -CAcreateserial \
    -days 3650 -out "$p/$name.crt" -extfile <(printf '%s\n' "$ext") 2>/dev/null
  rm -f "$p/$name.csr"
}
ca() {
  local name=$1 cn=$2 p=$D/pki
  [ -f "$p/$name.crt" ] && return
  openssl ecparam -name prime256v1 -genkey -noout -out "$p/$name.key" 2>/dev/null
  openssl req -x509 -new -key "$p/$name.key" -days 3650 -subj "/CN=$cn" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$p/$name.crt" 2>/dev/null
}
# kubeconfig NAME CERT: a kubeconfig for client certificate CERT, context named $CTX.
kubeconfig() {
  local name=$1 crt=$2 p=$D/pki
  cat > "$p/$name.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: $CTX
  cluster:
    server: $API
    certificate-authority-data: $(base64 -w0 < "$p/ca.crt")
users:
- name: $CTX
  user:
    client-certificate-data: $(base64 -w0 < "$p/$crt.crt")
    client-key-data: $(base64 -w0 < "$p/$crt.key")
contexts:
- name: $CTX
  context: {cluster: $CTX, user: $CTX}
current-context: $CTX
KC
}
pki() {
  local p=$D/pki
  mkdir -p "$p"
  ca ca "$C-ca"
  ca front-proxy-ca "$C-front-proxy-ca"
  [ -f "$p/sa.key" ] || { openssl genrsa -out "$p/sa.key" 2048 2>/dev/null; openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null; }
  cert apiserver ca "/CN=kube-apiserver" \
    "IP:$NODE_IP,IP:$API_SVC_IP,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:$NODE,DNS:localhost"
  cert apiserver-kubelet-client ca "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert front-proxy-client front-proxy-ca "/CN=front-proxy-client"
  cert admin ca "/O=system:masters/CN=kubernetes-admin"
  cert controller-manager ca "/CN=system:kube-controller-manager"
  cert scheduler ca "/CN=system:kube-scheduler"
  cert kubelet ca "/O=system:nodes/CN=system:node:$NODE"
  cert kubelet-serving ca "/CN=$NODE" "IP:$NODE_IP,DNS:$NODE"
  cert kube-proxy ca "/CN=system:kube-proxy"
  local k
  for k in admin controller-manager scheduler kubelet kube-proxy; do kubeconfig "$k" "$k"; done
}

# --- supervised processes ---------------------------------------------------------------------
# run NAME CMD...: starts CMD in the node's network namespace under supervise.sh, in a session
# of its own (down.sh stops the whole session), unless it already runs.
run() {
  local name=$1 pidf=$D/run/$1.pid
  shift
  mkdir -p "$D/run" "$D/logs"
  if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then return; fi
  setsid nsenter --net="/run/netns/$NETNS" "$here/supervise.sh" "$D/logs/$name.log" "$@" \
    </dev/null >/dev/null 2>&1 &
  echo "$!" > "$pidf"
}
# wait_for WHAT SECONDS CMD...: retries CMD once a second.
wait_for() {
  local what=$1 limit=$2 i
  shift 2
  for ((i = 0; i < limit; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "clusters.sh: $C: timed out after ${limit}s waiting for $what" >&2
  return 1
}

control_plane() {
  local p=$D/pki
  mkdir -p "$D/etcd"
  chmod 700 "$D/etcd"
  run etcd "$SANDBOX_BIN/etcd" --name "$C" --data-dir "$D/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "$C=http://127.0.0.1:2380" --unsafe-no-fsync --log-level warn
  run kube-apiserver "$SANDBOX_BIN/kube-apiserver" \
    --advertise-address "$NODE_IP" --bind-address 0.0.0.0 --secure-port 6443 \
    --etcd-servers http://127.0.0.1:2379 --service-cluster-ip-range "$SVC_CIDR" \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
    --client-ca-file "$p/ca.crt" \
    --kubelet-client-certificate "$p/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$p/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true --enable-aggregator-routing=true \
    --requestheader-client-ca-file "$p/front-proxy-ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$p/front-proxy-client.crt" --proxy-client-key-file "$p/front-proxy-client.key" \
    --profiling=false
  wait_for "kube-apiserver" 120 kc get --raw /readyz
  run kube-controller-manager "$SANDBOX_BIN/kube-controller-manager" \
    --kubeconfig "$p/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$p/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$p/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --cluster-name "$C" \
    --cluster-signing-cert-file "$p/ca.crt" --cluster-signing-key-file "$p/ca.key" \
    --root-ca-file "$p/ca.crt" --service-account-private-key-file "$p/sa.key" \
    --use-service-account-credentials=true --controllers '*,bootstrapsigner,tokencleaner' \
    --leader-elect=false --allocate-node-cidrs=true --cluster-cidr "$POD_CIDR" \
    --node-cidr-mask-size 24 --service-cluster-ip-range "$SVC_CIDR" --profiling=false
  run kube-scheduler "$SANDBOX_BIN/kube-scheduler" --kubeconfig "$p/scheduler.kubeconfig" \
    --authentication-kubeconfig "$p/scheduler.kubeconfig" \
    --authorization-kubeconfig "$p/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false
}

cgroups() {
  local h d
  for h in /sys/fs/cgroup/*; do
    [ "$(basename "$h")" = unified ] && continue
    [ -d "$h" ] || continue
    d=$h/$C
    mkdir -p "$d"
    if [ -f "$h/cpuset.cpus" ]; then
      [ -n "$(cat "$d/cpuset.cpus")" ] || cat "$h/cpuset.cpus" > "$d/cpuset.cpus"
      [ -n "$(cat "$d/cpuset.mems")" ] || cat "$h/cpuset.mems" > "$d/cpuset.mems"
    fi
  done
}

containerd_up() {
  mkdir -p "$D/containerd" "$D/cni/net.d" "$D/cni/ipam"
  cat > "$D/containerd.toml" <<TOML
version = 2
root = "$D/containerd/root"
state = "$D/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$D/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$here/runc-clamp.sh"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$D/cni/net.d"
TOML
  cat > "$D/cni/net.d/10-usactar.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "usactar",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$D/cni/ipam",
               "ranges": [[{"subnet": "$NODE_POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
  run containerd containerd --config "$D/containerd.toml"
  wait_for containerd 60 ctr --address "$SOCK" version
}

node() {
  mkdir -p "$D/kubelet" "$D/pod-logs"
  cat > "$D/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $D/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
cgroupRoot: /$C
cgroupsPerQOS: true
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
containerRuntimeEndpoint: unix://$SOCK
failSwapOn: false
podLogsDir: $D/pod-logs
resolvConf: ""
tlsCertFile: $D/pki/kubelet-serving.crt
tlsPrivateKeyFile: $D/pki/kubelet-serving.key
rotateCertificates: false
healthzBindAddress: 127.0.0.1
# No disk-pressure eviction (kind's settings): the disk is the machine's, shared with everything
# else on it, and under pressure the kubelet evicts every pod and deletes every image not in use,
# images that nothing here can pull back (seen: both clusters emptied when the disk reached 97%).
evictionHard: {memory.available: 200Mi, nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 110
YAML
  run kubelet "$SANDBOX_BIN/kubelet" --config "$D/kubelet.yaml" \
    --kubeconfig "$D/pki/kubelet.kubeconfig" --hostname-override "$NODE" --node-ip "$NODE_IP" \
    --root-dir "$D/kubelet" --cert-dir "$D/kubelet/pki" --node-labels "$NODE_LABELS"
  cat > "$D/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $D/pki/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
conntrack: {maxPerCore: 0}
YAML
  run kube-proxy "$SANDBOX_BIN/kube-proxy" --config "$D/kube-proxy.yaml"
  wait_for "node $NODE Ready" 180 kc wait --for=condition=Ready "node/$NODE" --timeout=1s
}

# Persistent volumes for the StatefulSets' claims (Kafka, Redis, MongoDB): kind has a
# provisioner and a default storage class; here, four hostPath volumes of no class per node
# under its folder, which claims without a class bind. Writable by any user (hostPath volumes
# get no fsGroup).
volumes() {
  local i
  for i in 1 2 3 4; do
    mkdir -p "$D/pv/$i"
    chmod 777 "$D/pv/$i"
    kc apply -f - >/dev/null <<YAML
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
}

coredns() {
  [ -x "$SANDBOX_BIN/coredns" ] || { echo "clusters.sh: missing $SANDBOX_BIN/coredns: run kind/sandbox/build.sh" >&2; return 1; }
  sed -e "s/@DNS_IP@/$DNS_IP/g" -e "s/@IMAGE@/registry.k8s.io\/coredns\/coredns:$COREDNS_REF/g" \
    "$here/coredns.yaml" | kc apply -f - >/dev/null
  kc -n kube-system rollout status deploy/coredns --timeout=180s >/dev/null
}

# The contexts kind-usactar-a and kind-usactar-b: in $SANDBOX_KUBECONFIG, and merged into the
# user's kubeconfig as kind does.
contexts() {
  local c files=()
  for c in "${SANDBOX_CLUSTERS[@]}"; do
    cluster_vars "$c"
    files+=("$D/pki/admin.kubeconfig")
  done
  KUBECONFIG=$(IFS=:; echo "${files[*]}") "$SANDBOX_BIN/kubectl" config view --flatten > "$SANDBOX_KUBECONFIG.tmp"
  mv "$SANDBOX_KUBECONFIG.tmp" "$SANDBOX_KUBECONFIG"
  local user=${KUBECONFIG:-$HOME/.kube/config}
  user=${user%%:*}
  mkdir -p "$(dirname "$user")"
  touch "$user"
  KUBECONFIG=$SANDBOX_KUBECONFIG:$user "$SANDBOX_BIN/kubectl" config view --flatten > "$user.tmp"
  mv "$user.tmp" "$user"
  chmod 600 "$user" "$SANDBOX_KUBECONFIG"
  "$SANDBOX_BIN/kubectl" --kubeconfig "$user" config use-context "kind-${SANDBOX_CLUSTERS[0]}" >/dev/null
}

cluster() {
  cluster_vars "$1"
  mkdir -p "$D"
  step "$C: certificates" pki
  step "$C: control plane (etcd, apiserver, controller-manager, scheduler)" control_plane
  step "$C: cgroups" cgroups
  step "$C: containerd" containerd_up
  step "$C: images" import_images "${IMAGE_ARCHIVES[@]}"
  step "$C: kubelet, kube-proxy, node Ready" node
  step "$C: CoreDNS" coredns
  step "$C: persistent volumes" volumes
}

mapfile -t IMAGE_ARCHIVES < <("$here/images.sh" base)
step network network
step "egress guard" egress_guard
for c in "${SANDBOX_CLUSTERS[@]}"; do cluster "$c"; done
step contexts contexts
echo "clusters.sh: both clusters up after $(( $(now) - T0 ))s; contexts kind-usactar-a, kind-usactar-b (kubeconfig $SANDBOX_KUBECONFIG)"

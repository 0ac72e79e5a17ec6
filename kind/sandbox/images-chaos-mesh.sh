# shellcheck shell=bash
# shellcheck disable=SC2154  # here, SANDBOX_BIN, CHAOS_MESH_REF: set by images.sh and lib.sh
# Sourced by images.sh: the Chaos Mesh images (`images.sh chaos_mesh`), from what
# build-chaos-mesh.sh built, under the names the release's chart renders by default
# (ghcr.io/chaos-mesh/<repository>:$CHAOS_MESH_REF), laid out as upstream's Dockerfiles lay them out:
#   images/chaos-mesh/Dockerfile     the controller manager in /usr/local/bin, tzdata; root
#   images/chaos-daemon/Dockerfile   chaos-daemon, pause, cdh in /usr/local/bin; nsexec (here
#                                    nsexec.sh); iptables (legacy, as upstream's update-alternatives),
#                                    ipset, iproute2 (tc, ip), util-linux (nsenter, choom), tzdata; root
# Upstream's daemon image also carries toda (IOChaos), tproxy (HTTPChaos), memStress (StressChaos
# memory), stress-ng, byteman and a JRE (JVMChaos), all downloaded from GitHub or a mirror by its
# Dockerfile: not here, and those kinds of chaos fail (kind/sandbox/README.md lists which work).
# The pod-failure image is the base group's registry.k8s.io/pause:3.10.
# Needs Debian's iproute2 iptables ipset util-linux tzdata on this machine.

CHAOS_MESH_BIN=$SANDBOX_BIN/chaos-mesh

add_tzdata() {
  mkdir -p "$1/usr/share"
  cp -a /usr/share/zoneinfo "$1/usr/share/"
}

build_chaos_mesh_controller() {
  add_bin "$1" "$CHAOS_MESH_BIN/chaos-controller-manager" /usr/local/bin/chaos-controller-manager
  add_tzdata "$1"
}

build_chaos_mesh_daemon() {
  local r=$1 p
  for p in chaos-daemon cdh pause nsexec; do add_bin "$r" "$CHAOS_MESH_BIN/$p" "/usr/local/bin/$p"; done
  # nsexec.sh is bash; the daemon's DNSChaos and JVMChaos steps run `sh -c`.
  add_bin "$r" /bin/bash /bin/bash
  add_bin "$r" /bin/dash /bin/sh
  for p in /usr/sbin/tc /usr/sbin/ip /usr/sbin/ipset /usr/bin/nsenter /usr/bin/choom; do add_bin "$r" "$p" "$p"; done
  add_iptables "$r"
  # Upstream: update-alternatives --set iptables /usr/sbin/iptables-legacy.
  local t s
  for t in iptables ip6tables; do
    for s in "" -save -restore; do ln -sf "$t-legacy$s" "$r/usr/sbin/$t$s"; done
  done
  add_tzdata "$r"
  mkdir -p "$r/host-run" "$r/host-sys" "$r/lib/modules"
}

group_chaos_mesh() {
  local v=$CHAOS_MESH_REF own=$here/images-chaos-mesh.sh
  image chaos_mesh_controller "ghcr.io/chaos-mesh/chaos-mesh:$v" \
    "$CHAOS_MESH_BIN/chaos-controller-manager" "$own" -- \
    --entrypoint '["/usr/local/bin/chaos-controller-manager"]' --env TZ=UTC
  image chaos_mesh_daemon "ghcr.io/chaos-mesh/chaos-daemon:$v" \
    "$CHAOS_MESH_BIN/chaos-daemon" "$CHAOS_MESH_BIN/cdh" "$CHAOS_MESH_BIN/pause" \
    "$CHAOS_MESH_BIN/nsexec" /usr/sbin/ipset "$own" -- \
    --entrypoint '["/usr/local/bin/chaos-daemon"]' --env TZ=UTC --env RUST_BACKTRACE=1
}

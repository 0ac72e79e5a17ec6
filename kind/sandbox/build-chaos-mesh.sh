#!/usr/bin/env bash
# Chaos Mesh at $CHAOS_MESH_REF from its upstream source, once, into $SANDBOX_BIN/chaos-mesh/, as
# its Makefile (binary.generated.mk, the pause and fakeclock targets) builds them:
#   chaos-controller-manager   CGO off
#   chaos-daemon               CGO on, with pkg/time/fakeclock/*.o embedded (TimeChaos)
#   cdh                        chaos-daemon-helper (BlockChaos), CGO on
#   pause                      hack/pause.c (the daemon starts stress processes stopped on it)
#   nsexec                     not upstream's (a Rust program released on GitHub only): a wrapper
#                              around util-linux nsenter with nsexec's flags (nsexec.sh)
# and the Helm chart of the same release in $SANDBOX_BIN/chaos-mesh/chart (helm/chaos-mesh with
# the chart's version set to the release, as upstream's release job does).
# Source: $USACTAR_CHAOS_MESH_SRC (a git repository of chaos-mesh/chaos-mesh on this machine) or
# the public repository; Go modules from the Go module proxy. Timings go to stdout and to
# reports/kube/chaos-mesh-build.log. A second run finds every file and returns at once.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
out=$SANDBOX_BIN/chaos-mesh
report=$SANDBOX_ROOT/reports/kube/chaos-mesh-build.log
programs=(chaos-controller-manager chaos-daemon cdh pause nsexec)

missing=0
for p in "${programs[@]}"; do [ -x "$out/$p" ] || missing=1; done
[ -f "$out/chart/Chart.yaml" ] || missing=1
if [ "$missing" = 0 ]; then
  echo "chaos-mesh $CHAOS_MESH_REF: already built in $out"
  exit 0
fi

# A build shares two cores with other work: Go runs niced, at idle I/O priority.
renice -n 10 -p $$ >/dev/null
ionice -c3 -p $$
mkdir -p "$out" "$(dirname "$report")"
t0=$(now)
log() { printf '[%s] %s\n' "$(date -u +%FT%TZ)" "$*" | tee -a "$report"; }
log "build-chaos-mesh.sh $CHAOS_MESH_REF: start (go $(go env GOVERSION), GOPROXY=$(go env GOPROXY), -p $SANDBOX_JOBS)"

src=$(checkout chaos-mesh USACTAR_CHAOS_MESH_SRC https://github.com/chaos-mesh/chaos-mesh.git "$CHAOS_MESH_REF")
cd "$src"
# hack/version.sh's ldflags, from the pinned tag rather than `git describe` of a local checkout;
# the build date is the commit's, so that a rebuild gives the same binaries.
commit=$(git rev-parse HEAD)
build_date=$(date -u -d "@$(git log -1 --format=%ct)" +%Y-%m-%dT%H:%M:%SZ)
pkg=github.com/chaos-mesh/chaos-mesh/pkg/version
ldflags="-s -w -X '$pkg.buildDate=$build_date' -X '$pkg.gitCommit=$commit' -X '$pkg.gitVersion=$CHAOS_MESH_REF'"
# No vendor folder upstream: modules resolve through the proxy.
export GOFLAGS=-mod=mod

timed() {
  local name=$1 t
  shift
  t=$(now)
  log "$name: start"
  "$@"
  log "$name: ok after $(( $(now) - t ))s"
}
gob() { go build -p "$SANDBOX_JOBS" -trimpath -ldflags "$ldflags" "$@"; }

build_c() {
  cc -O2 -static -o "$out/pause.tmp" hack/pause.c
  mv "$out/pause.tmp" "$out/pause"
  local f
  for f in fake_clock_gettime fake_gettimeofday; do
    cc -c "pkg/time/fakeclock/$f.c" -fPIE -O2 -o "pkg/time/fakeclock/$f.o"
  done
}
go_mod_download() { go mod download; }
build_go() {
  local name=$1 cgo=$2 main=$3
  [ -x "$out/$name" ] && return
  CGO_ENABLED=$cgo gob -o "$out/$name.tmp" "$main"
  mv "$out/$name.tmp" "$out/$name"
}
install_chart() {
  rm -rf "$out/chart"
  cp -r helm/chaos-mesh "$out/chart"
  # Upstream's chart says version 0.0.0 and sets it when it publishes a release.
  sed -i -E "s/^version: .*/version: \"${CHAOS_MESH_REF#v}\"/; s/^appVersion: .*/appVersion: \"${CHAOS_MESH_REF#v}\"/" "$out/chart/Chart.yaml"
}

timed c-helpers build_c
timed go-mod-download go_mod_download
timed chaos-controller-manager build_go chaos-controller-manager 0 ./cmd/chaos-controller-manager
timed chaos-daemon build_go chaos-daemon 1 ./cmd/chaos-daemon
timed cdh build_go cdh 1 ./cmd/chaos-daemon-helper
install -m 0755 "$here/nsexec.sh" "$out/nsexec"
timed chart install_chart
log "build-chaos-mesh.sh $CHAOS_MESH_REF: ok after $(( $(now) - t0 ))s; $(du -sh "$out" | cut -f1) in $out"

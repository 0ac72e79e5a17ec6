#!/usr/bin/env bash
# The sandbox's Go programs other than Kubernetes, from source, once, into $SANDBOX_BIN:
#   coredns        coredns/coredns at $COREDNS_REF (the release Kubernetes 1.33 ships), with the
#                  plugins a cluster's Corefile uses and none of the cloud ones
#   helm           helm.sh/helm/v3 from the Go module proxy
#   linkerd, l5d/{controller,proxy-identity,metrics-api,tap,web}
#                  linkerd/linkerd2 at $LINKERD_REF, as its Dockerfiles build them. The programs
#                  that go only into images live in l5d/: `linkerd check` runs every linkerd-*
#                  on PATH as a CLI extension (`linkerd-metrics-api _extension-metadata` starts
#                  the metrics API, and check waits for it forever).
#   linkerd2-proxy-init   linkerd/linkerd2-proxy-init at $PROXY_INIT_REF (the ref linkerd2's
#                  Dockerfile.proxy names)
# The Linkerd programs' version-check address is a closed local port (see build_linkerd).
# Sources: $USACTAR_COREDNS_SRC, $USACTAR_LINKERD2_SRC, $USACTAR_LINKERD2_PROXY_INIT_SRC (git
# repositories on this machine) or the public repositories. A second run returns at once.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
lowprio_self
export CGO_ENABLED=0
gob() { go build -p "$SANDBOX_JOBS" -trimpath "$@"; }

build_coredns() {
  [ -x "$SANDBOX_BIN/coredns" ] && return
  local src plugins
  src=$(checkout coredns USACTAR_COREDNS_SRC https://github.com/coredns/coredns.git "$COREDNS_REF")
  plugins='metadata cancel tls timeouts reload nsid bufsize bind debug ready health pprof
    prometheus errors log loadbalance cache rewrite header template hosts k8s_external
    kubernetes file loop forward whoami'
  (
    cd "$src"
    git checkout -q -- plugin.cfg
    cp plugin.cfg plugin.cfg.upstream
    : > plugin.cfg
    for p in $plugins; do grep -E "^$p:" plugin.cfg.upstream >> plugin.cfg; done
    go generate coredns.go
    gob -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_REF" -o "$SANDBOX_BIN/coredns.tmp" .
  )
  mv "$SANDBOX_BIN/coredns.tmp" "$SANDBOX_BIN/coredns"
}

build_helm() {
  [ -x "$SANDBOX_BIN/helm" ] && return
  GOBIN=$SANDBOX_BIN go install -p "$SANDBOX_JOBS" -trimpath "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
}

build_linkerd() (
  # Nothing leaves the machine: the CLI's and the heartbeat's version check
  # (versioncheck.linkerd.io) is pointed at a closed local port; `linkerd check` then warns.
  local check_url=http://127.0.0.1:9/version.json
  local src
  src=$(checkout linkerd2 USACTAR_LINKERD2_SRC https://github.com/linkerd/linkerd2.git "$LINKERD_REF")
  cd "$src"
  local out pkg
  mkdir -p "$SANDBOX_BIN/l5d"
  while read -r out pkg; do
    [ -x "$SANDBOX_BIN/$out" ] && continue
    gob -tags prod -mod=readonly \
      -ldflags "-s -w -X github.com/linkerd/linkerd2/pkg/version.Version=$LINKERD_REF -X github.com/linkerd/linkerd2/pkg/version.CheckURL=$check_url" \
      -o "$SANDBOX_BIN/$out.tmp" "$pkg"
    mv "$SANDBOX_BIN/$out.tmp" "$SANDBOX_BIN/$out"
  done <<LIST
linkerd ./cli
l5d/controller ./controller/cmd
l5d/proxy-identity ./proxy-identity
l5d/metrics-api ./viz/metrics-api/cmd
l5d/tap ./viz/tap/cmd
l5d/web ./web
LIST
)

build_proxy_init() {
  [ -x "$SANDBOX_BIN/linkerd2-proxy-init" ] && return
  local src
  src=$(checkout linkerd2-proxy-init USACTAR_LINKERD2_PROXY_INIT_SRC \
    https://github.com/linkerd/linkerd2-proxy-init.git "$PROXY_INIT_REF")
  (cd "$src" && gob -mod=readonly -ldflags "-s -w" -o "$SANDBOX_BIN/linkerd2-proxy-init.tmp" ./proxy-init)
  mv "$SANDBOX_BIN/linkerd2-proxy-init.tmp" "$SANDBOX_BIN/linkerd2-proxy-init"
}

step coredns build_coredns
step helm build_helm
step linkerd-go build_linkerd
step linkerd2-proxy-init build_proxy_init

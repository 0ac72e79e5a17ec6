#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go module proxy into $USACTAR_ENVTEST_BIN (default
# ~/.cache/usactar/envtest), once: a second run finds them and returns at once. Slow the first
# time (kube-apiserver is a large build). Both upstream modules carry replace directives, so
# `go install pkg@version` refuses them: each is built from a small wrapper module that
# requires it and points the replaced modules at their published versions instead
# (k8s-wrapper.sh for Kubernetes, shared with kind/sandbox/build-kubernetes.sh).
set -euo pipefail

K8S_VERSION=1.33.4          # kube-apiserver; its staging modules are v0.33.4
ETCD_VERSION=3.5.21
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=chaos/envtest/k8s-wrapper.sh
. "$here/k8s-wrapper.sh"
bin=${USACTAR_ENVTEST_BIN:-$HOME/.cache/usactar/envtest}
mkdir -p "$bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

k8s_wrapper_build "$bin" "$K8S_VERSION" kube-apiserver

if [ ! -x "$bin/etcd" ]; then
  mkdir -p "$work/etcd"
  cd "$work/etcd"
  cat > go.mod <<MOD
module etcdbuild

go 1.24

require go.etcd.io/etcd/server/v3 v$ETCD_VERSION

replace (
	go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 v$ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 v$ETCD_VERSION
	go.etcd.io/etcd/client/v2 => go.etcd.io/etcd/client/v2 v2.305.${ETCD_VERSION##*.}
	go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 v$ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 v$ETCD_VERSION
	go.etcd.io/etcd/raft/v3 => go.etcd.io/etcd/raft/v3 v$ETCD_VERSION
)
MOD
  printf 'package main\n\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n\nfunc main() {}\n' > tools.go
  go mod tidy
  go build -o "$bin/etcd" go.etcd.io/etcd/server/v3
fi
echo "$bin"

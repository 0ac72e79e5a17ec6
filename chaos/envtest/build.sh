#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the Go module proxy into $USACTAR_ENVTEST_BIN (default
# ~/.cache/usactar/envtest), once: a second run finds them and returns at once. Slow the first
# time (kube-apiserver is a large build). Both upstream modules carry replace directives, so
# `go install pkg@version` refuses them: each is built from a small wrapper module that
# requires it and points the replaced modules at their published versions instead.
set -euo pipefail

K8S_VERSION=1.33.4          # kube-apiserver; its staging modules are v0.33.4
ETCD_VERSION=3.5.21
bin=${USACTAR_ENVTEST_BIN:-$HOME/.cache/usactar/envtest}
mkdir -p "$bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ ! -x "$bin/kube-apiserver" ]; then
  mkdir -p "$work/apiserver"
  cd "$work/apiserver"
  go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null
  upstream=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod
  {
    printf 'module envtestbuild\n\ngo 1.24\n\nrequire k8s.io/kubernetes v%s\n\n' "$K8S_VERSION"
    grep '=> ./staging' "$upstream" |
      sed -E "s#^[[:space:]]*(replace )?(k8s.io/[a-z0-9-]+) => ./staging/src/.*#replace \\2 => \\2 v0.${K8S_VERSION#1.}#"
  } > go.mod
  printf 'package main\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n\nfunc main() {}\n' > tools.go
  go mod tidy
  go build -o "$bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
fi

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

#!/usr/bin/env bash
# Sourced, not run: k8s_wrapper_build BIN_DIR K8S_VERSION CMD... builds Kubernetes commands
# (kube-apiserver, kubelet, kubectl...) of k8s.io/kubernetes at K8S_VERSION from the Go module
# proxy into BIN_DIR, skipping those already there. k8s.io/kubernetes replaces its staging
# modules (k8s.io/api, k8s.io/client-go...) with ./staging paths, so `go install pkg@version`
# refuses it: the commands are built from one small wrapper module that requires it and points
# each replaced module at its published version (v0.x.y for Kubernetes 1.x.y) instead. Used by
# chaos/envtest/build.sh and kind/sandbox/build-kubernetes.sh.

k8s_wrapper_build() {
  local bin=$1 version=$2
  shift 2
  local cmd missing=()
  for cmd in "$@"; do
    # .CMD.stamp: built by this function with the version stamped (older builds lack it)
    [ -x "$bin/$cmd" ] && [ "$(cat "$bin/.$cmd.stamp" 2>/dev/null)" = "v$version" ] || missing+=("$cmd")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  mkdir -p "$bin"
  local work
  work=$(mktemp -d)
  (
    set -euo pipefail
    cd "$work"
    go mod download -json "k8s.io/kubernetes@v$version" >/dev/null
    local upstream
    upstream=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$version.mod
    {
      printf 'module k8swrapperbuild\n\ngo 1.24\n\nrequire k8s.io/kubernetes v%s\n\n' "$version"
      grep '=> ./staging' "$upstream" |
        sed -E "s#^[[:space:]]*(replace )?(k8s.io/[a-z0-9-]+) => ./staging/src/.*#replace \\2 => \\2 v0.${version#1.}#"
    } > go.mod
    {
      printf 'package main\n\nimport (\n'
      for cmd in "${missing[@]}"; do
        printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$cmd"
      done
      printf ')\n\nfunc main() {}\n'
    } > tools.go
    # The imports above are main packages: go vet-style tools refuse to import them, but
    # `go mod tidy` only needs to see the requirement, so it is told to ignore that error.
    go mod tidy -e
    # The version the release build stamps (hack/lib/version.sh); without it the binaries say
    # v0.0.0-master, and clients that check the server's version (linkerd check) refuse it.
    local minor=${version#*.} pkg ldflags=""
    minor=${minor%%.*}
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags="$ldflags -X $pkg.gitVersion=v$version -X $pkg.gitMajor=${version%%.*} -X $pkg.gitMinor=$minor"
      ldflags="$ldflags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    for cmd in "${missing[@]}"; do
      go build -ldflags "$ldflags" -o "$bin/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
      mv "$bin/$cmd.tmp" "$bin/$cmd"
      echo "v$version" > "$bin/.$cmd.stamp"
    done
  )
  local rc=$?
  rm -rf "$work"
  return "$rc"
}

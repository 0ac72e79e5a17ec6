#!/usr/bin/env bash
# Installs what deploy/validate.sh and `cargo test -p chaos` need, idempotently: each tool only
# when it is missing. Debian packages (shellcheck, nix-bin for nix-instantiate, prometheus for
# the PromQL test), PyPI packages (kubernetes-validate ships the Kubernetes schemas), and
# kustomize from the Go module proxy when there is no kubectl to render with.
set -euo pipefail

apt_updated=0
need_apt() {
  local bin=$1 pkg=$2
  if ! command -v "$bin" >/dev/null 2>&1; then
    if [ "$apt_updated" -eq 0 ]; then
      apt-get update -qq
      apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg"
  fi
}

need_apt shellcheck shellcheck
need_apt nix-instantiate nix-bin
need_apt prometheus prometheus
need_apt promtool prometheus

# Pinned: a new kubernetes-validate can ship other schemas and change what passes.
KUBERNETES_VALIDATE_VERSION=1.37.0
PYYAML_VERSION=6.0.3
if ! python3 -c "import importlib.metadata as m, yaml, kubernetes_validate; assert m.version('kubernetes-validate') == '$KUBERNETES_VALIDATE_VERSION'" >/dev/null 2>&1; then
  python3 -m pip install --quiet "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "PyYAML==$PYYAML_VERSION"
fi

if ! command -v kustomize >/dev/null 2>&1 && ! command -v kubectl >/dev/null 2>&1; then
  GOBIN=${GOBIN:-$HOME/go/bin} go install sigs.k8s.io/kustomize/kustomize/v5@v5.5.0
  echo "kustomize installed in ${GOBIN:-$HOME/go/bin}: put it on PATH"
fi

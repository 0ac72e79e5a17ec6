#!/usr/bin/env bash
# Kubernetes for the sandbox clusters, from the Go module proxy, once: kube-apiserver and etcd
# through chaos/envtest/build.sh, and kubelet, kube-controller-manager, kube-scheduler,
# kube-proxy and kubectl through the same wrapper module (chaos/envtest/k8s-wrapper.sh),
# into $SANDBOX_BIN. A second run finds them and returns at once.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
# shellcheck source=chaos/envtest/k8s-wrapper.sh disable=SC1091
. "$SANDBOX_ROOT/chaos/envtest/k8s-wrapper.sh"

lowprio_self
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-p=$SANDBOX_JOBS"
envtest_bin=$("$SANDBOX_ROOT/chaos/envtest/build.sh" | tail -n 1)
for b in kube-apiserver etcd; do
  ln -sf "$envtest_bin/$b" "$SANDBOX_BIN/$b"
done
k8s_wrapper_build "$SANDBOX_BIN" "$K8S_VERSION" kubelet kube-controller-manager kube-scheduler kube-proxy kubectl

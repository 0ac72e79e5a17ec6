#!/usr/bin/env bash
# Runs chaos's API-server test (tests/apiserver.rs) against a real kube-apiserver and etcd,
# building them first if needed (chaos/envtest/build.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$("$here/build.sh" | tail -n 1)
cd "$here/../.."
USACTAR_KUBE_APISERVER=$bin/kube-apiserver USACTAR_ETCD=$bin/etcd \
  cargo test -p chaos --test apiserver

#!/usr/bin/env bash
# Deletes the two kind clusters made by kind/up.sh, and its state (certificates, image
# archives) unless --keep-state is given.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${USACTAR_KIND_STATE:-$root/kind/.state}

for cluster in usactar-a usactar-b; do
  if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    kind delete cluster --name "$cluster"
  fi
done
if [ "${1:-}" != "--keep-state" ]; then
  rm -rf "$STATE"
fi

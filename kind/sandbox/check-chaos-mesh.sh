#!/usr/bin/env bash
# Checks, without a cluster, that Chaos Mesh as the sandbox installs it pulls nothing: the
# binaries build-chaos-mesh.sh made are the pinned release, `kind/chaos-mesh.sh CONTEXT template`
# renders with the built chart, and every image the rendered manifests name (containers and the
# pod-failure pause image) is the name of an archive images.sh wrote. Fails on the first miss.
#
#   kind/sandbox/check-chaos-mesh.sh     (after build-chaos-mesh.sh and images.sh base chaos_mesh)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
export PATH=$SANDBOX_BIN:$PATH
bin=$SANDBOX_BIN/chaos-mesh
fail() { echo "check-chaos-mesh: $*" >&2; exit 1; }

for p in chaos-controller-manager chaos-daemon; do
  "$bin/$p" --version 2>&1 | grep -q "GitVersion:\"$CHAOS_MESH_REF\"" || fail "$p is not $CHAOS_MESH_REF"
done
echo "binaries: $CHAOS_MESH_REF"

built=$(for a in "$SANDBOX_CACHE"/images/*.tar; do
  tar -xOf "$a" index.json | jq -r '.manifests[0].annotations["io.containerd.image.name"]'
done | sort -u)
rendered=$(USACTAR_CHAOS_MESH_CHART=$bin/chart "$SANDBOX_ROOT/kind/chaos-mesh.sh" kind-usactar-a template)
named=$(printf '%s\n' "$rendered" | sed -n -E 's/^ *(- )?image: *"?([^" ]+)"?$/\2/p;
  /name: POD_FAILURE_PAUSE_IMAGE/{n; s/^ *value: *"?([^" ]+)"?$/\1/p}' | sort -u)
[ -n "$named" ] || fail "the rendered chart names no image"
while read -r image; do
  grep -qxF "$image" <<< "$built" || fail "the chart names $image, which images.sh did not build"
  echo "image: $image (built)"
done <<< "$named"
grep -q 'imagePullPolicy: Always' <<< "$rendered" && fail "a container pulls Always"
echo "check-chaos-mesh: ok"

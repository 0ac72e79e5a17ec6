#!/usr/bin/env bash
# The Usactar services' release binaries for the sandbox's images (what flake.nix's images
# carry: ingest, logs-writer, live-forwarder, live-store, read-api), built once from a clone of
# this repository's current commit under the sandbox cache, with a target dir of their own, so the
# project's work tree and its target dir are not touched. At nice 19 / idle I/O, one crate at a
# time. Binaries in $SANDBOX_BIN/usactar/, the commit they come from in .../usactar/COMMIT.
# A second run finds them and returns at once (--rebuild builds the current commit again).
# --from DIR copies them from a release build of this work tree instead (scripts/run's,
# $CARGO_TARGET_DIR/release), when the services' sources have no uncommitted change: one
# build of the workspace serves both the local stack and the sandbox's images.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
lowprio_self
out=$SANDBOX_BIN/usactar
bins=(ingest logs-writer live-forwarder live-store read-api)
if [ "${1:-}" = --from ]; then
  from=${2:?--from needs the release folder}
  if [ -n "$(git -C "$SANDBOX_ROOT" status --porcelain -- services crates proto Cargo.lock Cargo.toml)" ]; then
    echo "build-services.sh: the services' sources have uncommitted changes: commit them, or build with --rebuild" >&2
    exit 1
  fi
  mkdir -p "$out"
  for b in "${bins[@]}"; do
    [ "$from/$b" -nt "$SANDBOX_ROOT/Cargo.lock" ] || { echo "build-services.sh: $from/$b is missing or older than Cargo.lock" >&2; exit 1; }
    cp "$from/$b" "$out/$b.tmp"; mv "$out/$b.tmp" "$out/$b"
  done
  git -C "$SANDBOX_ROOT" rev-parse HEAD > "$out/COMMIT"
  echo "$out"
  exit 0
fi
if [ "${1:-}" != --rebuild ]; then
  ok=1
  for b in "${bins[@]}"; do [ -x "$out/$b" ] || ok=0; done
  [ "$ok" = 0 ] || { echo "$out"; exit 0; }
fi
commit=$(git -C "$SANDBOX_ROOT" rev-parse HEAD)
src=$SANDBOX_SRC/usactar
[ -d "$src/.git" ] || git clone -q --no-checkout "$SANDBOX_ROOT" "$src"
git -C "$src" fetch -q "$SANDBOX_ROOT" "$commit"
git -C "$src" -c advice.detachedHead=false checkout -q --force "$commit"
(
  cd "$src"
  CARGO_BUILD_JOBS=$SANDBOX_JOBS CARGO_INCREMENTAL=0 \
    cargo build --release --locked -p ingest -p consumer -p live-store -p read-api \
    --target-dir "$SANDBOX_CACHE/target/usactar"
)
mkdir -p "$out"
for b in "${bins[@]}"; do cp "$SANDBOX_CACHE/target/usactar/release/$b" "$out/$b.tmp"; mv "$out/$b.tmp" "$out/$b"; done
echo "$commit" > "$out/COMMIT"
echo "$out"

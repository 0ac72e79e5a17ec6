#!/usr/bin/env bash
# Linkerd's two Rust programs, from source, once, into $SANDBOX_BIN:
#   linkerd2-proxy              linkerd/linkerd2-proxy at $LINKERD_PROXY_REF (the release
#                               linkerd2's .proxy-version names)
#   l5d/policy-controller       linkerd/linkerd2 at $LINKERD_REF, policy-controller/
# Sources: $USACTAR_LINKERD2_PROXY_SRC, $USACTAR_LINKERD2_SRC and $USACTAR_LINKERD_KUBERT_SRC
# (git repositories on this machine) or the public repositories. Both workspaces take
# linkerd-kubert from git by URL; when $USACTAR_LINKERD_KUBERT_SRC is set, git rewrites that
# URL to it (url.insteadOf, for this build only), so the lock files' pinned commits are used
# unchanged. Crates come from crates.io. Cargo's target dirs live under the sandbox cache.
#
# Differences from upstream's release images, for a build on a shared 2-core machine: Rust
# 1.95 (the pinned 1.90 is not installed), no LTO and no debug info (upstream: fat LTO for the
# proxy, thin for the controller), glibc instead of musl for the controller, no `-D warnings`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/sandbox/lib.sh
. "$here/lib.sh"
lowprio_self

export RUSTUP_TOOLCHAIN=$SANDBOX_RUST_TOOLCHAIN
export CARGO_BUILD_JOBS=$SANDBOX_JOBS
export CARGO_INCREMENTAL=0
export CARGO_PROFILE_RELEASE_LTO=false
export CARGO_PROFILE_RELEASE_DEBUG=0
export CARGO_NET_GIT_FETCH_WITH_CLI=true
export RUSTFLAGS="--cfg tokio_unstable"
if [ -n "${USACTAR_LINKERD_KUBERT_SRC:-}" ]; then
  export GIT_CONFIG_COUNT=1
  export GIT_CONFIG_KEY_0="url.$USACTAR_LINKERD_KUBERT_SRC.insteadOf"
  export GIT_CONFIG_VALUE_0=https://github.com/linkerd/linkerd-kubert.git
fi

build_proxy() {
  [ -x "$SANDBOX_BIN/linkerd2-proxy" ] && return
  local src target=$SANDBOX_CACHE/target/linkerd2-proxy
  src=$(checkout linkerd2-proxy USACTAR_LINKERD2_PROXY_SRC \
    https://github.com/linkerd/linkerd2-proxy.git "$LINKERD_PROXY_REF")
  (
    cd "$src"
    LINKERD2_PROXY_VERSION=${LINKERD_PROXY_REF#release/v} LINKERD2_PROXY_VENDOR=usactar-sandbox \
      cargo build --release --locked --package=linkerd2-proxy --target-dir "$target"
  )
  cp "$target/release/linkerd2-proxy" "$SANDBOX_BIN/linkerd2-proxy.tmp"
  strip "$SANDBOX_BIN/linkerd2-proxy.tmp"
  mv "$SANDBOX_BIN/linkerd2-proxy.tmp" "$SANDBOX_BIN/linkerd2-proxy"
}

build_policy_controller() {
  [ -x "$SANDBOX_BIN/l5d/policy-controller" ] && return
  local src target=$SANDBOX_CACHE/target/linkerd2
  src=$(checkout linkerd2 USACTAR_LINKERD2_SRC https://github.com/linkerd/linkerd2.git "$LINKERD_REF")
  (
    cd "$src"
    cargo build --release --locked --package=linkerd-policy-controller --target-dir "$target"
  )
  mkdir -p "$SANDBOX_BIN/l5d"
  cp "$target/release/linkerd-policy-controller" "$SANDBOX_BIN/l5d/policy-controller.tmp"
  strip "$SANDBOX_BIN/l5d/policy-controller.tmp"
  mv "$SANDBOX_BIN/l5d/policy-controller.tmp" "$SANDBOX_BIN/l5d/policy-controller"
}

step linkerd2-proxy build_proxy
step linkerd-policy-controller build_policy_controller

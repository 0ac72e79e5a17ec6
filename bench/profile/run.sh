#!/usr/bin/env bash
# Where the CPU goes under load: per-process CPU of the whole local stack, and flame graphs of
# ingest, logs-writer and live-forwarder, in one run.
#
#   bench/profile/run.sh                               # 32 simultaneous single predictions, 20 s profiled
#   USERS=128 DURATION=30 bench/profile/run.sh
#   OUT=bench/profile/latest bench/profile/run.sh      # where the SVGs and profile.json go
#
# 1. Release build (with line tables, as the workspace's release profile has them); inferno (the
#    flame graph renderer, from crates.io) into the project's cache folder if missing.
# 2. The whole local stack on its own free ports and state folder; NGINX answering a fixed 202
#    beside it, driven the same way first (the baseline the accepted rate is compared with).
# 3. profile.py: loadgen for 5 s of warm-up + DURATION; during DURATION, `perf record` samples the
#    three services at 99 Hz with DWARF call stacks, and /proc gives every process's CPU seconds.
#    Then `perf script` | inferno: one SVG per service in OUT.
# A measurement, not a test. perf itself takes CPU on the same two cores (reported).
set -euo pipefail
DURATION=${DURATION:-20}
USERS=${USERS:-32}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"
OUT=${OUT:-$WORK/profile}
mkdir -p "$OUT"

command -v perf > /dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 1; }
TOOLS=$HOME/.cache/usactar/tools
INFERNO_VERSION=0.12.8
if ! grep -q "\"inferno $INFERNO_VERSION " "$TOOLS/.crates.toml" 2>/dev/null; then
  echo "==> installing inferno $INFERNO_VERSION into $TOOLS"
  cargo install --quiet --locked --root "$TOOLS" --version "$INFERNO_VERSION" inferno
fi
# shellcheck disable=SC2119  # no extra targets: the services are built by default
release_build
machine_line

BPORT=$(free_port)
start_nginx "server { listen 127.0.0.1:$BPORT; location /input { return 202 '{\"accepted\":1}'; } }"
STATE=$WORK/state
start_stack "$BIN" "$STATE"
sleep 10

python3 "$HERE/profile.py" "$BIN" "$TOOLS/bin" "$STATE" "http://127.0.0.1:$BPORT/input" "$DURATION" "$USERS" "$OUT"

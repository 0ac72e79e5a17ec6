#!/usr/bin/env bash
# The /live page's long tasks while predictions arrive (the pages' target: no long task over
# 200 ms at 5,000 predictions/s or more), against a control page doing a fixed 16 ms of work
# every 250 ms under the same load in the same run (the baseline: how far the machine alone
# stretches a task). Each round loads /live, then the control, for LOAD_S seconds at RATE.
#
#   bench/pages/run.sh                       # 3 rounds of 10 s at 7,500 predictions/s
#   ROUNDS=5 RATE=5000 bench/pages/run.sh
#
# A benchmark, not a test: Chromium, the load and the stack share the machine's two cores. The
# e2e test only checks that the page keeps up and never freezes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$HERE/../lib.sh"

# shellcheck disable=SC2119  # no extra targets: the services are built by default
release_build
machine_line
(cd "$ROOT/frontend" && { [[ -d node_modules ]] || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent build > /dev/null)
USACTAR_EXPERIMENTS_BIN=$BIN/experiments node "$HERE/longtasks.mjs" "$ROOT/frontend/dist"

#!/usr/bin/env bash
# Every frontend test: install (npm ci), typecheck, unit tests (vitest), build, then the
# end-to-end tests in Debian's Chromium against a local stack that the e2e starts on free ports.
# Fails, never skips, when Chromium or the stack's binary is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

chromium="${USACTAR_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
  echo "error: no Chromium at $chromium (apt-get install chromium, or set USACTAR_CHROMIUM)" >&2
  exit 1
fi

echo "==> npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "==> typecheck"
npm run --silent typecheck
echo "==> unit tests (vitest)"
npx vitest run
echo "==> build"
npm run --silent build
echo "==> end-to-end tests (playwright-core + $chromium, real local stack)"
node --test --test-concurrency=1 --test-reporter=spec e2e/

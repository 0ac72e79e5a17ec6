#!/usr/bin/env bash
# Renders the manuals, docs/technical-manual.pdf and docs/user-manual.pdf, from the Markdown in
# docs/manual/: marked turns each into HTML, Debian's Chromium (through playwright-core) prints
# it. Installs its npm packages (pinned in package-lock.json) first; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
chromium="${USACTAR_CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
  echo "error: no Chromium at $chromium (apt-get install chromium, or set USACTAR_CHROMIUM)" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
node render.mjs

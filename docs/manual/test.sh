#!/usr/bin/env bash
# Checks the committed manual PDFs (docs/*.pdf) against their Markdown: text extracted from each
# PDF must hold its sections and its source's hash. Installs its npm packages first (npm ci).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
npm ci --no-audit --no-fund --loglevel=error
node --test --test-reporter=spec test/

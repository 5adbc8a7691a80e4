#!/usr/bin/env bash
# Builds the playground page (web/) into service/static/playground, which is committed and shipped
# in the Python package: `pip install .` needs no node, and the page needs no network.
# Needs node and npm; the npm packages are the exact versions of web/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/../web"
npm ci --no-audit --no-fund
node build.mjs

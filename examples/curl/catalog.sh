#!/usr/bin/env bash
# Server info, health and the op catalog (first op shown).
set -euo pipefail
url="${GRADSERVE_URL:-http://127.0.0.1:8000}"
curl -sS "$url/health/ready"; echo
curl -sS "$url/v1/info"; echo
curl -sS "$url/v1/ops" | cut -c1-600

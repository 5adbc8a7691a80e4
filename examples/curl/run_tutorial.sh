#!/usr/bin/env bash
# Run the seed tutorial (examples/seed_tutorial.json) and print the answer.
set -euo pipefail
url="${GRADSERVE_URL:-http://127.0.0.1:8000}"
here="$(cd "$(dirname "$0")" && pwd)"
curl -sS -X POST "$url/v1/run" -H 'content-type: application/json' \
  --data-binary @"$here/../seed_tutorial.json"
echo

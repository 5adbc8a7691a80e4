#!/usr/bin/env bash
# Send the seed tutorial's own code (examples/seed_tutorial.py) as source and print the answer.
set -euo pipefail
url="${GRADSERVE_URL:-http://127.0.0.1:8000}"
here="$(cd "$(dirname "$0")" && pwd)"
python3 -c 'import json, sys; print(json.dumps({"source": sys.stdin.read(), "seed": 2}))' \
  < "$here/../seed_tutorial.py" \
  | curl -sS -X POST "$url/v1/run" -H 'content-type: application/json' --data-binary @-
echo

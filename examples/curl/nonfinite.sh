#!/usr/bin/env bash
# NaN and infinities: strings in JSON, both in and out.
set -euo pipefail
url="${GRADSERVE_URL:-http://127.0.0.1:8000}"
curl -sS -X POST "$url/v1/run" -H 'content-type: application/json' -d '{
  "program": [
    {"name": "x", "op": "tensor", "args": [[0.0, 1.0, "Infinity"]], "attrs": {"requires_grad": true}},
    {"name": "y", "op": "div", "args": ["x", 0.0]},
    {"op": "backward", "args": [{"op": "sum", "args": [{"op": "sqrt", "args": ["x"]}]}]},
    {"print": "y"}
  ]
}'
echo

#!/usr/bin/env bash
# The README's example: d/dx mean(3 (x + 2)^2) at x = ones(2, 2).
set -euo pipefail
url="${GRADSERVE_URL:-http://127.0.0.1:8000}"
curl -sS -X POST "$url/v1/run" -H 'content-type: application/json' -d '{
  "program": [
    {"name": "x", "op": "ones", "attrs": {"size": [2, 2], "requires_grad": true}},
    {"name": "y", "op": "add", "args": ["x", 2]},
    {"name": "out", "op": "mean", "args": [{"op": "mul", "args": [{"op": "mul", "args": ["y", "y"]}, 3]}]},
    {"op": "backward", "args": ["out"]},
    {"print": "out"},
    {"print": {"op": "grad", "args": ["x"]}}
  ],
  "outputs": ["out"]
}'
echo

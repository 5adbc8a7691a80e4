#!/usr/bin/env bash
# A failing program: the answer is an RFC 9457 problem with a JSON Pointer to the culprit.
set -euo pipefail
url="${GRADSERVE_URL:-http://127.0.0.1:8000}"
curl -sS -X POST "$url/v1/run" -H 'content-type: application/json' -d '{
  "program": [
    {"name": "a", "op": "ones", "attrs": {"size": [2]}},
    {"name": "b", "op": "add", "args": ["a", [1.0, 2.0, 3.0]]}
  ]
}'
echo

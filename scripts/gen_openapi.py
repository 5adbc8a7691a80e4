#!/usr/bin/env python3
"""Write openapi/openapi.json from the app (sorted keys, two-space indent, trailing newline).

    python scripts/gen_openapi.py          # rewrite the committed contract
    python scripts/gen_openapi.py --check  # exit 1 if it differs from the app (what CI's test does)

The document depends only on the code (the engine registry included), never on GRADSERVE_*
settings, so regenerate it whenever an op or a model changes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.app import create_app  # noqa: E402
from service.openapi import render  # noqa: E402

TARGET = ROOT / "openapi" / "openapi.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    text = render(create_app().openapi())
    if args.check:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date; run scripts/gen_openapi.py",
                  file=sys.stderr)
            return 1
        return 0
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

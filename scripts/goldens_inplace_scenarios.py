#!/usr/bin/env python3
"""Write ``tests/golden/inplace_scenarios.json``: what torch 2.13 observes in each in-place
scenario of tests/engine/inplace_scenarios.py (the same functions the engine test runs).

    /work/torchvenv/bin/python scripts/goldens_inplace_scenarios.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.engine.inplace_scenarios import SCENARIOS  # noqa: E402

OUT = ROOT / "tests" / "golden" / "inplace_scenarios.json"


def main() -> None:
    torch.manual_seed(0)
    records = {}
    for name, fn in SCENARIOS.items():
        try:
            records[name] = fn(torch)
        except Exception as exc:  # noqa: BLE001 - an uncaught error is the scenario's answer
            records[name] = {"uncaught": str(exc)}
    doc = {"torch_version": torch.__version__, "generator": "scripts/goldens_inplace_scenarios.py",
           "scenarios": records}
    OUT.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    print(f"wrote {len(records)} scenarios to {OUT}")


if __name__ == "__main__":
    main()

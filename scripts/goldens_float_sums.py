"""Write tests/golden/float_sums.json: torch 2.13's float sums and means, bit for bit.

Run with a Python that has torch 2.13 (never the project venv), from the repository root:

    /work/torchvenv/bin/python scripts/goldens_float_sums.py

torch's CPU sum adds in its own order (aten/src/ATen/native/cpu/SumKernel.cpp); numpy's pairwise
order rounds differently, and item() of a sum then prints another last digit. Each case (inputs
from tests/engine/cases_float_sums.py) records torch's sum (and the first values of its mean) as
float.hex strings, and the text Python prints for the full sum's item(). torch runs
single-threaded here: above 32768 elements its answer depends on the thread count (the cases stay
below).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.engine.cases_float_sums import cases, values  # noqa: E402

OUT = ROOT / "tests" / "golden" / "float_sums.json"


def _hex(t: torch.Tensor) -> list[str]:
    return [float(v).hex() for v in t.reshape(-1).tolist()]


def main() -> None:
    torch.set_num_threads(1)
    out = []
    for case in cases():
        n = 1
        for s in case["shape"]:
            n *= s
        x = torch.tensor(values(case["seed"], n, case["dtype"]),
                         dtype=getattr(torch, case["dtype"])).reshape(case["shape"])
        if case["transpose"]:
            x = x.transpose(0, -1)
        dims, keep = case["dims"], case["keepdim"]
        total = x.sum() if dims is None else x.sum(dims, keepdim=keep)
        mean = x.mean() if dims is None else x.mean(dims, keepdim=keep)
        out.append({**case, "out_shape": list(total.shape), "sum": _hex(total),
                    # (a mean is its sum divided by the count: a few values show that division)
                    "mean": _hex(mean.reshape(-1)[:4]), "item": repr(x.sum().item())})
    lines = ",\n".join(json.dumps(case, separators=(",", ":")) for case in out)
    OUT.write_text(f'{{"torch": "{torch.__version__}", "cases": [\n{lines}\n]}}\n')
    print(f"wrote {len(out)} cases to {OUT}")


if __name__ == "__main__":
    main()

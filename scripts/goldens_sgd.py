#!/usr/bin/env python3
"""Write ``tests/golden/sgd_loop.json``: a 50-step SGD loop written the torch way (``sub_`` under
``no_grad``, ``w.grad.zero_()``, ``zero_grad(set_to_none=False)``, a counter ``i.add_(1)``), run
by torch 2.13: what it prints and the final weights. tests/service/test_inplace_http.py sends the
same loop as a program and compares.

    /work/torchvenv/bin/python scripts/goldens_sgd.py
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent.parent / "tests" / "golden" / "sgd_loop.json"

X = [[0.5, -1.0, 0.25], [1.5, 2.0, -0.5], [-0.5, 0.25, 1.0], [1.0, -2.0, 0.75], [0.2, 0.4, -1.2]]
Y = [1.0, -1.0, 0.5, 2.0, -0.3]
W0 = [0.1, -0.2, 0.05]
LR = 0.05
STEPS = 50


def main() -> None:
    x, y = torch.tensor(X), torch.tensor(Y)
    w = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(0.0, requires_grad=True)
    printed = []
    i = torch.tensor(0)
    while i < STEPS:
        loss = ((x @ w + b - y) ** 2).mean()
        printed.append(str(loss))
        loss.backward()
        with torch.no_grad():
            w.sub_(w.grad * LR)
            b -= LR * b.grad
        w.grad.zero_()
        b.grad.detach_()  # torch's zero_grad(set_to_none=False) on b
        b.grad.requires_grad_(False)
        b.grad.zero_()
        i.add_(1)
    printed += [str(w), str(b), str(w.grad), str(i)]
    doc = {"torch_version": torch.__version__, "generator": "scripts/goldens_sgd.py",
           "x": X, "y": Y, "w0": W0, "lr": LR, "steps": STEPS, "printed": printed,
           "w": w.tolist(), "b": b.item()}
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

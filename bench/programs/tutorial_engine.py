"""The seed tutorial written directly against the engine's Python API, printing as the service
prints: the engine's share of a tutorial request, without validation, compilation, the
interpreter or HTTP. bench/baselines/tutorial_torch.py (``encode=False``) is the same in torch."""

from __future__ import annotations

from typing import Any

import engine as ge

# the service's default limits: an execution context with limits is what a request runs in
_LIMITS = ge.Limits(max_tensor_elements=1_000_000, max_alive_elements=10_000_000)


def run_tutorial(seed: int = 0) -> list[str]:
    printed: list[str] = []

    def show(*values: Any) -> None:
        printed.append(" ".join(str(v) if isinstance(v, bool) else repr(v) for v in values))

    with ge.execution(seed=seed, limits=_LIMITS):
        x = ge.ones([2, 2], requires_grad=True)
        show(x)
        y = x + 2
        show(y)
        show(y.grad_fn)
        z = y * y * 3
        out = z.mean()
        show(z, out)

        a = ge.randn([2, 2])
        a = (a * 3) / (a - 1)
        show(a.requires_grad)
        a.requires_grad_(True)
        show(a.requires_grad)
        b = (a * a).sum()
        show(b.grad_fn)

        out.backward()
        show(x.grad)

        v = ge.randn([3], requires_grad=True)
        w = v * 2
        while (w.data.norm() < 1000).item():
            w = w * 2
        show(w)
        w.backward(ge.tensor([0.1, 1.0, 0.0001], dtype="float32"))
        show(v.grad)

        show(v.requires_grad)
        show((v ** 2).requires_grad)
        with ge.no_grad():
            show((v ** 2).requires_grad)
    return printed

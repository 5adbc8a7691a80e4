"""Engine-level cases: the engine's Python API against torch CPU eager and hand-written numpy.

Every side builds its inputs from the same seeded numpy arrays, so both sides of a case do the same
arithmetic on the same numbers. Gradients are reset to None before each call (as
``zero_grad(set_to_none=True)`` does) so repetitions do not accumulate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.registry import (
    BASELINE,
    COMPLETES,
    GRADSERVE,
    REFERENCE,
    Case,
    Params,
    at_most,
    register,
)

Run = Callable[[], Any]


# ----- chain: a long graph of tiny ops (per-op overhead) ----------------------------------------
def _chain_input(p: Params) -> np.ndarray:
    return np.linspace(-1.0, 1.0, p["width"], dtype=np.float32)


def _chain(p: Params, tensor: Callable[..., Any]) -> Run:
    """The chain on a library whose tensors spell it like torch's (``tensor``: its constructor)."""
    x0, n = _chain_input(p), p["n"]

    def run() -> None:
        x = tensor(x0, requires_grad=True)
        y = x
        for _ in range(n):
            y = y.tanh() * 1.01
        y.sum().backward()

    return run


def chain_gradserve(p: Params) -> Run:
    import engine as ge

    return _chain(p, ge.tensor)


def chain_torch(p: Params) -> Run:
    import torch

    return _chain(p, torch.tensor)


def chain_numpy(p: Params) -> Run:
    """The same chain's forward and backward written by hand in numpy: the floor for any engine
    that makes one numpy call per elementwise op."""
    x0, n = _chain_input(p), p["n"]
    scale = np.float32(1.01)

    def run() -> np.ndarray:
        ys = []
        y = x0
        for _ in range(n):
            t = np.tanh(y)
            ys.append(t)
            y = t * scale
        g = np.ones_like(y)  # d sum(y) / d y
        for t in reversed(ys):
            g = g * scale * (1 - t * t)
        return g

    return run


_CHAIN_FULL, _CHAIN_SMOKE = {"n": 1000, "width": 8}, {"n": 5, "width": 8}
register(Case(
    "chain", "chain: 1000 x (tanh, * 1.01) on 8 float32, fwd + bwd, engine API",
    chain_gradserve, chain_torch, baseline_name="torch CPU eager", target=at_most(0.5),
    full=_CHAIN_FULL, smoke=_CHAIN_SMOKE, inner=5, reps=9,
))
register(Case(
    "chain_numpy", "same chain (reference row: the per-op floor of numpy)",
    chain_gradserve, chain_numpy, baseline_name="hand-written numpy fwd + bwd", target=REFERENCE,
    full=_CHAIN_FULL, smoke=_CHAIN_SMOKE, inner=5, reps=7, baseline_needs_torch=False,
))


# ----- deep chain: 100,000 ops forward and backward (completes; memory) ------------------------
# 50,000 x (tanh, * 1.01) = 100,000 recorded ops; the peak RSS of each side's process is reported.
register(Case(
    "deep_chain", "deep chain: 100,000 ops (50,000 x (tanh, * 1.01)) on 8 float32, fwd + bwd",
    chain_gradserve, chain_torch, baseline_name="torch CPU eager", target=COMPLETES,
    full={"n": 50_000, "width": 8}, smoke={"n": 500, "width": 8}, reps=5, warmup=1,
))


# ----- MLP: three tanh layers, mean-square loss (BLAS-bound) -----------------------------------
def mlp_arrays(p: Params) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Input, target and (weight, bias) per layer, float32, from a fixed seed."""
    rng = np.random.default_rng(0)
    batch, width = p["batch"], p["width"]
    x = rng.standard_normal((batch, width), dtype=np.float32)
    target = rng.standard_normal((batch, width), dtype=np.float32)
    scale = np.float32(1.0 / np.sqrt(width))
    layers = [(np.asarray(rng.standard_normal((width, width), dtype=np.float32) * scale),
               np.asarray(rng.standard_normal(width, dtype=np.float32) * scale))
              for _ in range(p["layers"])]
    return x, target, layers


class EngineMLP:
    """h = tanh(h @ W + b) per layer; loss = mean((h - target) ** 2); grads of every W and b."""

    def __init__(self, p: Params) -> None:
        import engine as ge

        xa, ta, layers = mlp_arrays(p)
        self.x, self.target = ge.tensor(xa), ge.tensor(ta)
        self.params = [(ge.tensor(w, requires_grad=True), ge.tensor(b, requires_grad=True))
                       for w, b in layers]
        self.flat = [t for pair in self.params for t in pair]

    def __call__(self) -> Any:
        for t in self.flat:
            t.grad = None
        h = self.x
        for w, b in self.params:
            h = (h @ w + b).tanh()
        loss = ((h - self.target) ** 2).mean()
        loss.backward()
        return {"extra": {"loss": loss.item()}}

    def grads(self) -> list[np.ndarray]:
        """[dW1, db1, dW2, ...] after a call, as host arrays."""
        from engine.backend import to_host

        return [to_host(t.grad._data) for t in self.flat if t.grad is not None]


def mlp_gradserve(p: Params) -> Run:
    return EngineMLP(p)


def mlp_torch(p: Params) -> Run:
    """The same arithmetic with torch tensors (matmul, add, tanh, sub, pow, mean)."""
    import torch

    xa, ta, layers = mlp_arrays(p)
    x, target = torch.from_numpy(xa), torch.from_numpy(ta)
    params = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True))
              for w, b in layers]
    flat = [t for pair in params for t in pair]

    def run() -> Any:
        for t in flat:
            t.grad = None
        h = x
        for w, b in params:
            h = (h @ w + b).tanh()
        loss = ((h - target) ** 2).mean()
        loss.backward()
        return {"extra": {"loss": loss.item()}}

    return run


def mlp_numpy(p: Params) -> Run:
    """The same forward and backward written by hand in numpy (what a careful engineer writes)."""
    xa, ta, layers = mlp_arrays(p)
    run = numpy_mlp_step(xa, ta, layers)
    return lambda: {"extra": {"loss": run()[0]}}


def numpy_mlp_step(x: Any, target: Any, layers: list[tuple[Any, Any]], xp: Any = np
                   ) -> Callable[[], tuple[float, list[Any]]]:
    """One hand-written forward + backward; returns the loss and [dW1, db1, dW2, db2, ...].
    ``xp`` is numpy, or CuPy with CuPy arrays for the GPU reference row."""

    def step() -> tuple[float, list[Any]]:
        hs = [x]
        for w, b in layers:
            z = hs[-1] @ w
            z += b
            hs.append(xp.tanh(z, out=z))
        diff = hs[-1] - target
        loss = float(xp.mean(diff * diff))
        g = diff * xp.float32(2.0 / diff.size)  # d loss / d h_last
        grads: list[Any] = []
        for i in range(len(layers) - 1, -1, -1):
            h = hs[i + 1]
            g *= 1 - h * h  # through tanh: d/dz
            grads[:0] = [hs[i].T @ g, g.sum(axis=0)]
            if i:
                g = g @ layers[i][0].T
        return loss, grads

    return step


_MLP_FULL = {"batch": 256, "width": 1024, "layers": 3}
_MLP_SMOKE = {"batch": 4, "width": 8, "layers": 3}

register(Case(
    "mlp_torch", "MLP 256x1024, 3 tanh layers, MSE loss, fwd + bwd, float32",
    mlp_gradserve, mlp_torch, baseline_name="torch CPU eager", target=at_most(1.10),
    full=_MLP_FULL, smoke=_MLP_SMOKE, inner=3, reps=15,
))
register(Case(
    "mlp_numpy", "same MLP",
    mlp_gradserve, mlp_numpy, baseline_name="hand-written numpy fwd + bwd", target=at_most(1.0),
    full=_MLP_FULL, smoke=_MLP_SMOKE, inner=3, reps=15, baseline_needs_torch=False,
))


# ----- float sums in torch's order (engine/summation.py): what matching torch's bits costs -----
def _sum_inputs(p: Params) -> list[tuple[np.ndarray, tuple[int, ...] | None]]:
    """A whole float64 vector, float32 rows, and a float32 batch's mean-square loss: (array, dims)."""
    rng = np.random.default_rng(0)
    return [(rng.standard_normal(p["n"]), None),
            (rng.standard_normal((p["rows"], 1024), dtype=np.float32), (1,)),
            (rng.standard_normal((p["rows"], 1024), dtype=np.float32), None)]


def sums_gradserve(p: Params) -> Run:
    import engine as ge

    tensors = [(ge.tensor(a), dims) for a, dims in _sum_inputs(p)]

    def run() -> None:
        for t, dims in tensors:
            t.sum() if dims is None else t.sum(list(dims))
            t.mean()

    return run


def sums_numpy(p: Params) -> Run:
    arrays = _sum_inputs(p)

    def run() -> None:
        for a, dims in arrays:
            a.sum(axis=dims)
            a.mean()

    return run


register(Case(
    "sums_numpy", "float sums and means in torch's order: 4096 float64; 256x1024 float32 by row "
    "and whole (reference row: the cost of torch's bits)",
    sums_gradserve, sums_numpy, baseline_name="numpy's own (pairwise) sums", target=REFERENCE,
    full={"n": 4096, "rows": 256}, smoke={"n": 64, "rows": 4}, inner=20, reps=7,
    baseline_needs_torch=False,
))


# ----- GPU: the large MLP on CuPy against torch CUDA (runs only where a GPU is present) -------
def _cuda_synchronized(run: Run, sync: Callable[[], None]) -> Run:
    def timed() -> Any:
        out = run()
        sync()
        return out

    return timed


def gpu_mlp_gradserve(p: Params) -> Run:
    import cupy

    return _cuda_synchronized(mlp_gradserve(p), cupy.cuda.Device().synchronize)


def gpu_mlp_torch(p: Params) -> Run:
    import torch

    xa, ta, layers = mlp_arrays(p)
    dev = torch.device("cuda")
    x, target = torch.from_numpy(xa).to(dev), torch.from_numpy(ta).to(dev)
    params = [(torch.tensor(w, device=dev, requires_grad=True),
               torch.tensor(b, device=dev, requires_grad=True)) for w, b in layers]
    flat = [t for pair in params for t in pair]

    def run() -> Any:
        for t in flat:
            t.grad = None
        h = x
        for w, b in params:
            h = (h @ w + b).tanh()
        loss = ((h - target) ** 2).mean()
        loss.backward()

    return _cuda_synchronized(run, torch.cuda.synchronize)


def gpu_mlp_cupy(p: Params) -> Run:
    """The hand-written step of ``mlp_numpy`` on CuPy arrays: what CuPy itself costs."""
    import cupy

    xa, ta, layers = mlp_arrays(p)
    dev = [(cupy.asarray(w), cupy.asarray(b)) for w, b in layers]
    step = numpy_mlp_step(cupy.asarray(xa), cupy.asarray(ta), dev, xp=cupy)
    return _cuda_synchronized(step, cupy.cuda.Device().synchronize)


_GPU_FULL = {"batch": 4096, "width": 4096, "layers": 4}
_GPU_SMOKE = {"batch": 4, "width": 8, "layers": 4}
_ON_CUPY = {GRADSERVE: {"GRADSERVE_BACKEND": "cupy"}, BASELINE: {}}
register(Case(
    "gpu_mlp", "GPU MLP 4096x4096, 4 tanh layers, GRADSERVE_BACKEND=cupy, fwd + bwd",
    gpu_mlp_gradserve, gpu_mlp_torch, baseline_name="torch CUDA", target=at_most(1.15),
    full=_GPU_FULL, smoke=_GPU_SMOKE, inner=5, needs="gpu", env=_ON_CUPY,
))
register(Case(
    "gpu_mlp_cupy", "same GPU MLP (reference row: CuPy's own cost)",
    gpu_mlp_gradserve, gpu_mlp_cupy, baseline_name="hand-written CuPy fwd + bwd",
    target=REFERENCE, full=_GPU_FULL, smoke=_GPU_SMOKE, inner=5, needs="gpu", env=_ON_CUPY,
    baseline_needs_torch=False,
))

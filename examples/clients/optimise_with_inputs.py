"""An optimisation loop that asks gradserve for f(x) and grad f(x) at each point: one program,
sent unchanged every step, with the point as an input.

The server compiles the program once (per process) and takes it from its compile cache after
that: each answer's ``stats.compile_cached`` says so. The loop itself (gradient descent with a
backtracking line search) runs here, in the client, as an optimiser in any language would.

    python -m service &                     # a server on http://127.0.0.1:8000
    python examples/clients/optimise_with_inputs.py  # or set GRADSERVE_URL

f is Rosenbrock's function in two dimensions, minimum 0 at (1, 1).
"""

from __future__ import annotations

import numpy as np
from gradserve_client import Client, tensor

# f(x) = (1 - x0)^2 + 100 (x1 - x0^2)^2, and its gradient by backward(). "x" is read and never
# assigned: it is the program's input.
PROGRAM = [
    {"name": "x0", "op": "getitem", "args": ["x"], "attrs": {"index": 0}},
    {"name": "x1", "op": "getitem", "args": ["x"], "attrs": {"index": 1}},
    {"name": "f", "op": "add", "args": [
        {"op": "pow", "args": [{"op": "rsub", "args": ["x0", 1.0]}, 2]},
        {"op": "mul", "args": [
            {"op": "pow", "args": [{"op": "sub", "args": ["x1", {"op": "pow", "args": ["x0", 2]}]},
                                   2]}, 100.0]}]},
    {"op": "backward", "args": ["f"]},
]


def f_and_grad(client: Client, x: np.ndarray) -> tuple[float, np.ndarray, bool]:
    answer = client.run(PROGRAM, inputs={"x": tensor(x, requires_grad=True)},
                        outputs=["x", "f"])
    grad = answer.tensors["x"].grad
    assert grad is not None
    return float(answer.tensors["f"].value), grad, bool(answer.stats["compile_cached"])


def minimise(client: Client, x: np.ndarray, steps: int = 200
             ) -> tuple[np.ndarray, float, int, int]:
    """Gradient descent with backtracking (Armijo) steps; the point, f there, how many calls
    it made and how many of their answers used the cached program."""
    fx, g, cached = f_and_grad(client, x)
    calls, hits = 1, int(cached)
    for _ in range(steps):
        step = 1.0
        while True:  # halve the step until f decreases enough
            trial = (x - step * g).astype(np.float64)
            ft, gt, cached = f_and_grad(client, trial)
            calls, hits = calls + 1, hits + cached
            if ft <= fx - 1e-4 * step * float(g @ g) or step < 1e-12:
                break
            step /= 2
        x, fx, g = trial, ft, gt
    return x, fx, calls, hits


if __name__ == "__main__":
    with Client() as client:
        x, fx, calls, hits = minimise(client, np.array([-1.2, 1.0], dtype=np.float64))
    print(f"x = [{x[0]:.4f}, {x[1]:.4f}], f(x) = {fx:.3e}; {calls} calls, {hits} of them "
          "answered with the cached program")

"""The request bodies the service cases send, built once per worker.

``tutorial.json`` is the seed tutorial (PyTorch's autograd tutorial, every cell) as one program;
bench/baselines/tutorial_torch.py is the same program written directly against torch;
``seed_tutorial`` sends examples/seed_tutorial.py/.json, one request in its two forms.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def tutorial() -> bytes:
    return (HERE / "tutorial.json").read_bytes()


# One statement: what the service adds around a program (the http_trivial case).
TRIVIAL = b'{"program": [{"name": "x", "op": "ones", "attrs": {"size": [2]}}]}'


def trivial() -> bytes:
    return TRIVIAL


def tutorial_inputs() -> bytes:
    """The tutorial with its ``x`` (``torch.ones(2, 2, requires_grad=True)``, its first
    statement) sent as an input: the program part is the same on every request, as an optimiser's
    calls at many points are (the http_inputs case)."""
    import json

    body = json.loads(tutorial())
    first, *rest = body["program"]
    assert first["name"] == "x" and first["op"] == "ones"
    x = {"shape": [2, 2], "datatype": "FP32", "data": [1.0] * 4, "requires_grad": True}
    return json.dumps({**body, "program": rest, "inputs": {"x": x}}).encode()


def seed_tutorial(form: str) -> bytes:
    """The seed tutorial's code cells as one request: ``"program"`` sends
    examples/seed_tutorial.json, ``"source"`` examples/seed_tutorial.py (the same code as torch
    source) with that request's seed and outputs, so that both forms answer alike."""
    import json

    examples = HERE.parent.parent / "examples"
    body = json.loads((examples / "seed_tutorial.json").read_text())
    if form == "source":
        body = {"source": (examples / "seed_tutorial.py").read_text(), "seed": body["seed"],
                "outputs": body["outputs"]}
    return json.dumps(body).encode()


def big_tensor(n: int) -> np.ndarray:
    """``n`` float32 values in [-1, 1), fixed seed (the 1,000,000-element cases)."""
    return np.random.default_rng(0).uniform(-1.0, 1.0, n).astype(np.float32)


def scale_program(values: np.ndarray, encoding: str) -> bytes:
    """x -> x * 2 and the gradient of sum(x * 2) with respect to x, x sent as a tensor object in
    ``encoding`` ("json": a flat data list; "base64": b64 bytes) and answered the same way: the
    answer carries x's values and x.grad, each as large as x."""
    import orjson  # here, not at the top: the GPU machine that runs the engine rows lacks it

    if encoding == "base64":
        x = {"shape": [values.size], "datatype": "FP32",
             "b64": base64.b64encode(values.astype("<f4").tobytes()).decode("ascii")}
    else:
        # orjson writes float32 as its shortest round-tripping decimal, as a client library would
        data = orjson.Fragment(orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY))
        x = {"shape": [values.size], "datatype": "FP32", "data": data}
    program = {
        "program": [
            {"name": "x", "op": "tensor", "args": [x], "attrs": {"requires_grad": True}},
            {"name": "y", "op": "mul", "args": ["x", 2]},
            {"op": "backward", "args": [{"op": "sum", "args": ["y"]}]},
        ],
        "outputs": ["x"],
        "encoding": encoding,
    }
    return orjson.dumps(program)

"""The faster ways engine/summation.py adds give the very bits of its plain ones (issue 18).

The goldens (test_float_sums.py) stop at torch's serial limit of 32768 elements, below the sizes
where ``_sequential`` adds term by term; so here every golden case runs again with that path forced
on for every sum it does, and large tensors (a 256x1024 batch, as in the MLP bench) are summed both
ways, specials included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import engine
from engine import summation
from engine.backend import DEVICE, from_host, to_host
from tests.engine.test_float_sums import GOLDEN, _hex, _input


def _force_added(monkeypatch: pytest.MonkeyPatch) -> None:
    """Term-by-term additions for every in-order sum of 2 to 64 terms, whatever their size."""
    monkeypatch.setattr(summation, "_LOOP_MIN_WIDTH", 1)
    monkeypatch.setattr(summation, "_LOOP_MAX_INNER_BYTES", 1 << 62)


def _never_added(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(summation, "_LOOP_TERMS", 0)


@pytest.mark.parametrize("case", GOLDEN[::3], ids=lambda c: f"{c['dtype']}-{c['shape']}-{c['dims']}")
def test_golden_sums_added_term_by_term(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    _force_added(monkeypatch)
    x = _input(case)
    dims, keep = case["dims"], case["keepdim"]
    total = x.sum() if dims is None else x.sum(dims, keepdim=keep)
    if DEVICE != "cpu":  # (torch's order is kept on the CPU only: see test_float_sums.py)
        want = [float.fromhex(v) for v in case["sum"]]
        assert np.allclose(total.numpy().reshape(-1), want, rtol=1e-4, atol=1e-4)
        return
    assert _hex(total) == case["sum"]


def _large(dtype: str, shape: tuple[int, ...], specials: bool) -> np.ndarray:
    rng = np.random.default_rng(len(shape) * 1000 + sum(shape))
    a = (rng.standard_normal(shape) * 2.0 ** rng.integers(-20, 20, shape)).astype(dtype)
    if specials:
        flat = a.reshape(-1)
        flat[::97] = -0.0
        flat[5::1009] = np.inf
        flat[7::2003] = -np.inf
        flat[11::4001] = np.nan
        flat[13::509] = np.finfo(dtype).max
    return a


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,dims", [
    ((256, 1024), None), ((256, 1024), [0]), ((256, 1024), [1]), ((300001,), None),
    ((64, 48, 40), [0, 2]), ((4096, 33), [0]), ((33, 4096), None), ((257, 1023), [0]),
])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("specials", [False, True])
def test_large_sums_are_the_same_either_way(dtype: str, shape: tuple[int, ...], dims: Any,
                                            transpose: bool, specials: bool,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    x = engine.tensor(_large(dtype, shape, specials))
    if transpose:
        x = x.transpose(0, -1)
    with np.errstate(all="ignore"):  # (inf + -inf, on purpose)
        with monkeypatch.context() as m:
            _never_added(m)
            want = [_hex(x.sum() if dims is None else x.sum(dims)), _hex(x.mean())]
        got = [_hex(x.sum() if dims is None else x.sum(dims)), _hex(x.mean())]
    assert got == want


def test_added_starts_at_positive_zero_as_numpy_s_sum_does() -> None:
    host = np.full((3, 4, 2), -0.0, dtype=np.float32)
    host[1, 2:] = 1.5
    got = to_host(summation._added(from_host(host), 1))
    assert got.tobytes() == host.sum(axis=1).tobytes()
    assert not np.signbit(got).any()


def test_float16_never_takes_the_term_by_term_path() -> None:
    # numpy accumulates a float16 sum in float32: term by term in float16 would round otherwise
    host = np.full((16, 4096, 8), 1.0 + 2.0 ** -10, dtype=np.float16)
    got = to_host(summation._sequential(from_host(host), 0))
    assert got.tolist() == host.sum(axis=0).tolist()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,dims", [
    ((256, 1024), None), ((256, 1024), [0]), ((3, 32), [0]), ((2, 64), [0]), ((17, 16), [0]),
    ((5, 96), [0]), ((1000, 32), [0]), ((513,), None), ((4097,), None), ((300001,), None),
    ((3, 7, 40), None), ((1, 64), [0]), ((64, 1), [0]), ((40, 48), [0]),
])
@pytest.mark.parametrize("keepdim", [False, True])
def test_contiguous_sums_taken_directly_are_the_general_path_s(
        dtype: str, shape: tuple[int, ...], dims: Any, keepdim: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    x = engine.tensor(_large(dtype, shape, specials=False))
    with monkeypatch.context() as m:
        m.setattr(summation, "_contiguous", lambda a, dims: None)
        want = _hex(x.sum(dims, keepdim=keepdim) if dims else x.sum())
        want_mean = _hex(x.mean(dims, keepdim=keepdim) if dims else x.mean())
    assert _hex(x.sum(dims, keepdim=keepdim) if dims else x.sum()) == want
    assert _hex(x.mean(dims, keepdim=keepdim) if dims else x.mean()) == want_mean


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("groups", [1, 2, 3, 15, 16, 17, 255, 256, 257, 4096, 8192, 8193])
@pytest.mark.parametrize("fill", ["values", "specials", "negative_zeros", "overflowing"])
def test_whole_vectors_adds_as_vector_rows_does(dtype: str, groups: int, fill: str) -> None:
    # (a sum of whole groups of 4 vectors, as a large mean's: 1 to 3 cascade levels, leftovers)
    lanes = summation.LANES_BYTES // np.dtype(dtype).itemsize
    host = _large(dtype, (groups * 4 * lanes,), fill == "specials")
    if fill == "negative_zeros":
        host[:] = -0.0
    elif fill == "overflowing":
        host = np.abs(host) + np.finfo(dtype).max / 8
    a = from_host(host)
    want = to_host(summation._vector_rows(a.reshape(1, -1), lanes)[0])
    got = to_host(summation._whole_vectors(a, lanes))
    assert got.dtype == want.dtype and got.tobytes() == want.tobytes()


def _in_python_floats(values: list[float], dtype: str) -> float:
    """The kernel's scalar row_sum written out (four interleaved streams, each from +0, the
    leftovers added to the first, then the other three), each addition rounded to ``dtype``."""
    rnd = (lambda v: float(np.float32(v))) if dtype == "float32" else float
    n, total, streams = len(values), 0.0, [0.0] * 4
    whole = n - n % 4
    for k in range(4):
        for v in values[k:whole:4]:
            streams[k] = rnd(streams[k] + v)
    total = streams[0]
    for v in values[whole:]:
        total = rnd(total + v)
    for k in range(1, 4):
        total = rnd(total + streams[k])
    return total


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fill", ["values", "specials", "negative_zeros", "cancelling"])
def test_sums_shorter_than_a_vector_are_the_general_path_s(dtype: str, fill: str) -> None:
    # summation._scalar_row_sum (a whole contiguous sum shorter than one vector: loss.sum(), the
    # tutorial's means) against the general path (the same values as a strided view, which the
    # iterator sums by row_sum) and against the kernel's order written out in Python floats
    lanes = summation.LANES_BYTES // np.dtype(dtype).itemsize
    rng = np.random.default_rng(lanes)
    for n in range(2, lanes):
        for trial in range(60):
            host = (rng.standard_normal(n) * 2.0 ** rng.integers(-30, 30, n)).astype(dtype)
            if fill == "specials":
                host[rng.integers(0, n)] = rng.choice([np.inf, -np.inf, np.nan, -0.0])
            elif fill == "negative_zeros":
                host[rng.random(n) < 0.7] = -0.0
            elif fill == "cancelling":
                host[1] = -host[0]
            twice = np.repeat(host, 2)  # (every other element: host's values, strided)
            for shape, every_other in (((n,), np.s_[::2]), ((1, n), np.s_[:, ::2]),
                                       ((n, 1), np.s_[::2])):
                x = engine.tensor(host.reshape(shape))
                doubled = [2 * s if s == n else s for s in shape]
                strided = engine.tensor(twice.reshape(doubled))[every_other]
                with np.errstate(all="ignore"):
                    got, want = x.sum(), strided.sum()
                    kept = x.sum(list(range(len(shape))), keepdim=True)
                assert _hex(got) == _hex(want), (n, trial, host)
                assert to_host(kept._data).shape == (1,) * len(shape)
                assert _hex(kept) == _hex(got)
                with np.errstate(all="ignore"):
                    expect = _in_python_floats(host.tolist(), dtype)
                assert np.asarray(expect, dtype=dtype).tobytes() == to_host(got._data).tobytes()


# (the general path's call for each op's default form: mean's dim None names MeanBackward1, the
# rest is the same; sum given its own dtype is SumBackward0 as well)
_GENERAL_FORMS = {"mean": ({"dim": None}, "MeanBackward1"), "sum": ({"dtype": None}, "SumBackward0")}


@pytest.mark.parametrize("op", ["mean", "sum"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(), (1,), (3,), (2, 2), (5, 7), (2, 3, 4), (0, 3), (40, 48)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_default_reduction_shortcuts_answer_as_the_general_path(
        op: str, dtype: str, shape: tuple[int, ...], keepdim: bool) -> None:
    # x.mean() / x.sum() (reductions' shortcuts for the default form of a float tensor) against
    # the general path: value bits, node attributes, gradient bits
    host = _large(dtype, shape, specials=False)
    general, general_name = _GENERAL_FORMS[op]
    seen = []
    for kwargs in ({}, {k: dtype if k == "dtype" else v for k, v in general.items()}):
        x = engine.tensor(host, requires_grad=True)
        with np.errstate(all="ignore"):
            out = getattr(x, op)(keepdim=keepdim, **kwargs)
            node = out.grad_fn
            attrs = node.attrs
            out.sum().backward()
        a, g = to_host(out._data), to_host(x.grad._data)
        seen.append((node.name(), a.dtype, a.shape, a.tobytes(), attrs, g.dtype, g.tobytes()))
    assert seen[0][0] == op.capitalize() + "Backward0" and seen[1][0] == general_name
    assert seen[0][1:] == seen[1][1:]


def test_default_mean_shortcut_leaves_integers_to_the_general_path() -> None:
    with pytest.raises(engine.errors.DTypeError, match="could not infer output dtype"):
        engine.tensor([1, 2]).mean()

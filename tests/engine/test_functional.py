"""Jacobians, Hessians and their products (engine/functional.py): against torch 2.13's answers
(tests/golden/functional.json, written by scripts/goldens_functional.py) and against finite
differences; the graph-based variants (jacobian_of, ...) against the same numbers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import engine as ge
from engine import functional as F
from engine import ops
from engine.errors import EngineError
from engine.gradcheck import gradcheck, gradgradcheck

GOLDEN = json.loads((Path(__file__).resolve().parents[1] / "golden" / "functional.json").read_text())
CASES = GOLDEN["cases"]
RESULTS = [c for c in CASES if "result" in c]
NP_DTYPES = {"float32": np.float32, "float64": np.float64}
TOLERANCES = {"float32": {"rtol": 1e-5, "atol": 1e-6}, "float64": {"rtol": 1e-9, "atol": 1e-12}}


# ----- golden cases -------------------------------------------------------------------------------
def load(source: str) -> Callable[..., Any]:
    """A golden case's function, run on the engine (``F`` is engine.ops)."""
    scope: dict[str, Any] = {"F": ops}
    if source.startswith("def "):
        exec(source, scope)  # noqa: S102 - the sources are the golden file's own
        return scope["f"]
    return eval(source, scope)  # noqa: S307


def build(value: Any, was_tuple: bool, requires_grad: bool = False) -> Any:
    if was_tuple:
        return tuple(build(v, False, requires_grad) for v in value)
    spec = value["tensor"]
    data = np.array(spec["data"], dtype=NP_DTYPES[spec["dtype"]]).reshape(spec["shape"])
    return ge.tensor(data, dtype=spec["dtype"], requires_grad=requires_grad)


def assert_result(got: Any, want: Any, what: str, flags: bool = True) -> None:
    """Tuples as lists, tensors by shape, dtype, values and (``flags``) requires_grad."""
    if isinstance(want, list):
        assert isinstance(got, tuple) and len(got) == len(want), f"{what}: structure"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_result(g, w, f"{what}[{i}]", flags)
        return
    assert isinstance(got, ge.Tensor), f"{what}: expected a Tensor"
    assert list(got.shape) == want["shape"], f"{what}: shape"
    assert got.dtype.name == want["dtype"], f"{what}: dtype"
    expected = np.array(want["data"], dtype=np.float64).reshape(want["shape"])
    np.testing.assert_allclose(got.detach().numpy(), expected, err_msg=what, **TOLERANCES[want["dtype"]])
    if flags:
        assert got.requires_grad == want["requires_grad"], f"{what}: requires_grad"


def call_args(case: dict[str, Any]) -> tuple[Any, Any]:
    inputs = build(case["inputs"], case["inputs_tuple"])
    v = None if case["v"] is None else build(case["v"], case["v_tuple"])
    return inputs, v


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_functional_matches_torch(case: dict[str, Any]) -> None:
    fn = load(case["fn"])
    inputs, v = call_args(case)
    api = getattr(F, case["api"])
    args = (fn, inputs) if case["api"] in ("jacobian", "hessian") else (fn, inputs, v)
    if "error" in case:
        with pytest.raises(EngineError) as caught:
            api(*args, **case["kwargs"])
        assert caught.value.message == case["error"]
        return
    assert_result(api(*args, **case["kwargs"]), case["result"], case["id"])


@pytest.mark.parametrize("case", RESULTS, ids=[c["id"] for c in RESULTS])
def test_graph_variant_matches_torch(case: dict[str, Any]) -> None:
    """The same numbers from outputs computed once, without calling the function again."""
    fn = load(case["fn"])
    inputs = build(case["inputs"], case["inputs_tuple"], requires_grad=True)
    _, v = call_args(case)
    xs = inputs if case["inputs_tuple"] else (inputs,)
    outputs = fn(*xs)
    create_graph = case["kwargs"].get("create_graph", False)
    api, want = case["api"], case["result"]
    if api == "jacobian":
        got = F.jacobian_of(outputs, inputs, create_graph=create_graph)
    elif api == "hessian":
        got = F.hessian_of(outputs, inputs, create_graph=create_graph)
    else:
        of = {"vjp": F.vjp_of, "jvp": F.jvp_of, "hvp": F.hvp_of, "vhp": F.vhp_of}[api]
        got = of(outputs, inputs, v, create_graph=create_graph)
        assert_result(outputs, want[0], "outputs", flags=False)
        want = want[1]
    assert_result(got, want, case["id"])


def test_torchs_hessian_and_hvp_examples() -> None:
    # misc_probe.out: hessian((v**3).sum(), [1, 2]) = diag(6, 12); hvp(..., ones) = (9, [6, 12])
    def f(v: ge.Tensor) -> ge.Tensor:
        return (v ** 3).sum()

    x = ge.tensor([1.0, 2.0])
    assert F.hessian(f, x).tolist() == [[6.0, 0.0], [0.0, 12.0]]
    value, product = F.hvp(f, x, ge.tensor([1.0, 1.0]))
    assert value.item() == 9.0 and product.tolist() == [6.0, 12.0]


def test_tutorial_jacobian_from_the_recorded_program() -> None:
    # the tutorial's y = x * 2^k, k chosen by a data-dependent loop: J = 2^k I, and the tutorial's
    # v^T J for v = [0.1, 1, 0.0001]
    x = ge.tensor([293.4463 / 512, 50.6356 / 512, 1031.2501 / 512], requires_grad=True)
    y = x * 2
    while y.data.norm() < 1000:
        y = y * 2
    assert F.jacobian_of(y, x).tolist() == (np.eye(3) * 512).tolist()
    got = F.vjp_of(y, x, ge.tensor([0.1, 1.0, 0.0001])).tolist()
    np.testing.assert_allclose(got, [51.2, 512.0, 0.0512], rtol=1e-6)


# ----- finite differences -------------------------------------------------------------------------
EPS = 1e-6


def as_tuple(x: Any) -> tuple[Any, ...]:
    return x if isinstance(x, tuple) else (x,)


def numeric_jacobian(fn: Callable[..., Any], xs: tuple[np.ndarray, ...], eps: float = EPS
                     ) -> list[list[np.ndarray]]:
    """[output][input] -> array of shape output.shape + input.shape, by central differences."""

    def run(args: list[np.ndarray]) -> list[np.ndarray]:
        out = fn(*(ge.tensor(a, dtype="float64") for a in args))
        return [o.detach().numpy() for o in as_tuple(out)]

    base = run(list(xs))
    jac = [[np.zeros(o.shape + x.shape) for x in xs] for o in base]
    for k, x in enumerate(xs):
        for idx in np.ndindex(x.shape):
            ups, downs = [list(xs), list(xs)]
            for args, sign in ((ups, 1.0), (downs, -1.0)):
                moved = x.copy()
                moved[idx] += sign * eps
                args[k] = moved
            for i, (up, down) in enumerate(zip(run(ups), run(downs), strict=True)):
                jac[i][k][(..., *idx)] = (up - down) / (2 * eps)
    return jac


def numeric_hessian(fn: Callable[..., Any], xs: tuple[np.ndarray, ...]) -> list[list[np.ndarray]]:
    """[input i][input j] of a scalar function: the numeric Jacobian of its numeric gradient."""

    def gradient(*args: ge.Tensor) -> tuple[ge.Tensor, ...]:
        arrays = tuple(a.numpy() for a in args)
        jac = numeric_jacobian(fn, arrays, eps=1e-4)[0]
        return tuple(ge.tensor(g.reshape(a.shape), dtype="float64") for g, a in zip(jac, arrays, strict=True))

    return numeric_jacobian(gradient, xs, eps=1e-4)


def arrays(*shapes: tuple[int, ...], seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.uniform(0.5, 1.5, s) for s in shapes)


def tensors(xs: tuple[np.ndarray, ...], requires_grad: bool = False) -> tuple[ge.Tensor, ...]:
    return tuple(ge.tensor(x, dtype="float64", requires_grad=requires_grad) for x in xs)


Cases = dict[str, tuple[Callable[..., Any], tuple[tuple[int, ...], ...]]]
VECTOR_FUNCTIONS: Cases = {
    "sin_times_y": (lambda x, y: x.sin() * y.sum(), ((3,), (2,))),
    "matrix_and_tuple": (lambda a, b: (a @ b, (a * a).sum(dim=1)), ((2, 3), (3, 2))),
    "inverse": (lambda a: (a + ops.eye(3, dtype="float64") * 3).inverse(), ((3, 3),)),
    "solve": (lambda a, b: ops.solve(a + ops.eye(3, dtype="float64") * 3, b), ((3, 3), (3,))),
    "einsum": (lambda a, x: ops.einsum("bi,ij,bj->b", x, a, x), ((3, 3), (2, 3))),
}
SCALAR_FUNCTIONS: Cases = {
    "cubic": (lambda x, y: (x ** 3 * y).sum() + (x * y).tanh().sum(), ((3,), (3,))),
    "det": (lambda a: (a + ops.eye(3, dtype="float64")).det(), ((3, 3),)),
    "logabsdet": (lambda a: (a + ops.eye(3, dtype="float64") * 2).slogdet()[1], ((3, 3),)),
    "cholesky": (lambda a: (a @ a.transpose(0, 1) + ops.eye(3, dtype="float64")).cholesky().sin().sum(),
                 ((3, 3),)),
    "trace": (lambda a: (a @ a.exp()).trace(), ((2, 2),)),
}


def check_close(got: Any, want: Any, tol: float) -> None:
    """``got`` (a tensor or nested tuples of them) against arrays (or nested lists of them)."""
    if isinstance(want, list):
        got = as_tuple(got)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            check_close(g, w, tol)
        return
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=tol, atol=tol)


def untuple(nested: list[list[np.ndarray]], outs_tuple: bool, ins_tuple: bool) -> Any:
    rows = nested if ins_tuple else [r[0] for r in nested]
    return rows if outs_tuple else rows[0]


@pytest.mark.parametrize("name", list(VECTOR_FUNCTIONS))
def test_jacobian_vjp_jvp_against_finite_differences(name: str) -> None:
    fn, shapes = VECTOR_FUNCTIONS[name]
    xs = arrays(*shapes)
    num = numeric_jacobian(fn, xs)
    outs = as_tuple(fn(*tensors(xs)))
    outs_tuple, ins_tuple = len(outs) > 1, len(xs) > 1
    ins: Any = tensors(xs) if ins_tuple else tensors(xs)[0]
    check_close(F.jacobian(fn, ins), untuple(num, outs_tuple, ins_tuple), 1e-6)

    rng = np.random.default_rng(1)
    u = tuple(rng.standard_normal(o.shape) for o in outs)  # for vjp, shaped like the outputs
    w = tuple(rng.standard_normal(x.shape) for x in xs)  # for jvp, shaped like the inputs
    vjp_want = [sum(np.tensordot(uu, num[i][k], axes=uu.ndim) for i, uu in enumerate(u))
                for k in range(len(xs))]
    jvp_want = [sum(np.tensordot(num[i][k], ww, axes=ww.ndim) for k, ww in enumerate(w))
                for i in range(len(outs))]
    u_arg = tensors(u) if outs_tuple else tensors(u)[0]
    w_arg = tensors(w) if ins_tuple else tensors(w)[0]
    check_close(F.vjp(fn, ins, u_arg)[1], vjp_want if ins_tuple else vjp_want[0], 1e-6)
    check_close(F.jvp(fn, ins, w_arg)[1], jvp_want if outs_tuple else jvp_want[0], 1e-6)

    # the same from outputs computed once
    leaves = tensors(xs, requires_grad=True)
    computed = fn(*leaves)
    leaf_arg = leaves if ins_tuple else leaves[0]
    check_close(F.jacobian_of(computed, leaf_arg), untuple(num, outs_tuple, ins_tuple), 1e-6)
    check_close(F.vjp_of(computed, leaf_arg, u_arg), vjp_want if ins_tuple else vjp_want[0], 1e-6)
    check_close(F.jvp_of(computed, leaf_arg, w_arg), jvp_want if outs_tuple else jvp_want[0], 1e-6)


@pytest.mark.parametrize("name", list(SCALAR_FUNCTIONS))
def test_hessian_hvp_vhp_against_finite_differences(name: str) -> None:
    fn, shapes = SCALAR_FUNCTIONS[name]
    xs = arrays(*shapes)
    num = numeric_hessian(fn, xs)
    ins_tuple = len(xs) > 1
    ins: Any = tensors(xs) if ins_tuple else tensors(xs)[0]
    want_h = num if ins_tuple else num[0][0]
    check_close(F.hessian(fn, ins), want_h, 1e-5)

    w = tuple(np.random.default_rng(2).standard_normal(x.shape) for x in xs)
    hv = [sum(np.tensordot(num[i][k], ww, axes=ww.ndim) for k, ww in enumerate(w)) for i in range(len(xs))]
    w_arg = tensors(w) if ins_tuple else tensors(w)[0]
    check_close(F.hvp(fn, ins, w_arg)[1], hv if ins_tuple else hv[0], 1e-5)
    check_close(F.vhp(fn, ins, w_arg)[1], hv if ins_tuple else hv[0], 1e-5)  # H is symmetric

    leaves = tensors(xs, requires_grad=True)
    out = fn(*leaves)
    leaf_arg = leaves if ins_tuple else leaves[0]
    check_close(F.hessian_of(out, leaf_arg), want_h, 1e-5)
    check_close(F.hvp_of(out, leaf_arg, w_arg), hv if ins_tuple else hv[0], 1e-5)
    check_close(F.vhp_of(out, leaf_arg, w_arg), hv if ins_tuple else hv[0], 1e-5)


# ----- the graph-based variants -------------------------------------------------------------------
def test_one_graph_answers_several_questions() -> None:
    # nothing is re-run and the graph is retained: Jacobian, vjp, jvp, Hessian of one program
    x = ge.tensor([0.5, 1.5], dtype="float64", requires_grad=True)
    h = x * 2  # an intermediate result can be an input too
    y = h.sin()
    s = (y * y).sum()
    assert np.allclose(F.jacobian_of(y, h).numpy(), np.diag(np.cos([1.0, 3.0])))
    assert np.allclose(F.jacobian_of(y, x).numpy(), np.diag(2 * np.cos([1.0, 3.0])))
    v = ge.tensor([1.0, 1.0], dtype="float64")
    assert np.allclose(F.vjp_of(y, x, v).numpy(), 2 * np.cos([1.0, 3.0]))
    assert np.allclose(F.jvp_of(y, x, v).numpy(), 2 * np.cos([1.0, 3.0]))
    # s = sum(sin(2x)^2): d2s/dx2 = 8 cos(4x)
    assert np.allclose(F.hessian_of(s, x).numpy(), np.diag(8 * np.cos([2.0, 6.0])))
    s.backward()  # and the program's own backward still works afterwards
    assert x.grad is not None and np.allclose(x.grad.numpy(), 2 * np.sin([2.0, 6.0]))


def test_inputs_the_outputs_do_not_depend_on_give_zeros_or_strict_errors() -> None:
    x = ge.tensor([1.0, 2.0], requires_grad=True)
    c = ge.tensor([3.0, 4.0])  # a constant: requires no grad
    y = x * c
    jx, jc = F.jacobian_of(y, (x, c))
    assert jx.tolist() == [[3.0, 0.0], [0.0, 4.0]] and jc.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    with pytest.raises(EngineError, match="Output 0 of the user-provided function is independent of input 1"):
        F.jacobian_of(y, (x, c), strict=True)
    assert F.hessian_of(y.sum(), x).tolist() == [[0.0, 0.0], [0.0, 0.0]]  # linear


def test_create_graph_results_can_be_differentiated_again() -> None:
    x = ge.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = x ** 3
    jac = F.jacobian_of(y, x, create_graph=True)  # diag(3 x^2)
    assert jac.requires_grad and jac.grad_fn.name() == "ViewBackward0"
    (g,) = ge.grad(jac.sum(), x)
    assert g is not None and g.tolist() == [6.0, 12.0]
    plain = F.jacobian_of(y, x)
    assert not plain.requires_grad


def test_v_is_checked_as_torch_does() -> None:
    x = ge.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(EngineError, match=r"v has invalid size: should be torch.Size\(\[2\]\) but got"):
        F.vjp_of(y, x, ge.tensor([1.0]))
    with pytest.raises(EngineError, match="The vector v can only be None if the user-provided function"):
        F.vjp_of(y, x)
    with pytest.raises(EngineError, match="should contain a single element"):
        F.hessian_of(y, x)


# ----- Jacobians of linalg ops that the op table cannot check -------------------------------------
def test_cholesky_gradient_of_symmetric_matrices() -> None:
    # torch's (and the engine's) cholesky gradient is the symmetric one: check it where the input
    # is symmetric by construction, to first and second order
    def chol_of_sym(a: ge.Tensor) -> ge.Tensor:
        sym = (a + a.transpose(0, 1)) * 0.5 + ops.eye(3, dtype="float64") * 3
        return ops.cholesky(sym)

    a = tensors(arrays((3, 3), seed=3), requires_grad=True)[0]
    assert gradcheck(chol_of_sym, [a])
    assert gradgradcheck(chol_of_sym, [a])
    assert gradcheck(lambda m: ops.cholesky(chol_of_sym(m) @ chol_of_sym(m).transpose(0, 1), upper=True), [a])


def test_slogdet_logabsdet_gradient() -> None:
    a = tensors(arrays((3, 3), seed=4), requires_grad=True)[0]
    assert gradcheck(lambda m: ops.slogdet(m)[1], [a])
    assert gradgradcheck(lambda m: ops.slogdet(m)[1], [a])

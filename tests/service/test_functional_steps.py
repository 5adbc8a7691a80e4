"""The functional steps (service/program_builtins.py): jacobian, hessian, vjp, jvp, hvp and vhp with
torch.autograd.functional's meaning, computed over HTTP on the graph a program recorded -- against
torch's goldens (tests/golden/functional.json), finite differences and known values -- and the
zero_grad builtin and nested unpacking they come with."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest

from service.catalog import Catalog
from tests.service.helpers import ROOT, TEST_SETTINGS, call, let, ok, post, printed, problem

pytestmark = pytest.mark.anyio

GOLDEN = json.loads((ROOT / "tests" / "golden" / "functional.json").read_text())["cases"]
TOL: dict[str, dict[str, Any]] = {"float32": {"rtol": 1e-5, "atol": 1e-6},
                                  "float64": {"rtol": 1e-9, "atol": 1e-12}}
DATATYPES = {"float32": "FP32", "float64": "FP64"}
FUNCTIONAL = ("jacobian", "hessian", "vjp", "jvp", "hvp", "vhp")



def leaf(name: str, values: Any, dtype: str = "float64") -> dict[str, Any]:
    return let(name, "tensor", values, dtype=dtype, requires_grad=True)


def array(body: dict[str, Any], name: str) -> np.ndarray:
    t = body["tensors"][name]
    return np.array(t["data"], dtype=np.float64).reshape(t["shape"])


# ----- torch's own examples ----------------------------------------------------------------------
async def test_misc_probe_hessian_and_hvp(client: httpx.AsyncClient) -> None:
    # shared/reference/torch-2.13/misc_probe: f = lambda v: (v**3).sum() at v = [1, 2]
    body = await ok(client, [
        let("v", "tensor", [1.0, 2.0], requires_grad=True),
        let("f", "sum", call("pow", "v", 3)),
        let("h", "hessian", "f", "v"),
        {"print": "h"},
        let("r", "hvp", "f", "v", call("ones", size=[2])),
        {"print": "r"},
        let(["value", "hv"], "hvp", "f", "v", [1.0, 1.0]),
    ], outputs=["h", "value", "hv"])
    # misc_probe.out's lines: print("hessian", ...); print("hvp", ...)
    probe = (ROOT.parent / "shared" / "reference" / "torch-2.13" / "misc_probe.out")
    lines = ["hessian tensor([[ 6.,  0.],\n        [ 0., 12.]])",
             "hvp (tensor(9.), tensor([ 6., 12.]))"]
    if probe.exists():
        assert all(line in probe.read_text() for line in lines)
    assert [f"{w} {p}" for w, p in zip(("hessian", "hvp"), body["printed"], strict=True)] == lines
    t = body["tensors"]
    assert t["h"]["shape"] == [2, 2] and t["h"]["data"] == [6.0, 0.0, 0.0, 12.0]
    assert t["value"]["data"] == [9.0] and t["hv"]["data"] == [6.0, 12.0]
    # torch returns the function's value detached (create_graph=False) and plain results
    assert not t["value"]["requires_grad"] and not t["hv"]["requires_grad"]
    assert not t["h"]["requires_grad"]


async def test_the_tutorials_full_jacobian(client: httpx.AsyncClient) -> None:
    # The tutorial's vector function: y = x * 2^k with k chosen by a data-dependent loop; its
    # full Jacobian is 2^k I, and v^T J is what backward(v) put in x.grad.
    body = await ok(client, [
        let("x", "randn", size=[3], requires_grad=True),
        let("y", "mul", "x", 2),
        {"while": call("lt", call("norm", call("data", "y")), 1000),
         "do": [let("y", "mul", "y", 2)]},
        let("J", "jacobian", "y", "x"),
        let(["y_out", "vjp"], "vjp", "y", "x", [0.1, 1.0, 0.0001]),
        let(["y_out2", "jvp"], "jvp", "y", "x", [1.0, -1.0, 2.0]),
        call("backward", "y", [0.1, 1.0, 0.0001]),
    ], seed=0, outputs=["x", "J", "vjp", "jvp"])
    k = body["stats"]["loop_iterations"] + 1
    assert k > 1
    assert body["tensors"]["J"]["shape"] == [3, 3]
    np.testing.assert_array_equal(array(body, "J"), np.eye(3) * 2.0**k)
    np.testing.assert_allclose(array(body, "vjp"), np.array([0.1, 1.0, 0.0001]) * 2.0**k,
                               rtol=1e-6)
    np.testing.assert_allclose(array(body, "vjp"), body["tensors"]["x"]["grad"]["data"],
                               rtol=1e-6)
    np.testing.assert_allclose(array(body, "jvp"), np.array([1.0, -1.0, 2.0]) * 2.0**k)


# ----- torch's goldens -------------------------------------------------------------------------
def _fn(name: str) -> Callable[[], tuple[list[dict[str, Any]], str | list[str]]]:
    """The program steps computing one of scripts/goldens_functional.py's functions of the inputs
    i0 (and i1), and the output names."""
    cube = [let("out", "sum", call("pow", "i0", 3))]
    sin_exp = call("mul", call("sin", "i0"), call("exp", "i0"))
    gram = call("cholesky", call("matmul", "i0", call("transpose", "i0", dim0=0, dim1=1)))
    bilinear = call("einsum", ["i1", "i0", "i1"], equation="bi,ij,bj->b")
    programs: dict[str, Any] = {
        "cube_sum": (cube, "out"),
        "tutorial": ([let("out", "mul", "i0", 2),
                      {"while": call("lt", call("norm", call("data", "out")), 1000),
                       "do": [let("out", "mul", "out", 2)]}], "out"),
        "sin_exp": ([{"name": "out", **sin_exp}], "out"),
        "sin_exp_sum": ([let("out", "sum", sin_exp)], "out"),
        "pair": ([let("o0", "mul", "i0", "i1"), let("o1", "mul", call("sum", "i0"), "i1")],
                 ["o0", "o1"]),
        "pair_sum": ([let("out", "add", call("sum", call("mul", call("mul", "i0", "i0"), "i1")),
                          call("sum", call("tanh", call("mul", "i0", "i1"))))], "out"),
        "linear": ([let("out", "sum", call("mul", "i0", 3))], "out"),
        "inverse": ([let("out", "inverse", "i0")], "out"),
        "inverse_sum": ([let("out", "sum", call("mul", call("inverse", "i0"), "i0"))], "out"),
        "det": ([let("out", "det", "i0")], "out"),
        "logabsdet": ([let(["sign", "out"], "slogdet", "i0")], "out"),
        "cholesky_gram": ([{"name": "out", **gram}], "out"),
        "cholesky_gram_sum": ([let("out", "sum", call("sin", gram))], "out"),
        "solve": ([let("out", "solve", "i0", "i1")], "out"),
        "solve_sq": ([let("out", "sum", call("pow", call("solve", "i0", "i1"), 2))], "out"),
        "bilinear": ([{"name": "out", **bilinear}], "out"),
        "bilinear_sum": ([let("out", "sum", bilinear)], "out"),
        "trace_square": ([let("out", "trace", call("matmul", "i0", "i0"))], "out"),
    }
    return lambda: programs[name]


FN_NAMES = {
    "lambda x: (x ** 3).sum()": "cube_sum", "lambda x: x.sin() * x.exp()": "sin_exp",
    "lambda x: (x.sin() * x.exp()).sum()": "sin_exp_sum",
    "lambda x, y: (x * y, x.sum() * y)": "pair",
    "lambda x, y: (x * x * y).sum() + (x * y).tanh().sum()": "pair_sum",
    "lambda x: (x * 3).sum()": "linear", "lambda A: A.inverse()": "inverse",
    "lambda A: (A.inverse() * A).sum()": "inverse_sum", "lambda A: A.det()": "det",
    "lambda A: A.slogdet()[1]": "logabsdet",
    "lambda A: (A @ A.transpose(0, 1)).cholesky()": "cholesky_gram",
    "lambda A: (A @ A.transpose(0, 1)).cholesky().sin().sum()": "cholesky_gram_sum",
    "lambda A, b: F.solve(A, b)": "solve", "lambda A, b: (F.solve(A, b) ** 2).sum()": "solve_sq",
    "lambda A, x: F.einsum('bi,ij,bj->b', x, A, x)": "bilinear",
    "lambda A, x: F.einsum('bi,ij,bj->b', x, A, x).sum()": "bilinear_sum",
    "lambda A: (A @ A).trace()": "trace_square",
}


def _fn_name(source: str) -> str:
    return "tutorial" if source.startswith("def f(x):\n    y = x * 2\n    while") else \
        FN_NAMES[source]


def _tensor_object(arg: dict[str, Any]) -> dict[str, Any]:
    t = arg["tensor"]
    return {"shape": t["shape"], "datatype": DATATYPES[t["dtype"]], "data": t["data"]}


def _targets(want: Any, prefix: str) -> Any:
    """Names to unpack a result shaped like the golden record into (nested lists for tuples)."""
    if isinstance(want, list):
        return [_targets(w, f"{prefix}_{k}") for k, w in enumerate(want)]
    return prefix


def _flat(targets: Any, want: Any) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(targets, list):
        return [pair for t, w in zip(targets, want, strict=True) for pair in _flat(t, w)]
    return [(targets, want)]


def golden_program(case: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
    """The golden case as a program: inputs as leaves, the function's steps, then one step of
    the case's api, its result unpacked into names shaped like the golden's (None: an error)."""
    steps: list[dict[str, Any]] = []
    ins = case["inputs"] if case["inputs_tuple"] else [case["inputs"]]
    names = [f"i{k}" for k in range(len(ins))]
    steps += [let(n, "tensor", _tensor_object(a), requires_grad=True)
              for n, a in zip(names, ins, strict=True)]
    fn_steps, outputs = _fn(_fn_name(case["fn"]))()
    steps += fn_steps
    args: list[Any] = [outputs, names if case["inputs_tuple"] else names[0]]
    if case["api"] not in ("jacobian", "hessian") and case["v"] is not None:
        vs = case["v"] if case["v_tuple"] else [case["v"]]
        steps += [let(f"v{k}", "tensor", _tensor_object(a)) for k, a in enumerate(vs)]
        args.append([f"v{k}" for k in range(len(vs))] if case["v_tuple"] else "v0")
    target = _targets(case["result"], "r") if "result" in case else "r"
    steps.append(let(target, case["api"], *args, **case["kwargs"]))
    return steps, target


@pytest.mark.parametrize("case", GOLDEN, ids=[c["id"] for c in GOLDEN])
async def test_functional_steps_match_torch(client: httpx.AsyncClient, case: dict[str, Any]
                                            ) -> None:
    steps, target = golden_program(case)
    if "error" in case:
        r = await post(client, steps)
        body = problem(r, "autograd-error", 422, f"/program/{len(steps) - 1}")
        assert body["detail"] == case["error"]
        return
    pairs = _flat(target, case["result"])
    body = await ok(client, steps, outputs=[n for n, _ in pairs])
    for name, want in pairs:
        got = body["tensors"][name]
        assert got["shape"] == want["shape"], name
        assert got["datatype"] == DATATYPES[want["dtype"]], name
        assert got["requires_grad"] == want["requires_grad"], name
        data = [math.nan if v == "NaN" else v for v in got["data"]]
        np.testing.assert_allclose(data, want["data"], err_msg=f"{case['id']}: {name}",
                                   **TOL[want["dtype"]])


# ----- finite differences ----------------------------------------------------------------------
A0, B0 = [0.3, -1.2, 0.7], [1.1, 0.4]
V_OUT = ([0.5, -2.0, 1.5], [0.25, -0.75])
V_IN = ([1.0, 0.5, -1.5], [-0.5, 2.0])


def f_np(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """outputs (sin(a) * b0^2 + a^2 b1, [sum(exp(a) b0), tanh(a0 a2) b1])"""
    return (np.sin(a) * b[0] ** 2 + a**2 * b[1],
            np.array([np.sum(np.exp(a) * b[0]), np.tanh(a[0] * a[2]) * b[1]]))


def s_np(a: np.ndarray, b: np.ndarray) -> float:
    o1, o2 = f_np(a, b)
    return float(np.sum(o1 * o1) + np.sum(o2))


F_STEPS = [
    leaf("a", A0), leaf("b", B0),
    let("b0", "getitem", "b", index=0), let("b1", "getitem", "b", index=1),
    let("o1", "add", call("mul", call("sin", "a"), call("pow", "b0", 2)),
        call("mul", call("pow", "a", 2), "b1")),
    let("o2_0", "sum", call("mul", call("exp", "a"), "b0")),
    let("o2_1", "mul", call("tanh", call("mul", call("getitem", "a", index=0),
                                         call("getitem", "a", index=2))), "b1"),
    let("o2", "stack", ["o2_0", "o2_1"]),
    let("s", "add", call("sum", call("mul", "o1", "o1")), call("sum", "o2")),
]


def numeric_jacobian(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                     h: float = 1e-6) -> np.ndarray:
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        cols.append((np.asarray(fn(x + e)) - np.asarray(fn(x - e))) / (2 * h))
    return np.stack(cols, axis=-1)


def _split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x[:3], x[3:]


def numeric_gradient(x: np.ndarray) -> np.ndarray:
    return numeric_jacobian(lambda z: np.array(s_np(*_split(z))), x, 1e-5)


async def test_jacobian_vjp_jvp_against_finite_differences(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        *F_STEPS,
        let([["J_1a", "J_1b"], ["J_2a", "J_2b"]], "jacobian", ["o1", "o2"], ["a", "b"]),
        let("J_1a_only", "jacobian", "o1", "a"),
        let("u1", "tensor", V_OUT[0], dtype="float64"),
        let("u2", "tensor", V_OUT[1], dtype="float64"),
        let(["outs", ["vjp_a", "vjp_b"]], "vjp", ["o1", "o2"], ["a", "b"], ["u1", "u2"]),
        let("w_a", "tensor", V_IN[0], dtype="float64"),
        let("w_b", "tensor", V_IN[1], dtype="float64"),
        let([["o1_", "o2_"], ["jvp_1", "jvp_2"]], "jvp", ["o1", "o2"], ["a", "b"],
            ["w_a", "w_b"]),
        let(["o1__", "jvp_1_a"], "jvp", "o1", "a", V_IN[0]),
    ], outputs=["J_1a", "J_1b", "J_2a", "J_2b", "J_1a_only", "vjp_a", "vjp_b", "jvp_1", "jvp_2",
                "jvp_1_a", "o2_"])
    a, b = np.array(A0), np.array(B0)
    x = np.concatenate([a, b])
    jac = [numeric_jacobian(lambda z: f_np(*_split(z))[0], x),
           numeric_jacobian(lambda z: f_np(*_split(z))[1], x)]
    tol: dict[str, Any] = {"rtol": 1e-6, "atol": 1e-8}
    for i, o in ((0, "1"), (1, "2")):
        np.testing.assert_allclose(array(body, f"J_{o}a"), jac[i][:, :3], **tol)
        np.testing.assert_allclose(array(body, f"J_{o}b"), jac[i][:, 3:], **tol)
    np.testing.assert_allclose(array(body, "J_1a_only"), jac[0][:, :3], **tol)
    vjp = np.array(V_OUT[0]) @ jac[0] + np.array(V_OUT[1]) @ jac[1]
    np.testing.assert_allclose(array(body, "vjp_a"), vjp[:3], **tol)
    np.testing.assert_allclose(array(body, "vjp_b"), vjp[3:], **tol)
    w = np.concatenate(V_IN)
    np.testing.assert_allclose(array(body, "jvp_1"), jac[0] @ w, **tol)
    np.testing.assert_allclose(array(body, "jvp_2"), jac[1] @ w, **tol)
    np.testing.assert_allclose(array(body, "jvp_1_a"), jac[0][:, :3] @ w[:3], **tol)
    np.testing.assert_allclose(array(body, "o2_"), f_np(a, b)[1], rtol=1e-12)


async def test_hessian_hvp_vhp_against_finite_differences(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        *F_STEPS,
        let([["H_aa", "H_ab"], ["H_ba", "H_bb"]], "hessian", "s", ["a", "b"]),
        let("H_a", "hessian", "s", "a"),
        let("w_a", "tensor", V_IN[0], dtype="float64"),
        let("w_b", "tensor", V_IN[1], dtype="float64"),
        let(["value", ["hvp_a", "hvp_b"]], "hvp", "s", ["a", "b"], ["w_a", "w_b"]),
        let(["value2", ["vhp_a", "vhp_b"]], "vhp", "s", ["a", "b"], ["w_a", "w_b"]),
        let(["value3", "hvp_a_only"], "hvp", "s", "a", "w_a"),
    ], outputs=["H_aa", "H_ab", "H_ba", "H_bb", "H_a", "value", "hvp_a", "hvp_b", "vhp_a",
                "vhp_b", "hvp_a_only"])
    x = np.concatenate([A0, B0])
    hess = numeric_jacobian(numeric_gradient, x, 1e-4)
    tol: dict[str, Any] = {"rtol": 1e-5, "atol": 1e-5}
    np.testing.assert_allclose(array(body, "H_aa"), hess[:3, :3], **tol)
    np.testing.assert_allclose(array(body, "H_ab"), hess[:3, 3:], **tol)
    np.testing.assert_allclose(array(body, "H_ba"), hess[3:, :3], **tol)
    np.testing.assert_allclose(array(body, "H_bb"), hess[3:, 3:], **tol)
    np.testing.assert_array_equal(array(body, "H_a"), array(body, "H_aa"))
    assert body["tensors"]["value"]["data"] == [pytest.approx(s_np(np.array(A0), np.array(B0)))]
    w = np.concatenate(V_IN)
    for name in ("hvp", "vhp"):  # the Hessian is symmetric: H w = w^T H
        np.testing.assert_allclose(array(body, f"{name}_a"), (hess @ w)[:3], **tol)
        np.testing.assert_allclose(array(body, f"{name}_b"), (hess @ w)[3:], **tol)
    np.testing.assert_allclose(array(body, "hvp_a_only"), hess[:3, :3] @ w[:3], **tol)


# ----- create_graph, strict, intermediate inputs ----------------------------------------------
async def test_create_graph_keeps_results_differentiable(client: httpx.AsyncClient) -> None:
    # H of sum(x^4) is diag(12 x^2); d/dx sum(H) = 24 x: a third derivative through a hessian
    body = await ok(client, [
        leaf("x", [1.0, -2.0]),
        let("s", "sum", call("pow", "x", 4)),
        let("H", "hessian", "s", "x", create_graph=True),
        call("backward", call("sum", "H")),
        let(["value", "hv"], "hvp", "s", "x", [1.0, 1.0], create_graph=True),
        let("plain", "hessian", "s", "x"),
    ], outputs=["x", "H", "value", "hv", "plain"])
    t = body["tensors"]
    assert t["H"]["data"] == [12.0, 0.0, 0.0, 48.0] and t["H"]["requires_grad"]
    assert t["x"]["grad"]["data"] == [24.0, -48.0]
    assert t["hv"]["requires_grad"] and t["value"]["requires_grad"]
    assert t["hv"]["data"] == [12.0, 48.0]
    assert not t["plain"]["requires_grad"]


async def test_inputs_may_be_intermediate_results(client: httpx.AsyncClient) -> None:
    # y = sin(h), h = 2x: dy/dh = diag(cos h), dy/dx = diag(2 cos h)
    body = await ok(client, [
        leaf("x", [0.5, 1.5]), let("h", "mul", "x", 2), let("y", "sin", "h"),
        let("Jh", "jacobian", "y", "h"), let("Jx", "jacobian", "y", "x"),
    ], outputs=["Jh", "Jx"])
    c = np.cos([1.0, 3.0])
    np.testing.assert_allclose(array(body, "Jh"), np.diag(c), rtol=1e-12)
    np.testing.assert_allclose(array(body, "Jx"), np.diag(2 * c), rtol=1e-12)


async def test_independent_inputs_give_zeros_or_fail_in_strict_mode(
        client: httpx.AsyncClient) -> None:
    prog = [leaf("x", [1.0, 2.0]), leaf("c", [3.0]), let("y", "mul", "x", 2)]
    body = await ok(client, [*prog, let(["Jx", "Jc"], "jacobian", "y", ["x", "c"]),
                             let("H", "hessian", call("sum", "y"), "x")], outputs=["Jc", "H"])
    assert body["tensors"]["Jc"]["data"] == [0.0, 0.0] and body["tensors"]["Jc"]["shape"] == [2, 1]
    assert body["tensors"]["H"]["data"] == [0.0] * 4  # linear
    r = await post(client, [*prog, let("J", "jacobian", "y", ["x", "c"], strict=True)])
    assert problem(r, "autograd-error", 422, "/program/3")["detail"] == (
        "Output 0 of the user-provided function is independent of input 1. This is not allowed "
        "in strict mode.")


async def test_the_graph_stays_usable_after_a_functional_step(client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        leaf("x", [3.0]), let("y", "pow", "x", 3),
        let("J", "jacobian", "y", "x"), let("H", "hessian", "y", "x"),
        call("backward", "y"),
    ], outputs=["x", "J", "H"])
    assert body["tensors"]["J"]["data"] == [27.0] and body["tensors"]["H"]["data"] == [18.0]
    assert body["tensors"]["x"]["grad"]["data"] == [27.0]  # functional steps leave .grad alone


# ----- errors ------------------------------------------------------------------------------------
async def test_an_input_that_does_not_require_grad(client: httpx.AsyncClient) -> None:
    r = await post(client, [let("c", "tensor", [1.0, 2.0]), leaf("x", [1.0, 1.0]),
                            let("y", "mul", "x", "c"), let("J", "jacobian", "y", ["x", "c"])])
    detail = problem(r, "autograd-error", 422, "/program/3")["detail"]
    assert detail.startswith("One of the differentiated Tensors does not require grad: "
                             "jacobian(): inputs[1] does not require grad")


async def test_v_is_checked_with_torchs_messages(client: httpx.AsyncClient) -> None:
    prog = [leaf("x", [1.0, 2.0]), let("y", "mul", "x", "x"), let("s", "sum", "y")]
    cases = [
        (call("vjp", "y", "x"), "The vector v can only be None if the user-provided function "
         "returns a single Tensor with a single element."),
        (call("jvp", "y", "x", [1.0]), "v has invalid size: should be torch.Size([2]) but got "
         "torch.Size([1])."),
        (call("hvp", "s", ["x"], ["x", "x"]), "v is a tuple of invalid length: should be 1 but "
         "got 2."),
        (call("hvp", "y", "x", [1.0, 1.0]), "The Tensor returned by the function given to hvp "
         "should contain a single element"),
        (call("hessian", "y", "x"), "The Tensor returned by the function given to hessian "
         "should contain a single element"),
    ]
    for step, detail in cases:
        r = await post(client, [*prog, step])
        assert problem(r, "autograd-error", 422, "/program/3")["detail"] == detail, step


async def test_wrong_kinds_of_values_point_at_the_argument(client: httpx.AsyncClient) -> None:
    prog = [leaf("x", [1.0, 2.0]), let("n", "shape", "x")]
    r = await post(client, [*prog, call("jacobian", "x", "n")])
    body = problem(r, "type-error", 422, "/program/2/args/1")
    assert body["detail"] == ("jacobian(): argument 'inputs' must be a tensor or an array of "
                              "tensors, not torch.Size")
    r = await post(client, [*prog, call("hvp", "x", ["x", 3])])
    problem(r, "type-error", 422, "/program/2/args/1/1")


async def test_functional_steps_are_validated_like_ops(client: httpx.AsyncClient) -> None:
    r = await post(client, [leaf("x", [1.0]), call("jacobian", "x", "x", vectorize=True)])
    body = problem(r, "invalid-program", 422)
    assert any(e["pointer"] == "/program/1/attrs/vectorize" for e in body["errors"]), body
    r = await post(client, [leaf("x", [1.0]), call("hessian", "x")])
    assert problem(r, "invalid-program", 422)["pointer"].startswith("/program/1/args")
    r = await post(client, [leaf("x", [1.0]), call("hvp", "x", "x", strict="yes")])
    assert problem(r, "invalid-program", 422)["pointer"] == "/program/1/attrs/strict"


async def test_nested_unpacking_checks_each_level(client: httpx.AsyncClient) -> None:
    prog = [leaf("a", [1.0]), leaf("b", [2.0]), let("s", "sum", call("mul", "a", "b"))]
    r = await post(client, [*prog, let([["h"], "x"], "hessian", "s", ["a", "b"])])
    assert problem(r, "type-error", 422, "/program/3/name/0")["detail"] == \
        "cannot unpack 2 values into 1 names"
    r = await post(client, [*prog, let([["h", "i"], ["j", "k"], "l"], "hessian", "s", ["a", "b"])])
    problem(r, "type-error", 422, "/program/3/name")
    body = await ok(client, [*prog, let([["h_aa", "h_ab"], ["h_ba", "h_bb"]], "hessian", "s",
                                        ["a", "b"])], outputs=["h_ab", "h_ba", "h_aa"])
    assert [body["tensors"][n]["data"] for n in ("h_ab", "h_ba", "h_aa")] == [[1.0], [1.0], [0.0]]


# ----- limits --------------------------------------------------------------------------------------
async def test_jacobian_passes_count_as_steps(client: httpx.AsyncClient) -> None:
    n = TEST_SETTINGS.max_steps
    prog = [let("x", "ones", size=[n], requires_grad=True), let("y", "mul", "x", 2),
            call("jacobian", "y", call("getitem", "x", index=[{"stop": 1}]))]
    body = problem(await post(client, prog), "limit-exceeded", 422, "/program/2")
    assert body["limit"] == "max_steps" and body["value"] > n
    # the same question of fewer elements is fine, and counted
    small = [let("x", "ones", size=[10], requires_grad=True), let("y", "mul", "x", 2),
             let("J", "jacobian", "y", "x")]
    assert (await ok(client, small))["stats"]["steps"] == 3 + 10


async def test_a_jacobian_over_the_size_limit_is_refused_before_it_runs(
        client: httpx.AsyncClient) -> None:
    side = int(TEST_SETTINGS.max_tensor_elements ** 0.5) + 1
    prog = [let("x", "ones", size=[side], requires_grad=True),
            let("H", "hessian", call("sum", call("pow", "x", 3)), "x")]
    body = problem(await post(client, prog), "limit-exceeded", 422, "/program/1")
    assert body["limit"] == "max_tensor_elements" and body["value"] == side * side
    assert body["detail"].startswith(f"a Hessian of {side * side} elements exceeds")


# ----- zero_grad --------------------------------------------------------------------------------
async def test_zero_grad_resets_gradients_between_backward_calls(
        client: httpx.AsyncClient) -> None:
    body = await ok(client, [
        leaf("w", [1.0, -1.0], dtype="float32"), leaf("b", [0.5], dtype="float32"),
        let("i", "tensor", 0),
        {"while": call("lt", "i", 3), "do": [
            call("zero_grad", ["w", "b"]),
            call("backward", call("sum", call("mul", call("add", "w", "b"), "w"))),
            {"print": call("grad", "w")},
            let("i", "add", "i", 1),
        ]},
        call("backward", call("sum", call("mul", "w", 3))),  # accumulates on the last gradient
        let("g_w", "grad", "w"),
        call("zero_grad", "w"),
        let("g_after", "grad", "w"),
        call("backward", call("sum", call("mul", "b", 2))),
        call("zero_grad", "b", set_to_none=False),
    ], outputs=["g_w", "g_after", "b"])
    assert body["printed"] == ["tensor([ 2.5000, -1.5000])"] * 3
    assert body["tensors"]["g_w"]["data"] == [5.5, 1.5]
    assert body["values"]["g_after"] is None
    b_grad = body["tensors"]["b"]["grad"]
    assert b_grad["data"] == [0.0] and b_grad["shape"] == [1]


async def test_zero_grad_of_a_tensor_without_a_gradient(client: httpx.AsyncClient) -> None:
    body = await ok(client, [leaf("w", [1.0]), call("zero_grad", "w"),
                             call("zero_grad", "w", set_to_none=False), let("g", "grad", "w")])
    assert body["values"]["g"] is None
    r = await post(client, [leaf("w", [1.0]), call("zero_grad", ["w", 2])])
    problem(r, "type-error", 422, "/program/1/args/0/1")


# ----- the catalog --------------------------------------------------------------------------------
async def test_the_catalog_lists_the_functional_steps(client: httpx.AsyncClient) -> None:
    catalog = (await client.get("/v1/ops")).json()
    Catalog.model_validate(catalog)
    by_name = {op["name"]: op for op in catalog["ops"]}
    for name in FUNCTIONAL:
        entry = by_name[name]
        assert entry["source"] == "service" and entry["category"] == "functional"
        assert [a["name"] for a in entry["attrs"]] == ["create_graph", "strict"]
        assert entry["doc"].startswith(f"torch.autograd.functional.{name}")
    assert [i["name"] for i in by_name["hvp"]["inputs"]] == ["output", "inputs", "v"]
    assert [i["kind"] for i in by_name["vjp"]["inputs"]] == ["tensor_or_tensors"] * 3
    assert "tensor_or_tensors" in catalog["kinds"]
    zero = by_name["zero_grad"]
    assert zero["attrs"][0]["name"] == "set_to_none" and zero["attrs"][0]["default"] is True


async def test_printing_a_tuple_result(client: httpx.AsyncClient) -> None:
    lines = await printed(client, [
        leaf("x", [1.0, 2.0], dtype="float32"), let("y", "mul", "x", "x"),
        {"print": call("vjp", "y", ["x"], [1.0, 1.0])},
    ])
    assert lines == ["(tensor([1., 4.]), (tensor([2., 4.]),))"]


async def test_an_sgd_training_loop_matches_torchs_trace(client: httpx.AsyncClient) -> None:
    # scripts/goldens_nn.py's trace: linear -> gelu -> linear -> cross_entropy, 5 SGD steps of
    # lr 0.5 in float32. There are no in-place updates: each step rebinds the parameters under
    # no_grad and marks the new leaves; zero_grad is the torch habit at the top of the body.
    mlp = json.loads((ROOT / "tests" / "golden" / "nn_mlp.json").read_text())
    d, params = mlp["data"], ("w1", "b1", "w2", "b2")
    update = [let(p, "requires_grad_", call("sub", p, call("mul", call("grad", p), mlp["lr"])))
              for p in params]
    body = await ok(client, [
        let("x", "tensor", d["x"]), let("y", "tensor", d["y"]),
        *[let(p, "tensor", d[p], requires_grad=True) for p in params],
        let("step", "tensor", 0),
        {"while": call("lt", "step", mlp["steps"]), "do": [
            call("zero_grad", list(params)),
            let("loss", "cross_entropy",
                call("linear", call("gelu", call("linear", "x", "w1", "b1")), "w2", "b2"), "y"),
            call("backward", "loss"),
            {"print": call("item", "loss")},
            {"no_grad": update},
            let("step", "add", "step", 1),
        ]},
    ], outputs=["loss"])
    want = [s["loss"] for s in mlp["runs"]["float32"]]
    np.testing.assert_allclose([float(v) for v in body["printed"]], want, rtol=1e-5)
    assert body["tensors"]["loss"]["data"] == [pytest.approx(want[-1], rel=1e-5)]

"""In-place scenarios: short programs that mutate, written once for torch and for the engine.

Each scenario is a function of ``T``, the library (``torch``, or ``engine``: the same spellings),
returning a dict of observations: tensors (values, dtype, requires_grad, is_leaf, version, grad_fn
chain, grad) and plain values. An exception inside a scenario is observed as its message.
``scripts/goldens_inplace_scenarios.py`` runs them under torch 2.13 and writes
tests/golden/inplace_scenarios.json; tests/engine/test_inplace_scenarios.py runs them on the engine
(no torch) and compares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Scenario = Callable[[Any], dict[str, Any]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


def chain(node: Any, depth: int = 8) -> Any:
    """A grad_fn graph as nested [name, [children]] (None for a missing edge)."""
    if node is None:
        return None
    name = node.name().removeprefix("torch::autograd::")
    if depth == 0 or name == "AccumulateGrad":
        return [name, []]
    return [name, [chain(n, depth - 1) for n, _ in node.next_functions]]


def describe(t: Any) -> dict[str, Any]:
    """What a scenario observes of a tensor (a grad's own version is torch's bookkeeping: its
    input buffers add in place, so it is left out)."""
    return {"values": t.tolist(), "dtype": str(t.dtype), "requires_grad": t.requires_grad,
            "is_leaf": t.is_leaf, "version": t._version, "grad_fn": chain(t.grad_fn),
            "grad": None if t.grad is None else t.grad.tolist()}


def error(fn: Callable[[], Any]) -> str | None:
    """The message of the exception ``fn`` raises (None if it raises nothing)."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - any error is an observation
        return str(exc)
    return None


# ----- leaves, no_grad, .grad --------------------------------------------------------------------
@scenario
def leaf_requiring_grad(T: Any) -> dict[str, Any]:  # noqa: N803 - the library, as `torch`
    w = T.ones([3], requires_grad=True)
    return {"add_": error(lambda: w.add_(1)), "w": describe(w)}


@scenario
def leaf_under_no_grad(T: Any) -> dict[str, Any]:  # noqa: N803
    w = T.ones([3], requires_grad=True)
    (w * w).sum().backward()
    g = w.grad
    with T.no_grad():
        w -= 0.1 * w.grad
        w.mul_(2)
    return {"w": describe(w), "grad_same": g is w.grad}


@scenario
def grad_zero_(T: Any) -> dict[str, Any]:  # noqa: N803
    w = T.ones([3], requires_grad=True)
    (w * 2).sum().backward()
    g = w.grad
    g.zero_()
    (w * 3).sum().backward()
    return {"w": describe(w), "same": g is w.grad, "g": g.tolist()}


@scenario
def grad_accumulates_in_place(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([2], requires_grad=True)
    (x * x).sum().backward(retain_graph=True)
    g0 = x.grad
    (x * x).sum().backward()
    return {"same": g0 is x.grad, "g0": g0.tolist()}


@scenario
def grad_accumulates_with_create_graph(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([2], requires_grad=True)
    (x * x).sum().backward(create_graph=True)
    g0 = x.grad
    (x * x).sum().backward(create_graph=True)
    return {"same": g0 is x.grad, "g0": describe(g0), "grad": describe(x.grad)}


@scenario
def grad_assignment(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([2], requires_grad=True)
    wrong = error(lambda: setattr(x, "grad", T.zeros([3])))
    x.grad = T.full([2], 7.0)
    (x * x).sum().backward()
    after = x.grad.tolist()
    x.grad = None
    (x * 3).sum().backward()
    return {"wrong_size": wrong, "after": after, "reset": x.grad.tolist()}


@scenario
def grad_assigned_requiring_grad(T: Any) -> dict[str, Any]:  # noqa: N803
    w = T.ones([3], requires_grad=True)
    w.grad = T.ones([3], requires_grad=True)
    (w * w).sum().backward()
    return {"grad": describe(w.grad)}


@scenario
def data_does_not_share_version(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([2], requires_grad=True)
    x.data.mul_(3)
    return {"x": describe(x)}


@scenario
def requires_grad_off_then_add_(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([2], requires_grad=True)
    x.requires_grad_(False)
    x.add_(1)
    return {"x": describe(x)}


# ----- non-leaves: history rebased ---------------------------------------------------------------
@scenario
def nonleaf_add_(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([2], requires_grad=True)
    y = x * 2
    y.add_(1)
    return {"y": describe(y)}


@scenario
def nonleaf_mul_backward(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.mul_(x)
    y.sum().backward()
    return {"y": describe(y), "x": describe(x)}


@scenario
def times_a_number_saves_no_tensor(T: Any) -> dict[str, Any]:  # noqa: N803
    # torch saves each operand of mul only for the other's gradient: times a Python number, the
    # tensor is not saved and may change in place before backward; times a tensor, it is
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y * 3.0 + 2 * y + y * 0.5
    y.add_(1)
    z.sum().backward()
    a = x * 1.0
    k = T.tensor([2.0, 3.0])
    b = a * k
    a.mul_(2)
    m = T.tensor([4.0, 5.0])
    c = m * (x * 1.0)
    m.add_(1)  # (saved: x's gradient needs it)
    return {"x": describe(x), "z": describe(z), "times_tensor": error(lambda: b.sum().backward()),
            "saved_changed": error(lambda: c.sum().backward())}


@scenario
def over_a_number_saves_no_dividend(T: Any) -> dict[str, Any]:  # noqa: N803
    # torch saves div's divisor whenever it records and the dividend only for the divisor's
    # gradient: over a number (or a tensor that requires no grad) the dividend may change in place
    # before backward; over a tensor requiring grad it may not, nor may a saved divisor
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y / 2.0 + y / 4
    y.add_(1)
    z.sum().backward()
    a = x * 1.0
    b = a / T.tensor([2.0, 3.0])
    a.mul_(2)
    b.sum().backward()
    c = x * 1.0
    d = c / (x * 2.0)
    c.add_(1)  # (saved: the divisor's gradient needs it)
    k = T.tensor([4.0, 5.0])
    e = (x * 1.0) / k
    k.add_(1)  # (the divisor: always saved)
    m = T.tensor([4.0, 5.0])
    f = m / (x * 1.0)
    m.add_(1)  # (saved: the divisor requires grad)
    return {"x": describe(x), "z": describe(z), "b": describe(b),
            "over_tensor": error(lambda: d.sum().backward()),
            "divisor_changed": error(lambda: e.sum().backward()),
            "dividend_changed": error(lambda: f.sum().backward())}


@scenario
def augmented_assignments(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x + 0
    y += 1
    y *= x
    y -= 1
    y /= 2
    y **= 2
    y.sum().backward()
    return {"y": describe(y), "x": describe(x)}


@scenario
def chain_of_inplace(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = x * 2
    y.fill_(3.0)
    y.clamp_(0, 1)
    y.relu_()
    z = x * 1
    z.zero_()
    w = x * 1
    w.copy_(T.tensor([1.0, 2.0, 3.0]))
    (y.sum() + z.sum() + w.sum()).backward()
    return {"y": describe(y), "z": describe(z), "w": describe(w), "x": describe(x)}


@scenario
def unary_inplace_backward(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.tensor([0.5, 1.0, 2.0], requires_grad=True)
    out = {}
    for name in ("exp_", "log_", "sqrt_", "sin_", "cos_", "tanh_", "sigmoid_", "neg_", "abs_"):
        y = x * 1
        getattr(y, name)()
        out[name] = describe(y)
    y = x * 1
    y.exp_()
    y.sigmoid_()  # changes the result exp_ saved
    out["stale"] = error(lambda: y.sum().backward())
    y = x * 1
    y.add_(1)
    y.exp_()
    y.sum().backward()
    out["x"] = describe(x)
    return out


@scenario
def plain_copy_from_grad(T: Any) -> dict[str, Any]:  # noqa: N803
    a = T.ones([3])
    b = T.ones([3], requires_grad=True)
    a.copy_(b * 2)
    a.sum().backward()
    return {"a": describe(a), "b": describe(b)}


@scenario
def metadata_inplace(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([2, 1, 3], requires_grad=True)
    y = x * 1
    y.squeeze_()
    z = x * 1
    z.unsqueeze_(0)
    w = T.ones([2, 3], requires_grad=True) * 1
    w.t_()
    (y.sum() + z.sum() + w.sum()).backward()
    return {"y": describe(y), "z": describe(z), "w": describe(w), "x": describe(x)}


# ----- version counters --------------------------------------------------------------------------
@scenario
def saved_output_modified(T: Any) -> dict[str, Any]:  # noqa: N803
    out = {}
    for name in ("exp", "sigmoid", "tanh", "sqrt"):
        x = T.ones([2], requires_grad=True)
        y = getattr(x, name)()
        y.add_(1)
        out[name] = error(lambda y=y: y.sum().backward())
    return out


@scenario
def saved_input_modified(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([2], requires_grad=True)
    y = x * 2
    z = y * y
    y.add_(1)
    leaf = T.ones([2], requires_grad=True)
    s = leaf * leaf
    with T.no_grad():
        leaf.add_(1)
    return {"nonleaf": error(lambda: z.sum().backward()),
            "leaf": error(lambda: s.sum().backward()), "y": describe(y), "leaf_t": describe(leaf)}


@scenario
def saved_after_modification_is_fine(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.add_(1)
    z = y * y
    z.sum().backward()
    return {"x": describe(x), "y": describe(y)}


@scenario
def detach_shares_version(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([3], requires_grad=True)
    y = x * 2
    y.add_(1)
    z = y.detach()
    z.add_(1)
    e = x.exp()
    d = e.detach()
    d.zero_()
    leaf = T.ones([3], requires_grad=True)
    leaf.detach().zero_()
    return {"y": describe(y), "z": describe(z), "exp": error(lambda: e.sum().backward()),
            "leaf": describe(leaf)}


@scenario
def inplace_result_saved_then_modified(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([3], requires_grad=True)
    y = x * 2
    v = y[1:]
    v.exp_()
    v.add_(1)
    return {"error": error(lambda: y.sum().backward()), "y": describe(y)}


# ----- views -------------------------------------------------------------------------------------
@scenario
def view_of_leaf(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([2, 2], requires_grad=True)
    return {"slice": error(lambda: x[:1].mul_(2)), "t": error(lambda: x.t().add_(1)),
            "setitem": error(lambda: x.__setitem__(0, 5.0)),
            "view": error(lambda: x.view([4]).zero_()), "x": describe(x)}


@scenario
def view_of_nonleaf(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    v = y[:2]
    v.mul_(2)
    y.sum().backward()
    return {"y": describe(y), "v": describe(v), "x": describe(x)}


@scenario
def views_share_storage(T: Any) -> dict[str, Any]:  # noqa: N803
    base = T.zeros([2, 3])
    views = {
        "getitem": base[1], "view": base.view([6]), "reshape": base.reshape([3, 2]),
        "t": base.t(), "transpose": base.transpose(0, 1), "permute": base.permute([1, 0]),
        "unsqueeze": base.unsqueeze(0), "squeeze": base.unsqueeze(1).squeeze(1),
        "diagonal": base.diagonal(), "split": base.split(1, 1)[2], "chunk": base.chunk(2)[1],
        "unbind": base.unbind(1)[0], "detach": base.detach(), "narrow": base.narrow(1, 1, 2),
        "select": base.select(1, 2),
    }
    out = {}
    for k, (name, v) in enumerate(views.items()):
        v.add_(k + 1)
        out[name] = base.tolist()
        base.zero_()
    out["version"] = base._version
    return out


@scenario
def views_backward(T: Any) -> dict[str, Any]:  # noqa: N803
    out = {}
    makers = {
        "t": lambda y: y.t(), "transpose": lambda y: y.transpose(0, 1),
        "permute": lambda y: y.permute([1, 0]), "view": lambda y: y.view([6]),
        "reshape": lambda y: y.reshape([3, 2]), "unsqueeze": lambda y: y.unsqueeze(0),
        "diagonal": lambda y: y.diagonal(), "slice2": lambda y: y[:, 1:],
        "select": lambda y: y[1], "narrow": lambda y: y.narrow(1, 0, 2),
        "nested": lambda y: y[1:][0, 1:],
    }
    for name, make in makers.items():
        x = T.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
        y = x * 1
        v = make(y)
        v.mul_(v.detach() + 1)
        (y * y).sum().backward()
        out[name] = {"y": describe(y), "v": describe(v), "x": describe(x)}
    return out


@scenario
def view_refusals(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([4], requires_grad=True)
    y = x * 1
    a, _ = y.split(2)
    u = (x * 1).unbind(0)[0]
    e = T.ones([2, 1]).expand(2, 3)
    return {"split": error(lambda: a.mul_(2)), "unbind": error(lambda: u.add_(1)),
            "expand": error(lambda: e.add_(1))}


@scenario
def other_view_sees_write(T: Any) -> dict[str, Any]:  # noqa: N803
    base = T.zeros([4])
    a = base[:2]
    b = base[1:]
    a.add_(1)
    b.mul_(3)
    return {"base": base.tolist(), "a": a.tolist(), "b": b.tolist(), "va": a._version,
            "vb": b._version}


# ----- setitem -----------------------------------------------------------------------------------
@scenario
def setitem_nonleaf(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([3], requires_grad=True)
    y = x * 2
    y[0] = 5.0
    y.sum().backward()
    return {"y": describe(y), "x": describe(x)}


@scenario
def setitem_grad_value_into_plain(T: Any) -> dict[str, Any]:  # noqa: N803
    a = T.zeros([3])
    b = T.ones([3], requires_grad=True)
    a[1] = (b * 2)[1]
    a.sum().backward()
    return {"a": describe(a), "b": describe(b)}


@scenario
def setitem_clone_slice(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([4], requires_grad=True)
    y = x.clone()
    y[1:3] = T.tensor([5.0, 6.0])
    y.sum().backward()
    return {"y": describe(y), "x": describe(x)}


@scenario
def setitem_advanced(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    v = T.tensor([10.0, 20.0], requires_grad=True)
    y = x * 1
    y[T.tensor([1, 0]), T.tensor([2, 0])] = v
    z = x * 1
    z[z > 3] = 0.0
    w = x * 1
    w[[0, 1], 1:] = v.unsqueeze(1)
    (y.sum() + (z * z).sum() + (w * 2).sum()).backward()
    return {"y": describe(y), "z": describe(z), "w": describe(w), "x": describe(x),
            "v": describe(v)}


@scenario
def setitem_errors(T: Any) -> dict[str, Any]:  # noqa: N803
    y = T.ones([3])
    z = T.ones([2, 3])
    return {"too_big": error(lambda: y.__setitem__(0, T.ones([2]))),
            "mismatch": error(lambda: z.__setitem__(T.tensor([0, 1]), T.ones([3, 3]))),
            "dtype": error(lambda: z.__setitem__(T.tensor([0]), T.ones([3], dtype=T.float64))),
            "y": y.tolist(), "z": z.tolist()}


# ----- bad input ---------------------------------------------------------------------------------
@scenario
def dtype_and_shape_refusals(T: Any) -> dict[str, Any]:  # noqa: N803
    i = T.zeros([3], dtype=T.int64)
    b = T.zeros([3], dtype=T.bool_ if hasattr(T, "bool_") else T.bool)  # (engine's spelling)
    f = T.ones([3])
    return {"int_add_float": error(lambda: i.add_(1.5)), "int_mul_float": error(lambda: i.mul_(2.5)),
            "bool_add_int": error(lambda: b.add_(1)), "int_exp": error(lambda: i.exp_()),
            "broadcast": error(lambda: f.add_(T.ones([2, 3]))),
            "copy_bigger": error(lambda: f.copy_(T.ones([2, 3]))),
            "f32_add_f64": str((f.add_(T.ones([3], dtype=T.float64))).dtype),
            "i": i.tolist(), "f": f.tolist(), "iv": i._version, "fv": f._version}


# ----- an SGD loop, the torch way ----------------------------------------------------------------
@scenario
def sgd_loop(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.tensor([[0.5, -1.0], [1.5, 2.0], [-0.5, 0.25], [1.0, -2.0]])
    target = T.tensor([1.0, -1.0, 0.5, 2.0])
    w = T.tensor([0.1, -0.2], requires_grad=True)
    b = T.tensor(0.0, requires_grad=True)
    losses = []
    for step in range(20):
        loss = ((x @ w + b - target) ** 2).mean()
        loss.backward()
        with T.no_grad():
            w -= 0.1 * w.grad
            b.sub_(b.grad, alpha=0.1)
        if step % 2:
            w.grad.zero_()
            b.grad.zero_()
        else:
            w.grad = None
            b.grad = None
        losses.append(round(loss.item(), 5))
    return {"w": describe(w), "b": describe(b), "losses": losses}


@scenario
def stale_view_history_regenerated(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x * 1
    v1 = y[:2]
    v2 = y[1:]
    v1.mul_(3)
    fn = chain(v2.grad_fn)
    (v2 * v2).sum().backward()
    a = T.zeros([3])
    w = T.ones([2], requires_grad=True)
    u = a[1:]
    rg = u.requires_grad
    a[:2] = w * 2
    (u * 1).sum().backward()
    leaf = T.ones([3], requires_grad=True)
    lv = leaf[:2]
    with T.no_grad():
        leaf.add_(1)
    return {"v2_fn": fn, "x": describe(x), "u_before": rg, "u": describe(u), "w": describe(w),
            "lv": describe(lv)}


@scenario
def view_made_under_no_grad(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([3], requires_grad=True)
    y = x * 2
    with T.no_grad():
        v = y[:2]
        lv = x[1:]
    with T.no_grad():
        v.add_(1)  # both inside: allowed, not recorded
    return {"nonleaf": error(lambda: v.add_(1)), "leaf": error(lambda: lv.mul_(2)),
            "y": describe(y)}


@scenario
def value_refusals(T: Any) -> dict[str, Any]:  # noqa: N803
    i = T.zeros([3], dtype=T.int64)
    f = T.zeros([3])
    idx = T.tensor([0])
    return {"fill_nan": error(lambda: i.fill_(float("nan"))),
            "index_fill_inf": error(lambda: i.index_fill_(0, idx, float("inf"))),
            "setitem_big": error(lambda: i.__setitem__(idx, 1e30)),
            "scatter_dtype": error(lambda: f.scatter_(0, idx, T.ones([1], dtype=T.float64))),
            "index_add_dtype": error(lambda: f.index_add_(0, idx, T.ones([1], dtype=T.float64))),
            "i": i.tolist(), "f": f.tolist(), "iv": i._version, "fv": f._version}


@scenario
def retain_grad_follows_the_tensor(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y.mul_(3)
    (y * y).sum().backward()
    return {"y_grad": y.grad.tolist(), "x": describe(x)}


@scenario
def copyslices_twice(T: Any) -> dict[str, Any]:  # noqa: N803
    x = T.ones([3], requires_grad=True)
    w = T.tensor([2.0, 3.0], requires_grad=True)
    y = x * 1
    y[:2].mul_(w)
    y.sum().backward()
    second = error(lambda: y.sum().backward())
    c = T.ones([3], requires_grad=True)
    z = c + 0
    z[1:].add_(1)
    z.sum().backward()
    again = error(lambda: z.sum().backward())
    return {"second": second, "again": again, "x": describe(x), "w": describe(w),
            "c": describe(c)}

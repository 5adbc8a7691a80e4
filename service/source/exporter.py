"""A program written back as a torch script (``POST /v1/translate`` with a program).

The script runs under real torch and prints what gradserve printed, so that anyone can check an
answer on their own machine. Each op is spelled as torch spells it: ``torch.<op>`` for most,
``F.<op>`` for the functional-only ones, a method for the method-only ones (the two sets below are
checked against torch by scripts/golden_source.py), operators for the arithmetic ones. The steps
that differentiate outputs already computed (``jacobian``, ``hvp``, ...) and ``zero_grad`` have no
torch function of that shape: the script defines small helpers for them (:data:`HELPERS`), which
the translator recognises verbatim, so program -> source -> program gives the same answer.
"""

from __future__ import annotations

import ast
import keyword
from typing import Any

from service import encoding
from service.encoding import NONFINITE
from service.python_builtins import SYMBOLS, UNARY
from service.signatures import SIGNATURES

# Registry ops torch has only in torch.nn.functional, or only as a Tensor method.
FUNCTIONAL_ONLY = frozenset({
    "avg_pool2d", "binary_cross_entropy", "cross_entropy", "elu", "gelu", "hardtanh",
    "huber_loss", "l1_loss", "leaky_relu", "linear", "logsigmoid", "mse_loss", "nll_loss", "pad",
    "silu", "smooth_l1_loss", "softplus",
})
METHOD_ONLY = frozenset({"contiguous", "expand", "repeat", "to", "view"})
RENAMED = {"log_sigmoid": "logsigmoid"}  # registry aliases torch does not have
OPERATOR_OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@",
                "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
ACCESSORS = {"grad", "grad_fn", "requires_grad", "is_leaf", "retains_grad", "data", "shape",
             "dtype", "ndim", "next_functions", "variable"}
METHODS = {"detach", "item", "numel", "retain_grad"}
RESERVED = {"torch", "F", "math", "print", "range", "len", "float", "int"}

# torch helpers for the program steps torch has no function for; the translator maps a call of
# one back to its step when the script defines it with exactly this text.
HELPERS: dict[str, str] = {
    "zero_grad": '''def _gs_zero_grad(tensors, set_to_none=True):
    for t in tensors:
        if t.grad is not None:
            t.grad = None if set_to_none else torch.zeros_like(t.grad.detach())
''',
    "py.functional_input": '''def _gs_functional_input(t, create_graph=False):
    if create_graph and t.requires_grad:
        return t.view(t.shape)
    return t.detach().requires_grad_(True)
''',
    "jacobian": '''def _gs_jacobian(outputs, inputs, create_graph=False, strict=False):
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    ins = inputs if isinstance(inputs, tuple) else (inputs,)
    rows = []
    for out in outs:
        flat = out.reshape(-1)
        parts = [[] for _ in ins]
        for k in range(flat.numel()):
            gs = torch.autograd.grad(flat[k], ins, retain_graph=True, create_graph=create_graph,
                                     allow_unused=True)
            for j, (g, i) in enumerate(zip(gs, ins)):
                parts[j].append(torch.zeros_like(i) if g is None else g)
        row = tuple(torch.stack(p).reshape(out.shape + i.shape) if p else
                    torch.zeros(out.shape + i.shape, dtype=i.dtype) for p, i in zip(parts, ins))
        rows.append(row if isinstance(inputs, tuple) else row[0])
    return tuple(rows) if isinstance(outputs, tuple) else rows[0]
''',
    "hessian": '''def _gs_hessian(output, inputs, create_graph=False, strict=False):
    ins = inputs if isinstance(inputs, tuple) else (inputs,)
    grads = torch.autograd.grad(output, ins, create_graph=True, allow_unused=True)
    grads = tuple(torch.zeros_like(i) if g is None else g for g, i in zip(grads, ins))
    rows = tuple(_gs_jacobian(g, inputs, create_graph=create_graph) for g in grads)
    return rows if isinstance(inputs, tuple) else rows[0]
''',
    "vjp": '''def _gs_vjp(outputs, inputs, v=None, create_graph=False, strict=False):
    ins = inputs if isinstance(inputs, tuple) else (inputs,)
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    vs = v if isinstance(v, tuple) else (torch.ones_like(outs[0]) if v is None else v,)
    gs = torch.autograd.grad(outs, ins, vs, retain_graph=True, create_graph=create_graph,
                             allow_unused=True)
    gs = tuple(torch.zeros_like(i) if g is None else g for g, i in zip(gs, ins))
    if not create_graph:
        outputs = tuple(o.detach() for o in outs) if isinstance(outputs, tuple) else outputs.detach()
    return outputs, gs if isinstance(inputs, tuple) else gs[0]
''',
}

_INDENT = "    "


class ExportError(ValueError):
    """A program element the exporter cannot write (an internal gap; never a client's fault)."""


def _name(n: str) -> str:
    return n + "_" if keyword.iskeyword(n) or n in RESERVED or n.startswith("_gs") else n


class _Exporter:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.helpers: set[str] = set()
        self.uses_f = False
        self.uses_math = False

    # ----- statements -----------------------------------------------------------------------
    def block(self, stmts: list[Any], depth: int) -> None:
        if not stmts:
            self.lines.append(_INDENT * depth + "pass")
        for s in stmts:
            self.statement(s, depth)

    def statement(self, s: dict[str, Any], depth: int) -> None:
        pad = _INDENT * depth
        if "print" in s:
            v = s["print"]
            if isinstance(v, dict) and "values" in v:
                args = [self.expr(a) for a in v["values"]]
                for key in ("sep", "end"):
                    if key in v and v[key] != (" " if key == "sep" else "\n"):
                        args.append(f"{key}={v[key]!r}")
                self.lines.append(f"{pad}print({', '.join(args)})")
            else:
                self.lines.append(f"{pad}print({self.expr(v)})")
        elif "while" in s:
            self.lines.append(f"{pad}while {self.expr(s['while'])}:")
            self.block(s["do"], depth + 1)
        elif "if" in s:
            self.lines.append(f"{pad}if {self.expr(s['if'])}:")
            self.block(s["then"], depth + 1)
            if s.get("else"):
                self.lines.append(f"{pad}else:")
                self.block(s["else"], depth + 1)
        elif "no_grad" in s or "enable_grad" in s:
            key = "no_grad" if "no_grad" in s else "enable_grad"
            self.lines.append(f"{pad}with torch.{key}():")
            self.block(s[key], depth + 1)
        elif "for" in s:
            self.lines.append(f"{pad}for {self.target(s['for'])} in {self.expr(s['in'])}:")
            self.block(s["do"], depth + 1)
        elif "break" in s or "continue" in s:
            self.lines.append(pad + ("break" if "break" in s else "continue"))
        elif "assert" in s:
            msg = f", {self.expr(s['message'])}" if s.get("message") is not None else ""
            self.lines.append(f"{pad}assert {self.expr(s['assert'])}{msg}")
        elif "setitem" in s:
            target, index, value = s["setitem"]
            self.lines.append(f"{pad}{self.expr(target)}[{self.index(index)}] = "
                              f"{self.expr(value)}")
        elif "set_grad" in s:
            target, value = s["set_grad"]
            self.lines.append(f"{pad}{self.expr(target)}.grad = {self.expr(value)}")
        elif _augmented(s):  # name = py.operator(name, v, "isub"): Python's `name -= v`
            o = s["attrs"]["operator"]
            self.lines.append(f"{pad}{_name(s['name'])} {SYMBOLS[o]} {self.expr(s['args'][1])}")
        else:
            text = self.call(s)
            if s.get("name") is not None:
                text = f"{self.target(s['name'])} = {text}"
            self.lines.append(pad + text)

    def target(self, t: Any) -> str:
        if isinstance(t, str):
            return _name(t)
        inner = ", ".join(f"({self.target(x)})" if isinstance(x, list) else self.target(x)
                          for x in t)
        return inner + ("," if len(t) == 1 else "")

    # ----- expressions ----------------------------------------------------------------------
    def expr(self, a: Any, kind: str = "tensor") -> str:
        if isinstance(a, bool) or a is None:
            return repr(a)
        if isinstance(a, (int, float)):
            return repr(a)
        if isinstance(a, str):
            if a in NONFINITE:
                return _nonfinite(a)
            return _name(a)
        if isinstance(a, list):
            if kind == "tensors":  # each element one tensor: a name, a literal or None
                return "[" + ", ".join(f"torch.tensor({_literal(x)})" if isinstance(x, list)
                                       else self.expr(x) for x in a) + "]"
            if kind == "tensor_or_tensors" and all(
                    isinstance(x, str) and x not in NONFINITE or x is None for x in a):
                inner = ", ".join(self.expr(x) for x in a)
                return f"({inner}{',' if len(a) == 1 else ''})"
            literal = _literal(a)
            return literal if kind == "data" else f"torch.tensor({literal})"
        if isinstance(a, dict) and "op" in a:
            return self.call(a)
        if isinstance(a, dict):
            return self.tensor_object(a)
        raise ExportError(f"cannot write {a!r}")

    def tensor_object(self, t: dict[str, Any]) -> str:
        values = encoding.decode_object(t["shape"], t["datatype"], t.get("data"),
                                        t.get("b64")).tolist()
        dtype = {"FP32": "float32", "FP64": "float64", "INT64": "int64", "BOOL": "bool"}[
            t["datatype"]]
        return f"torch.tensor({_literal(values)}, dtype=torch.{dtype})"

    def call(self, c: dict[str, Any]) -> str:
        op = c["op"]
        sig = SIGNATURES[op]
        args = c.get("args", [])
        attrs = c.get("attrs", {}) or {}
        kinds = [i.kind for i in sig.inputs]
        vals = [self.expr(a, kinds[i] if i < len(kinds) else "tensor")
                for i, a in enumerate(args)]
        if op.startswith("py."):
            return self.python(op, args, vals, attrs)
        if op in ACCESSORS:
            return f"{_wrap(vals[0])}.{op}"
        if op in METHODS:
            return f"{_wrap(vals[0])}.{op}()"
        if op == "requires_grad_":
            flag = attrs.get("requires_grad", True)
            return f"{_wrap(vals[0])}.requires_grad_({flag!r})"
        if op == "backward":
            extra = [f"{k}={v!r}" for k, v in attrs.items()]
            rest = vals[1:2] + [f"inputs={vals[2]}" for _ in vals[2:3]]
            return f"{_wrap(vals[0])}.backward({', '.join(rest + extra)})"
        if op in ("autograd.grad", "autograd.backward"):
            given = [*vals, *(f"{k}={v!r}" for k, v in attrs.items())]
            return f"torch.{op}({', '.join(given)})"
        if op == "tensor":
            extra = [f"dtype=torch.{v}" if k == "dtype" else f"{k}={v!r}"
                     for k, v in attrs.items() if v is not None]
            return f"torch.tensor({', '.join([vals[0], *extra])})"
        if op in HELPERS or op in ("hvp", "vhp", "jvp"):
            return self.helper(op, vals, attrs)
        if sig.op is not None and args and kinds[0] == "operand" and _is_number(args[0]):
            # torch has no op(number, tensor); a 0-dim tensor constant keeps the order (and the
            # graph's edges), and promotes as the number does
            vals[0] = f"torch.tensor({vals[0]})"
        if op == "getitem":
            return f"{_wrap(vals[0])}[{self.index(attrs['index'])}]"
        if op in OPERATOR_OPS and not attrs and len(vals) == 2:
            return f"({vals[0]} {OPERATOR_OPS[op]} {vals[1]})"
        if op == "neg" and not attrs:
            return f"(-{vals[0]})"
        return self.torch_function(op, sig, vals, attrs)

    def torch_function(self, op: str, sig: Any, vals: list[str], attrs: dict[str, Any]) -> str:
        name = RENAMED.get(op, op)
        params = [p.name for p in sig.op.params] if sig.op is not None else []
        inputs = [i.name for i in sig.inputs]
        leading = params[:len(inputs)] == inputs
        pieces = list(vals) if leading else [f"{n}={v}" for n, v in zip(inputs, vals,
                                                                         strict=False)]
        pieces += [f"{k}={_attr(v, k, sig)}" for k, v in attrs.items()]
        if name.endswith("_") and vals and leading:  # in-place ops are methods (w.sub_(v))
            return f"{_wrap(vals[0])}.{name}({', '.join(pieces[1:])})"
        if name in METHOD_ONLY and vals:
            if not leading:
                raise ExportError(f"cannot write the method {name}")
            rest = pieces[1:]
            if name == "to":
                rest = [f"torch.{attrs['dtype']}"]
            elif name in ("view", "expand", "repeat") and len(attrs) == 1:
                rest = [repr(list(next(iter(attrs.values()))))]
            return f"{_wrap(vals[0])}.{name}({', '.join(rest)})"
        if name in FUNCTIONAL_ONLY:
            self.uses_f = True
            return f"F.{name}({', '.join(pieces)})"
        return f"torch.{name}({', '.join(pieces)})"

    def helper(self, op: str, vals: list[str], attrs: dict[str, Any]) -> str:
        if op in ("hvp", "vhp", "jvp"):
            return self.product(op, vals, attrs)
        self.helpers.add(op)
        if op == "hessian":
            self.helpers.add("jacobian")
        extra = [f"{k}={v!r}" for k, v in attrs.items()]
        return f"_gs_{op.replace('py.', '')}({', '.join([*vals, *extra])})"

    def product(self, op: str, vals: list[str], attrs: dict[str, Any]) -> str:
        """hvp/vhp/jvp written through the helpers: (output, product)."""
        self.helpers.add(op)
        extra = "".join(f", {k}={v!r}" for k, v in attrs.items())
        out, inputs = vals[0], vals[1]
        v = vals[2] if len(vals) > 2 else "None"
        return f"_gs_{op}({out}, {inputs}, {v}{extra})"

    def python(self, op: str, args: list[Any], vals: list[str], attrs: dict[str, Any]) -> str:
        if op == "py.value":
            return vals[0] if vals else "None"
        if op == "py.operator":
            o = attrs["operator"]
            sym = SYMBOLS[o]
            if o in UNARY:
                return f"({sym} {vals[0]})" if o == "not" else f"({sym}{vals[0]})"
            b = vals[1] if len(vals) > 1 else "None"  # (b is optional in the JSON form)
            return f"({vals[0]} {sym.rstrip('=') if o.startswith('i') and o != 'is' and o != 'is_not' else sym} {b})"  # noqa: E501
        if op == "py.call":
            fn = attrs["function"]
            if fn.startswith("math."):
                self.uses_math = True
            return f"{fn}({', '.join(vals)})"
        if op == "py.format":
            template = attrs["template"]
            if not vals:
                return repr(template.replace("{{", "{").replace("}}", "}"))
            return f"{template!r}.format({', '.join(vals)})"
        if op == "py.list":
            return f"[{', '.join(vals)}]"
        if op == "py.tuple":
            return f"({', '.join(vals)}{',' if len(vals) == 1 else ''})"
        if op == "py.index":
            return f"{_wrap(vals[0])}[{vals[1]}]"
        if op == "py.transpose":
            return f"{_wrap(vals[0])}.T"
        if op == "py.functional_input":
            self.helpers.add(op)
            extra = "".join(f", {k}={v!r}" for k, v in attrs.items())
            return f"_gs_functional_input({vals[0]}{extra})"
        raise ExportError(f"cannot write {op}")

    def index(self, index: Any) -> str:
        """getitem's index: an array is a tuple of items (an item that is itself an array is an
        advanced index)."""
        if not isinstance(index, list):
            return self.index_item(index)
        parts = [self.index_item(i) for i in index]
        return ", ".join(parts) + ("," if len(parts) == 1 else "") if parts else "()"

    def index_item(self, i: Any) -> str:
        if isinstance(i, dict):
            start, stop, step = (i.get(k) for k in ("start", "stop", "step"))
            text = f"{'' if start is None else start}:{'' if stop is None else stop}"
            return text + (f":{step}" if step is not None else "")
        if i == "...":
            return "..."
        if isinstance(i, str):
            return _name(i)
        return repr(i)


# jvp by the double-backward trick (as torch's own jvp), vhp as the gradient of <grad, v>, hvp as
# vhp (the Hessian of a twice-differentiable function is symmetric); like gradserve's steps they
# keep the graph, so that a later backward through it still works
HELPERS["jvp"] = '''def _gs_jvp(outputs, inputs, v=None, create_graph=False, strict=False):
    outs = outputs if isinstance(outputs, tuple) else (outputs,)
    ins = inputs if isinstance(inputs, tuple) else (inputs,)
    vs = v if isinstance(v, tuple) else (torch.ones_like(ins[0]) if v is None else v,)
    us = tuple(torch.zeros_like(o, requires_grad=True) for o in outs)
    gs = torch.autograd.grad(outs, ins, us, create_graph=True, allow_unused=True)
    pairs = [(g, w) for g, w in zip(gs, vs) if g is not None]
    js = torch.autograd.grad([g for g, _ in pairs], us, [w for _, w in pairs],
                             retain_graph=True, create_graph=create_graph, allow_unused=True)
    js = tuple(torch.zeros_like(o) if j is None else j for j, o in zip(js, outs))
    if not create_graph:
        outputs = tuple(o.detach() for o in outs) if isinstance(outputs, tuple) else outputs.detach()
    return outputs, js if isinstance(outputs, tuple) else js[0]
'''
HELPERS["vhp"] = '''def _gs_vhp(output, inputs, v=None, create_graph=False, strict=False):
    ins = inputs if isinstance(inputs, tuple) else (inputs,)
    vs = v if isinstance(v, tuple) else (torch.ones_like(ins[0]) if v is None else v,)
    gs = torch.autograd.grad(output, ins, create_graph=True, allow_unused=True)
    pairs = [(g, w) for g, w in zip(gs, vs) if g is not None]
    hs = torch.autograd.grad([g for g, _ in pairs], ins, [w for _, w in pairs],
                             retain_graph=True, create_graph=create_graph, allow_unused=True)
    hs = tuple(torch.zeros_like(i) if h is None else h for h, i in zip(hs, ins))
    out = output if create_graph else output.detach()
    return out, hs if isinstance(inputs, tuple) else hs[0]
'''
HELPERS["hvp"] = HELPERS["vhp"].replace("_gs_vhp", "_gs_hvp")
HELPER_ORDER = ("zero_grad", "py.functional_input", "jacobian", "hessian", "vjp", "jvp", "hvp",
                "vhp")
# the step each helper stands for, by the helper's function name (for the translator)
HELPER_STEPS = {f"_gs_{k.replace('py.', '')}": k for k in HELPER_ORDER}


def helper_dumps() -> dict[str, str]:
    """Each helper's ast dump, by its function name: what the translator compares a def with."""
    out = {}
    for text in HELPERS.values():
        node = ast.parse(text).body[0]
        assert isinstance(node, ast.FunctionDef)
        out[node.name] = ast.dump(node)
    return out


def _wrap(text: str) -> str:
    return text if text.isidentifier() or text.endswith((")", "]")) and not text.startswith(
        "(-") else f"({text})"


def _augmented(s: dict[str, Any]) -> bool:
    """A statement that is an augmented assignment: ``{"name": n, "op": "py.operator", "args":
    [n, v], "attrs": {"operator": "iadd"}}`` (in place on a tensor with an in-place operator)."""
    o = (s.get("attrs") or {}).get("operator", "")
    args = s.get("args") or []
    return s.get("op") == "py.operator" and SYMBOLS.get(o, "").endswith("=") and o not in (
        "eq", "ne", "le", "ge", "lt", "gt") and len(args) == 2 and isinstance(s.get("name"), str) \
        and args[0] == s["name"]


def _is_number(a: Any) -> bool:
    return isinstance(a, (bool, int, float)) or (isinstance(a, str) and a in NONFINITE)


def _nonfinite(token: str) -> str:
    return {"NaN": "float('nan')", "Infinity": "float('inf')", "-Infinity": "float('-inf')"}[token]


def _literal(a: Any) -> str:
    if isinstance(a, list):
        return "[" + ", ".join(_literal(x) for x in a) + "]"
    if isinstance(a, str):
        return _nonfinite(a) if a in NONFINITE else _name(a)
    if isinstance(a, float) and a != a or a in (float("inf"), float("-inf")):
        return "float('nan')" if a != a else "float('inf')" if a > 0 else "float('-inf')"
    return repr(a)


def _attr(v: Any, key: str, sig: Any) -> str:
    kind = next((p.kind for p in sig.attrs if p.name == key), None)
    if kind == "dtype" and isinstance(v, str):
        return f"torch.{v}"
    if isinstance(v, str) and v in NONFINITE and kind in ("float", "number"):
        return _nonfinite(v)
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return _literal(v)
    return repr(v)


def export_program(program: list[Any], seed: int | None = None) -> str:
    """The torch script of a validated program (raw JSON statements)."""
    ex = _Exporter()
    try:
        ex.block(program, 0)
    except (IndexError, KeyError) as exc:  # an element without the arguments its torch form needs
        raise ExportError(f"an element lacks an argument its torch spelling needs ({exc})") from None
    head = ["import torch"]
    if ex.uses_f:
        head.append("import torch.nn.functional as F")
    if ex.uses_math:
        head.append("import math")
    head.append("")
    if ex.helpers:
        for key in HELPER_ORDER:
            if key in ex.helpers:
                head += [HELPERS[key]]
    if seed is not None:
        head.append(f"torch.manual_seed({seed})")
    return "\n".join(head) + "\n" + "\n".join(ex.lines) + "\n"

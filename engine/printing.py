"""Render a host array exactly as PyTorch 2.13 prints a tensor.

``format_tensor`` returns the same text as ``repr(t)`` / ``str(t)`` for a plain
strided tensor under torch's default print options (precision 4, threshold
1000, edge items 3, line width 80, automatic scientific mode).

How torch prints, in short (this module follows the same steps):

1. Pick the elements that will be shown. A tensor with more than 1000 elements
   is *summarised*: along every dimension longer than 6 only the first 3 and
   the last 3 entries are kept, and the rest become ``...``.
2. Build one *formatter* from the shown elements. For floating dtypes it
   looks only at the finite, non-zero values and decides
   - integer mode: every such value is a whole number, printed as ``3.``;
   - scientific mode: largest/smallest magnitude > 1000, largest > 1e8 or
     smallest < 1e-4, printed as ``1.2345e+03``;
   - otherwise fixed point with 4 decimals, ``1.2345``;
   and the width of the widest rendered value. Every element is then
   right-aligned to that width, so columns line up.
3. Lay out the nested lists: rows of a 1-d piece wrap so that a line fits in
   80 columns, deeper dimensions put each sub-list on its own line, separated
   by one blank line per extra dimension.
4. Append the suffixes (device, size, dtype, grad_fn / requires_grad), moving
   one onto a new line when it would overflow 80 columns.

Only the standard library and numpy are used; all number formatting goes
through Python's own ``format`` on Python floats/ints, which is what torch uses
too (a float32 element is widened to a Python float first, so float32 0.1
prints as ``0.1000``).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

__all__ = ["format_tensor"]

# Default torch print options (torch.set_printoptions(profile="default")).
PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80

# dtype name -> numpy dtype of the host array.
_NUMPY_DTYPES: dict[str, np.dtype[Any]] = {
    name: np.dtype(name) for name in ("float16", "float32", "float64", "int32", "int64", "bool")
}
_FLOATING = {"float16", "float32", "float64"}

# The default dtype (float32) is never named. int64 and bool are not named
# either, because their printed values already show the dtype -- unless the
# tensor is empty, see ``format_tensor``.
_IMPLIED_DTYPES = {"float32", "int64", "bool"}


def format_tensor(
    values: Any,
    *,
    dtype: str,
    device: str = "cpu",
    grad_fn: str | None = None,
    requires_grad: bool = False,
) -> str:
    """Return torch's ``repr`` of a tensor holding ``values``.

    ``values`` is a host numpy array (any shape, 0-d included) whose dtype
    matches ``dtype`` (``"float32"``, ``"float64"``, ``"int64"``, ``"bool"``;
    ``"float16"`` and ``"int32"`` work too). ``device`` is ``"cpu"`` or
    ``"cuda"`` (or ``"cuda:N"``). ``grad_fn`` is the autograd node's class
    name, e.g. ``"AddBackward0"``; without one, ``requires_grad=True`` adds
    the ``requires_grad=True`` suffix, as torch does for leaf tensors.
    """
    np_dtype = _NUMPY_DTYPES.get(dtype)
    if np_dtype is None:
        raise ValueError(f"unsupported dtype for printing: {dtype!r}")
    # (a host array of the dtype, what a tensor hands in, is used as it is: numpy's own
    # conversion costs more than this check)
    if values.__class__ is np.ndarray and values.dtype is np_dtype:
        arr = values
    else:
        arr = np.asarray(values, dtype=np_dtype)

    prefix = "tensor("
    # Continuation lines of the body and of the suffixes line up with the
    # first character after "tensor(".
    indent = len(prefix)
    suffixes: list[str] = []

    # torch names the device only when it is not the default one (cpu).
    if device != "cpu":
        suffixes.append(f"device='{_device_name(device)}'")

    if arr.size == 0:
        # With no elements to look at, neither the shape (beyond the plain
        # ``(0,)``) nor the dtype (anything but float32) can be guessed, so
        # both are spelled out -- even for int64 and bool.
        if arr.ndim != 1:
            suffixes.append(f"size={_shape_str(arr.shape)}")
        if dtype != "float32":
            suffixes.append(f"dtype=torch.{dtype}")
        body = "[]"
    else:
        if dtype not in _IMPLIED_DTYPES:
            suffixes.append(f"dtype=torch.{dtype}")
        body = _tensor_str(arr, indent, dtype in _FLOATING)

    if grad_fn is not None:
        suffixes.append(f"grad_fn=<{grad_fn}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")

    return _add_suffixes(prefix + body, suffixes, indent)


def _device_name(device: str) -> str:
    # A bare "cuda" is the current device, which torch prints with its index.
    return "cuda:0" if device == "cuda" else device


def _shape_str(shape: tuple[int, ...]) -> str:
    # Python's tuple repr, as torch prints ``tuple(t.shape)``: "(0, 3)".
    return str(tuple(int(n) for n in shape))


def _texts(values: list[Any], floating: bool) -> tuple[list[str], int]:
    """Every shown element rendered (step 2 above), in row-major order, and the width the
    layout right-aligns them to (``_nested_str``).

    The mode and the width come from the elements that will actually be shown, so the hidden
    middle of a summarised tensor does not influence them. Most printed tensors are tiny, so
    this is one plain loop over Python numbers and C-level ``map`` calls (no numpy call and no
    comprehension: each costs more than a few elements' work), each element formatted once.
    """
    if not floating:
        # Integers and bools print as Python's str() ("-3", "True").
        texts = list(map(str, values))
    else:
        # Zeros, nans and infs carry no information about scale, so only the finite non-zero
        # values choose the mode and the width (v - v is 0.0 only for a finite v).
        largest, smallest, whole, nonfinite, unmeasured = 0.0, math.inf, True, False, False
        for v in values:
            if v - v != 0.0:
                nonfinite = unmeasured = True
            elif not v:
                unmeasured = True
            else:
                m = v if v > 0.0 else -v
                if m > largest:
                    largest = m
                if m < smallest:
                    smallest = m
                if whole and not v.is_integer():
                    whole = False
        if not largest:
            # Nothing to measure: integer mode with width 1, which prints zeros as "0." and
            # nan/inf as "nan"/"inf".
            return _whole(values, nonfinite), 1
        if largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4:
            texts = list(map(_SCI, values))  # scientific: "1.2345e+03"
        elif whole:
            texts = _whole(values, nonfinite)
        else:
            texts = list(map(_FIXED, values))  # fixed point: "1.2345"
        if unmeasured:
            # Values that were not measured (zeros, nan, inf, -0.) do not count for the
            # width: wider than it, they are printed as they are.
            return texts, max(len(t) for t, v in zip(texts, values, strict=True)
                              if v and v - v == 0.0)
    return texts, max(map(len, texts))


def _whole(values: list[float], nonfinite: bool) -> list[str]:
    """Whole numbers: the "." shows that a whole number is a float; "nan"/"inf" are already
    unmistakably floats and get no dot."""
    if not nonfinite:
        return list(map(_WHOLE, values))
    return [_WHOLE(v) if v - v == 0.0 else f"{v:.0f}" for v in values]


# (printf-style: the same digits as format()'s "{:.4e}", "{:.0f}." and "{:.4f}", which both
# round through Python's one float-to-text routine, for a third less work per element)
_SCI, _WHOLE, _FIXED = f"%.{PRECISION}e".__mod__, "%.0f.".__mod__, f"%.{PRECISION}f".__mod__


def _tensor_str(arr: np.ndarray, indent: int, floating: bool) -> str:
    """The bracketed body of a non-empty tensor, without prefix or suffixes."""
    shape = arr.shape
    if arr.size > THRESHOLD:
        # The axes whose middle is hidden: there, "..." goes between the first and last
        # EDGEITEMS.
        cut = tuple(n > 2 * EDGEITEMS for n in shape)
        arr = _summarized(arr)
        shape = arr.shape
    elif shape:
        cut = (False,) * len(shape)
    else:  # (0-d: its one element, no brackets)
        return _texts([arr.item()], floating)[0][0]
    texts, width = _texts(arr.ravel().tolist(), floating)
    return _nested_str(texts, shape, cut, indent, width)


def _summarized(arr: np.ndarray) -> np.ndarray:
    """Keep only the first and last EDGEITEMS entries along each long axis."""
    for axis, size in enumerate(arr.shape):
        if size > 2 * EDGEITEMS:
            keep = list(range(EDGEITEMS)) + list(range(size - EDGEITEMS, size))
            arr = np.take(arr, keep, axis=axis)
    return arr


def _nested_str(texts: list[str], shape: tuple[int, ...], cut: tuple[bool, ...], indent: int,
                width: int) -> str:
    """The nested lists of the shown elements (``texts``, row-major, of a tensor of ``shape``),
    each right-aligned to ``width``, whose first "[" sits at column ``indent``: the layout of
    that geometry (:func:`_layout`) with the texts filled in. A program prints tensors of few
    geometries, again and again (a loop's): a small tensor's layout is built once, remembered
    for the most recent geometries (what is remembered never changes a text)."""
    layout = _remembered_layout if len(texts) <= REMEMBERED_MOST else _layout
    return layout(shape, cut, indent, width) % tuple(texts)


def _layout(shape: tuple[int, ...], cut: tuple[bool, ...], indent: int, width: int) -> str:
    """The text of nested lists of ``shape`` (hidden middles where ``cut``) at column
    ``indent`` with a ``%{width}s`` placeholder per element: one ``%`` fills in (and pads) the
    texts.

    Every sub-list at one level has the same layout (its rows wrap after as many elements, its
    hidden middles sit at the same places; only the texts differ), so the layout is built once
    per level: a handful of operations per dimension instead of some per row or element.
    """
    ndim = len(shape)
    # Each level starts one column further right, after its enclosing "[".
    row_indent = indent + ndim - 1
    # Every element takes its width plus ", ".
    per_line = (LINEWIDTH - row_indent) // (width + 2)
    # (a %-placeholder right-aligns its text to the width and leaves a wider one as it is,
    # which is torch's padding; no text holds a "%")
    layout = _vector_str(["%" + str(width) + "s"] * shape[-1], cut[-1], row_indent,
                         per_line if per_line > 1 else 1)
    for axis in range(ndim - 2, -1, -1):  # (each enclosing dimension, from the innermost out)
        # Sub-tensors of a k-d tensor are separated by k-1 newlines, i.e. one blank line per
        # dimension beyond a matrix.
        group = [layout] * shape[axis]
        if cut[axis]:
            group.insert(EDGEITEMS, "...")
        separator = "," + "\n" * (ndim - 1 - axis) + " " * (indent + axis + 1)
        layout = "[" + separator.join(group) + "]"
    return layout


# The layouts of tensors of at most this many shown elements are remembered (the 128 most
# recent): one is at most ~13 k characters (64 one-element sub-lists nested 63 deep), so all of
# them stay below ~2 MB whatever a program prints.
REMEMBERED_MOST = 64
_remembered_layout = functools.lru_cache(maxsize=128)(_layout)


def _vector_str(items: list[str], cut: bool, indent: int, per_line: int) -> str:
    """Lay out a 1-d piece (its elements' texts), wrapping so lines stay within LINEWIDTH."""
    if cut:
        # " ..." counts as an element when the line is split into chunks.
        items = [*items[:EDGEITEMS], " ...", *items[EDGEITEMS:]]
    elif len(items) <= per_line:  # (one line: most printed rows)
        return "[" + ", ".join(items) + "]"
    lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    """Append ", suffix" items and the closing ")", wrapping long lines."""
    # torch's running length of the current line starts 2 larger than the
    # real length of the last line, but once it has wrapped a suffix onto a
    # new line it counts that line exactly. Reproduce both, since they decide
    # where a suffix moves down.
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > LINEWIDTH:
            text += ",\n" + " " * indent + suffix
            last_line_len = indent + len(suffix)
        else:
            text += ", " + suffix
            last_line_len += len(suffix) + 2
    return text + ")"

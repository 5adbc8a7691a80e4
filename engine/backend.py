"""The array backend: the only module that knows which array library holds tensor data.

``GRADSERVE_BACKEND`` picks it once, at import:

* ``numpy`` (default): host memory.
* ``cupy``: an NVIDIA GPU. Missing CuPy or a missing GPU is an error at start, never a silent
  fallback to the CPU.
* ``strict``: numpy behind a wrapper that behaves like CuPy would (no implicit host conversion,
  only functions CuPy also has). CI runs the engine suite on it to prove that nothing outside this
  module relies on numpy specifically. The wrapper is test code (tests/strict_xp.py), so this one
  needs a source checkout.

The rest of the engine does array work through ``xp`` (the chosen module) and moves data across the
host boundary only with :func:`to_host` and :func:`from_host`.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from types import ModuleType
from typing import Any

import numpy
from numpy.random.bit_generator import ISeedSequence


class BackendUnavailable(RuntimeError):
    """The backend named by GRADSERVE_BACKEND cannot run here."""


def _load(name: str) -> tuple[ModuleType, str]:
    if name == "numpy":
        return numpy, "cpu"
    if name == "cupy":
        try:
            import cupy
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise BackendUnavailable(
                "GRADSERVE_BACKEND=cupy but CuPy is not installed "
                f"({exc}); install the 'gpu' extra: pip install 'gradserve[gpu]'"
            ) from exc
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # pragma: no cover - depends on the machine
            raise BackendUnavailable(
                f"GRADSERVE_BACKEND=cupy but no CUDA device is usable: {exc}"
            ) from exc
        if count < 1:  # pragma: no cover
            raise BackendUnavailable("GRADSERVE_BACKEND=cupy but CUDA reports no GPU")
        return cupy, "cuda"
    if name == "strict":
        import importlib

        try:
            return importlib.import_module("tests.strict_xp"), "cpu"
        except ImportError as exc:
            raise BackendUnavailable(
                f"GRADSERVE_BACKEND=strict needs the source checkout's tests/strict_xp.py ({exc})"
            ) from exc
    raise BackendUnavailable(
        f"GRADSERVE_BACKEND={name!r} is not a backend; choose 'numpy' (default) or 'cupy'"
    )


# torch computes 0/0, log(0) and overflow silently; numpy would warn on each. The answer carries the
# NaN or infinity itself (and detect_anomaly reports it), so the warnings are noise here.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"engine(\.|$)")
# ... and numpy's own "Mean of empty slice" / "Degrees of freedom <= 0" (torch answers NaN quietly)
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"numpy(\.|$)")

NAME: str = os.environ.get("GRADSERVE_BACKEND", "numpy").strip().lower() or "numpy"
xp, DEVICE = _load(NAME)
# Whether arrays live in host memory: there a Python number that several ufunc calls take is
# cheaper as a 0-d array made once (numpy converts a number on every call, and an array of the
# other operand's dtype costs it less); on a device, making that array is a copy to it.
ON_HOST: bool = DEVICE == "cpu"


def to_host(a: Any) -> numpy.ndarray:
    """A host numpy copy (or view) of backend array ``a``."""
    if NAME == "numpy":  # (an array is its own host array: asarray would hand it back)
        return a if a.__class__ is numpy.ndarray else numpy.asarray(a)
    return xp.asnumpy(a)  # CuPy and the strict wrapper both spell it this way


def from_host(a: Any, dtype: Any = None) -> Any:
    """A backend array holding host data ``a`` (a numpy array, nested lists or a number)."""
    if NAME == "numpy":
        return numpy.asarray(a, dtype=dtype)
    return xp.asarray(numpy.asarray(a, dtype=dtype))


def quiet() -> Any:
    """A context in which floating-point errors (0/0, overflow) stay silent, as in torch."""
    if NAME == "cupy":  # pragma: no cover - CuPy does not warn
        import contextlib

        return contextlib.nullcontext()
    return numpy.errstate(all="ignore")


def add_at(target: Any, index: Any, values: Any) -> Any:
    """``target[index] += values`` with repeated indices accumulating; returns the target.

    CuPy's ``add.at`` takes only 32/64-bit floats and unsigned ints: int64 is added through a
    uint64 view (two's complement makes that the same sum) and bool through a uint64 count."""
    if target.dtype == xp.int64:
        xp.add.at(target.view(xp.uint64), index, values.astype(xp.int64).view(xp.uint64))
        return target
    if target.dtype == xp.bool_:
        counts = target.astype(xp.uint64)
        xp.add.at(counts, index, values.astype(xp.uint64))
        return counts != 0
    xp.add.at(target, index, values.astype(target.dtype))
    return target


def writable_diagonal(a: Any, offset: int, axis1: int, axis2: int) -> Any:
    """The diagonal of ``a`` as a view that can be written through (numpy's is read-only; torch's
    and CuPy's are not)."""
    v = xp.diagonal(a, offset, axis1, axis2)
    host = v._a if NAME == "strict" else v
    if NAME != "cupy" and host.base is not None and host.base.flags.writeable:
        host.flags.writeable = True
    return v


def writable(a: Any) -> bool:
    """Whether array ``a`` may be written (numpy's broadcast views are read-only; CuPy's are not)."""
    if NAME == "cupy":  # pragma: no cover - GPU only
        return True
    return bool((a._a if NAME == "strict" else a).flags.writeable)


def repeats(a: Any) -> bool:
    """Whether array ``a`` is no gradient to hand out as it is: a broadcast view (a stride of 0
    over more than one place: one element seen at several) or read-only (numpy's broadcast views
    and views of them are; CuPy's are writable, hence the strides)."""
    if not writable(a):
        return True
    return a.size > 1 and any(s == 0 and n > 1 for n, s in zip(a.shape, a.strides, strict=True))


def with_number(fn: Any, a: Any, number: Any) -> Any:
    """``fn(a, number)`` for ``a``, an array, and ``number``, a Python number. Where ``a`` repeats
    one value (every stride 0: the expanded gradient of a sum, a broadcast view), ``fn`` runs on
    that one value and the result is filled in: the same bits in every element, written once
    rather than read through a zero stride (a million floats: 0.14 ms against 0.39 ms)."""
    if a.__class__ is not xp.ndarray or a.size < 2 or any(a.strides):
        return fn(a, number)
    one = fn(a[(slice(0, 1),) * a.ndim], number)  # (an array: the op's own dtype promotion)
    out = xp.empty(a.shape, dtype=one.dtype)
    out[...] = one
    return out


def unshared(a: Any, holders: int) -> bool:
    """Whether array ``a`` owns its memory and nothing but the caller's ``holders`` references
    reaches it: then no tensor, node or view can see its values, so the caller may adopt it
    without a copy or write into it (temporary elision, as numpy does for ``a + b + c``).
    CPython's reference counts are exact, and a view of ``a`` holds a reference to it."""
    if a.__class__ is not xp.ndarray:  # (a numpy scalar is not a buffer one can write into)
        return False
    if sys.getrefcount(a) > holders + 2:  # (+ this function's parameter and getrefcount's)
        return False
    if NAME == "cupy":  # pragma: no cover - GPU only (its broadcast views are writable)
        return a.base is None and not repeats(a)
    if NAME == "strict":  # the wrapper must be the one reference to its host array
        a = a._a
        return a.base is None and sys.getrefcount(a) <= 3 and bool(a.flags.writeable)
    return a.base is None and bool(a.flags.writeable)


def _address(a: Any) -> int:
    if NAME == "cupy":  # pragma: no cover - GPU only
        return int(a.data.ptr)
    host = a._a if NAME == "strict" else a
    return int(host.__array_interface__["data"][0])


def _as_strided(a: Any, shape: tuple[int, ...], strides: list[int]) -> Any:
    if NAME == "cupy":  # pragma: no cover - GPU only
        return xp.lib.stride_tricks.as_strided(a, shape, strides)
    if NAME == "strict":
        return xp.ndarray._of(numpy.lib.stride_tricks.as_strided(a._a, shape, strides))
    return numpy.lib.stride_tricks.as_strided(a, shape, strides)


def shares_memory(a: Any, b: Any) -> bool:
    """Whether arrays ``a`` and ``b`` overlap in memory."""
    if NAME == "strict":
        return bool(numpy.shares_memory(a._a, b._a))
    return bool(xp.shares_memory(a, b))


def view_positions(base: Any, view: Any) -> Any:
    """For ``view``, an array viewing ``base``'s memory: the flat (row-major) index into ``base``
    of each of its elements, an int64 array of the view's shape. This is how an in-place change
    of a view is mapped back onto its base (torch's as_strided geometry)."""
    item = base.itemsize
    steps = [s // item for s in base.strides]
    lo = sum((n - 1) * s for n, s in zip(base.shape, steps, strict=True) if s < 0)
    hi = sum((n - 1) * s for n, s in zip(base.shape, steps, strict=True) if s > 0)
    # memory slot (counted from base's lowest address) -> flat index of the base element there
    table = xp.zeros(hi - lo + 1, dtype=xp.int64)
    laid = _as_strided(table[-lo:], tuple(base.shape), [s * 8 for s in steps])
    laid[...] = xp.arange(base.size, dtype=xp.int64).reshape(base.shape)
    offset = (_address(view) - _address(base)) // item - lo
    steps = [s // item for s in view.strides]
    first = offset + sum((n - 1) * s for n, s in zip(view.shape, steps, strict=True) if s < 0)
    last = offset + sum((n - 1) * s for n, s in zip(view.shape, steps, strict=True) if s > 0)
    if view.size and not 0 <= first <= last <= hi - lo:  # never read outside the table
        raise ValueError("view_positions: the view does not lie in its base's memory")
    return xp.ascontiguousarray(_as_strided(table[offset:], tuple(view.shape),
                                            [s * 8 for s in steps]))


def linalg_raises() -> Any:
    """A context in which ``xp.linalg`` raises LinAlgError on singular or non-positive-definite
    input, as numpy always does (CuPy only does when asked to)."""
    import contextlib

    if NAME == "cupy":  # pragma: no cover - GPU only
        import cupyx

        return cupyx.errstate(linalg="raise")
    if NAME == "strict":
        return xp._errstate(linalg="raise")
    return contextlib.nullcontext()


def info() -> dict[str, str]:
    return {"backend": NAME, "device": DEVICE, "version": getattr(xp, "__version__", "")}


class Generator:
    """A seeded random generator for one program. Draws on the host, so a seed gives the same
    numbers on every backend; never touches global RNG state. Made on first use: most programs
    draw nothing, and seeding costs more than running a small program."""

    __slots__ = ("_rng", "seed")

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._rng: numpy.random.Generator | None = None

    @property
    def rng(self) -> numpy.random.Generator:
        if self._rng is None:
            seed = self.seed
            # (an int, a program's seed, through _SeedWords: numpy takes any ISeedSequence, as
            # its documentation says, though its type stubs name SeedSequence alone)
            given: Any = _SeedWords(seed) if seed.__class__ is int else seed
            self._rng = numpy.random.default_rng(given)
        return self._rng

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return from_host(self.rng.random(shape, dtype=numpy.float64).astype(dtype))

    def normal(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return from_host(self.rng.standard_normal(shape, dtype=numpy.float64).astype(dtype))

    def integers(self, low: int, high: int, shape: tuple[int, ...], dtype: Any) -> Any:
        return from_host(self.rng.integers(low, high, size=shape, dtype=numpy.int64).astype(dtype))

    def bernoulli(self, p: float, shape: tuple[int, ...]) -> Any:
        return from_host(self.rng.random(shape) < p)


class _SeedWords(ISeedSequence):
    """``numpy.random.SeedSequence(seed)`` as a bit generator sees it (numpy's ISeedSequence
    interface: the words it seeds its state with), each answer computed once per seed: deriving
    them is most of what seeding costs (~40 k instructions, once per program that draws), and a
    server runs the same seeds again and again. A generator seeded through it draws what
    ``default_rng(seed)`` draws (tests/engine/test_seeded_generator.py compares them)."""

    __slots__ = ("seed",)

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def generate_state(self, n_words: int, dtype: Any = numpy.uint32) -> Any:
        return _seed_words(self.seed, n_words, dtype)


@functools.lru_cache(maxsize=256)
def _seed_words(seed: int, n_words: int, dtype: Any) -> Any:
    """SeedSequence(seed)'s words: a pure function of its arguments, remembered for the most
    recent seeds (what it remembers never changes what a program draws). Read-only, as every
    generator made from them shares the array (a bit generator reads its seed words)."""
    words = numpy.random.SeedSequence(seed).generate_state(n_words, dtype)
    words.flags.writeable = False
    return words

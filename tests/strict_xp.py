"""A CuPy stand-in on the CPU: numpy behind a wrapper that allows only what CuPy allows.

``GRADSERVE_BACKEND=strict`` makes this module the engine's ``xp``. CI runs the engine suite on it to
prove that nothing outside ``engine/backend.py`` relies on numpy specifically, so that the same code
runs on CuPy with a GPU. It behaves as CuPy 13 would, minus the GPU:

* Only names that ``cupy`` (and ``cupy.linalg``) export resolve; any other raises AttributeError.
* Arrays are :class:`ndarray`, a wrapper around a host numpy array that refuses to become a numpy
  array implicitly (``numpy.asarray(a)``, ``numpy.exp(a)``, ``numpy.sum(a)`` all raise TypeError) and
  has only the attributes and methods ``cupy.ndarray`` has. Device data reaches the host only through
  :func:`asnumpy` or ``.get()``, and host data becomes device data only through :func:`asarray` or
  :func:`array` (a copy, as a transfer to the GPU would be).
* Functions and operators refuse a host numpy array as an operand (CuPy's "Unsupported type"), and
  calls are checked against CuPy's signatures where CuPy's accept less than numpy's.
* Results are arrays, never numpy scalars: CuPy reductions return 0-d arrays.
* ``linalg.inv``/``solve``/``cholesky`` do not raise on a singular or non-positive-definite input
  unless :func:`_errstate` (the stand-in for ``cupyx.errstate(linalg="raise")``) asks them to.

* Integer index arrays wrap around when out of bounds (``a[idx]``, ``a[idx] = v``, ``ufunc.at``), as
  CuPy's do, instead of raising IndexError.

Not emulated: dtype promotion (numpy 2's NEP 50 rules here; CuPy 13 still promotes Python scalars by
value), the wrap-around in ``take``/``take_along_axis``, and Python lists as operands of functions
other than ufuncs (CuPy refuses many of those; only ufuncs and operators check them here).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import operator
import re
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any

import numpy

__version__ = f"{numpy.__version__}+strict"


# ----- CuPy's API surface ---------------------------------------------------------------------
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Taken from cupy-cuda12x 13.6.0 without importing it (no GPU needed): the names bound at the top of
# cupy/__init__.py and cupy/linalg/__init__.py (read with `ast`), and the signatures embedded in
# its compiled cupy/_core/core.*.so (`strings ... | grep _ndarray_base`) for the array methods.

# What `cupy` exports other than numpy's own objects (those are _NUMPY_REEXPORTS below).
_CUPY_NAMES = _words("""
    AxisError ComplexWarning ElementwiseKernel Inf Infinity ModuleDeprecationWarning NAN NINF NZERO NaN PINF
    PZERO RankWarning RawKernel RawModule ReductionKernel TooHardError VisibleDeprecationWarning __version__
    abs absolute add all allclose alltrue amax amin angle any append apply_along_axis arange arccos arccosh
    arcsin arcsinh arctan arctan2 arctanh argmax argmin argpartition argsort argwhere around array
    array2string array_equal array_equiv array_repr array_split array_str asanyarray asarray
    asarray_chkfinite ascontiguousarray asfarray asfortranarray asnumpy atleast_1d atleast_2d atleast_3d
    average bartlett base_repr binary_repr bincount bitwise_and bitwise_not bitwise_or bitwise_xor blackman
    broadcast broadcast_arrays broadcast_to byte_bounds c_ can_cast cbrt ceil choose clear_memo clip
    column_stack common_type compress concatenate conj conjugate convolve copy copysign copyto corrcoef
    correlate cos cosh count_nonzero cov cross cuda cumprod cumproduct cumsum deg2rad degrees delete diag
    diag_indices diag_indices_from diagflat diagonal diff digitize disable_experimental_feature_warning disp
    divide divmod dot dsplit dstack ediff1d einsum empty empty_like equal exp exp2 expand_dims expm1 extract
    eye fabs fft fill_diagonal find_common_type fix flatiter flatnonzero flip fliplr flipud float_power
    floor floor_divide fmax fmin fmod format_float_positional format_float_scientific frexp fromDlpack
    from_dlpack frombuffer fromfile fromfunction fromiter fromstring full full_like fuse gcd genfromtxt
    get_array_module get_array_wrap get_default_memory_pool get_default_pinned_memory_pool gradient greater
    greater_equal hamming hanning heaviside histogram histogram2d histogramdd hsplit hstack hypot i0
    identity imag in1d indices infty inner interp intersect1d invert is_available isclose iscomplex
    iscomplexobj isfinite isfortran isin isinf isnan isneginf isposinf isreal isrealobj isscalar issctype
    issubclass_ issubsctype ix_ kaiser kron lcm ldexp left_shift less less_equal lexsort linalg linspace
    load loadtxt log log10 log1p log2 logaddexp logaddexp2 logical_and logical_not logical_or logical_xor
    logspace mask_indices matmul max maximum may_share_memory mean median memoize meshgrid mgrid min
    min_scalar_type minimum mod modf moveaxis msort multiply nan_to_num nanargmax nanargmin nancumprod
    nancumsum nanmax nanmean nanmedian nanmin nanprod nanstd nansum nanvar ndarray ndim negative nextafter
    nonzero not_equal obj2sctype ogrid ones ones_like outer packbits pad partition percentile piecewise
    place poly poly1d polyadd polyfit polymul polynomial polysub polyval positive power prod product ptp put
    putmask quantile r_ rad2deg radians random ravel ravel_multi_index real real_if_close reciprocal
    remainder repeat require reshape resize result_type right_shift rint roll rollaxis roots rot90 round
    round_ row_stack safe_eval save savetxt savez savez_compressed sctype2char searchsorted select
    set_string_function setdiff1d setxor1d shape shares_memory show_config sign signbit sin sinc sinh size
    sometrue sort sort_complex sparse split sqrt square squeeze stack std subtract sum swapaxes take
    take_along_axis tan tanh tensordot testing tile trace transpose trapz tri tril tril_indices
    tril_indices_from trim_zeros triu triu_indices triu_indices_from true_divide trunc ufunc union1d unique
    unpackbits unravel_index unwrap vander var vdot vectorize vsplit vstack where who zeros zeros_like
""")

# Names `cupy` binds to numpy's own object (`from numpy import float64 as float_`): handed out as is.
_NUMPY_REEXPORTS = dict(
    (n.split("=") * 2)[:2] for n in _words("""
    DataSource bool_ broadcast_shapes byte cdouble cfloat=complex128 complex128 complex64
    complex_=complex128 complexfloating csingle double dtype e euler_gamma finfo float16 float32 float64
    float_=float64 floating format_parser generic get_printoptions half iinfo index_exp inexact inf int16
    int32 int64 int8 int_ intc integer intp issubdtype iterable longlong mintypecode nan ndindex newaxis
    number pi printoptions promote_types s_ set_printoptions short signedinteger single
    singlecomplex=complex64 typename ubyte uint uint16 uint32 uint64 uint8 uintc uintp ulonglong
    unsignedinteger ushort
"""))

_LINALG_NAMES = _words("""
    LinAlgError cholesky det eigh eigvalsh inv lstsq matrix_power matrix_rank norm pinv qr slogdet solve svd
    tensorinv tensorsolve
""")

# CuPy names that numpy 2 spells differently or only as a value.
_ALIASES = {"alltrue": "all", "sometrue": "any", "product": "prod", "cumproduct": "cumprod",
            "round_": "round", "trapz": "trapezoid"}
_CONSTANTS = {"Inf": numpy.inf, "Infinity": numpy.inf, "infty": numpy.inf, "PINF": numpy.inf,
              "NINF": -numpy.inf, "NAN": numpy.nan, "NaN": numpy.nan, "PZERO": 0.0, "NZERO": -0.0}


def _signatures(text: str) -> dict[str, tuple[tuple[str, ...], bool, tuple[str, ...]]]:
    """``name(a, b, *args, k)`` lines -> {name: (positional params, takes *args, keyword-only)}."""
    out = {}
    for name, params in re.findall(r"([\w.]+)\(([^)]*)\)", text):
        names = [p.strip() for p in params.split(",") if p.strip()]
        star = next((i for i, p in enumerate(names) if p.startswith("*")), len(names))
        out[name] = (tuple(names[:star]), star < len(names) and names[star] != "*",
                     tuple(names[star + 1:]))
    return out


# CuPy functions that accept less than their numpy namesakes (numpy 2 added `device`, `like`,
# `where`, `initial`, ...; CuPy renamed some first arguments). Others are numpy's signature.
_FUNCTION_SIGNATURES = _signatures("""
    linalg.cholesky(a)  linalg.matrix_power(M, n)  linalg.matrix_rank(M, tol)  linalg.pinv(a, rcond)
    linalg.svd(a, full_matrices, compute_uv)
    all(a, axis, out, keepdims)  amax(a, axis, out, keepdims)  amin(a, axis, out, keepdims)
    any(a, axis, out, keepdims)  arange(start, stop, step, dtype)  argpartition(a, kth, axis)
    argsort(a, axis, kind)  array(obj, dtype, copy, order, subok, ndmin, *, blocking)
    array_str(arr, max_line_width, precision, suppress_small)  asanyarray(a, dtype, order, *, blocking)
    asarray(a, dtype, order, *, blocking)  ascontiguousarray(a, dtype)  asfortranarray(a, dtype)
    broadcast_arrays(*args)  broadcast_to(array, shape)  clip(a, a_min, a_max, out)
    concatenate(tup, axis, out, *, dtype, casting)  copy(a, order)
    corrcoef(a, y, rowvar, bias, ddof, *, dtype)  count_nonzero(a, axis)
    cov(a, y, rowvar, bias, ddof, fweights, aweights, *, dtype)  delete(arr, indices, axis)
    ediff1d(arr, to_end, to_begin)  empty(shape, dtype, order)
    empty_like(prototype, dtype, order, subok, shape)  extract(condition, a)  eye(N, M, k, dtype, order)
    flip(a, axis)  fliplr(a)  flipud(a)  full(shape, fill_value, dtype, order)
    full_like(a, fill_value, dtype, order, subok, shape)  histogram(x, bins, range, weights, density)
    identity(n, dtype)  indices(dimensions, dtype)  intersect1d(arr1, arr2, assume_unique, return_indices)
    isin(element, test_elements, assume_unique, invert)  lexsort(keys)
    linspace(start, stop, num, endpoint, retstep, dtype, axis)  load(file, mmap_mode, allow_pickle)
    max(a, axis, out, keepdims)  mean(a, axis, dtype, out, keepdims)  min(a, axis, out, keepdims)
    nanmax(a, axis, out, keepdims)  nanmean(a, axis, dtype, out, keepdims)  nanmin(a, axis, out, keepdims)
    nanprod(a, axis, dtype, out, keepdims)  nanstd(a, axis, dtype, out, ddof, keepdims)
    nansum(a, axis, dtype, out, keepdims)  nanvar(a, axis, dtype, out, ddof, keepdims)
    ones(shape, dtype, order)  ones_like(a, dtype, order, subok, shape)  partition(a, kth, axis)
    percentile(a, q, axis, out, overwrite_input, method, keepdims, *, interpolation)
    prod(a, axis, dtype, out, keepdims)
    quantile(a, q, axis, out, overwrite_input, method, keepdims, *, interpolation)
    require(a, dtype, requirements)  reshape(a, newshape, order)  rot90(a, k, axes)  sort(a, axis, kind)
    stack(tup, axis, out, *, dtype, casting)  std(a, axis, dtype, out, ddof, keepdims)
    sum(a, axis, dtype, out, keepdims)  take(a, indices, axis, out)  take_along_axis(a, indices, axis)
    tri(N, M, k, dtype)  trim_zeros(filt, trim)  union1d(arr1, arr2)
    unique(ar, return_index, return_inverse, return_counts, axis, *, equal_nan)
    unpackbits(a, axis, bitorder)  unravel_index(indices, dims, order)
    var(a, axis, dtype, out, ddof, keepdims)  zeros(shape, dtype, order)
    zeros_like(a, dtype, order, subok, shape)
""")

# Every method of cupy.ndarray emulated here, with CuPy's signature (numpy's methods take more).
_METHOD_SIGNATURES = _signatures("""
    all(axis, out, keepdims)  any(axis, out, keepdims)  argmax(axis, out, dtype, keepdims)
    argmin(axis, out, dtype, keepdims)  argpartition(kth, axis)  argsort(axis)
    astype(dtype, order, casting, subok, copy)  choose(choices, out, mode)  clip(min, max, out)
    compress(condition, axis, out)  conj()  conjugate()  copy(order)  cumprod(axis, dtype, out)
    cumsum(axis, dtype, out)  diagonal(offset, axis1, axis2)  dot(b, out)  fill(value)  flatten(order)
    get(stream, order, out, blocking)  item()  max(axis, out, keepdims)  mean(axis, dtype, out, keepdims)
    min(axis, out, keepdims)  nonzero()  partition(kth, axis)  prod(axis, dtype, out, keepdims)
    ptp(axis, out, keepdims)  put(indices, values, mode)  ravel(order)  repeat(repeats, axis)
    reshape(*shape, order)  round(decimals, out)  searchsorted(v, side, sorter)  set(arr, stream)
    sort(axis)  squeeze(axis)  std(axis, dtype, out, ddof, keepdims)  sum(axis, dtype, out, keepdims)
    swapaxes(axis1, axis2)  take(indices, axis, out)  tobytes(order)  tofile(fid, sep, format)  tolist()
    trace(offset, axis1, axis2, dtype, out)  transpose(*axes)  var(axis, dtype, out, ddof, keepdims)
    view(dtype)
""")
_HOST_RESULT_METHODS = frozenset({"item", "tolist", "tobytes", "tofile"})  # Python values, not arrays

# cupy.ndarray members that exist but that this wrapper does not emulate (they expose device memory).
_NDARRAY_UNEMULATED = frozenset({"data", "device", "flat", "cstruct", "toDlpack", "reduced_view",
                                 "scatter_add", "scatter_max", "scatter_min", "dump", "dumps",
                                 "__cuda_array_interface__", "__dlpack__", "__dlpack_device__"})

# CuPy 13 ufunc keywords, and which ufuncs support which method (cupy/cupy#7082); `at` is a GPU
# atomic, so only for these dtypes of its target (the messages in cupy/_core/_routines_indexing).
_UFUNC_KWARGS = frozenset({"out", "dtype", "casting", "where"})
_BITWISE_AT, _EXTREMUM_AT = "int32 int64 uint32 uint64", "int32 float32 float64 uint32 uint64"
_AT_DTYPES = {"add": "int32 float16 float32 float64 uint32 uint64", "subtract": "int32 uint32",
              "maximum": _EXTREMUM_AT, "minimum": _EXTREMUM_AT,
              "bitwise_and": _BITWISE_AT, "bitwise_or": _BITWISE_AT, "bitwise_xor": _BITWISE_AT}
_UFUNC_METHODS = {"at": set(_AT_DTYPES), "reduce": {"add", "multiply"}, "accumulate": {"add"},
                  "reduceat": {"add"}}

_MISSING: Any = object()
_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct "
             "a NumPy array explicitly.")


# ----- crossing the wrapper ---------------------------------------------------------------------
def _wrap(x: Any) -> Any:
    """numpy results -> device arrays, through tuples and lists. numpy scalars become 0-d arrays,
    as CuPy never returns a scalar where numpy would."""
    if isinstance(x, numpy.ndarray):
        return ndarray._of(x)
    if isinstance(x, numpy.generic):
        return ndarray._of(numpy.asarray(x))
    if isinstance(x, list):
        return list(map(_wrap, x))
    if isinstance(x, tuple):  # namedtuples too (numpy.linalg's results): CuPy's are plain tuples
        return tuple(map(_wrap, x))
    return x


def _host_array_error(x: Any) -> TypeError:
    return TypeError(f"Unsupported type {type(x)}: a host numpy array cannot be a CuPy operand; "
                     "move it with xp.asarray(...) first (strict backend)")


def _unwrap(x: Any, host_ok: bool = False) -> Any:
    """Arguments -> numpy, through tuples and lists. A host numpy array is refused unless ``host_ok``
    (CuPy's functions raise "Unsupported type"; only the host-boundary functions take one)."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, numpy.ndarray) and not host_ok:
        raise _host_array_error(x)
    if type(x) in (tuple, list):
        return type(x)(_unwrap(v, host_ok) for v in x)
    return x


_SCALARS = (bool, int, float, complex, numpy.generic)


def _operand(x: Any) -> Any:
    """An operand of an operator or ufunc: a device array or a scalar, as CuPy requires."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, _SCALARS) or x is None:
        return x
    if isinstance(x, numpy.ndarray):
        raise _host_array_error(x)
    raise TypeError(f"Unsupported type {type(x)} (CuPy operands are cupy.ndarray or scalars)")


def _index(key: Any, shape: tuple[int, ...]) -> Any:
    """An index into an array of ``shape``, as CuPy reads it: host arrays and lists are fine (they
    are copied to the device), and an integer index array wraps around where numpy would raise
    IndexError for an out-of-bounds entry (no bounds check on the GPU)."""
    key = _unwrap(key, host_ok=True)
    items = list(key) if isinstance(key, tuple) else [key]
    if not any(isinstance(k, (numpy.ndarray, list)) for k in items):
        return key  # ints, slices, None, ...: numpy's checks are CuPy's
    items = [numpy.asarray(k, dtype=None if len(k) else numpy.intp) if isinstance(k, list) else k
             for k in items]
    spans = [k.ndim if isinstance(k, numpy.ndarray) and k.dtype.kind == "b" else
             0 if k is None or k is Ellipsis else 1 for k in items]
    axis = 0
    for i, k in enumerate(items):
        if k is Ellipsis:
            axis += len(shape) - sum(spans)
        elif isinstance(k, numpy.ndarray) and k.dtype.kind in "iu" and axis < len(shape) and shape[axis]:
            items[i] = k % shape[axis]
        axis += spans[i]
    return tuple(items) if isinstance(key, tuple) else items[0]


def _check_call(qualname: str, sig: tuple[tuple[str, ...], bool, tuple[str, ...]] | None,
                args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse what CuPy's signature would refuse, before numpy (which takes more) runs it."""
    if sig is None:
        return
    params, varargs, kwonly = sig
    shown = ", ".join(params + (("*args",) if varargs else ("*",) if kwonly else ()) + kwonly)
    if not varargs and len(args) > len(params):
        raise TypeError(f"{qualname}() takes at most {len(params)} positional arguments in CuPy "
                        f"({len(args)} given); CuPy's signature is ({shown})")
    for k in kwargs:
        if k not in params and k not in kwonly:
            raise TypeError(f"{qualname}() got an unexpected keyword argument {k!r}: CuPy's signature "
                            f"is ({shown})")


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
          host_ok: bool = False) -> Any:
    out = kwargs.get("out")
    res = fn(*_unwrap(args, host_ok), **{k: _unwrap(v, host_ok) for k, v in kwargs.items()})
    if isinstance(out, ndarray) and res is out._a:
        return out  # CuPy returns the `out` array itself
    return _wrap(res)


# ----- arrays -----------------------------------------------------------------------------------
class _Flags:
    """cupy.ndarray.flags: only these three (numpy's has writeable, aligned, ...)."""

    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, a: numpy.ndarray) -> None:
        self.c_contiguous = bool(a.flags.c_contiguous)
        self.f_contiguous = bool(a.flags.f_contiguous)
        self.owndata = a.base is None

    def __getitem__(self, name: str) -> bool:
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous,
                "OWNDATA": self.owndata}[name]

    def __repr__(self) -> str:
        return "\n".join(f"  {k.upper()} : {getattr(self, k)}" for k in self.__slots__)


class ndarray:  # noqa: N801 - CuPy's name, so that isinstance(a, xp.ndarray) reads the same
    """A device array: a host numpy array that only CuPy's ndarray surface can reach.

    Operators and methods (added below the class, generated from CuPy's lists) unwrap their
    arguments, run numpy, and wrap the result."""

    __slots__ = ("_a",)
    _a: numpy.ndarray

    # numpy's ufuncs and functions must not accept this as an array: with these, np.exp(a), np.sum(a),
    # np.asarray(a) and host_array + a all raise instead of quietly computing on the host.
    __array_ufunc__ = None
    __hash__ = None  # type: ignore[assignment]  # unhashable, like CuPy's and numpy's arrays

    def __init__(self, shape: Any, dtype: Any = float, memptr: Any = None, strides: Any = None,
                 order: str = "C") -> None:
        # cupy.ndarray(shape, dtype) allocates uninitialised memory; wrapping goes through _of
        if memptr is not None or strides is not None:
            raise NotImplementedError("strict backend: ndarray(memptr=..., strides=...) is not emulated")
        self._a = numpy.empty(shape, dtype=dtype, order=order)  # type: ignore[call-overload]

    @classmethod
    def _of(cls, a: numpy.ndarray) -> ndarray:
        obj = object.__new__(cls)
        obj._a = a
        return obj

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(_IMPLICIT)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        name = getattr(func, "__name__", func)
        raise TypeError(f"numpy.{name}() was called on a device array; use xp.{name}() "
                        "(numpy functions only take host arrays; strict backend)")

    def __getattr__(self, name: str) -> Any:
        # reached only for names the class lacks: say whether CuPy has it at all
        if name in _NDARRAY_UNEMULATED:
            raise AttributeError(f"cupy.ndarray.{name} exists but the strict backend does not "
                                 "emulate it (engine/strict_xp.py)")
        raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r} (strict backend: "
                             "only CuPy's ndarray surface is available)")

    # ----- attributes ---------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._a.shape

    @shape.setter
    def shape(self, value: Any) -> None:  # CuPy allows a reshape without a copy this way
        new = self._a.reshape(value)
        if self._a.size and not numpy.may_share_memory(new, self._a):
            raise AttributeError("incompatible shape for in-place modification. Use `.reshape()` "
                                 "to make a copy with the desired shape.")
        self._a = new

    @property
    def T(self) -> ndarray:  # noqa: N802 - numpy's name
        return self if self._a.ndim < 2 else ndarray._of(self._a.T)  # CuPy returns itself below 2-d

    @property
    def flags(self) -> _Flags:
        return _Flags(self._a)

    @property
    def base(self) -> ndarray | None:
        return ndarray._of(self._a.base) if isinstance(self._a.base, numpy.ndarray) else None

    # ----- Python protocols CuPy supports (on size-1 arrays for the conversions) ----------------
    def __len__(self) -> int:
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self) -> Iterator[ndarray]:
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (_wrap(self._a[i]) for i in range(len(self._a)))

    def _scalar(self) -> Any:
        # CuPy 13 converts any size-1 array (numpy 2.4 refuses ndim > 0; CuPy 13 targets numpy < 2.3)
        return self._a.reshape(()) if self._a.size == 1 else self._a

    def __bool__(self) -> bool:
        return bool(self._scalar())

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def __complex__(self) -> complex:
        return complex(self._scalar())

    # no __index__: CuPy has none, so an array cannot be a Python index, range bound or shape

    def __repr__(self) -> str:
        return repr(self._a)

    def __str__(self) -> str:
        return str(self._a)

    def __format__(self, spec: str) -> str:
        return format(self._a, spec)

    def __copy__(self) -> ndarray:
        return ndarray._of(self._a.copy())

    def __deepcopy__(self, memo: Any) -> ndarray:
        return ndarray._of(self._a.copy())

    def __getitem__(self, key: Any) -> Any:
        return _wrap(self._a[_index(key, self._a.shape)])

    def __setitem__(self, key: Any, value: Any) -> None:
        # CuPy takes a device array or a scalar; a host array would reach `fill` and fail there
        self._a[_index(key, self._a.shape)] = _operand(value)

    # ----- methods with custom behaviour --------------------------------------------------------
    def get(self, stream: Any = None, order: str = "C", out: numpy.ndarray | None = None,
            blocking: bool = True) -> numpy.ndarray:
        """A host copy (never a view: the data crosses from the device)."""
        if out is None:
            return numpy.array(self._a, order=order, copy=True)  # type: ignore[call-overload]
        out[...] = self._a
        return out

    def set(self, arr: numpy.ndarray, stream: Any = None) -> None:
        """Copy host array ``arr`` in, as CuPy does: same shape and dtype only."""
        if not isinstance(arr, numpy.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self._a.shape or arr.dtype != self._a.dtype:
            raise ValueError("Shape or dtype mismatch between the host and device arrays")
        self._a[...] = arr


def _method(name: str) -> Callable[..., Any]:
    sig = _METHOD_SIGNATURES[name]

    def method(self: ndarray, *args: Any, **kwargs: Any) -> Any:
        _check_call(f"cupy.ndarray.{name}", sig, args, kwargs)
        if name in _HOST_RESULT_METHODS:
            return getattr(self._a, name)(*args, **kwargs)
        if name == "ptp":  # numpy 2 dropped the method; the function remains
            return _call(numpy.ptp, (self, *args), kwargs)
        res = _call(getattr(self._a, name), args, kwargs)
        return self if isinstance(res, ndarray) and res._a is self._a else res  # astype(copy=False)

    method.__name__ = method.__qualname__ = name
    return method


def _binary(fn: Callable[[Any, Any], Any], reflected: bool) -> Callable[[ndarray, Any], Any]:
    def op(self: ndarray, other: Any) -> Any:
        try:
            o = _operand(other)
        except TypeError:
            if isinstance(other, numpy.ndarray):
                raise
            return NotImplemented  # let the other operand try; Python raises if it cannot
        return _wrap(fn(o, self._a) if reflected else fn(self._a, o))

    return op


def _inplace(fn: Callable[[Any, Any], Any]) -> Callable[[ndarray, Any], ndarray]:
    def op(self: ndarray, other: Any) -> ndarray:
        self._a = fn(self._a, _operand(other))
        return self

    return op


def _wrapped(fn: Callable[[Any], Any]) -> Callable[[ndarray], Any]:
    """``fn`` of the array's numpy data, wrapped (unary operators, ``.real``)."""
    return lambda self: _wrap(fn(self._a))


def _build_ndarray() -> None:
    for name in _METHOD_SIGNATURES:
        if name not in ("get", "set"):
            setattr(ndarray, name, _method(name))
    for name in ("ndim", "size", "dtype", "itemsize", "nbytes", "strides"):  # plain values
        setattr(ndarray, name, property(operator.attrgetter(f"_a.{name}")))
    for name in ("real", "imag"):
        setattr(ndarray, name, property(_wrapped(operator.attrgetter(name))))
    # the operators cupy.ndarray defines (it has no __imatmul__), reflected ones included
    for name in ("add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow", "lshift",
                 "rshift", "and", "or", "xor", "divmod"):
        fn = {"and": operator.and_, "or": operator.or_, "divmod": divmod}.get(name) or \
            getattr(operator, name)
        setattr(ndarray, f"__{name}__", _binary(fn, reflected=False))
        setattr(ndarray, f"__r{name}__", _binary(fn, reflected=True))
        if name not in ("matmul", "divmod"):
            setattr(ndarray, f"__i{name}__", _inplace(getattr(operator, f"i{name}")))
    for name in ("lt", "le", "gt", "ge", "eq", "ne"):
        setattr(ndarray, f"__{name}__", _binary(getattr(operator, name), reflected=False))
    for name in ("neg", "pos", "abs", "invert"):
        setattr(ndarray, f"__{name}__", _wrapped(getattr(operator, name)))


_build_ndarray()


# ----- functions ----------------------------------------------------------------------------------
class ufunc:  # noqa: N801 - CuPy's name
    """A CuPy ufunc over numpy's: array-or-scalar operands, CuPy's keywords, and ``at``/``reduce``/...
    only for the ufuncs CuPy 13 supports them on."""

    __slots__ = ("_f", "__name__")

    def __init__(self, f: numpy.ufunc, name: str) -> None:
        self._f = f
        self.__name__ = name

    def __repr__(self) -> str:
        return f"<ufunc '{self.__name__}' (strict)>"

    @property
    def nin(self) -> int:
        return self._f.nin

    @property
    def nout(self) -> int:
        return self._f.nout

    @property
    def nargs(self) -> int:
        return self._f.nargs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        bad = set(kwargs) - _UFUNC_KWARGS
        if bad:
            raise TypeError(f"Wrong arguments {sorted(bad)} for cupy.{self.__name__} (CuPy's ufuncs take "
                            f"{', '.join(sorted(_UFUNC_KWARGS))})")
        for a in args:
            _operand(a)
        return _call(self._f, args, kwargs)

    def _supported(self, method: str) -> Callable[..., Any]:
        if method in _UFUNC_METHODS and self.__name__ not in _UFUNC_METHODS[method]:
            raise NotImplementedError(f"`{self.__name__}.{method}` is not supported yet")  # CuPy's words
        return getattr(self._f, method)

    def at(self, a: ndarray, indices: Any, b: Any = None) -> None:
        if not isinstance(a, ndarray):
            raise TypeError(f"Unsupported type {type(a)} for {self.__name__}.at")
        at = self._supported("at")
        if a.dtype.name not in _AT_DTYPES[self.__name__].split():
            raise TypeError(f"cupy.{self.__name__}.at only supports {_AT_DTYPES[self.__name__]} as data "
                            f"type, not {a.dtype}")
        at(a._a, _index(indices, a._a.shape), *(() if b is None else (_operand(b),)))

    def reduce(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._supported("reduce"), args, kwargs)

    def accumulate(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._supported("accumulate"), args, kwargs)

    def reduceat(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._supported("reduceat"), args, kwargs)

    def outer(self, a: Any, b: Any, **kwargs: Any) -> Any:
        _operand(a), _operand(b)
        return _call(self._f.outer, (a, b), kwargs)


def _function(qualname: str, fn: Callable[..., Any], host_ok: bool = False) -> Callable[..., Any]:
    """CuPy's function ``qualname`` run by numpy's ``fn``, checked against CuPy's signature."""
    sig = _FUNCTION_SIGNATURES.get(qualname.removeprefix("cupy."))
    numpy_params: Mapping[str, Any] | None = None
    if sig is not None:
        with contextlib.suppress(TypeError, ValueError):  # a builtin without a signature
            numpy_params = inspect.signature(fn).parameters

    def call(*args: Any, **kwargs: Any) -> Any:
        _check_call(qualname, sig, args, kwargs)
        if sig is not None and numpy_params is not None:
            # a CuPy keyword numpy names differently (take_along_axis's `a` is numpy's `arr`): pass it
            # by position when it is the next one
            for k in [k for k in kwargs if k not in numpy_params and k in sig[0]]:
                if sig[0].index(k) == len(args):
                    args = (*args, kwargs.pop(k))
        return _call(fn, args, kwargs, host_ok)

    call.__name__ = qualname.rpartition(".")[2]
    call.__qualname__ = qualname
    return call


def asarray(a: Any, dtype: Any = None, order: Any = None, *, blocking: bool = False) -> ndarray:
    """A device array: ``a`` itself when it already is one of that dtype, else a copy (host data is
    always copied, as a transfer to the GPU is)."""
    if isinstance(a, ndarray):
        res = numpy.asarray(a._a, dtype=dtype, order=order)
        return a if res is a._a else ndarray._of(res)
    return ndarray._of(numpy.array(_unwrap(a, host_ok=True), dtype=dtype, order=order or "K", copy=True))


asanyarray = asarray


def array(obj: Any, dtype: Any = None, copy: bool = True, order: str = "K", subok: bool = False,
          ndmin: int = 0, *, blocking: bool = False) -> ndarray:
    """cupy.array: ``copy=False`` copies only when needed (numpy 1's meaning, which CuPy 13 keeps)."""
    if not isinstance(obj, ndarray):
        copy = True  # host -> device is a copy
    res = numpy.array(_unwrap(obj, host_ok=True), dtype=dtype, copy=True if copy else None,
                      order=order, ndmin=ndmin)  # type: ignore[call-overload]
    return obj if isinstance(obj, ndarray) and res is obj._a else ndarray._of(res)


def asnumpy(a: Any, stream: Any = None, order: str = "C", out: numpy.ndarray | None = None,
            *, blocking: bool = True) -> numpy.ndarray:
    """A host numpy array of ``a`` (a copy for a device array)."""
    if isinstance(a, ndarray):
        return a.get(stream, order, out, blocking)
    res = numpy.asarray(_unwrap(a, host_ok=True), order=order)  # type: ignore[call-overload]
    if out is None:
        return res
    out[...] = res
    return out


def get_array_module(*args: Any) -> ModuleType:
    """This module if any argument is a device array, else numpy (as cupy.get_array_module)."""
    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else numpy


def is_available() -> bool:
    return True


# ----- cupy.linalg's failures --------------------------------------------------------------------
# CuPy does not check cuSOLVER's status unless `cupyx.errstate(linalg="raise")` is in effect: a
# singular matrix (inv, solve) or one that is not positive-definite (cholesky) gives an unusable
# result instead of numpy's LinAlgError. Only shape errors raise either way.
class _Config(threading.local):
    linalg = "ignore"  # cupyx's default, per thread as there


_CONFIG = _Config()
_NUMERICAL_FAILURES = ("Singular matrix", "Matrix is not positive definite")


@contextlib.contextmanager
def _errstate(*, linalg: str) -> Iterator[None]:
    """The stand-in for ``cupyx.errstate(linalg=...)``: "raise" makes cupy.linalg raise LinAlgError
    where numpy does; "ignore" (the default) hands back garbage."""
    if linalg not in ("ignore", "raise"):
        raise ValueError(f"linalg must be 'ignore' or 'raise', not {linalg!r}")
    old, _CONFIG.linalg = _CONFIG.linalg, linalg
    try:
        yield
    finally:
        _CONFIG.linalg = old


def _unchecked(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """numpy.linalg's ``fn`` as CuPy runs it. The garbage is NaN for inv and solve (a zero pivot
    divides) and, for cholesky, the input's lower triangle: finite, as cuSOLVER's partial factor is,
    so that only a real check (errstate) finds the failure."""
    if name not in ("inv", "solve", "cholesky"):
        return fn

    @functools.wraps(fn)
    def call(a: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(a, *args, **kwargs)
        except numpy.linalg.LinAlgError as exc:
            if _CONFIG.linalg == "raise" or str(exc) not in _NUMERICAL_FAILURES:
                raise
        if name == "cholesky":
            return numpy.tril(a)
        eye = numpy.broadcast_to(numpy.eye(a.shape[-1], dtype=a.dtype), a.shape)
        return numpy.full_like(fn(eye, *args, **kwargs), numpy.nan)

    return call


def _resolve(name: str, names: frozenset[str], source: ModuleType, prefix: str) -> Any:
    """What ``cupy<prefix>.<name>`` is here: numpy's own object where CuPy re-exports it, a checked
    wrapper of numpy's function or ufunc otherwise, AttributeError for anything CuPy lacks."""
    qual = f"cupy{prefix}.{name}"
    if name in _NUMPY_REEXPORTS and not prefix:
        target = getattr(numpy, _NUMPY_REEXPORTS[name], _MISSING)  # numpy 2 moved DataSource, ...
        if target is not _MISSING:
            return target
        raise AttributeError(f"{qual} exists in CuPy but the strict backend does not emulate it")
    if name in _CONSTANTS and not prefix:
        return _CONSTANTS[name]
    if name not in names:
        raise AttributeError(f"module 'cupy{prefix}' has no attribute {name!r} (strict backend: only "
                             "names CuPy provides are available)")
    target = getattr(source, _ALIASES.get(name, name), None)
    if target is None and not prefix:
        target = getattr(numpy.exceptions, name, None)
    if isinstance(target, numpy.ufunc):
        return ufunc(target, name)
    if isinstance(target, type) and issubclass(target, BaseException):
        return target
    if callable(target) and not isinstance(target, type):
        return _function(qual, _unchecked(name, target) if prefix == ".linalg" else target)
    raise AttributeError(f"{qual} exists in CuPy but the strict backend does not emulate it; add it "
                         "to engine/strict_xp.py if the engine needs it")


class _Namespace(ModuleType):
    """A CuPy submodule (only ``cupy.linalg`` is emulated)."""

    def __init__(self, prefix: str, names: frozenset[str], source: ModuleType) -> None:
        super().__init__(f"{__name__}{prefix}")
        self._names, self._source, self._prefix = names, source, prefix

    def __getattr__(self, name: str) -> Any:
        value = _resolve(name, self._names, self._source, self._prefix)
        setattr(self, name, value)
        return value

    def __dir__(self) -> list[str]:
        return sorted(self._names)


linalg = _Namespace(".linalg", _LINALG_NAMES, numpy.linalg)


def __getattr__(name: str) -> Any:
    """CuPy's names (for type checkers: at run time _CupyModule below answers every lookup)."""
    return _resolve(name, _CUPY_NAMES, numpy, "")


def __dir__() -> list[str]:
    return sorted(_CUPY_NAMES | set(_NUMPY_REEXPORTS) | set(_CONSTANTS))


# What `xp.<name>` gives, filled as names are first used. Not this module's globals: CuPy's `any`,
# `sum`, `max`, ... would shadow the builtins this module's own code calls.
_RESOLVED: dict[str, Any] = {f.__name__: f for f in (ndarray, ufunc, asarray, array, asnumpy,
                                                      get_array_module, is_available)}
_RESOLVED.update(asanyarray=asanyarray, linalg=linalg)


class _CupyModule(ModuleType):
    """This module as the engine sees it: CuPy's names only. Its own imports and helpers (numpy, re,
    sys, ...) would otherwise be reachable as ``xp.numpy`` and so on."""

    def __getattribute__(self, name: str) -> Any:
        if name[:1] == "_":
            return super().__getattribute__(name)
        value = _RESOLVED.get(name, _MISSING)
        if value is _MISSING:
            value = _RESOLVED[name] = _resolve(name, _CUPY_NAMES, numpy, "")
        return value


sys.modules[__name__].__class__ = _CupyModule

"""The strict backend (tests/strict_xp.py) itself: a CuPy stand-in that must refuse what CuPy refuses.

These run under any backend: they import the module directly instead of going through engine.backend.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import pytest

from tests import strict_xp as xp

H = np.arange(6, dtype=np.float64).reshape(2, 3)  # host data


def dev(a: Any) -> Any:
    return xp.asarray(np.asarray(a))


def same(got: Any, want: Any) -> None:
    """``got`` is a device array equal to host ``want`` (values, shape and dtype)."""
    assert isinstance(got, xp.ndarray), type(got)
    host = xp.asnumpy(got)
    assert host.dtype == np.asarray(want).dtype
    np.testing.assert_array_equal(host, want)


# ----- numpy must not reach device arrays -------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda a: np.asarray(a),
    lambda a: np.array(a),
    lambda a: np.exp(a),
    lambda a: np.add(a, 1),
    lambda a: np.sum(a),
    lambda a: np.concatenate([a, a]),
    lambda a: np.where(a > 1, a, 0),
    lambda a: H + a,
    lambda a: a + H,
    lambda a: a * H[0, 0:1],
    lambda a: xp.exp(H),
    lambda a: xp.sum(H),
    lambda a: xp.maximum(a, H),
    lambda a: a.__setitem__(0, H[0]),
], ids=["np.asarray", "np.array", "np.exp", "np.add", "np.sum", "np.concatenate", "np.where",
        "host+dev", "dev+host", "dev*host", "xp.exp(host)", "xp.sum(host)", "xp.maximum(dev,host)",
        "setitem(host)"])
def test_numpy_and_host_arrays_are_refused(call: Any) -> None:
    with pytest.raises(TypeError):
        call(dev(H))


def test_implicit_conversion_message_is_cupys() -> None:
    with pytest.raises(TypeError, match=r"Implicit conversion to a NumPy array is not allowed"):
        np.asarray(dev(H))


def test_numpy_function_error_names_the_xp_spelling() -> None:
    with pytest.raises(TypeError, match=r"numpy\.sum\(\).*xp\.sum\(\)"):
        np.sum(dev(H))


# ----- only CuPy's names ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["trapezoid", "not_a_function", "numpy", "re", "sys", "inspect",
                                  "matrix_transpose", "unstack", "astype"])
def test_names_cupy_lacks_raise_attribute_error(name: str) -> None:
    with pytest.raises(AttributeError, match="has no attribute"):
        getattr(xp, name)


@pytest.mark.parametrize("name", ["eig", "eigvals", "vector_norm", "matrix_norm", "cross"])
def test_linalg_names_cupy_lacks_raise(name: str) -> None:
    with pytest.raises(AttributeError, match="has no attribute"):
        getattr(xp.linalg, name)


@pytest.mark.parametrize("name", ["resize", "itemset", "byteswap", "setflags", "ctypes", "mT", "to_device",
                                  "__array_interface__"])
def test_numpy_only_array_members_raise(name: str) -> None:
    with pytest.raises(AttributeError, match="no attribute"):
        getattr(dev(H), name)


def test_unemulated_cupy_names_say_so() -> None:
    with pytest.raises(AttributeError, match="does not emulate"):
        _ = xp.fft
    with pytest.raises(AttributeError, match="does not emulate"):
        _ = dev(H).data


def test_every_allowlisted_name_resolves_or_says_it_is_not_emulated() -> None:
    for name in sorted(xp.__dir__()):
        try:
            getattr(xp, name)
        except AttributeError as exc:
            assert "does not emulate" in str(exc), name
    for name in dir(xp.linalg):
        getattr(xp.linalg, name)


def test_numpy_reexports_are_numpys_own_objects() -> None:
    assert xp.float32 is np.float32 and xp.int64 is np.int64 and xp.bool_ is np.bool_
    assert xp.dtype is np.dtype and xp.float_ is np.float64 and xp.newaxis is None
    assert xp.dtype(xp.float32) == np.dtype("float32")
    assert xp.pi == np.pi and xp.inf == np.inf and xp.Inf == np.inf
    assert isinstance(xp.__version__, str) and xp.__version__
    assert xp.linalg.LinAlgError is np.linalg.LinAlgError


# ----- CuPy's signatures ------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda a: xp.indices((2, 3), sparse=True),
    lambda a: xp.sum(a, where=a > 0),
    lambda a: xp.max(a, initial=0.0),
    lambda a: xp.asarray(H, **{"copy": True}),
    lambda a: xp.zeros((2,), device="cpu"),
    lambda a: xp.reshape(a, shape=(3, 2)),
    lambda a: xp.exp(a, order="C"),
    lambda a: a.max(initial=0.0),
    lambda a: a.sum(where=a > 0),
    lambda a: a.item(0),
    lambda a: a.argsort(kind="stable"),
    lambda a: xp.take_along_axis(a, xp.asarray([[0], [1]]), 1, 2),
], ids=["indices-sparse", "sum-where", "max-initial", "asarray-copy", "zeros-device", "reshape-shape",
        "ufunc-order", "method-initial", "method-where", "item-index", "argsort-kind", "too-many-positional"])
def test_arguments_cupy_does_not_take_are_refused(call: Any) -> None:
    with pytest.raises(TypeError, match="CuPy|Wrong arguments|unexpected keyword"):
        call(dev(H))


def test_cupy_spelling_of_a_renamed_argument_works() -> None:
    idx = xp.asarray([[2], [0]])
    same(xp.take_along_axis(a=dev(H), indices=idx, axis=1), np.take_along_axis(H, np.array([[2], [0]]), 1))


# ----- arithmetic -------------------------------------------------------------------------------
BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv, operator.mod,
          operator.pow, operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]


@pytest.mark.parametrize("op", BINARY, ids=lambda f: f.__name__)
def test_binary_operators_match_numpy(op: Any) -> None:
    b = H[::-1] + 1
    same(op(dev(H), dev(b)), op(H, b))
    same(op(dev(H), 2.0), op(H, 2.0))
    same(op(3.0, dev(b)), op(3.0, b))  # reflected


@pytest.mark.parametrize("op", [operator.and_, operator.or_, operator.xor, operator.lshift,
                                operator.rshift], ids=lambda f: f.__name__)
def test_bitwise_operators_match_numpy(op: Any) -> None:
    i, j = np.array([1, 6, 12]), np.array([3, 1, 2])
    same(op(dev(i), dev(j)), op(i, j))
    same(op(dev(i), 1), op(i, 1))
    same(op(5, dev(j)), op(5, j))


def test_unary_matmul_divmod_and_inplace() -> None:
    a = dev(H)
    same(-a, -H)
    same(+a, +H)
    same(abs(-a), H)
    same(~(a > 2), ~(H > 2))
    same(a @ a.T, H @ H.T)
    q, r = divmod(a, 4)
    same(q, H // 4)
    same(r, H % 4)
    c = dev(H)
    c += 1
    c *= dev(H)
    same(c, (H + 1) * H)


def test_results_are_device_arrays_never_numpy_scalars() -> None:
    a = dev(H)
    for r in (a.sum(), xp.sum(a), a[0, 1], xp.max(a), a.mean(), xp.dot(a[0], a[1])):
        assert isinstance(r, xp.ndarray) and r.ndim == 0


def test_mixing_with_numpy_scalars_is_allowed() -> None:
    same(dev(H) * np.float64(2), H * 2)


# ----- reductions and functions -----------------------------------------------------------------
def test_reductions_round_trip() -> None:
    a = dev(H)
    same(xp.sum(a, axis=0, keepdims=True), H.sum(axis=0, keepdims=True))
    same(xp.sum(a, axis=(0, 1)), np.asarray(H.sum()))
    same(a.sum(axis=1), H.sum(axis=1))
    same(xp.mean(a, axis=1), H.mean(axis=1))
    same(a.max(axis=0), H.max(axis=0))
    same(xp.min(a, axis=1, keepdims=True), H.min(axis=1, keepdims=True))
    same(xp.argmax(a, axis=1), H.argmax(axis=1))
    same(xp.var(a, axis=0, ddof=1), H.var(axis=0, ddof=1))
    same(xp.prod(a + 1), np.asarray((H + 1).prod()))
    assert bool((a > 4).any()) and not bool((a > 5).all())


def test_functions_the_engine_uses() -> None:
    a = dev(H)
    same(xp.exp(a), np.exp(H))
    same(xp.where(a > 2, a, 0.0), np.where(H > 2, H, 0.0))
    same(xp.full((2, 2), 3, dtype=xp.int64), np.full((2, 2), 3, dtype=np.int64))
    same(xp.eye(2, 3, dtype=xp.float32), np.eye(2, 3, dtype=np.float32))
    same(xp.arange(4, dtype=xp.int64), np.arange(4, dtype=np.int64))
    same(xp.linspace(0, 1, 5, dtype=xp.float64), np.linspace(0, 1, 5))
    same(xp.broadcast_to(a[0], (4, 3)), np.broadcast_to(H[0], (4, 3)))
    same(xp.indices((2, 3))[1], np.indices((2, 3))[1])
    same(xp.expand_dims(a, 0), H[None])
    same(xp.squeeze(xp.expand_dims(a, 0), axis=0), H)
    same(xp.swapaxes(a, 0, 1), H.T)
    same(xp.transpose(a, (1, 0)), H.T)
    same(xp.matmul(a, a.T), H @ H.T)
    same(xp.linalg.norm(a), np.asarray(np.linalg.norm(H)))
    u, s, vt = xp.linalg.svd(a, full_matrices=False)
    same(s, np.linalg.svd(H, full_matrices=False)[1])
    assert isinstance(u, xp.ndarray) and isinstance(vt, xp.ndarray)


def test_methods_round_trip() -> None:
    a = dev(H)
    same(a.reshape(3, 2), H.reshape(3, 2))
    same(a.reshape((3, 2)), H.reshape(3, 2))
    same(a.astype(xp.float32), H.astype(np.float32))
    assert a.astype(a.dtype, copy=False) is a  # CuPy returns the array itself
    same(a.transpose(), H.T)
    same(a.T, H.T)
    same(a.swapaxes(0, 1), H.T)
    same(a[None].squeeze(0), H)
    same(a.ravel(), H.ravel())
    same(a.copy(), H)
    assert a.item is not None and a[1, 2].item() == 5.0 and a.tolist() == H.tolist()
    assert (a.shape, a.ndim, a.size, a.dtype, a.itemsize, a.nbytes) == \
        (H.shape, H.ndim, H.size, H.dtype, H.itemsize, H.nbytes)
    assert a.flags.c_contiguous and not a.T.flags.c_contiguous and a.flags["C_CONTIGUOUS"]
    with pytest.raises(AttributeError):
        _ = a.flags.writeable  # numpy's flag, not CuPy's


# ----- indexing ----------------------------------------------------------------------------------
def test_getitem_round_trip() -> None:
    a = dev(H)
    same(a[1], H[1])
    same(a[:, 1:], H[:, 1:])
    same(a[..., None], H[..., None])
    same(a[a > 2], H[H > 2])
    same(a[xp.asarray([1, 0])], H[[1, 0]])
    same(a[(xp.asarray([0, 1]), xp.asarray([2, 0]))], H[[0, 1], [2, 0]])
    same(a[np.array([1, 0])], H[[1, 0]])  # CuPy copies a host index array to the device
    same(a[[1, 0]], H[[1, 0]])


def test_out_of_bounds_index_arrays_wrap_around_as_in_cupy() -> None:
    a = dev(H)
    same(a[xp.asarray([3, -1])], H[[1, 1]])  # numpy raises IndexError for 3
    same(a[:, [5]], H[:, [2]])
    same(a[..., xp.asarray([-4])], H[..., [2]])
    with pytest.raises(IndexError):  # a scalar index is still checked
        a[2]
    b = dev(H)
    b[xp.asarray([2])] = 0.0
    same(b[0], np.zeros(3))
    out = xp.zeros(2)
    xp.add.at(out, (xp.asarray([2, 3]),), 1.0)
    same(out, np.array([1.0, 1.0]))


def test_setitem_round_trip() -> None:
    a, h = dev(H), H.copy()
    a[0] = dev(H[1])
    h[0] = H[1]
    a[1, 2] = 7.0
    h[1, 2] = 7.0
    a[xp.asarray([0, 1]), xp.asarray([0, 0])] = xp.asarray(-1.0)
    h[[0, 1], [0, 0]] = -1.0
    same(a, h)


def test_ufunc_at_as_cupy_supports_it() -> None:
    out = xp.zeros(4)
    xp.add.at(out, (xp.asarray([0, 0, 3]),), xp.asarray([1.0, 2.0, 5.0]))
    same(out, np.array([3.0, 0.0, 0.0, 5.0]))
    with pytest.raises(NotImplementedError, match="multiply.at"):
        xp.multiply.at(out, (xp.asarray([0]),), 2.0)
    with pytest.raises(TypeError, match="only supports"):  # a GPU atomic: no int64 add
        xp.add.at(xp.zeros(2, dtype=xp.int64), (xp.asarray([0]),), 1)
    same(xp.add.reduce(dev(H), axis=0), H.sum(axis=0))


# ----- cupy.linalg's unchecked failures -----------------------------------------------------------
SINGULAR = [[1.0, 2.0], [2.0, 4.0]]
NOT_PD = [[1.0, 2.0], [2.0, 1.0]]


def test_linalg_failures_do_not_raise_by_default_as_in_cupy() -> None:
    assert np.isnan(xp.asnumpy(xp.linalg.inv(dev(SINGULAR)))).all()
    assert np.isnan(xp.asnumpy(xp.linalg.solve(dev(SINGULAR), xp.ones(2)))).all()
    low = xp.asnumpy(xp.linalg.cholesky(dev(NOT_PD)))
    assert np.isfinite(low).all()  # garbage that looks like a factor: only errstate tells
    assert not np.allclose(low @ low.T, NOT_PD)


def test_linalg_failures_raise_under_errstate() -> None:
    with xp._errstate(linalg="raise"):
        for fn, a in ((xp.linalg.inv, SINGULAR), (xp.linalg.cholesky, NOT_PD)):
            with pytest.raises(xp.linalg.LinAlgError):
                fn(dev(a))
    same(xp.linalg.inv(dev([[2.0, 0.0], [0.0, 4.0]])), np.array([[0.5, 0.0], [0.0, 0.25]]))
    with pytest.raises(xp.linalg.LinAlgError, match="square"):  # shape errors raise either way
        xp.linalg.inv(xp.ones((2, 3)))


# ----- the host boundary -------------------------------------------------------------------------
def test_asnumpy_returns_a_host_copy() -> None:
    a = dev(H)
    h = xp.asnumpy(a)
    assert type(h) is np.ndarray
    np.testing.assert_array_equal(h, H)
    h[0, 0] = 99
    assert float(a[0, 0]) == 0.0  # a transfer, not a view
    g = a.get()
    assert type(g) is np.ndarray and not np.shares_memory(g, h)


def test_asarray_and_array_take_host_data_as_a_copy() -> None:
    h = H.copy()
    a = xp.asarray(h)
    h[0, 0] = 99
    assert float(a[0, 0]) == 0.0
    same(xp.asarray([[1, 2], [3, 4]]), np.array([[1, 2], [3, 4]]))
    same(xp.asarray(2.5), np.asarray(2.5))
    same(xp.array([1.0, 2.0], dtype=xp.float32), np.array([1.0, 2.0], dtype=np.float32))
    same(xp.array([xp.asarray(1.0), xp.asarray(2.0)]), np.array([1.0, 2.0]))
    assert xp.asarray(a) is a
    assert xp.array(a, copy=False) is a and xp.array(a) is not a
    same(xp.asarray(a, dtype=xp.float32), H.astype(np.float32))


def test_get_array_module() -> None:
    assert xp.get_array_module(dev(H)) is xp
    assert xp.get_array_module(H) is np


# ----- Python protocols ---------------------------------------------------------------------------
def test_python_protocols_on_device_arrays() -> None:
    a = dev(H)
    assert len(a) == 2
    rows = list(a)
    assert len(rows) == 2 and all(isinstance(r, xp.ndarray) for r in rows)
    assert all(isinstance(v, xp.ndarray) and v.ndim == 0 for v in xp.arange(3))
    assert float(xp.asarray([2.5])) == 2.5 and int(xp.asarray(3)) == 3 and bool(xp.asarray(True))
    with pytest.raises(ValueError):
        bool(a)
    with pytest.raises(TypeError):
        len(xp.asarray(1.0))
    with pytest.raises(TypeError):
        range(xp.asarray(3))  # no __index__, as in CuPy
    with pytest.raises(TypeError):
        hash(a)
    assert repr(a) == repr(H) and str(a) == str(H) and f"{a[0, 1]:.1f}" == "1.0"

"""service/encoding.py: tensor literals and objects in, tensor data out; NaN/inf; base64; and the
size checks that come before any allocation."""

from __future__ import annotations

import base64
import math

import numpy as np
import orjson
import pytest

import engine as ge
from service.encoding import (
    Encoding,
    EncodingError,
    b64_length,
    check_payload,
    decode_literal,
    decode_object,
    encode_tensor,
    flat_json,
    json_number,
)
from service.responses import PIECE_BYTES, dumps, dumps_pieces


@pytest.mark.parametrize(("literal", "dtype"), [
    ([1, 2], "int64"), ([1.0, 2], "float32"), ([True, False], "bool"), ([True, 2], "int64"),
    ([], "float32"), ([["NaN"]], "float32"), (3.5, "float32"),
])
def test_literal_dtype_inference_is_torch_tensors(literal: object, dtype: str) -> None:
    assert decode_literal(literal).dtype.name == dtype


def test_literal_with_dtype_is_converted_once_from_the_exact_value() -> None:
    t = decode_literal([0.1], "float64")
    assert t.detach().numpy()[0] == 0.1  # not float32(0.1) widened


def test_literal_shape_and_nonfinite_tokens() -> None:
    t = decode_literal([["NaN", "Infinity"], ["-Infinity", 1.5]])
    assert t.shape == (2, 2)
    a = t.detach().numpy()
    assert math.isnan(a[0, 0]) and a[0, 1] == math.inf and a[1, 0] == -math.inf


@pytest.mark.parametrize(("literal", "parts", "message"), [
    ([[1, 2], [3]], (1,), "expected sequence of length 2 at dim 1 (got 1)"),
    ([[1, 2], 3], (1,), "expected a sequence of length 2 at dim 1"),
    ([1, [2]], (1,), "found a array"),
    ([1, "x"], (1,), "found the name 'x'"),
])
def test_ragged_or_foreign_literals_say_where(literal: object, parts: tuple[int, ...],
                                              message: str) -> None:
    with pytest.raises(EncodingError) as info:
        decode_literal(literal)
    assert info.value.parts == parts
    assert message in info.value.message


def test_nan_cannot_become_an_int() -> None:
    with pytest.raises(EncodingError, match="do not fit dtype int64"):
        decode_literal(["NaN"], "int64")


@pytest.mark.parametrize(("datatype", "values"), [
    ("FP32", [1.5, -0.0, math.nan, math.inf]), ("FP64", [0.1, -math.inf, 1e300, 5e-324]),
    ("INT64", [-(2**63), 2**63 - 1, 0]), ("BOOL", [True, False, True]),
])
def test_base64_round_trip(datatype: str, values: list[object]) -> None:
    np_dtype = {"FP32": "<f4", "FP64": "<f8", "INT64": "<i8", "BOOL": "?"}[datatype]
    raw = np.array(values, dtype=np_dtype)
    b64 = base64.b64encode(raw.tobytes()).decode()
    t = decode_object([len(values)], datatype, None, b64)
    back = orjson.loads(dumps(encode_tensor(t, "base64")))  # b64 is Encoded, for service.responses
    assert back == {"shape": [len(values)], "datatype": datatype, "b64": b64}
    np.testing.assert_array_equal(t.detach().numpy(), raw.astype(np_dtype.replace("<", "=")))


def test_json_data_round_trip_with_nonfinite_tokens() -> None:
    t = decode_object([2, 2], "FP32", [1, "NaN", "-Infinity", 0.1], None)
    out = encode_tensor(t)
    assert orjson.loads(dumps(out)) == {
        "shape": [2, 2], "datatype": "FP32", "data": [1.0, "NaN", "-Infinity", 0.1]}


@pytest.mark.parametrize("encoding", ["json", "base64"])
def test_a_tensor_requiring_grad_encodes_as_its_detached_alias(encoding: Encoding) -> None:
    # encode_tensor reads values through Tensor.host_values (no alias made): the same wire form
    # as the general way, a detached alias's numpy(), for leaves, non-leaves and views
    leaf = ge.tensor([[0.5, -1.0], [math.nan, 2.0]], requires_grad=True)
    for t in (leaf, leaf * 3, leaf.t(), leaf[1], ge.tensor([1, 2])):
        via_alias = encode_tensor(t.detach(), encoding)
        assert dumps(encode_tensor(t, encoding)) == dumps(via_alias)
        np.testing.assert_array_equal(t.host_values(), t.detach().numpy())


def test_flat_json_writes_tokens_in_order_and_float32_shortest() -> None:
    a = np.array([[0.1, np.nan], [np.inf, -np.inf]], dtype=np.float32)
    assert flat_json(a) == b'[0.1,"NaN","Infinity","-Infinity"]'
    assert flat_json(np.array([True, False])) == b"[true,false]"
    assert json_number(math.nan) == "NaN" and json_number(-math.inf) == "-Infinity"
    assert json_number(2) == 2


@pytest.mark.parametrize(("data", "b64", "message"), [
    ([1.0], None, "needs 4 values"),
    (None, "AAAA", "is 16 bytes, which is 24 base64 characters"),
])
def test_sizes_are_checked_before_decoding(data: object, b64: object, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        decode_object([2, 2], "FP32", data, b64)


def test_a_huge_shape_is_refused_without_allocating() -> None:
    # 10**12 float64s would be 8 TB: the length check fails on arithmetic alone.
    with pytest.raises(EncodingError):
        decode_object([10**6, 10**6], "FP64", None, "AAAA")
    with ge.execution(limits=ge.Limits(max_tensor_elements=10)), \
            pytest.raises(ge.LimitExceeded) as info:
        decode_object([11], "BOOL", None, "A" * b64_length(11))
    assert info.value.limit == "max_tensor_elements"


def test_literals_respect_the_limits_too() -> None:
    with ge.execution(limits=ge.Limits(max_tensor_elements=5)), pytest.raises(ge.LimitExceeded):
        decode_literal([[1, 2, 3], [4, 5, 6]])


def test_invalid_base64_and_bool_bytes() -> None:
    with pytest.raises(EncodingError, match="not valid base64"):
        decode_object([3], "FP32", None, "!" * 16)
    with pytest.raises(EncodingError, match="0 or 1"):
        decode_object([1], "BOOL", None, base64.b64encode(b"\x02").decode())


def test_datatype_and_values_must_agree() -> None:
    # the request model runs this check (decode_object gets values it checked)
    with pytest.raises(EncodingError, match="INT64 data cannot hold values of type float"):
        check_payload([1], "INT64", [1.5], None)
    with pytest.raises(EncodingError, match="BOOL data cannot hold values of type int"):
        check_payload([1], "BOOL", [1], None)


@pytest.mark.parametrize("encoding", ["json", "base64"])
def test_large_values_are_pieces_of_their_own_that_join_to_the_answer(encoding: str) -> None:
    values = np.arange(PIECE_BYTES, dtype=np.float32) / 7  # well over PIECE_BYTES of text
    small = decode_object([2], "FP32", [0.5, "NaN"], None)
    answer = {"big": encode_tensor(decode_object([values.size], "FP32", values.tolist(), None),
                                   encoding),
              "small": encode_tensor(small, encoding), "text": "a \u0000 NUL stays escaped"}
    pieces = dumps_pieces(answer)
    assert len(pieces) == 3  # the JSON before the large value, the value, the JSON after it
    assert b"".join(pieces) == dumps(answer)
    assert orjson.loads(b"".join(pieces))["text"] == "a \u0000 NUL stays escaped"
    assert dumps_pieces({"small": encode_tensor(small, encoding)}) == [
        dumps({"small": encode_tensor(small, encoding)})]

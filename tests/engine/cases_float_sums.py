"""The inputs of the float-sum goldens (scripts/goldens_float_sums.py, tests/engine/
test_float_sums.py): made from integers only, so that the torch script and the test build the
same bits without sharing a random generator.

Each value is a random 53-bit (float64) or 24-bit (float32) integer mantissa scaled by a power of
two between 2**-6 and 2**6: exact as a float, and of mixed magnitudes, so that the order of the
additions shows in the last bits of a sum.
"""

from __future__ import annotations

from typing import Any

_MUL, _INC, _MASK = 6364136223846793005, 1442695040888963407, 2**64 - 1
_MANTISSA = {"float64": 53, "float32": 24}


def values(seed: int, count: int, dtype: str) -> list[float]:
    """``count`` exact floats of ``dtype`` from a 64-bit linear congruential generator."""
    bits = _MANTISSA[dtype]
    state = seed * 2654435761 + 1
    out = []
    for _ in range(count):
        state = (state * _MUL + _INC) & _MASK
        mantissa = (state >> (64 - bits)) - (1 << (bits - 1))
        exponent = (state >> 3) % 13 - 6
        out.append(mantissa * 2.0 ** (exponent - bits))
    return out


def cases() -> list[dict[str, Any]]:
    """Shapes around the kernel's thresholds (vector widths, its 16-element chunks and their
    levels), reductions over every kind of dim set, transposed inputs, up to torch's serial
    limit of 32768 elements."""
    shapes: list[tuple[int, ...]] = [
        (n,) for n in (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256,
                       257, 1000, 1023, 1024, 1025, 4095, 4096, 4097, 5000, 16385, 32768)]
    shapes += [(2, 3), (3, 5), (4, 8), (7, 9), (16, 17), (33, 40), (100, 3), (3, 100), (1, 50),
               (50, 1), (40, 24), (60, 40), (2, 3, 4), (5, 6, 7), (4, 1, 9), (9, 10, 11),
               (3, 20, 50), (2, 3, 4, 5), (6, 1, 7, 8)]
    out: list[dict[str, Any]] = []
    seed = 0
    for dtype in ("float64", "float32"):
        for shape in shapes:
            nd = len(shape)
            dim_sets: list[list[int] | None] = [None]
            if nd >= 2:
                dim_sets += [[0], [nd - 1], [0, nd - 1]]
            if nd >= 3:
                dim_sets += [[1], [0, 2], [1, 2]]
            for dims in dim_sets:
                for transpose in ((False, True) if nd >= 2 else (False,)):
                    seed += 1
                    out.append({"seed": seed, "shape": list(shape), "dtype": dtype, "dims": dims,
                                "keepdim": seed % 3 == 0, "transpose": transpose})
    return out

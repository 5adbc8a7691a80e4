"""A program's seeded generator (backend.Generator) draws exactly what numpy's
``default_rng(seed)`` draws, its seed words remembered or not (backend._seed_words)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from engine.backend import Generator


@pytest.mark.parametrize("seed", [0, 1, 7, 2**40, 2**70, -1, True, 1.0, np.int64(3), [1, 2]])
def test_seeded_generator_draws_what_default_rng_draws(seed: Any) -> None:
    for _ in range(2):  # (the second time, an int seed's words are remembered)
        try:
            want = np.random.default_rng(seed)
        except (TypeError, ValueError) as exc:
            with pytest.raises(type(exc), match=re.escape(str(exc))):
                Generator(seed).rng  # noqa: B018 - made on first use
            continue
        got = Generator(seed).rng
        assert got.bit_generator.state == want.bit_generator.state
        assert got.standard_normal(5).tolist() == want.standard_normal(5).tolist()
        assert got.integers(0, 2**62, 3).tolist() == want.integers(0, 2**62, 3).tolist()


def test_generators_of_one_seed_do_not_share_a_state() -> None:
    a, b = Generator(5).rng, Generator(5).rng
    first = a.standard_normal(3).tolist()
    assert b.standard_normal(3).tolist() == first
    assert a.standard_normal(3).tolist() != first

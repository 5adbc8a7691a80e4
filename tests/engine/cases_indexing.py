"""Gradient-check cases for the indexing ops (same spelling as op_cases.py, merged into it).

getitem's index is the registry's spelling: a list is the tuple of items, a list item an advanced
index (the service reads the wire's spellings of slices and Ellipsis: service/spellings.py). Cases
where an index repeats a position check that the gradients accumulate; cumprod's cases with zeros
check the exact gradient there. (gather and scatter_add keep their cases in op_cases.py, where
they were first declared.)
"""

from __future__ import annotations

from tests.engine.op_cases import B, C, Case, I, S, V

_ZEROS = [[2.0, 0.0, 3.0, 0.5], [0.0, 1.5, 0.0, 2.0], [1.0, 2.0, 3.0, 0.0]]

CASES: dict[str, list[Case]] = {
    "getitem": [
        C(S(3, 4), 1), C(S(3, 4), [0, slice(1, None)]), C(S(3, 4), [slice(1, None, 2), -1]),
        C(S(3, 4), slice(None)), C(S(3, 4), [None, ..., 2]), C(S(2, 3), []),
        C(S(3, 4), I([2, 0, 2])), C(S(3, 4), [[0, 2, 0], slice(1, None)]),
        C(S(3, 4), [slice(None), [[3], [0]]]), C(S(2, 3, 2), [[0, 1], slice(None), [1, 1]]),
        C(S(3, 4), B([True, False, True])), C(S(2, 3), [[[True, False, True], [False, True, True]]]),
        C(S(2, 3), True),
    ],
    "index_select": [C(S(3, 4), 0, I([2, 0, 2])), C(S(3, 4), -1, I([3]))],
    "masked_fill": [C(S(2, 3), B([True, False, True]), 2.0),
                    C(S(3), B([[True, False, False], [False, False, True]]), S())],
    "split": [C(S(5, 2), 2), C(S(3, 4), [1, 3], 1)],
    "chunk": [C(S(5, 2), 3), C(S(2, 4), 2, 1)],
    "unbind": [C(S(3, 2)), C(S(2, 3), 1)],
    "flip": [C(S(2, 3), [0]), C(S(2, 3, 2), [0, 2])],
    "roll": [C(S(2, 3), 1, 0), C(S(2, 3), [1, -1], [0, 1]), C(S(2, 3), 4)],
    "repeat": [C(S(2, 3), [2, 1]), C(S(2), [2, 1, 3])],
    "tile": [C(S(2, 3), [2]), C(S(3), [2, 2])],
    "pad": [C(S(2, 3), [1, 2]), C(S(2, 3), [-1, 1, 2, 0], value=1.5),
            C(S(2, 4), [3, -1], mode="reflect"), C(S(1, 3, 3), [1, 2, 2, 1], mode="reflect"),
            C(S(2, 3), [4, 1], mode="replicate"), C(S(1, 2, 2, 3), [1, 1, 1, 0, 0, 1], mode="replicate")],
    "tril": [C(S(3, 4)), C(S(2, 3, 3), -1)],
    "triu": [C(S(3, 4), 1), C(S(2, 3, 3))],
    "diagonal": [C(S(3, 4)), C(S(3, 4), 1), C(S(2, 3, 4), -1, 2, 0)],
    "cumsum": [C(S(2, 3), 1), C(S(3, 2), 0)],
    "cumprod": [C(S(2, 4), 1), C(V(_ZEROS), 1), C(V([0.0, 2.0, 0.0, 3.0]), 0)],
    "sort": [C(S(2, 4, domain="distinct")), C(S(3, 2, domain="distinct"), 0, True)],
    "topk": [C(S(2, 5, domain="distinct"), 2), C(S(4, 3, domain="distinct"), 3, 0, False)],
    "cat": [C([S(2, 3), S(1, 3)]), C([S(2, 1), S(2, 2), S(2, 3)], 1)],
    "stack": [C([S(2, 3), S(2, 3)]), C([S(2), S(2), S(2)], -1)],
}
NONDIFF: dict[str, list[Case]] = {}

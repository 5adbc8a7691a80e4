"""Gradient-check cases for the linalg ops (same spelling as op_cases.py, merged into it).

Random matrices (standard normal entries) are invertible and reasonably conditioned for the fixed
seed of the checker.  cholesky is checked on 1 x 1 matrices only: torch's (and so the engine's)
gradient is the symmetric one, d/dA of f(L(sym(A))), which a finite difference of A's upper and lower
entries taken one at a time cannot see; its full-matrix gradients and second derivatives are
checked in tests/engine/test_functional.py through a symmetrising function.  slogdet's gradcheck
sees its first output (the sign, of zero gradient); log|det| is checked there too.
"""

from __future__ import annotations

from tests.engine.op_cases import C, Case, S

CASES: dict[str, list[Case]] = {
    "inverse": [C(S(3, 3)), C(S(2, 3, 3)), C(S(1, 1))],
    "det": [C(S(3, 3)), C(S(2, 2, 2)), C(S(1, 1))],
    "slogdet": [C(S(3, 3)), C(S(2, 2, 2))],
    "solve": [C(S(3, 3), S(3, 2)), C(S(3, 3), S(3)), C(S(2, 3, 3), S(3)), C(S(2, 3, 3), S(2, 3)),
              C(S(3, 3), S(2, 2, 3, 1)), C(S(3, 3), S(2, 3), left=False)],
    "cholesky": [C(S(1, 1, domain="positive")), C(S(3, 1, 1, domain="positive"), upper=True)],
    "trace": [C(S(3, 3)), C(S(2, 4))],
    "einsum": [
        C("ij,jk->ik", S(2, 3), S(3, 4)),
        C("bij,bjk->bik", S(2, 2, 3), S(2, 3, 2)),
        C("ij->ji", S(2, 3)),
        C("ii->", S(3, 3)),
        C("ii->i", S(3, 3)),
        C("i,j->ij", S(2), S(3)),
        C("ij->i", S(2, 3)),
        C("bi,ij,bj->b", S(2, 3), S(3, 4), S(2, 4)),
        C("...ij,...jk->...ik", S(2, 2, 3), S(3, 2)),
        C("ij,ij->i", S(2, 3), S(1, 3)),
        C("i,i->", S(4), S(4)),
        C("ij,j", S(2, 3), S(3)),
    ],
}
NONDIFF: dict[str, list[Case]] = {}

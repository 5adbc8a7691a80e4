"""Golden cases for the linalg family: ``make_goldens.py linalg`` writes tests/golden/ops_linalg.json.

Matrices that must be invertible or positive-definite are given by value (diagonally dominant),
so float32 results do not hinge on how a LAPACK rounds an ill-conditioned solve.  Random ones are
float64.  einsum cases cover the common contractions; each checks torch's whole grad_fn graph.

make_goldens calls ``torch.<op>``; this family's ``solve`` is ``torch.linalg.solve`` (torch 2
has no ``torch.solve``), so importing this module gives torch that name.
"""

from __future__ import annotations

import torch
from make_goldens import C, f32, f64, ints, vals

torch.solve = torch.linalg.solve  # the registry's "solve" (see the module docstring)

M3 = [[4.0, 1.0, -0.5], [0.5, 3.0, 0.25], [-1.0, 0.5, 5.0]]  # diagonally dominant: invertible
SPD3 = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.25], [0.5, 0.25, 2.0]]  # symmetric positive-definite
SPD2_BATCH = [[[2.0, 0.5], [0.5, 1.0]], [[9.0, -3.0], [-3.0, 5.0]]]
SINGULAR = [[1.0, 2.0], [2.0, 4.0]]

CASES = [
    # --- inverse --------------------------------------------------------------------------------
    C("inverse_f32", "inverse", vals(M3)),
    C("inverse_f64_random", "inverse", f64(3, 3)),
    C("inverse_batched", "inverse", f64(2, 3, 3)),
    C("inverse_1x1", "inverse", vals([[2.5]])),
    C("inverse_0x0", "inverse", f32(0, 0)),
    C("inverse_no_grad", "inverse", f64(2, 2, grad=False)),
    # --- det / slogdet ----------------------------------------------------------------------------
    C("det_f32", "det", vals(M3)),
    C("det_f64_random", "det", f64(3, 3)),
    C("det_batched", "det", f64(3, 2, 2)),
    C("det_singular_grad_zero", "det", vals(SINGULAR)),
    C("det_singular_in_batch", "det", vals([SINGULAR, [[1.0, 2.0], [3.0, 4.0]]])),
    C("det_0x0", "det", f64(0, 0)),
    C("slogdet_f32", "slogdet", vals(M3)),
    C("slogdet_negative_det", "slogdet", vals([[0.0, 1.0], [1.0, 0.0]], "float64")),
    C("slogdet_batched", "slogdet", f64(2, 3, 3)),
    C("slogdet_singular", "slogdet", vals(SINGULAR)),
    # --- solve --------------------------------------------------------------------------------------
    C("solve_matrix", "solve", vals(M3), f32(3, 2)),
    C("solve_vector", "solve", vals(M3), f32(3)),
    C("solve_f64_random", "solve", f64(3, 3), f64(3, 4)),
    C("solve_batched_vectors", "solve", f64(2, 3, 3), f64(2, 3)),
    C("solve_broadcast_vector", "solve", f64(2, 3, 3), f64(3)),
    C("solve_broadcast_batches", "solve", f64(3, 3), f64(2, 3, 2)),
    C("solve_left_false", "solve", vals(M3, "float64"), f64(2, 3), left=False),
    C("solve_b_without_grad", "solve", f64(2, 2), f64(2, grad=False)),
    C("solve_a_without_grad", "solve", f64(2, 2, grad=False), f64(2, 3)),
    # --- cholesky -----------------------------------------------------------------------------------
    C("cholesky_f32", "cholesky", vals(SPD3)),
    C("cholesky_upper", "cholesky", vals(SPD3, "float64"), upper=True),
    C("cholesky_batched", "cholesky", vals(SPD2_BATCH, "float64")),
    C("cholesky_reads_lower_triangle", "cholesky", vals([[4.0, 100.0], [1.0, 3.0]])),
    C("cholesky_1x1", "cholesky", vals([[9.0]], "float64")),
    # --- trace --------------------------------------------------------------------------------------
    C("trace_square", "trace", f32(3, 3)),
    C("trace_wide", "trace", f64(2, 4)),
    C("trace_tall", "trace", f32(4, 2)),
    C("trace_int", "trace", ints(3, 3)),
    C("trace_empty", "trace", f32(0, 3)),
    # --- einsum -------------------------------------------------------------------------------------
    C("einsum_matmul", "einsum", "ij,jk->ik", [f32(2, 3), f32(3, 4)]),
    C("einsum_matmul_f64", "einsum", "ij,jk->ik", [f64(3, 3), f64(3, 2)]),
    C("einsum_batch_matmul", "einsum", "bij,bjk->bik", [f32(2, 2, 3), f32(2, 3, 2)]),
    C("einsum_transpose", "einsum", "ij->ji", [f32(2, 3)]),
    C("einsum_trace", "einsum", "ii->", [f32(3, 3)]),
    C("einsum_diagonal", "einsum", "ii->i", [f32(3, 3)]),
    C("einsum_outer", "einsum", "i,j->ij", [f32(3), f32(2)]),
    C("einsum_sum_index", "einsum", "ij->i", [f32(2, 3)]),
    C("einsum_sum_all", "einsum", "ij->", [f32(2, 3)]),
    C("einsum_bilinear", "einsum", "bi,ij,bj->b", [f32(2, 3), f32(3, 4), f32(2, 4)]),
    C("einsum_dot", "einsum", "i,i->", [f32(4), f32(4)]),
    C("einsum_matvec", "einsum", "ij,j->i", [f32(2, 3), f32(3)]),
    C("einsum_implicit_output", "einsum", "ij,jk", [f32(2, 3), f32(3, 2)]),
    C("einsum_implicit_transpose", "einsum", "ji", [f32(2, 3)]),
    C("einsum_elementwise", "einsum", "ij,ij->ij", [f32(2, 3), f32(2, 3)]),
    C("einsum_broadcast_size1", "einsum", "ij,ij->i", [f32(2, 3), f32(1, 3)]),
    C("einsum_ellipsis_matmul", "einsum", "...ij,...jk->...ik", [f32(2, 2, 3), f32(3, 2)]),
    C("einsum_ellipsis_summed", "einsum", "...i,...i->...", [f32(4, 1, 3), f32(2, 3)]),
    C("einsum_outer_reversed", "einsum", "ij,jk->ki", [f32(2, 3), f32(3, 4)]),
    C("einsum_batch_outer", "einsum", "bi,bj->bij", [f32(2, 3), f32(2, 2)]),
    C("einsum_three_way_sum", "einsum", "i,i,i->", [f32(3), f32(3), f32(3)]),
    C("einsum_one_sided_sum", "einsum", "ij,jk->k", [f32(2, 3), f32(3, 2)]),
    C("einsum_repeated_with_batch", "einsum", "bii->b", [f32(2, 3, 3)]),
    C("einsum_spaces_uppercase", "einsum", " Ab , bc -> Ac ", [f32(2, 3), f32(3, 2)]),
    C("einsum_chain_output_reversed", "einsum", "ij,jk,kl->li", [f32(2, 3), f32(3, 4), f32(4, 2)]),
    C("einsum_interleaved_outputs", "einsum", "qsj,prj->pqrs", [f32(2, 3, 4), f32(2, 2, 4)]),
    C("einsum_three_operands_copying", "einsum", "abc,cd,de->eba", [f32(2, 3, 4), f32(4, 2), f32(2, 2)]),
    C("einsum_sum_both_first", "einsum", "ij,kl->", [f32(2, 3), f32(2, 2)]),
    C("einsum_broadcast_batch", "einsum", "bij,bjk->bik", [f32(1, 2, 3), f32(3, 3, 2)]),
    C("einsum_ellipsis_leading_labels", "einsum", "i...,i...->...", [f32(3, 2, 2), f32(3, 2)]),
    C("einsum_repeated_then_contracted", "einsum", "iij,jk->ik", [f32(3, 3, 2), f32(2, 2)]),
    C("einsum_empty_contraction", "einsum", "ij,jk->ik", [f32(2, 0), f32(0, 3)]),
    C("einsum_int", "einsum", "ij,jk->ik", [ints(2, 3), ints(3, 2)]),
    C("einsum_one_without_grad", "einsum", "ij,jk->ik", [f32(2, 3), f32(3, 2, grad=False)]),
]

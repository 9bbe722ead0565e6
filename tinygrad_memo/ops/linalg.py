"""Matrix product with numpy's rules: vectors, matrices and broadcast batched stacks."""

from __future__ import annotations

import numpy as np

from ..function import Function
from .shape import sum_to


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        a_shape, b_shape = a.shape, b.shape
        if not a_shape or not b_shape:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got {a_shape} and {b_shape}")
        k_a = a_shape[-1]
        k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
        if k_a != k_b:
            raise ValueError(
                f"matmul: shapes {a_shape} and {b_shape} are not aligned: "
                f"{k_a} (last dim of a) != {k_b} ({'dim 0' if len(b_shape) == 1 else 'dim -2'} of b)"
            )
        try:
            out = np.matmul(a, b)
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions of shapes {a_shape} and {b_shape} cannot be broadcast"
            ) from None
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:  # dot product: g is a scalar
            return (g * b if na else None), (g * a if nb else None)
        # a vector operand is a one-row (a) or one-column (b) matrix; g gets that axis back
        a2 = a.reshape((1, a.shape[0])) if a.ndim == 1 else a
        b2 = b.reshape((b.shape[0], 1)) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = g2.reshape(g2.shape[:-1] + (1, g2.shape[-1]))
        if b.ndim == 1:
            g2 = g2.reshape(g2.shape + (1,))
        ga = gb = None
        if na:
            ga = g2 @ b2.swapaxes(-1, -2)
            if a.ndim == 1:
                ga = sum_to(ga, a2.shape, "matmul").reshape(a.shape)
        if nb:
            gb = a2.swapaxes(-1, -2) @ g2
            if b.ndim == 1:
                gb = sum_to(gb, b2.shape, "matmul").reshape(b.shape)
        return ga, gb

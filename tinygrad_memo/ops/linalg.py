"""Matrix product with numpy's rules: vectors, matrices and broadcast batched stacks."""

from __future__ import annotations

import numpy as np

from ..function import Function
from .shape import sum_to


class MatMul(Function, name="matmul"):
    ufunc = np.matmul

    @staticmethod
    def forward(ctx, a, b):
        if type(a) is not np.ndarray:  # a plain list or number on one side
            a = np.asarray(a)
        if type(b) is not np.ndarray:
            b = np.asarray(b)
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


class Linear(Function, name="linear"):
    """``x @ weight.T + bias`` (weight of shape (out, in)) as one op, like PyTorch's
    addmm: one node instead of transpose, matmul and add."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        if x.ndim < 1 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape} "
                "(expected input (..., in_features) and weight (out_features, in_features))"
            )
        if bias is not None and np.shape(bias) not in ((weight.shape[0],), ()):
            raise ValueError(
                f"linear: bias of shape {np.shape(bias)} does not fit weight of shape "
                f"{weight.shape} (expected ({weight.shape[0]},))"
            )
        ctx.save_for_backward(x, weight)
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        gx = g @ w if nx else None
        gw = gb = None
        if nw or nb:
            g2 = g if g.ndim == 2 else g.reshape((-1, g.shape[-1]))
            if nw:
                gw = g2.T @ (x if x.ndim == 2 else x.reshape((-1, x.shape[-1])))
            if nb:
                gb = g2.sum(axis=0)
        return gx, gw, gb

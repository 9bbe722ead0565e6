"""Fused losses: one op where the composed form would be several (as PyTorch does)."""

from __future__ import annotations

import numpy as np

from ..function import Function


class CrossEntropy(Function, name="cross_entropy"):
    """Softmax cross-entropy of logits (N, C) or (C,) against integer classes, with
    ``reduction`` "mean" | "sum" | "none". Forward is the stable log-softmax picked at
    the targets; the derivative is ``(softmax(x) - onehot(target)) * g``."""

    @staticmethod
    def forward(ctx, x, target, reduction="mean"):
        m = x.max(axis=-1, keepdims=True)
        shifted = x - m
        logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        onehot = np.zeros_like(x)
        if x.ndim == 1:
            onehot[target] = 1
            losses = -logp[target]
        else:
            rows = np.arange(x.shape[0])
            onehot[rows, target] = 1
            losses = -logp[rows, target]  # picked, not multiplied: -inf logits (masked) stay finite
        ctx.save_for_backward(x)
        ctx.m, ctx.onehot, ctx.reduction = m, onehot, reduction
        ctx.n = max(losses.size, 1)
        if reduction == "mean":
            return losses.mean()
        return losses.sum() if reduction == "sum" else losses

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        e = np.exp(x - ctx.m)  # softmax again, from the saved input (a graph node under create_graph)
        d = e / e.sum(axis=-1, keepdims=True) - ctx.onehot
        if ctx.reduction == "mean":
            return d * (g / ctx.n), None
        if ctx.reduction == "sum" or d.ndim == 1:
            return d * g, None
        return d * g.reshape((-1, 1)), None

    @staticmethod
    def jvp(ctx, tx, *_):
        """Each loss depends on its own row of logits only: its tangent is the row's
        gradient (the backward rule at a unit seed) dotted with the row's tangent."""
        if tx is None:
            return None
        (x,) = ctx.saved_tensors
        per_row = ctx.reduction == "none"
        seed = np.ones(x.shape[:-1] if per_row else (), dtype=x.dtype)
        out = (CrossEntropy.backward(ctx, seed)[0] * tx).sum(axis=-1 if per_row else None)
        return np.asarray(out) if isinstance(out, np.generic) else out

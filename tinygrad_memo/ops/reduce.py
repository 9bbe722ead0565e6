"""Reductions over an axis (int, tuple or None), with keepdims, and the softmaxes."""

from __future__ import annotations

import numpy as np

from ..function import Function
from .shape import expand


def normalize_axes(axis, ndim: int, op: str, shape) -> tuple:
    """``axis`` as a sorted tuple of non-negative axes, or an AxisError naming the op."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple | list) else (axis,)
    out = []
    for ax in axes:
        if isinstance(ax, bool | np.bool_):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {ax!r}")
        if not isinstance(ax, int | np.integer) or not -ndim <= ax < ndim:
            raise np.exceptions.AxisError(
                f"{op}: axis {ax!r} is out of range for a tensor of shape {tuple(shape)}"
            )
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def one_axis(axis, ndim: int, op: str, shape) -> int:
    """A single axis (softmax and log_softmax), or an error naming the op."""
    if not isinstance(axis, int | np.integer):
        raise TypeError(f"{op}: axis must be one int, got {axis!r} (tensor shape {tuple(shape)})")
    return normalize_axes(axis, ndim, op, shape)[0]


def _kept(shape, axes) -> tuple:
    """The shape with the reduced axes kept as size 1."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


class Sum(Function, name="sum"):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axes(axis, a.ndim, "sum", a.shape)
        ctx.shape, ctx.kept = a.shape, _kept(a.shape, axes)
        return np.sum(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return expand(g.reshape(ctx.kept), ctx.shape)


class Mean(Function, name="mean"):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axes(axis, a.ndim, "mean", a.shape)
        ctx.shape, ctx.kept = a.shape, _kept(a.shape, axes)
        ctx.n = int(np.prod([a.shape[i] for i in axes]))
        return np.mean(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return expand(g.reshape(ctx.kept) / ctx.n, ctx.shape)


def _extreme(ctx, a, axis, keepdims, op, f):
    axes = normalize_axes(axis, a.ndim, op, a.shape)
    if a.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {a.shape}")
    m = f(a, axis=axes, keepdims=True)
    hit = a == m
    nan = m != m
    if nan.any():  # a NaN wins (numpy propagates it): the gradient goes to the NaN, as PyTorch
        hit = np.where(nan, a != a, hit)
    hit = hit.astype(a.dtype if a.dtype.kind == "f" else np.float32)
    ctx.weight = hit / hit.sum(axis=axes, keepdims=True)  # ties share equally
    ctx.kept = m.shape
    return m if keepdims else m.reshape([s for i, s in enumerate(a.shape) if i not in axes])


class Max(Function, name="max"):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        return _extreme(ctx, a, axis, keepdims, "max", np.max)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.kept) * ctx.weight


class Min(Max, name="min"):  # Max's derivative rule: the gradient goes to the (tied) extremes
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        return _extreme(ctx, a, axis, keepdims, "min", np.min)


class Softmax(Function, name="softmax"):
    @staticmethod
    def forward(ctx, a, axis=-1):
        ax = one_axis(axis, a.ndim, "softmax", a.shape)
        if a.size == 0:  # nothing to normalize (as PyTorch: an empty result)
            ctx.axis = ax
            ctx.save_for_backward(np.zeros_like(a))
            return np.zeros_like(a)
        e = np.exp(a - a.max(axis=ax, keepdims=True))
        out = e / e.sum(axis=ax, keepdims=True)
        ctx.axis = ax
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return out * (g - (g * out).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function, name="log_softmax"):
    @staticmethod
    def forward(ctx, a, axis=-1):
        ax = one_axis(axis, a.ndim, "log_softmax", a.shape)
        if a.size == 0:  # nothing to normalize (as PyTorch: an empty result)
            ctx.axis = ax
            ctx.save_for_backward(np.zeros_like(a))
            return np.zeros_like(a)
        shifted = a - a.max(axis=ax, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=ax, keepdims=True))
        ctx.axis = ax
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g - np.exp(out) * g.sum(axis=ctx.axis, keepdims=True)

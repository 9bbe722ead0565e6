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


def _reduced(x):
    """A reduction's result as an array (numpy gives a scalar for a 0-d one), or the node."""
    return np.asarray(x) if isinstance(x, np.generic) else x


class Sum(Function, name="sum"):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axes(axis, a.ndim, "sum", a.shape)
        ctx.shape, ctx.kept, ctx.axes, ctx.keepdims = a.shape, _kept(a.shape, axes), axes, keepdims
        return np.sum(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return expand(g.reshape(ctx.kept), ctx.shape)

    @staticmethod
    def jvp(ctx, t):
        return None if t is None else _reduced(t.sum(axis=ctx.axes, keepdims=ctx.keepdims))


class Mean(Function, name="mean"):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axes(axis, a.ndim, "mean", a.shape)
        ctx.shape, ctx.kept, ctx.axes, ctx.keepdims = a.shape, _kept(a.shape, axes), axes, keepdims
        ctx.n = int(np.prod([a.shape[i] for i in axes]))
        return np.mean(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return expand(g.reshape(ctx.kept) / ctx.n, ctx.shape)

    @staticmethod
    def jvp(ctx, t):
        return None if t is None else _reduced(t.sum(axis=ctx.axes, keepdims=ctx.keepdims) / ctx.n)


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
    ctx.kept, ctx.axes, ctx.keepdims = m.shape, axes, keepdims
    return m if keepdims else m.reshape([s for i, s in enumerate(a.shape) if i not in axes])


class Max(Function, name="max"):
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        return _extreme(ctx, a, axis, keepdims, "max", np.max)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.kept) * ctx.weight

    @staticmethod
    def jvp(ctx, t):  # the weighted mean of the tangents at the (tied) extremes
        if t is None:
            return None
        return _reduced((t * ctx.weight).sum(axis=ctx.axes, keepdims=ctx.keepdims))


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

    @staticmethod
    def jvp(ctx, t):  # the Jacobian diag(s) - s s^T is symmetric: the backward rule again
        return None if t is None else Softmax.backward(ctx, t)


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

    @staticmethod
    def jvp(ctx, t):  # the Jacobian I - 1 s^T, applied from the right
        if t is None:
            return None
        (out,) = ctx.saved_tensors
        return t - (np.exp(out) * t).sum(axis=ctx.axis, keepdims=True)


# -- more reductions and scans (issue 12) ----------------------------------------------------------
def _count(shape, axes) -> int:
    return int(np.prod([shape[i] for i in axes]))


def _centered(a, axes):
    """a - mean(a) over ``axes``: recomputed from ``a`` (an array, or a node under
    create_graph, so that the second derivative sees the mean move)."""
    return a - a.mean(axis=axes, keepdims=True)


class Var(Function, name="var"):
    """Variance over ``axis`` with ``ddof`` (numpy's; PyTorch's ``correction``)."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False, ddof=0):
        axes = normalize_axes(axis, a.ndim, "var", a.shape)
        ctx.axes, ctx.kept, ctx.keepdims = axes, _kept(a.shape, axes), keepdims
        n = _count(a.shape, axes) - ddof
        ctx.scale = 2.0 / n if n > 0 else np.nan  # (numpy warns of the forward's inf or nan)
        ctx.save_for_backward(a)
        return np.var(a, axis=axes, keepdims=keepdims, ddof=ddof)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g.reshape(ctx.kept) * _centered(a, ctx.axes) * ctx.scale

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        (a,) = ctx.saved_tensors
        return (_centered(a, ctx.axes) * t).sum(axis=ctx.axes, keepdims=ctx.keepdims) * ctx.scale


class Std(Function, name="std"):
    """Standard deviation over ``axis`` with ``ddof``; its gradient is 0 where it is 0
    (as PyTorch's)."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False, ddof=0):
        axes = normalize_axes(axis, a.ndim, "std", a.shape)
        ctx.axes, ctx.kept, ctx.keepdims = axes, _kept(a.shape, axes), keepdims
        ctx.n = _count(a.shape, axes) - ddof
        out = np.asarray(np.std(a, axis=axes, keepdims=keepdims, ddof=ddof))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def _inverse(ctx, out):
        """1 / (n * out), and 0 where out is 0 (no spread: no direction to move in)."""
        zero = (out if isinstance(out, np.ndarray) else out.data) == 0
        return ~zero / ((out + zero) * ctx.n)  # (a bool numerator keeps the dtype)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        return g.reshape(ctx.kept) * _centered(a, ctx.axes) * Std._inverse(ctx, out.reshape(ctx.kept))

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        a, out = ctx.saved_tensors
        s = (_centered(a, ctx.axes) * t).sum(axis=ctx.axes, keepdims=ctx.keepdims)
        return s * Std._inverse(ctx, out)


def _to_last(a, axes):
    """``a`` with the ``axes`` moved to the end and merged into one (and the way back)."""
    rest = [i for i in range(a.ndim) if i not in axes]
    perm = tuple(rest + list(axes))
    inverse = tuple(np.argsort(perm).tolist())
    moved_shape = tuple(a.shape[i] for i in perm)
    m = _count(a.shape, axes)
    flat = a.transpose(perm).reshape(tuple(a.shape[i] for i in rest) + (m,))
    return flat, lambda x: x.reshape(moved_shape).transpose(inverse)


def _prod_others(a, axes):
    """For every element, the product of the other elements of its slice over ``axes``:
    exact with zeros. On arrays by exclusive cumulative products (O(n)); on graph
    nodes (create_graph) as the product over an (m, m) block with a unit diagonal,
    so that it is differentiable again, zeros included."""
    flat, back = _to_last(a, axes)
    m = flat.shape[-1]
    if m == 0:
        return a * 0
    if isinstance(a, np.ndarray):
        ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        return back(left * right)
    from .elementwise import Where  # (a module of this package that imports nothing of it)

    block = flat.reshape(flat.shape[:-1] + (1, m)).expand(flat.shape[:-1] + (m, m))
    block = Where.apply(np.eye(m, dtype=bool), 1.0, block)
    return back(Prod.apply(block, axis=-1))


class Prod(Function, name="prod"):
    """Product over ``axis``; the gradient is exact where elements are zero."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axes(axis, a.ndim, "prod", a.shape)
        ctx.axes, ctx.kept, ctx.keepdims = axes, _kept(a.shape, axes), keepdims
        ctx.save_for_backward(a)
        return np.prod(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g.reshape(ctx.kept) * _prod_others(a, ctx.axes)

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        (a,) = ctx.saved_tensors
        return (_prod_others(a, ctx.axes) * t).sum(axis=ctx.axes, keepdims=ctx.keepdims)


class LogSumExp(Function, name="logsumexp"):
    """log(sum(exp(a))) over ``axis``, computed stably; its gradient is the softmax."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axes(axis, a.ndim, "logsumexp", a.shape)
        ctx.axes, ctx.kept, ctx.keepdims = axes, _kept(a.shape, axes), keepdims
        m = np.max(a, axis=axes, keepdims=True) if a.size else np.zeros(ctx.kept, a.dtype)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(a - m), axis=axes, keepdims=True)) + m
        out = np.asarray(out if keepdims else out.reshape([s for i, s in enumerate(a.shape)
                                                           if i not in axes]))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        return g.reshape(ctx.kept) * np.exp(a - out.reshape(ctx.kept))

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        a, out = ctx.saved_tensors
        return (np.exp(a - out.reshape(ctx.kept)) * t).sum(axis=ctx.axes, keepdims=ctx.keepdims)


def cumsum(x, axis: int):
    """np.cumsum on an array, the Cumsum op on a node."""
    if isinstance(x, np.ndarray | np.generic):
        return np.cumsum(x, axis=axis)
    return Cumsum.apply(x, axis=axis)


def _reverse_cumsum(g, axis: int):
    from .shape import flip

    return flip(cumsum(flip(g, axis), axis), axis)


class Cumsum(Function, name="cumsum"):
    """Cumulative sum along ``axis`` (numpy's: ``axis=None`` runs over the flattened
    array); the gradient is the reversed cumulative sum."""

    @staticmethod
    def forward(ctx, a, axis=None):
        ctx.shape = a.shape
        if axis is None:
            ctx.axis = None
            return np.cumsum(a.reshape(-1))
        ctx.axis = one_axis(axis, max(a.ndim, 1), "cumsum", a.shape)
        return np.cumsum(a.reshape(a.shape or (1,)), axis=ctx.axis).reshape(a.shape)

    @staticmethod
    def backward(ctx, g):
        if ctx.axis is None:
            return _reverse_cumsum(g, 0).reshape(ctx.shape)
        return _reverse_cumsum(g.reshape(ctx.shape or (1,)), ctx.axis).reshape(ctx.shape)

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        if ctx.axis is None:
            return cumsum(t.reshape(-1), 0)
        return cumsum(t.reshape(ctx.shape or (1,)), ctx.axis).reshape(ctx.shape)

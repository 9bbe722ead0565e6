"""Shape ops, and ``sum_to``: the one place where broadcasting is undone.

``sum_to`` and ``expand`` are each other's derivative; both work on numpy arrays
(the fast first-order pass) and on Tensors (``create_graph=True``).
"""

from __future__ import annotations

import numpy as np

from ..function import Function


def sum_to(g, shape: tuple, op: str = "sum_to"):
    """Sum a broadcast gradient ``g`` back to ``shape`` (numpy's broadcasting undone).

    >>> import numpy as np
    >>> sum_to(np.ones((4, 2, 3)), (2, 1)).tolist()
    [[12.0], [12.0]]
    """
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    if lead < 0 or any(s != 1 and s != gs for s, gs in zip(shape, gshape[lead:])):
        raise ValueError(f"{op}: a gradient of shape {gshape} cannot be summed to shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and gshape[lead + i] != 1
    )
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def expand(g, shape: tuple):
    """Broadcast ``g`` to ``shape``: a read-only numpy view, or the Expand op on a Tensor."""
    if isinstance(g, np.ndarray | np.generic):
        return np.broadcast_to(g, shape)
    return Expand.apply(g, shape=shape)


class Expand(Function, name="expand"):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"expand: shape {a.shape} cannot be broadcast to {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.shape, "expand")


class Reshape(Function, name="reshape"):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except (ValueError, TypeError):
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) "
                f"into shape {tuple(shape)}"
            ) from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Transpose(Function, name="transpose"):
    @staticmethod
    def forward(ctx, a, axes=None):
        if axes is None:  # reversing the axes is its own inverse
            ctx.inverse = None
            return a.transpose()
        n = a.ndim
        norm = [x % n if isinstance(x, int | np.integer) and -n <= x < n else None for x in axes]
        if len(norm) != n or sorted(x for x in norm if x is not None) != list(range(n)):
            raise ValueError(
                f"transpose: axes {tuple(axes)} are not a permutation of the "
                f"{n} axes of a tensor of shape {a.shape}"
            )
        inverse = [0] * n
        for i, x in enumerate(norm):
            inverse[x] = i
        ctx.inverse = tuple(inverse)
        return a.transpose(norm)

    @staticmethod
    def backward(ctx, g):
        if ctx.inverse is None:  # g.transpose() reverses both arrays and Tensors
            return g.transpose()
        return g.transpose(ctx.inverse)


def _is_basic(index) -> bool:
    """Basic indexing (ints, slices, None, ...): no element is picked twice."""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or isinstance(i, int | slice | np.integer)
        or (isinstance(i, np.ndarray) and i.dtype == bool)
        for i in items
    )


def scatter_add(g, index, shape: tuple, dtype):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated indices accumulate)."""
    if isinstance(g, np.ndarray | np.generic):
        z = np.zeros(shape, dtype=dtype)
        if _is_basic(index):
            z[index] = g
        else:
            np.add.at(z, index, g)
        return z
    return IndexAdd.apply(g, index=index, shape=shape)


class GetItem(Function, name="getitem"):
    @staticmethod
    def forward(ctx, a, index):
        try:
            out = a[index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor shape {a.shape}, index {index!r})") from None
        ctx.index, ctx.shape, ctx.dtype = index, a.shape, a.dtype
        return np.asarray(out)

    @staticmethod
    def backward(ctx, g):
        return scatter_add(g, ctx.index, ctx.shape, ctx.dtype)


class IndexAdd(Function, name="index_add"):
    """zeros(shape) with ``g`` added at ``index``: the derivative of getitem."""

    @staticmethod
    def forward(ctx, g, index, shape):
        ctx.index = index
        return scatter_add(g, index, shape, g.dtype)

    @staticmethod
    def backward(ctx, gg):
        return gg[ctx.index]


class Concatenate(Function, name="concatenate"):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        try:
            out = np.concatenate(arrays, axis=axis)
        except (ValueError, np.exceptions.AxisError):
            shapes = ", ".join(str(np.shape(a)) for a in arrays)
            raise ValueError(f"concatenate: cannot join shapes {shapes} along axis {axis}") from None
        ax = axis % out.ndim
        bounds = np.cumsum([0] + [np.shape(a)[ax] for a in arrays])
        ctx.slices = [
            (slice(None),) * ax + (slice(int(lo), int(hi)),) for lo, hi in zip(bounds, bounds[1:])
        ]
        return out

    @staticmethod
    def backward(ctx, g):
        return tuple(g[s] for s in ctx.slices)


class Stack(Function, name="stack"):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        try:
            out = np.stack(arrays, axis=axis)
        except (ValueError, np.exceptions.AxisError):
            shapes = ", ".join(str(np.shape(a)) for a in arrays)
            raise ValueError(f"stack: cannot stack shapes {shapes} along axis {axis}") from None
        ax = axis % out.ndim
        ctx.picks = [(slice(None),) * ax + (i,) for i in range(len(arrays))]
        return out

    @staticmethod
    def backward(ctx, g):
        return tuple(g[p] for p in ctx.picks)


class Clone(Function, name="clone"):
    """A copy of the data in a new node (the gradient passes through unchanged)."""

    @staticmethod
    def forward(ctx, a):
        return np.array(a, copy=True)

    @staticmethod
    def backward(ctx, g):
        return g

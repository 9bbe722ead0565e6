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
            out = np.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"expand: shape {a.shape} cannot be broadcast to {tuple(shape)}") from None
        ctx.target = out.shape
        return out

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.shape, "expand")

    @staticmethod
    def jvp(ctx, t):
        return None if t is None else expand(t, ctx.target)


class Reshape(Function, name="reshape"):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        try:
            out = a.reshape(shape)
        except (ValueError, TypeError):
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) "
                f"into shape {tuple(shape)}"
            ) from None
        ctx.target = out.shape
        return out

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)

    @staticmethod
    def jvp(ctx, t):
        return None if t is None else t.reshape(ctx.target)


class Transpose(Function, name="transpose"):
    @staticmethod
    def forward(ctx, a, axes=None):
        if axes is None:  # reversing the axes is its own inverse
            ctx.inverse = ctx.axes = None
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
        ctx.inverse, ctx.axes = tuple(inverse), tuple(norm)
        return a.transpose(norm)

    @staticmethod
    def backward(ctx, g):
        if ctx.inverse is None:  # g.transpose() reverses both arrays and Tensors
            return g.transpose()
        return g.transpose(ctx.inverse)

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        return t.transpose() if ctx.axes is None else t.transpose(ctx.axes)


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


def _picked(t, index):
    """``t[index]``: an array (never a numpy scalar) or a node."""
    out = t[index]
    return np.asarray(out) if isinstance(out, np.generic) else out


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

    @staticmethod
    def jvp(ctx, t):
        return None if t is None else _picked(t, ctx.index)


class IndexAdd(Function, name="index_add"):
    """zeros(shape) with ``g`` added at ``index``: the derivative of getitem."""

    @staticmethod
    def forward(ctx, g, index, shape):
        ctx.index, ctx.shape = index, shape
        return scatter_add(g, index, shape, g.dtype)

    @staticmethod
    def backward(ctx, gg):
        return gg[ctx.index]

    @staticmethod
    def jvp(ctx, t):
        return None if t is None else scatter_add(t, ctx.index, ctx.shape, t.dtype)


def _join_tangent(ctx, tangents, join, op):
    """The jvp of a join (concatenate, stack): the same join of the tangents, zeros of
    the input's shape (the call's argument) standing for a missing one; None if all are."""
    present = [t for t in tangents if t is not None]
    if not present:
        return None
    dtype = present[0].dtype
    parts = [np.zeros(getattr(a, "shape", ()), dtype) if t is None else t
             for t, a in zip(tangents, ctx.call_args)]
    axis = ctx.call_kwargs.get("axis", 0)
    if all(isinstance(p, np.ndarray) for p in parts):
        return join(parts, axis=axis)
    return op.apply(*parts, axis=axis)


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

    @staticmethod
    def jvp(ctx, *tangents):
        return _join_tangent(ctx, tangents, np.concatenate, Concatenate)


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

    @staticmethod
    def jvp(ctx, *tangents):
        return _join_tangent(ctx, tangents, np.stack, Stack)


class Clone(Function, name="clone"):
    """A copy of the data in a new node (the gradient passes through unchanged)."""

    @staticmethod
    def forward(ctx, a):
        return np.array(a, copy=True)

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        return t


# -- more shape and data movement (issue 12) -------------------------------------------------------
def _axes(axis, ndim: int, op: str, shape) -> tuple:
    """``axis`` (int, tuple or None = all) as a tuple of non-negative axes."""
    from .reduce import normalize_axes  # (reduce imports this module)

    return normalize_axes(axis, ndim, op, shape)


def _reversed_index(axes, ndim: int) -> tuple:
    """The basic index that reverses ``axes``: works on arrays and nodes alike."""
    return tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(ndim))


def flip(x, axis):
    """``x`` reversed along ``axis`` (an int or a tuple), on an array or a node."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    return x[_reversed_index(tuple(a % max(x.ndim, 1) for a in axes), x.ndim)]


class Flip(Function, name="flip"):
    """Reverse the order of elements along ``axis`` (numpy's ``flip``; None: all axes)."""

    @staticmethod
    def forward(ctx, a, axis=None):
        ctx.index = _reversed_index(_axes(axis, a.ndim, "flip", a.shape), a.ndim)
        return a[ctx.index]

    @staticmethod
    def backward(ctx, g):
        return g[ctx.index]

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        return t[ctx.index]


def _repeat_index(a, repeats, axis, op: str):
    """The integer index along ``axis`` that ``np.repeat`` reads (its gradient adds back)."""
    n = a.shape[axis]
    r = np.asarray(repeats)
    if r.dtype.kind not in "iu" or r.ndim > 1 or (r.ndim == 1 and r.shape[0] != n) or (r < 0).any():
        raise ValueError(f"{op}: repeats must be a non-negative int or one per element "
                         f"({n} along the axis), got {repeats!r} (tensor shape {a.shape})")
    return np.repeat(np.arange(n), r)


class Repeat(Function, name="repeat"):
    """numpy's ``repeat``: each element ``repeats`` times along ``axis`` (None: the
    flattened array). PyTorch's ``repeat`` is :class:`Tile`."""

    @staticmethod
    def forward(ctx, a, repeats, axis=None):
        ctx.shape = a.shape
        if axis is None:
            ctx.index = (_repeat_index(a.reshape(-1), repeats, 0, "repeat"),)
            ctx.flat_shape = (a.size,)
            return a.reshape(-1)[ctx.index]
        ax = _axes(axis, a.ndim, "repeat", a.shape)
        if len(ax) != 1:
            raise TypeError(f"repeat: axis must be one int or None, got {axis!r}")
        ctx.index = (slice(None),) * ax[0] + (_repeat_index(a, repeats, ax[0], "repeat"),)
        ctx.flat_shape = a.shape
        return a[ctx.index]

    @staticmethod
    def backward(ctx, g):
        return scatter_add(g, ctx.index, ctx.flat_shape, g.dtype).reshape(ctx.shape)

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        return t.reshape(ctx.flat_shape)[ctx.index]


class Tile(Function, name="tile"):
    """numpy's ``tile`` (PyTorch's ``repeat``): the whole tensor ``reps`` times along
    each axis; the gradient sums the copies."""

    @staticmethod
    def forward(ctx, a, reps):
        reps = (reps,) if isinstance(reps, int | np.integer) else tuple(reps)
        if any(not isinstance(r, int | np.integer) or r < 0 for r in reps):
            raise ValueError(f"tile: reps must be non-negative ints, got {reps!r}")
        d = max(a.ndim, len(reps))
        shape = (1,) * (d - a.ndim) + a.shape
        reps = (1,) * (d - len(reps)) + reps
        ctx.shape, ctx.reps = a.shape, reps
        ctx.pairs = tuple(x for rs in zip(reps, shape) for x in rs)  # (r0, s0, r1, s1, ...)
        ctx.summed = tuple(range(0, 2 * d, 2))
        return np.tile(a, reps)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.pairs).sum(axis=ctx.summed).reshape(ctx.shape)

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        return tile(t, ctx.reps)


def tile(x, reps):
    """np.tile on an array, the Tile op on a node."""
    if isinstance(x, np.ndarray | np.generic):
        return np.tile(x, reps)
    return Tile.apply(x, reps=reps)


def roll(x, shift, axis):
    """np.roll on an array, the Roll op on a node."""
    if isinstance(x, np.ndarray | np.generic):
        return np.roll(x, shift, axis)
    return Roll.apply(x, shift=shift, axis=axis)


class Roll(Function, name="roll"):
    """numpy's ``roll``: elements shifted by ``shift`` along ``axis`` (None: the
    flattened array), wrapping around; the gradient rolls back."""

    @staticmethod
    def forward(ctx, a, shift, axis=None):
        if axis is not None:
            axes = axis if isinstance(axis, tuple | list) else (axis,)
            for ax in axes:
                _axes(ax, a.ndim, "roll", a.shape)
        try:
            out = np.roll(a, shift, axis)
        except ValueError as e:
            raise ValueError(f"roll: {e} (shift {shift!r}, axis {axis!r})") from None
        ctx.shift, ctx.axis = shift, axis
        ctx.back = tuple(-s for s in shift) if isinstance(shift, tuple | list) else -shift
        return out

    @staticmethod
    def backward(ctx, g):
        return roll(g, ctx.back, ctx.axis)

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        return roll(t, ctx.shift, ctx.axis)


def _matrix_axes(a, op: str):
    if a.ndim < 2:
        raise ValueError(f"{op}: needs at least 2 dimensions (a matrix or a stack), got shape {a.shape}")


class Tril(Function, name="tril"):
    """The lower triangle of the last two axes, on and below diagonal ``k`` (numpy's
    ``k``, PyTorch's ``diagonal``); zeros above."""

    @staticmethod
    def _mask(n, m, k):
        return np.tri(n, m, k, dtype=bool)

    @classmethod
    def forward(cls, ctx, a, k=0):
        _matrix_axes(a, cls.name)
        ctx.mask = cls._mask(a.shape[-2], a.shape[-1], int(k))
        return np.where(ctx.mask, a, np.zeros((), a.dtype))

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        return t * ctx.mask


class Triu(Tril, name="triu"):
    """The upper triangle of the last two axes, on and above diagonal ``k``; zeros below."""

    @staticmethod
    def _mask(n, m, k):
        return ~np.tri(n, m, k - 1, dtype=bool)


def _diagonal_index(shape, offset, axis1, axis2):
    """(perm, index): the diagonal is ``a.transpose(perm)[index]``, as np.diagonal gives it."""
    n, m = shape[axis1], shape[axis2]
    rows = np.arange(max(0, -offset), max(0, min(n, m - offset)))
    perm = tuple(i for i in range(len(shape)) if i not in (axis1, axis2)) + (axis1, axis2)
    return perm, (Ellipsis, rows, rows + offset)


def _two_axes(a, axis1, axis2, op):
    ax1 = _axes(axis1, a.ndim, op, a.shape)[0]
    ax2 = _axes(axis2, a.ndim, op, a.shape)[0]
    if ax1 == ax2:
        raise ValueError(f"{op}: axis1 and axis2 cannot be the same ({axis1}, {axis2})")
    return ax1, ax2


class Diagonal(Function, name="diagonal"):
    """numpy's ``diagonal(offset, axis1, axis2)``: the diagonal as the last axis."""

    @staticmethod
    def forward(ctx, a, offset=0, axis1=0, axis2=1):
        _matrix_axes(a, "diagonal")
        ax1, ax2 = _two_axes(a, axis1, axis2, "diagonal")
        perm, index = _diagonal_index(a.shape, int(offset), ax1, ax2)
        ctx.perm, ctx.index = perm, index
        ctx.inverse = tuple(np.argsort(perm).tolist())
        ctx.moved = tuple(a.shape[i] for i in perm)
        return np.diagonal(a, offset, ax1, ax2).copy()

    @staticmethod
    def backward(ctx, g):
        return scatter_add(g, ctx.index, ctx.moved, g.dtype).transpose(ctx.inverse)

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        return t.transpose(ctx.perm)[ctx.index]


class Trace(Function, name="trace"):
    """numpy's ``trace(offset, axis1, axis2)``: the sum of a diagonal."""

    @staticmethod
    def forward(ctx, a, offset=0, axis1=0, axis2=1):
        _matrix_axes(a, "trace")
        ax1, ax2 = _two_axes(a, axis1, axis2, "trace")
        mask = np.eye(a.shape[ax1], a.shape[ax2], int(offset), dtype=bool)
        lo, hi = sorted((ax1, ax2))
        if ax1 > ax2:
            mask = mask.T
        ctx.mask = mask.reshape(tuple(s if i in (lo, hi) else 1 for i, s in enumerate(a.shape)))
        ctx.kept = tuple(1 if i in (lo, hi) else s for i, s in enumerate(a.shape))
        ctx.axes = (lo, hi)
        return np.asarray(np.trace(a, offset, ax1, ax2))

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.kept) * ctx.mask

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        return (t * ctx.mask).sum(axis=ctx.axes)


def _gather_index(a, axis, index):
    """The full numpy index that PyTorch's ``gather(axis, index)`` reads."""
    index = np.asarray(index)
    if a.ndim == 0:
        raise ValueError("gather: needs a tensor of at least 1 dimension, got a 0-d one")
    ax = _axes(axis, a.ndim, "gather", a.shape)[0]
    if index.dtype.kind not in "iu":
        raise TypeError(f"gather: index must be integers, got dtype {index.dtype}")
    if index.ndim != a.ndim:
        raise ValueError(f"gather: index of shape {index.shape} must have as many dimensions "
                         f"as the tensor of shape {a.shape}")
    if any(index.shape[d] > a.shape[d] for d in range(a.ndim) if d != ax):
        raise ValueError(f"gather: index of shape {index.shape} is larger than the tensor "
                         f"of shape {a.shape} outside axis {ax}")
    if index.size and (index.min() < 0 or index.max() >= a.shape[ax]):
        raise IndexError(f"gather: index out of range [0, {a.shape[ax]}) along axis {ax} "
                         f"(tensor shape {a.shape}, index values {index.min()}..{index.max()})")
    grid = np.ogrid[tuple(slice(0, s) for s in index.shape)]
    return tuple(index if d == ax else grid[d] for d in range(a.ndim))


class Gather(Function, name="gather"):
    """PyTorch's ``gather``: ``out[i][j] = a[index[i][j]][j]`` for axis 0, and so on;
    repeated indices add their gradients."""

    @staticmethod
    def forward(ctx, a, axis, index):
        ctx.index = _gather_index(a, axis, index)
        ctx.shape = a.shape
        return a[ctx.index]

    @staticmethod
    def backward(ctx, g):
        return scatter_add(g, ctx.index, ctx.shape, g.dtype)

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        return t[ctx.index]


class AsType(Function, name="astype"):
    """The data in another floating-point dtype; the gradient comes back in the input's."""

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype, ctx.out_dtype = a.dtype, np.dtype(dtype)
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype)

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        return t.astype(ctx.out_dtype)

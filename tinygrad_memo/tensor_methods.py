"""More Tensor methods (issue 12): reductions and scans, shape and data movement,
conversions. :class:`~tinygrad_memo.tensor.Tensor` inherits them; each is a thin
call of a registry op (``ops/``), where its forward and derivative live.

The API speaks numpy where numpy and PyTorch disagree (``repeat`` and ``split``
are numpy's, ``tile`` tiles as PyTorch's ``repeat`` does), and follows PyTorch
where numpy has no such function (``chunk``, ``gather``). A PyTorch spelling
the library does not use (``dim=``, ``keepdim=``, ``.view``) raises an error that
names the one to use.
"""

from __future__ import annotations

import math

import numpy as np

from .ops import reduce as _reduce
from .ops import shape as _shape
from .spelling import METHODS, add_torch_hints, missing_attribute

__all__ = ["TensorMethods"]


def _shape_args(shape: tuple) -> tuple:
    """Accept f(2, 3) and f((2, 3)) alike."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        return tuple(shape[0])
    return tuple(shape)


def _one_axis(axis, ndim: int, op: str, shape) -> int:
    return _reduce.one_axis(axis, ndim, op, shape)


class TensorMethods:
    """The methods of this module, as a base class of ``Tensor`` (no state of its own).

    >>> import tinygrad_memo as tm
    >>> isinstance(tm.Tensor([1.0]), TensorMethods)
    True
    """

    __slots__ = ()

    # -- reductions and scans -----------------------------------------------------------
    def var(self, axis=None, keepdims=False, ddof=0):
        """Variance over ``axis``; ``ddof=1`` is PyTorch's default (``correction=1``).

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([1.0, 2.0, 3.0, 4.0]).var().item(), tm.Tensor([1.0, 3.0]).var(ddof=1).item()
        (1.25, 2.0)
        """
        return _reduce.Var.apply(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, axis=None, keepdims=False, ddof=0):
        """Standard deviation over ``axis`` (``ddof`` as in :meth:`var`).

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([[1.0, 3.0], [2.0, 2.0]]).std(axis=1).numpy()
        array([1., 0.], dtype=float32)
        """
        return _reduce.Std.apply(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def prod(self, axis=None, keepdims=False):
        """Product over ``axis``; the gradient is right where elements are zero.

        >>> import tinygrad_memo as tm
        >>> x = tm.Tensor([2.0, 0.0, 3.0], requires_grad=True)
        >>> _ = x.prod().backward(); x.grad
        array([0., 6., 0.], dtype=float32)
        """
        return _reduce.Prod.apply(self, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis=None, keepdims=False):
        """log(sum(exp(x))) over ``axis``, stable for large values.

        >>> import tinygrad_memo as tm
        >>> round(tm.Tensor([1000.0, 1000.0]).logsumexp().item(), 3)
        1000.693
        """
        return _reduce.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None):
        """Cumulative sum along ``axis`` (numpy's: None runs over the flattened tensor).

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([[1.0, 2.0], [3.0, 4.0]]).cumsum(axis=1).numpy()
        array([[1., 3.],
               [3., 7.]], dtype=float32)
        """
        return _reduce.Cumsum.apply(self, axis=axis)

    def argmax(self, axis=None, keepdims=False):
        """Index of the maximum over ``axis`` (None: of the flattened tensor; the first
        one on ties): an integer tensor, with no gradient.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([[1.0, 5.0], [7.0, 2.0]]).argmax(axis=1).numpy()
        array([1, 0])
        """
        return self._arg("argmax", np.argmax, axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        """Index of the minimum over ``axis`` (as :meth:`argmax`).

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([3.0, 1.0, 2.0]).argmin().item()
        1
        """
        return self._arg("argmin", np.argmin, axis, keepdims)

    def _arg(self, op, f, axis, keepdims):
        a = self.data
        if axis is not None:
            axis = _one_axis(axis, max(a.ndim, 1), op, a.shape)
        if a.size == 0:
            raise ValueError(f"{op}: cannot reduce an empty tensor of shape {a.shape}")
        return self._make(np.asarray(f(a, axis=axis, keepdims=keepdims)), False)

    # -- shape and data movement --------------------------------------------------------
    def unsqueeze(self, axis):
        """A new axis of size 1 at ``axis`` (an int or a tuple; numpy's ``expand_dims``).

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([1.0, 2.0]).unsqueeze(0).shape, tm.Tensor([1.0, 2.0]).unsqueeze(-1).shape
        ((1, 2), (2, 1))
        """
        axes = axis if isinstance(axis, tuple | list) else (axis,)
        n = self.ndim + len(axes)
        new = _reduce.normalize_axes(tuple(axes), n, "unsqueeze", self.shape)
        it = iter(self.shape)
        return self.reshape(*(1 if i in new else next(it) for i in range(n)))

    def squeeze(self, axis=None):
        """Remove axes of size 1 (all of them, or those of ``axis``, which must have size 1).

        >>> import tinygrad_memo as tm
        >>> tm.Tensor.zeros(1, 3, 1).squeeze().shape, tm.Tensor.zeros(1, 3, 1).squeeze(0).shape
        ((3,), (3, 1))
        """
        s = self.shape
        if axis is None:
            axes = tuple(i for i, n in enumerate(s) if n == 1)
        else:
            axes = _reduce.normalize_axes(axis, self.ndim, "squeeze", s)
            bad = [i for i in axes if s[i] != 1]
            if bad:
                raise ValueError(f"squeeze: axis {bad[0]} has size {s[bad[0]]}, not 1 "
                                 f"(tensor shape {s})")
        return self.reshape(*(n for i, n in enumerate(s) if i not in axes))

    def permute(self, *axes):
        """Reorder the axes (PyTorch's ``permute``, numpy's ``transpose(axes)``).

        >>> import tinygrad_memo as tm
        >>> tm.Tensor.zeros(2, 3, 4).permute(2, 0, 1).shape
        (4, 2, 3)
        """
        return self.transpose(*_shape_args(axes))

    def flip(self, axis=None):
        """Reverse the order of elements along ``axis`` (an int, a tuple, or None: all).

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([[1.0, 2.0], [3.0, 4.0]]).flip(1).numpy()
        array([[2., 1.],
               [4., 3.]], dtype=float32)
        """
        return _shape.Flip.apply(self, axis=axis)

    def repeat(self, repeats, *rest, axis=None):
        """numpy's ``repeat``: each element ``repeats`` times (an int, or one count
        per element) along ``axis`` (keyword; None: the flattened tensor). PyTorch's
        ``x.repeat(2, 3)`` tiles the tensor: that is :meth:`tile`.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([1.0, 2.0]).repeat(2).numpy(), tm.Tensor([1.0, 2.0]).tile(2).numpy()
        (array([1., 1., 2., 2.], dtype=float32), array([1., 2., 1., 2.], dtype=float32))
        """
        if rest:
            raise TypeError(
                f"repeat{(repeats, *rest)}: this is numpy's repeat(repeats, axis=None), "
                "which repeats each element; to tile the tensor as PyTorch's "
                f"x.repeat{(repeats, *rest)} does, use x.tile{(repeats, *rest)} (and give "
                "repeat's axis by keyword: repeat(2, axis=1))"
            )
        return _shape.Repeat.apply(self, repeats=repeats, axis=axis)

    def tile(self, *reps):
        """numpy's ``tile`` (PyTorch's ``repeat``): the tensor ``reps`` times along each
        axis; ``tile(2, 3)`` or ``tile((2, 3))``.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([[1.0, 2.0]]).tile(2, 2).numpy()
        array([[1., 2., 1., 2.],
               [1., 2., 1., 2.]], dtype=float32)
        """
        return _shape.Tile.apply(self, reps=_shape_args(reps))

    def roll(self, shift, axis=None):
        """numpy's ``roll``: shift elements along ``axis`` (None: the flattened tensor),
        wrapping around; ``shift`` and ``axis`` may be tuples.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([1.0, 2.0, 3.0]).roll(1).numpy()
        array([3., 1., 2.], dtype=float32)
        """
        return _shape.Roll.apply(self, shift=shift, axis=axis)

    def split(self, indices_or_sections, axis=0):
        """numpy's ``split``: an int N gives N equal parts (it must divide the axis), a
        list of indices gives the parts between them. Returns a list of tensors.
        (PyTorch's ``split(size)`` takes part sizes; :meth:`chunk` takes a count.)

        >>> import tinygrad_memo as tm
        >>> [p.tolist() for p in tm.Tensor([1.0, 2.0, 3.0, 4.0]).split([1, 3])]
        [[1.0], [2.0, 3.0], [4.0]]
        """
        ax = _one_axis(axis, self.ndim, "split", self.shape)
        n = self.shape[ax]
        if isinstance(indices_or_sections, int | np.integer):
            k = int(indices_or_sections)
            if k <= 0 or n % k:
                raise ValueError(f"split: {k} equal parts do not divide axis {ax} of size {n} "
                                 f"(tensor shape {self.shape}); give split indices, or use chunk")
            bounds = [i * (n // k) for i in range(k + 1)]
        else:
            bounds = [0, *(int(i) for i in indices_or_sections), n]
        return self._parts(ax, bounds)

    def chunk(self, chunks, axis=0):
        """PyTorch's ``chunk``: parts of ``ceil(n / chunks)`` along ``axis`` (the last
        one smaller; fewer than ``chunks`` parts if they run out). A list of tensors.

        >>> import tinygrad_memo as tm
        >>> [p.shape for p in tm.Tensor.zeros(5, 2).chunk(3)]
        [(2, 2), (2, 2), (1, 2)]
        """
        if not isinstance(chunks, int | np.integer) or chunks <= 0:
            raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
        ax = _one_axis(axis, self.ndim, "chunk", self.shape)
        n = self.shape[ax]
        size = max(1, math.ceil(n / chunks))
        return self._parts(ax, [*range(0, n, size), n] if n else [0, 0])

    def _parts(self, ax, bounds):
        lead = (slice(None),) * ax
        return [self[lead + (slice(lo, max(lo, hi)),)] for lo, hi in zip(bounds, bounds[1:])]

    def tril(self, k=0):
        """The lower triangle (on and below diagonal ``k``) of the last two axes.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor.ones(2, 2).tril().numpy()
        array([[1., 0.],
               [1., 1.]], dtype=float32)
        """
        return _shape.Tril.apply(self, k=k)

    def triu(self, k=0):
        """The upper triangle (on and above diagonal ``k``) of the last two axes.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor.ones(2, 2).triu(1).numpy()
        array([[0., 1.],
               [0., 0.]], dtype=float32)
        """
        return _shape.Triu.apply(self, k=k)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        """numpy's ``diagonal``: the diagonal of ``axis1`` and ``axis2``, as the last axis.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([[1.0, 2.0], [3.0, 4.0]]).diagonal().numpy()
        array([1., 4.], dtype=float32)
        """
        return _shape.Diagonal.apply(self, offset=offset, axis1=axis1, axis2=axis2)

    def trace(self, offset=0, axis1=0, axis2=1):
        """numpy's ``trace``: the sum of :meth:`diagonal`.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([[1.0, 2.0], [3.0, 4.0]]).trace().item()
        5.0
        """
        return _shape.Trace.apply(self, offset=offset, axis1=axis1, axis2=axis2)

    def gather(self, axis, index):
        """PyTorch's ``gather``: ``out[i][j] = x[index[i][j]][j]`` for axis 0
        (``x[i][index[i][j]]`` for axis 1, ...); ``index`` has the tensor's number of
        dimensions. Repeated indices add their gradients.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([[1.0, 2.0], [3.0, 4.0]]).gather(1, [[0, 0], [1, 0]]).numpy()
        array([[1., 1.],
               [4., 3.]], dtype=float32)
        """
        index = getattr(index, "data", index)
        return _shape.Gather.apply(self, axis=axis, index=np.asarray(index))

    # -- conversions ---------------------------------------------------------------------
    def tolist(self):
        """The data as (nested) Python lists of numbers.

        >>> import tinygrad_memo as tm
        >>> tm.Tensor([[1.0, 2.0]]).tolist()
        [[1.0, 2.0]]
        """
        return self.data.tolist()

    def astype(self, dtype):
        """The data in ``dtype``: differentiable to a floating-point dtype (the gradient
        comes back in this tensor's), a tensor without gradient to an integer or bool one.

        >>> import numpy as np
        >>> import tinygrad_memo as tm
        >>> tm.Tensor([1.5, 2.5]).astype(np.float64).dtype, tm.Tensor([1.5]).astype(int).numpy()
        (dtype('float64'), array([1]))
        """
        dt = np.dtype(dtype)
        if dt.kind != "f":
            return self._make(self.data.astype(dt), False)
        return _shape.AsType.apply(self, dtype=dt)

    def __getattr__(self, name):
        # only reached when normal lookup fails: a clear error, with PyTorch's spellings named
        raise missing_attribute(f"{type(self).__name__!r} object", name, METHODS)


add_torch_hints(TensorMethods)

"""The ``tm.*`` functions of issue 12: products (``einsum``, ``tensordot``,
``outer``) and constructors (``zeros_like``, ``ones_like``, ``full``,
``full_like``, ``linspace``). The products are the one registry op ``einsum``,
whose gradient is again an einsum; the constructors make leaves (float32 for
Python floats, like :class:`~tinygrad_memo.Tensor`).
"""

from __future__ import annotations

import numpy as np

from .ops.linalg import Einsum
from .ops.sampling import Multinomial
from .spelling import torch_hints
from .tensor import Tensor

__all__ = ["einsum", "full", "full_like", "linspace", "multinomial", "ones_like", "outer",
           "tensordot", "zeros_like"]


def einsum(subscripts: str, *operands) -> Tensor:
    """numpy's ``einsum`` (``'...'`` and implicit outputs included), differentiable in
    every operand.

    >>> import tinygrad_memo as tm
    >>> a = tm.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> tm.einsum("ij,j->i", a, tm.Tensor([1.0, 1.0])).numpy()
    array([3., 7.], dtype=float32)
    >>> tm.einsum("ii", a).item()
    5.0
    """
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: the first argument is the subscripts string, got {subscripts!r}")
    return Einsum.apply(*operands, subscripts=subscripts)


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def tensordot(a, b, axes=2) -> Tensor:
    """numpy's ``tensordot``: sum over the last ``axes`` axes of ``a`` and the first of
    ``b``, or over the pairs ``axes=(a_axes, b_axes)``.

    >>> import tinygrad_memo as tm
    >>> tm.tensordot(tm.Tensor.ones(2, 3, 4), tm.Tensor.ones(3, 4, 5)).shape
    (2, 5)
    >>> tm.tensordot(tm.Tensor.ones(2, 3), tm.Tensor.ones(3, 2), axes=([1], [0])).shape
    (2, 2)
    """
    na, nb = np.ndim(getattr(a, "data", a)), np.ndim(getattr(b, "data", b))
    if isinstance(axes, int | np.integer):
        if not 0 <= axes <= min(na, nb):
            raise ValueError(f"tensordot: axes={axes} does not fit operands of {na} and {nb} axes")
        pa, pb = list(range(na - axes, na)), list(range(axes))
    else:
        pa, pb = ([x] if isinstance(x, int | np.integer) else list(x) for x in axes)
        if len(pa) != len(pb):
            raise ValueError(f"tensordot: axes {axes!r} pair {len(pa)} with {len(pb)} axes")
        pa, pb = [x % na for x in pa], [x % nb for x in pb]
    la = list(_LETTERS[:na])
    lb = list(_LETTERS[na:na + nb])
    for x, y in zip(pa, pb):
        lb[y] = la[x]
    out = [c for i, c in enumerate(la) if i not in pa] + [c for i, c in enumerate(lb) if i not in pb]
    return einsum(f"{''.join(la)},{''.join(lb)}->{''.join(out)}", a, b)


def outer(a, b) -> Tensor:
    """numpy's ``outer``: ``out[i, j] = a[i] * b[j]`` of the flattened inputs.

    >>> import tinygrad_memo as tm
    >>> tm.outer(tm.Tensor([1.0, 2.0]), tm.Tensor([1.0, 10.0, 100.0])).numpy()
    array([[  1.,  10., 100.],
           [  2.,  20., 200.]], dtype=float32)
    """
    a = a if isinstance(a, Tensor) else Tensor(a)
    b = b if isinstance(b, Tensor) else Tensor(b)
    return einsum("i,j->ij", a.reshape(-1), b.reshape(-1))


def _like(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


@torch_hints
def zeros_like(x, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``x``'s shape and dtype (or ``dtype``).

    >>> import tinygrad_memo as tm
    >>> tm.zeros_like(tm.Tensor([[1.0, 2.0]])).numpy()
    array([[0., 0.]], dtype=float32)
    """
    return Tensor(np.zeros_like(_like(x), dtype=dtype), requires_grad=requires_grad)


@torch_hints
def ones_like(x, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones of ``x``'s shape and dtype (or ``dtype``).

    >>> import tinygrad_memo as tm
    >>> tm.ones_like(tm.Tensor([1, 2])).numpy()
    array([1, 1])
    """
    return Tensor(np.ones_like(_like(x), dtype=dtype), requires_grad=requires_grad)


def _fill_dtype(fill_value, dtype):
    if dtype is not None:
        return dtype
    return np.float32 if isinstance(fill_value, float) else None


@torch_hints
def full(shape, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value`` (float32 for a Python float).

    >>> import tinygrad_memo as tm
    >>> tm.full((2, 2), 7.0).numpy()
    array([[7., 7.],
           [7., 7.]], dtype=float32)
    """
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    data = np.full(shape, fill_value, dtype=_fill_dtype(fill_value, dtype))
    return Tensor(data, requires_grad=requires_grad)


@torch_hints
def full_like(x, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``x``'s shape and dtype (or ``dtype``) filled with ``fill_value``.

    >>> import tinygrad_memo as tm
    >>> tm.full_like(tm.Tensor([1.0, 2.0]), -1.0).numpy()
    array([-1., -1.], dtype=float32)
    """
    return Tensor(np.full_like(_like(x), fill_value, dtype=dtype), requires_grad=requires_grad)


@torch_hints
def linspace(start, stop, num: int = 50, endpoint: bool = True, dtype=np.float32,
             requires_grad: bool = False) -> Tensor:
    """``num`` evenly spaced numbers from ``start`` to ``stop`` (numpy's ``linspace``;
    PyTorch's ``steps`` is ``num``).

    >>> import tinygrad_memo as tm
    >>> tm.linspace(0, 1, 5).numpy()
    array([0.  , 0.25, 0.5 , 0.75, 1.  ], dtype=float32)
    """
    return Tensor(np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype),
                  requires_grad=requires_grad)


def multinomial(probs, num_samples: int = 1, replacement: bool = False) -> Tensor:
    """``num_samples`` category indices (int64) drawn from each row of the non-negative
    weights ``probs`` (C,) or (N, C) (PyTorch's ``multinomial``: rows need not sum to 1;
    without ``replacement`` a row's samples are distinct). Draws from the library's
    generator, so ``tm.manual_seed`` makes it reproducible; inside ``tm.jit`` each
    replay draws anew. No gradient flows through it.

    >>> import tinygrad_memo as tm
    >>> _ = tm.manual_seed(0)
    >>> tm.multinomial(tm.Tensor([0.0, 0.3, 0.7]), 2).shape
    (2,)
    >>> tm.multinomial(tm.Tensor([[1.0, 0.0], [0.0, 1.0]]), 1).numpy()
    array([[0],
           [1]])
    """
    from .grad_mode import no_grad

    with no_grad():  # (an index has no gradient: the call makes no graph node)
        return Multinomial.apply(probs if isinstance(probs, Tensor) else Tensor(probs),
                                 num_samples=num_samples, replacement=replacement)

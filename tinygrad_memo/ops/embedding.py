"""Integer-indexed ops: embedding lookup (rows of a weight matrix) and one-hot encoding.

Both take their indices as a node input (a Tensor of integers), so a plan replayed by
``tm.jit`` looks up the indices of each call and checks them again.
"""

from __future__ import annotations

import numpy as np

from ..function import Function
from .shape import scatter_add


def _indices(op: str, idx, what: str) -> np.ndarray:
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: {what} must be integers, got dtype {idx.dtype} (shape {idx.shape}); "
                        "convert with .astype(np.int64)")
    return idx


class Embedding(Function, name="embedding"):
    """Rows of ``weight`` (V, D) picked by integer ``indices`` of any shape: the result has
    shape ``indices.shape + (D,)``. The derivative adds each row's gradient back into the
    row it came from (repeated indices add up).

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> w = tm.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    >>> Embedding.apply(tm.Tensor(np.array([2, 0, 2])), w).numpy()
    array([[4., 5.],
           [0., 1.],
           [4., 5.]])
    """

    @staticmethod
    def forward(ctx, indices, weight):
        idx = _indices("embedding", indices, "indices")
        if weight.ndim != 2:
            raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), "
                             f"got shape {weight.shape}")
        n = weight.shape[0]
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"embedding: indices must be in [0, {n}) for a weight of shape "
                             f"{weight.shape}, got values in [{idx.min()}, {idx.max()}] "
                             f"(indices shape {idx.shape})")
        ctx.idx, ctx.shape, ctx.dtype = idx, weight.shape, weight.dtype
        return weight[idx]

    @staticmethod
    def backward(ctx, g):
        return None, scatter_add(g, ctx.idx, ctx.shape, ctx.dtype)

    @staticmethod
    def jvp(ctx, _t_indices, t_weight):
        return None if t_weight is None else t_weight[ctx.idx]


class OneHot(Function, name="one_hot"):
    """int64 one-hot encoding: ``indices.shape + (num_classes,)``, with a 1 at each index
    (``num_classes=-1``: one more than the largest index). It has no gradient.

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> OneHot.apply(tm.Tensor(np.array([0, 2])), num_classes=3).numpy()
    array([[1, 0, 0],
           [0, 0, 1]])
    """

    @staticmethod
    def forward(ctx, indices, num_classes=-1):
        idx = _indices("one_hot", indices, "indices")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
            raise TypeError(f"one_hot: num_classes must be an int, got {num_classes!r}")
        if num_classes == -1:
            if idx.size == 0:
                raise RuntimeError("one_hot: can not infer total number of classes from empty "
                                   f"tensor (indices shape {idx.shape}); give num_classes")
            num_classes = int(idx.max()) + 1
        elif num_classes < 1 and not (num_classes == 0 and idx.size == 0):
            raise RuntimeError(f"one_hot: num_classes must be positive or -1, got {num_classes}")
        if idx.size and idx.min() < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {idx.min()} "
                               f"(indices shape {idx.shape})")
        if idx.size and idx.max() >= num_classes:
            raise RuntimeError(f"one_hot: class values must be smaller than num_classes "
                               f"({num_classes}), got {idx.max()} (indices shape {idx.shape})")
        return (idx[..., None] == np.arange(num_classes)).astype(np.int64)

    @staticmethod
    def backward(ctx, g):
        return (None,)

    @staticmethod
    def jvp(ctx, *_):  # an integer result: no tangent
        return None

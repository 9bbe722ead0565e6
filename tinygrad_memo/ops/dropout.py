"""Dropout as one op: its mask is drawn inside ``forward``.

Drawing the mask inside the op (not in Python around it) makes every execution
of the op draw anew from the library's generator, in the same order as eager
code would: a plan replayed by ``tm.jit`` redraws its masks at each replay, and
gives the very numbers eager code gives under the same ``tm.manual_seed``.
"""

from __future__ import annotations

from ..function import Function
from ..random import rng


class Dropout(Function, name="dropout"):
    """Zero each element with probability ``p``, scale the others by ``1 / (1 - p)``
    (``0 < p < 1``). The derivative is the same mask.

    >>> import tinygrad_memo as tm
    >>> _ = tm.manual_seed(0)
    >>> y = Dropout.apply(tm.Tensor([1.0, 1.0, 1.0, 1.0]), p=0.5)
    >>> sorted(set(y.numpy().tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    """

    #: draws random numbers: two calls on the same input differ
    random = True

    @staticmethod
    def forward(ctx, x, p):
        keep = rng().random(x.shape) >= p
        ctx.mask = (keep * (1.0 / (1.0 - p))).astype(x.dtype)
        return x * ctx.mask

    @staticmethod
    def backward(ctx, g):
        return (g * ctx.mask,)

    @staticmethod
    def jvp(ctx, t):
        if t is None:
            return None
        return t * ctx.mask

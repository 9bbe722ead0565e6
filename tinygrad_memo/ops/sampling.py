"""Sampling as an op: ``multinomial`` draws inside ``forward`` from the library's generator.

As with dropout, drawing inside the op makes every execution draw anew in eager
order: a plan replayed by ``tm.jit`` draws new samples at each replay, the same ones
eager code draws under the same ``tm.manual_seed``.
"""

from __future__ import annotations

import numpy as np

from ..function import Function
from ..random import rng


def _check(p, num_samples, replacement) -> None:
    if p.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {p.shape}")
    if p.dtype.kind != "f":
        raise RuntimeError(f"multinomial: probabilities must be floating point, got dtype {p.dtype}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer):
        raise TypeError(f"multinomial: num_samples must be an int, got {num_samples!r}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got {num_samples})")
    n = p.shape[-1]
    if n == 0:
        raise RuntimeError(f"multinomial: prob_dist has no categories (shape {p.shape})")
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           f"without replacement ({num_samples} > {n}, shape {p.shape})")
    if p.size and not (np.isfinite(p).all() and (p >= 0).all()):
        raise RuntimeError(f"multinomial: probability tensor contains either `inf`, `nan` or "
                           f"element < 0 (shape {p.shape})")
    sums = p.sum(axis=-1)
    if (sums <= 0).any():
        raise RuntimeError(f"multinomial: invalid multinomial distribution (sum of probabilities "
                           f"<= 0) (shape {p.shape})")


class Multinomial(Function, name="multinomial"):
    """``num_samples`` category indices (int64) per row of the non-negative weights
    ``probs`` (C,) or (N, C) (rows need not sum to 1). Without ``replacement`` a row's
    samples are distinct; as in PyTorch, a row with fewer non-zero weights than
    ``num_samples`` is completed with distinct zero-weight categories (here in index
    order).
    There is no gradient.

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> _ = tm.manual_seed(0)
    >>> Multinomial.apply(tm.Tensor(np.array([0.0, 1.0, 0.0])), num_samples=2,
    ...                   replacement=True).numpy()
    array([1, 1])
    """

    #: draws random numbers: two calls on the same input differ
    random = True

    @staticmethod
    def forward(ctx, probs, num_samples=1, replacement=False):
        p = np.asarray(probs)
        _check(p, num_samples, replacement)
        rows = p.reshape(-1, p.shape[-1]).astype(np.float64)
        if replacement:  # inverse CDF: the first category whose cumulative weight exceeds u
            cdf = np.cumsum(rows, axis=1)
            u = rng().random((rows.shape[0], num_samples)) * cdf[:, -1:]
            out = np.stack([np.searchsorted(c, ui, side="right") for c, ui in zip(cdf, u)])
            out = np.minimum(out, rows.shape[1] - 1)  # (u * total rounding up to the total)
        else:  # exponential race: the k smallest E_i / p_i are a weighted draw without replacement
            with np.errstate(divide="ignore"):
                keys = rng().standard_exponential(rows.shape) / rows
            out = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
        out = out.astype(np.int64)
        return out[0] if p.ndim == 1 else out

    @staticmethod
    def backward(ctx, g):
        return (None,)

    @staticmethod
    def jvp(ctx, *_):  # an integer result: no tangent
        return None

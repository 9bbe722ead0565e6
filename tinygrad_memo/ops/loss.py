"""Fused losses: one op where the composed form would be several (as PyTorch does)."""

from __future__ import annotations

import functools

import numpy as np

from ..function import Function

__all__ = ["CrossEntropy", "check_class_targets"]


def check_class_targets(where: str, shape: tuple, target, ignore_index=None) -> np.ndarray:
    """Integer class targets for an input of ``shape`` (C,), (N, C) or (N, C, d1, ...):
    shape (), (N,) or (N, d1, ...), values in [0, C) (or ``ignore_index``). Returns the array.

    >>> check_class_targets("f", (2, 3), np.array([0, 2])).tolist()
    [0, 2]
    """
    return _checked(where, shape, target, ignore_index)[0]


def _checked(where: str, shape: tuple, target, ignore_index):
    """(targets, whether every target counts, i.e. none equals ``ignore_index``)."""
    arr = np.asarray(target)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{where}: class targets must be integers, got dtype {arr.dtype} "
                         f"(shape {arr.shape}) for input of shape {shape}")
    if len(shape) == 0:
        raise ValueError(f"{where}: input must have shape (C,), (N, C) or (N, C, d1, ...), "
                         f"got {shape}")
    want = () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])
    if arr.shape != want:
        raise ValueError(f"{where}: target shape {arr.shape} does not match input shape {shape} "
                         f"(expected target shape {want})")
    C = shape[0] if len(shape) == 1 else shape[1]
    if arr.size == 0:
        return arr, True
    unsigned = _UNSIGNED.get(arr.dtype)
    if unsigned is not None and (ignore_index is None or not 0 <= ignore_index < C):
        # the common case in one reduction: read as unsigned, a negative target is huge
        if np.maximum.reduce(arr.view(unsigned), axis=None) < C:
            return arr, True  # (every target is a class, so none is the ignore_index)
    lo, hi = np.minimum.reduce(arr, axis=None), np.maximum.reduce(arr, axis=None)
    every = ignore_index is None or not lo <= ignore_index <= hi
    if lo >= 0 and hi < C:
        return arr, every
    bad = (arr < 0) | (arr >= C)
    if ignore_index is not None:
        bad &= arr != ignore_index
    if bad.any():
        vals = arr[bad]
        extra = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
        raise ValueError(f"{where}: class targets must be in [0, {C}){extra}, got values in "
                         f"[{vals.min()}, {vals.max()}] (input shape {shape})")
    return arr, every


_UNSIGNED = {np.dtype(f"i{n}"): np.dtype(f"u{n}") for n in (1, 2, 4, 8)}  # (native order)


@functools.lru_cache(maxsize=64)
def _row_starts(n: int, C: int) -> np.ndarray:
    """Where each of ``n`` rows of ``C`` classes starts in the flat array (read-only)."""
    starts = np.arange(n) * C
    starts.flags.writeable = False
    return starts


class CrossEntropy(Function, name="cross_entropy"):
    """Softmax cross-entropy of logits (C,), (N, C) or (N, C, d1, ...) (classes on axis 1)
    against integer classes, as PyTorch's ``cross_entropy``: targets equal to
    ``ignore_index`` add nothing (and "mean" averages over the others),
    ``label_smoothing`` mixes the target with the uniform distribution, ``reduction`` is
    "mean" | "sum" | "none". The targets are checked here, so a ``tm.jit`` replay checks
    them too. The forward keeps the exponentials and their sums (backward divides them into
    the softmax); the derivative is ``(softmax(x) - (1 - eps) onehot(target) - eps / C) * g``
    (0 at ignored targets).

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> x = tm.Tensor(np.zeros((2, 4)), requires_grad=True)
    >>> round(CrossEntropy.apply(x, np.array([1, -100])).item(), 4)  # log(4), one target
    1.3863
    """

    @staticmethod
    def forward(ctx, x, target, reduction="mean", ignore_index=-100, label_smoothing=0.0):
        t, every = _checked("cross_entropy", x.shape, target, ignore_index)
        cax = 1 if x.ndim >= 2 else 0
        C = x.shape[cax]
        xf = x if x.dtype.kind == "f" else x.astype(np.float64)
        m = np.maximum.reduce(xf, axis=cax, keepdims=True)  # (ndarray.max, without its wrapper)
        shifted = xf - m  # (the one array of the input's size the forward makes)
        valid = None if every else t != ignore_index
        every = every or bool(valid.all())
        idx = t if every else np.where(valid, t, 0)
        if x.ndim == 2:  # (the common case: a flat index is faster than take_along_axis)
            idx = idx + _row_starts(x.shape[0], C)
            picked = shifted.reshape(-1)[idx]  # picked, not multiplied: -inf stays finite
        else:
            idx = np.expand_dims(idx, cax)
            picked = np.take_along_axis(shifted, idx, axis=cax).squeeze(cax)
        eps = float(label_smoothing)
        total = shifted.sum(axis=cax) if eps else None
        e = np.exp(shifted, out=shifted)
        s = np.add.reduce(e, axis=cax, keepdims=True)
        log_s = np.log(s).squeeze(cax)
        losses = log_s - picked  # -log_softmax at the target
        if eps:  # (1 - eps) nll + eps * mean over classes of -log_softmax
            losses = losses * (1.0 - eps) + (log_s * C - total) * (eps / C)
        if not every:
            losses = np.where(valid, losses, 0).astype(xf.dtype, copy=False)
        ctx.save_for_backward(x)  # (e / s, the softmax, is made by backward)
        ctx.e, ctx.s, ctx.m, ctx.idx, ctx.cax, ctx.eps = e, s, m, idx, cax, eps
        ctx.valid = None if every else np.expand_dims(valid, cax)
        ctx.reduction = reduction
        if reduction == "mean":
            ctx.n = t.size if every else int(valid.sum())
            if ctx.n:
                return np.asarray(np.add.reduce(losses, axis=None) / xf.dtype.type(ctx.n))
            with np.errstate(invalid="ignore", divide="ignore"):  # all ignored: nan, as PyTorch
                return np.asarray(losses.sum() / xf.dtype.type(0))
        return losses.sum() if reduction == "sum" else losses

    @staticmethod
    def backward(ctx, g):
        cax, eps, idx = ctx.cax, ctx.eps, ctx.idx
        (x,) = ctx.saved_tensors
        if type(g) is np.ndarray and type(x) is np.ndarray:  # first order: from the kept e, s
            d = np.divide(ctx.e, ctx.s)  # the softmax (a new array, written into below)
            if d.ndim == 2:  # (idx: flat, see forward)
                d.reshape(-1)[idx] -= 1.0 - eps
            else:
                np.put_along_axis(d, idx, np.take_along_axis(d, idx, axis=cax) - (1.0 - eps),
                                  axis=cax)
            if eps:
                d -= eps / d.shape[cax]
        else:  # create_graph: the softmax again, of the saved input (a graph node)
            e = np.exp(x - ctx.m)
            target = np.zeros(ctx.e.shape, ctx.e.dtype)
            if target.ndim == 2:
                target.reshape(-1)[idx] = 1.0 - eps
            else:
                np.put_along_axis(target, idx, 1.0 - eps, axis=cax)
            d = e / e.sum(axis=cax, keepdims=True) - (target + eps / ctx.e.shape[cax])
        if ctx.valid is not None:
            d = d * ctx.valid
        if ctx.reduction == "mean":
            if ctx.n:
                scale = g / ctx.n
            else:  # every target ignored: nan, as PyTorch
                with np.errstate(invalid="ignore", divide="ignore"):
                    scale = g / ctx.n
        elif ctx.reduction == "sum" or d.ndim == 1:
            scale = g
        else:
            scale = g.reshape(g.shape[:1] + (1,) + g.shape[1:])
        if type(d) is np.ndarray and (getattr(scale, "dtype", None) is d.dtype
                                      or np.result_type(d, scale) == d.dtype):
            d *= scale  # (d is this call's own array, of the product's dtype)
            return d, None
        return d * scale, None

    @staticmethod
    def jvp(ctx, tx, *_):
        """Each loss depends on its own logits (along the class axis) only: its tangent is
        their gradient (the backward rule at a unit seed) dotted with their tangent."""
        if tx is None:
            return None
        cax = ctx.cax
        per_row = ctx.reduction == "none"
        shape = ctx.e.shape[:cax] + ctx.e.shape[cax + 1:]
        seed = np.ones(shape if per_row else (), dtype=ctx.e.dtype)
        out = (CrossEntropy.backward(ctx, seed)[0] * tx).sum(axis=cax if per_row else None)
        return np.asarray(out) if isinstance(out, np.generic) else out

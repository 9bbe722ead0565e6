"""Training utilities: gradient clipping (PyTorch's ``torch.nn.utils``).

>>> import numpy as np
>>> from tinygrad_memo import Tensor
>>> w = Tensor(np.zeros(2), requires_grad=True); w.grad = np.array([3.0, 4.0])
>>> clip_grad_norm_([w], max_norm=1.0).item()
5.0
>>> w.grad.round(6)
array([0.6, 0.8])
"""

from __future__ import annotations

import math

import numpy as np

from ..grad_mode import STATE
from ..tensor import Tensor
from ..value import Value

__all__ = ["clip_grad_norm_"]


def _norm(g: np.ndarray, p: float):
    a = np.abs(g.ravel())
    if a.size == 0:
        return a.dtype.type(0)
    if p == math.inf:
        return a.max()
    if p == -math.inf:
        return a.min()
    if p == 0:
        return a.dtype.type(np.count_nonzero(a))
    if p == 1:
        return a.sum()
    if p == 2:
        return np.sqrt(np.dot(a, a))
    return (a ** p).sum() ** (1.0 / p)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False):
    """Scale the gradients of ``parameters`` in place so that their total norm (the
    ``norm_type`` norm of the per-parameter norms, as if all were one vector) is at most
    ``max_norm``; return the total norm before clipping, as a 0-d Tensor (PyTorch's
    ``clip_grad_norm_``: the factor is ``min(1, max_norm / (total + 1e-6))``). Parameters
    without a gradient are skipped; Tensor and Value parameters both work.
    ``norm_type`` may be ``float('inf')``. A non-finite total norm raises a RuntimeError
    with ``error_if_nonfinite=True``.

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor, Value
    >>> w = Tensor(np.zeros(2), requires_grad=True); w.grad = np.array([1.0, -2.0])
    >>> v = Value(0.0); v.grad = 2.0
    >>> clip_grad_norm_([w, v], max_norm=10.0, norm_type=float("inf")).item()
    2.0
    """
    if isinstance(parameters, Tensor | Value):
        parameters = [parameters]
    if STATE.recorder is not None:  # inside tm.jit: every replay clips again
        return STATE.recorder.effect(clip_grad_norm_, list(parameters), max_norm, norm_type,
                                     error_if_nonfinite)
    norm_type = float(norm_type)
    max_norm = float(max_norm)
    params = [p for p in parameters if p.grad is not None]
    grads = [np.asarray(p.grad.data if isinstance(p.grad, Tensor) else p.grad) for p in params]
    if not grads:
        return Tensor(np.array(0.0))
    dtype = np.result_type(*[g.dtype for g in grads])
    dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
    norms = np.array([_norm(g, norm_type) for g in grads], dtype=dtype)
    total = _norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} for gradients from "
            "`parameters` is non-finite, so it cannot be clipped. To disable this error and "
            "scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    coef = min(max_norm / (float(total) + 1e-6), 1.0)
    for p, g in zip(params, grads):
        if isinstance(p, Value):
            p.grad = float(g) * coef
        else:
            p.grad = g * g.dtype.type(coef) if g.dtype.kind == "f" else g * coef
    return Tensor(np.asarray(total, dtype=dtype))

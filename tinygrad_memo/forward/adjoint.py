"""The adjoint identity: forward mode and reverse mode must agree, to rounding.

For random directions ``v`` (one per input) and ``u`` (one per output), the Jacobian-vector
product of forward mode and the vector-Jacobian product of reverse mode satisfy
``<u, J v> == <J^T u, v>``. Both sides are exact up to floating-point rounding, so no step size
and no loose tolerance is involved: in float64 they agree to about 1e-13 relative, and a wrong
forward-mode (or reverse-mode) rule shows up at once. The tolerance is relative to the sizes
of the terms summed, ``sum |u_i (J v)_i|`` (a sum that cancels to nearly zero is still judged
at the scale of its terms), plus the smallest normal float64 (subnormal terms carry no relative
precision).
"""

from __future__ import annotations

import numpy as np

from ..autograd import grad as _grad
from ..tensor import Tensor
from ..value import Value
from .jvp import jvp

__all__ = ["adjoint_check", "adjoint_failure"]

#: the absolute floor of the tolerance: products of subnormal numbers have no relative precision
_TINY = float(np.finfo(np.float64).tiny)


def adjoint_check(fn, inputs, *, rtol: float = 1e-10, atol: float = 1e-14, seed: int = 0,
                  raise_exception: bool = True) -> bool:
    """Check ``<u, J v> == <J^T u, v>`` for random ``u``, ``v`` (``fn``'s jvp against its vjp).

    ``inputs`` as for :func:`~tinygrad_memo.gradcheck.gradcheck`: the Values and the Tensors
    that require grad are the directions' inputs (use float64). Returns True, or raises
    :class:`~tinygrad_memo.gradcheck.GradcheckError` saying both sides (False with
    ``raise_exception=False``). ``gradcheck(..., check_forward_ad=True)`` runs this check.
    The sides may differ by ``rtol`` times the size of the terms of the sums, plus
    ``atol * |u| |v|``: where the derivatives of paths of size about 1 cancel (``2x - x - x``;
    ``x / (x*x + 1) + abs(x - 1)`` near 0, ``1 - 3x**2`` against ``-1``), the terms are tiny
    but each mode's rounding is relative to the paths, as if the Jacobian's entries were
    known to ``atol`` only (raise it where the cancelling paths are larger).

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> x = tm.Tensor(np.array([0.3, -1.2, 2.0]), requires_grad=True)
    >>> tm.adjoint_check(lambda t: (t * t.sin()).exp(), [x])
    True
    """
    failure = adjoint_failure(fn, inputs, rtol=rtol, atol=atol, seed=seed)
    if failure is None:
        return True
    if raise_exception:
        from ..gradcheck import GradcheckError

        raise GradcheckError(failure)
    return False


def _checked(x) -> bool:
    return isinstance(x, Value) or (isinstance(x, Tensor) and x.requires_grad)


def _differentiable(o) -> bool:
    return isinstance(o, Value) or (isinstance(o, Tensor) and o.dtype.kind == "f")


def _outs(result) -> list:
    return list(result) if isinstance(result, tuple | list) else [result]


def adjoint_failure(fn, inputs, *, rtol: float = 1e-10, atol: float = 1e-14, seed: int = 0,
                    who: str = "adjoint_check") -> str | None:
    """The adjoint check's failure message, or None when it passes."""
    inputs = tuple(inputs) if isinstance(inputs, tuple | list) else (inputs,)
    unique: list = []  # each input object once (the same one may be passed twice)
    where: dict = {}
    for x in inputs:
        if _checked(x) and id(x) not in where:
            where[id(x)] = len(unique)
            unique.append(x)
    if not unique:
        raise ValueError(f"{who}: no input to check: pass Values, or Tensors with "
                         "requires_grad=True")
    rng = np.random.default_rng(seed)
    vs = [float(rng.standard_normal()) if isinstance(x, Value) else rng.standard_normal(x.shape)
          for x in unique]

    def along(*xs):
        return fn(*[xs[where[id(x)]] if id(x) in where else x for x in inputs])

    outs, touts = jvp(along, tuple(unique), tuple(vs))
    outs, touts = _outs(outs), _outs(touts)
    real = _outs(fn(*inputs))
    lhs = scale = usize = 0.0
    seeds, ends = [], []
    for o, t, r in zip(outs, touts, real):
        if not _differentiable(o):
            continue
        if isinstance(o, Value):
            u = float(rng.standard_normal())
            jv = float(t)
        else:
            u = rng.standard_normal(o.shape)
            jv = t.data.astype(np.float64)
        lhs += float(np.sum(u * jv))
        scale += float(np.sum(np.abs(u * jv)))
        usize += float(np.sum(np.square(u)))
        if isinstance(r, Value) or r.requires_grad:
            seeds.append(u if isinstance(r, Value) else u.astype(r.dtype))
            ends.append(r)
    rhs = rscale = 0.0
    if ends:
        for g, v in zip(_grad(ends, unique, grad_outputs=seeds), vs):
            g = np.asarray(g.data if isinstance(g, Tensor) else g, dtype=np.float64)
            rhs += float(np.sum(g * v))
            rscale += float(np.sum(np.abs(g * v)))
    uv = float(np.sqrt(usize * sum(float(np.sum(np.square(v))) for v in vs)))  # |u| |v|
    tol = rtol * max(scale, rscale) + atol * uv + _TINY
    if abs(lhs - rhs) <= tol:
        return None
    return (f"{who}: forward and reverse mode disagree: <u, J v> (jvp) = {lhs!r} but "
            f"<J^T u, v> (vjp) = {rhs!r}; |difference| {abs(lhs - rhs):.6g} > {tol:.6g} "
            f"(rtol {rtol:g} * the size of the terms, {max(scale, rscale):.6g}, + atol {atol:g} "
            f"* |u| |v|, {uv:.6g}), with random u, v of seed {seed}: a forward-mode rule (jvp) "
            "or a backward rule is wrong")

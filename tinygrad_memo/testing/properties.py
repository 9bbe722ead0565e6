"""Hypothesis properties for forward mode, to apply to your own ops.

A custom :class:`~tinygrad_memo.Function` with a ``jvp`` rule can be checked in one line:
each property returns a test function (collected by pytest like any ``test_*``) that draws
inputs from the given strategies and asserts

* :func:`adjoint_identity`: ``<u, J v> == <J^T u, v>`` for random ``u``, ``v``, forward mode
  (``jvp``) against reverse mode (``backward``), to ``rtol`` (1e-10) in float64: exact up to
  rounding, so a rule off by anything shows at once;
* :func:`jvp_matches_finite_differences`: ``tm.jvp`` along a random tangent against central
  differences ``(f(x + eps t) - f(x - eps t)) / 2 eps``.

Together they say both rules are right: the first ties them to each other, the second to the
function. Inputs must be float64 Tensors that require grad (or Values), e.g.
:func:`tinygrad_memo.testing.strategies.tensors`. Wrap a property in ``settings(...)`` to
change how many examples it draws.

>>> import numpy as np
>>> import tinygrad_memo as tm
>>> from tinygrad_memo.testing import strategies
>>> class Cube(tm.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x ** 3
...     @staticmethod
...     def backward(ctx, g):
...         (x,) = ctx.saved_tensors
...         return g * 3 * x ** 2
...     @staticmethod
...     def jvp(ctx, t):
...         (x,) = ctx.saved_tensors
...         return t * 3 * x ** 2
>>> test_cube_adjoint = adjoint_identity(Cube.apply, strategies.tensors())
>>> test_cube_adjoint()  # pytest would run it as a test
>>> test_cube_fd = jvp_matches_finite_differences(Cube.apply, strategies.tensors())
>>> test_cube_fd()
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ..forward import adjoint_check, jvp
from ..tensor import Tensor
from ..value import Value

__all__ = ["adjoint_identity", "jvp_matches_finite_differences"]


def adjoint_identity(fn, *strategies, rtol: float = 1e-10):
    """A test function: for inputs drawn from ``strategies`` (one per argument of ``fn``),
    ``tm.adjoint_check(fn, inputs, rtol=rtol)`` holds, with fresh random ``u``, ``v`` each time.

    >>> import tinygrad_memo as tm
    >>> from tinygrad_memo.testing import strategies
    >>> adjoint_identity(lambda x: x.tanh() * x, strategies.tensors())()
    """
    @given(st.tuples(*strategies), st.integers(0, 2**31 - 1))
    def test(inputs, seed):
        adjoint_check(fn, inputs, rtol=rtol, seed=seed)

    test.__name__ = f"adjoint_identity_of_{getattr(fn, '__name__', 'fn')}"
    return test


def jvp_matches_finite_differences(fn, *strategies, eps: float = 1e-6, rtol: float = 1e-5,
                                   atol: float = 1e-7):
    """A test function: for inputs drawn from ``strategies`` and a random tangent, the output
    tangents of ``tm.jvp(fn, inputs, tangents)`` match central finite differences (float64).

    >>> import tinygrad_memo as tm
    >>> from tinygrad_memo.testing import strategies
    >>> jvp_matches_finite_differences(lambda x: x.exp(), strategies.tensors())()
    """
    @given(st.tuples(*strategies), st.integers(0, 2**31 - 1))
    def test(inputs, seed):
        rng = np.random.default_rng(seed)
        ts = [_random_like(rng, x) for x in inputs]
        _, touts = jvp(fn, tuple(inputs), tuple(ts))
        plus = fn(*[_moved(x, t, eps) for x, t in zip(inputs, ts)])
        minus = fn(*[_moved(x, t, -eps) for x, t in zip(inputs, ts)])
        for j, (t, p, m) in enumerate(zip(_seq(touts), _seq(plus), _seq(minus))):
            fd = (_flat(p) - _flat(m)) / (2 * eps)
            got = _flat(t)
            if not np.allclose(got, fd, rtol=rtol, atol=atol):
                raise AssertionError(
                    f"jvp of output {j} differs from central differences (eps {eps:g}): "
                    f"largest |difference| {np.max(np.abs(got - fd)):.6g}\n  jvp: {got}\n"
                    f"  finite differences: {fd}")

    test.__name__ = f"jvp_matches_finite_differences_of_{getattr(fn, '__name__', 'fn')}"
    return test


def _random_like(rng, x):
    if isinstance(x, Value):
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(x.data if isinstance(x, Tensor) else x))


def _moved(x, t, eps):
    if isinstance(x, Value):
        return Value(x.data + eps * t)
    return Tensor(np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64) + eps * t)


def _seq(x):
    return list(x) if isinstance(x, tuple | list) else [x]


def _flat(x) -> np.ndarray:
    if isinstance(x, Value):
        return np.array([x.data])
    return np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64).reshape(-1)

"""The error function on numpy arrays (numpy has none): Chebyshev interpolants of ``math.erf``.

Two smooth pieces, each interpolated at Chebyshev points when this module loads
(about 45 calls of ``math.erf``/``math.erfc``) and evaluated by Clenshaw's recurrence:

* ``|x| < 2``: ``erf(x) = x h(x**2)`` with ``h(s) = erf(sqrt(s)) / sqrt(s)``, an entire
  function of ``s`` (degree 18): relative accuracy near 0 too;
* ``2 <= |x| < 6``: ``erf(x) = 1 - exp(-x**2) g(x)`` with ``g(x) = erfc(x) exp(x**2)``, slowly
  varying (degree 24); from 6 on, ``erf(x)`` is 1 in float64.

The relative error against ``math.erf`` is below 1e-14 over the whole line (measured on
200,000 points and a geometric grid down to 1e-300, tests/test_activations.py).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["erf"]

_SPLIT, _END = 2.0, 6.0


def _chebyshev(f, a: float, b: float, degree: int) -> np.ndarray:
    """Coefficients of the degree-``degree`` interpolant of ``f`` on [a, b] at Chebyshev points."""
    n = degree + 1
    theta = np.pi * (np.arange(n) + 0.5) / n
    values = np.array([f(a + (b - a) * (math.cos(t) + 1.0) / 2.0) for t in theta])
    c = (2.0 / n) * np.cos(np.outer(np.arange(n), theta)) @ values
    c[0] /= 2.0
    return c


def _clenshaw(t: np.ndarray, c: np.ndarray) -> np.ndarray:
    """sum_j c[j] T_j(t) for t in [-1, 1]."""
    b1 = b2 = 0.0
    t2 = 2.0 * t
    for cj in c[:0:-1]:
        b1, b2 = cj + t2 * b1 - b2, b1
    return c[0] + t * b1 - b2


def _h(s: float) -> float:
    return math.erf(math.sqrt(s)) / math.sqrt(s) if s > 0 else 2.0 / math.sqrt(math.pi)


_NEAR = _chebyshev(_h, 0.0, _SPLIT * _SPLIT, 18)
_FAR = _chebyshev(lambda x: math.erfc(x) * math.exp(x * x), _SPLIT, _END, 24)


def erf(x):
    """The error function elementwise, in the input's float dtype (float64 for others).

    >>> import math
    >>> import numpy as np
    >>> bool(abs(erf(np.array([0.5]))[0] - math.erf(0.5)) < 1e-14)
    True
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    a = np.abs(x.astype(np.float64))
    out = np.ones_like(a)
    near = a < _SPLIT
    an = a[near]
    out[near] = an * _clenshaw(an * an * (2.0 / _SPLIT ** 2) - 1.0, _NEAR)
    far = ~near & (a < _END)
    af = a[far]
    out[far] = 1.0 - np.exp(-af * af) * _clenshaw((af - _SPLIT) * (2.0 / (_END - _SPLIT)) - 1.0,
                                                  _FAR)
    out[np.isnan(a)] = np.nan
    return np.copysign(out, x).astype(dtype, copy=False)

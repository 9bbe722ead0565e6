"""The elementary functions a derivative rule may call, one namespace per kind of data.

A rule of an elementwise op is written once, as ``d(x, out, fn)``, and evaluated
on three kinds of data:

* :data:`FLOATS`: Python floats, for the Value engine's local derivatives, which
  are computed beside the forward pass. Singular points give ``inf`` or ``nan``
  as float arithmetic would, never an exception (the forward has already
  refused what is outside an op's domain).
* :data:`ARRAYS`: numpy arrays, for the Tensor engine's first-order backward.
* :data:`NODES`: graph nodes (Values or Tensors), for ``create_graph=True``: the
  rule then records a differentiable graph. Constants (plain numbers or arrays
  mixed into a rule) are passed to the data namespace of the node kind.

Conditions (``fn.where``) and masks (``fn.step``, ``fn.sign``, ``fn.mask``) are
computed on the data, never differentiated: they are constants of the derivative.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .erf import erf as _erf_array

__all__ = ["ARRAYS", "FLOATS", "NODES"]

_inf, _nan = math.inf, math.nan


class _Floats:
    """Elementary functions on Python floats (never raising on singular points)."""

    @staticmethod
    def data(x):
        return x

    @staticmethod
    def constant(like, value):
        return value

    @staticmethod
    def where(cond, a, b):
        return a if cond else b

    @staticmethod
    def exp(x):
        try:
            return math.exp(x)
        except OverflowError:
            return _inf

    @staticmethod
    def log(x):
        if x > 0:
            return math.log(x)
        return -_inf if x == 0 else _nan

    @staticmethod
    def sin(x):
        return math.sin(x) if math.isfinite(x) else _nan

    @staticmethod
    def cos(x):
        return math.cos(x) if math.isfinite(x) else _nan

    @staticmethod
    def recip(x):
        """1 / x, with 1 / 0 = inf of the sign of the zero (as numpy)."""
        if x == 0:
            return math.copysign(_inf, x)
        return 1.0 / x

    @staticmethod
    def pow(a, b):
        """a ** b with 0 ** negative = inf and overflow to inf (as numpy)."""
        try:
            r = a ** b
        except ZeroDivisionError:
            return _inf
        except OverflowError:
            return _inf if a > 0 or float(b) % 2 == 0 else -_inf
        return r if isinstance(r, float) else _nan  # a complex result: not real (np.float64 is a float)

    @staticmethod
    def step(x):
        """1 where x > 0, else 0 (the derivative of relu, 0 at the kink)."""
        return 1.0 if x > 0 else 0.0

    @staticmethod
    def sign(x):
        """-1, 0 or 1 (the derivative of abs, 0 at the kink); nan stays nan."""
        return 1.0 if x > 0 else -1.0 if x < 0 else (0.0 if x == 0 else _nan)

    @staticmethod
    def sigmoid(x):
        """1/(1+e^-x) for x >= 0 and e^x/(1+e^x) for x < 0: no overflow either way."""
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)

    @staticmethod
    def mask(like, cond):
        """1.0 where the (data) condition holds, else 0.0 (a piecewise derivative)."""
        return 1.0 if cond else 0.0

    erf = staticmethod(math.erf)


class _Arrays:
    """Elementary functions on numpy arrays (numpy's nan/inf semantics)."""

    @staticmethod
    def data(x):
        return x

    @staticmethod
    def constant(like, value):
        return value

    @staticmethod
    def where(cond, a, b):
        return np.where(cond, a, b) if np.ndim(cond) else (a if cond else b)

    # Python numbers stay Python numbers (a numpy float64 scalar would promote float32)
    exp = staticmethod(lambda x: _Floats.exp(x) if isinstance(x, float | int) else np.exp(x))
    log = staticmethod(lambda x: _Floats.log(x) if isinstance(x, float | int) else np.log(x))
    sin = staticmethod(lambda x: _Floats.sin(x) if isinstance(x, float | int) else np.sin(x))
    cos = staticmethod(lambda x: _Floats.cos(x) if isinstance(x, float | int) else np.cos(x))
    erf = staticmethod(lambda x: math.erf(x) if isinstance(x, float | int) else _erf_array(x))

    @staticmethod
    def recip(x):
        return _Floats.recip(x) if isinstance(x, float | int) else 1 / x

    @staticmethod
    def pow(a, b):
        if isinstance(a, float | int) and isinstance(b, float | int):
            return _Floats.pow(a, b)
        return np.power(a, b)

    #: x > 0 as a boolean mask (a derivative is only ever multiplied, and bool keeps
    #: the other operand's dtype)
    step = staticmethod(functools.partial(np.less, 0))

    sign = staticmethod(np.sign)

    @staticmethod
    def sigmoid(x):
        if type(x) is float or type(x) is int:  # (a numpy scalar stays one: Sigmoid.array)
            return _Floats.sigmoid(x)
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1, e) / (1 + e)

    @staticmethod
    def mask(like, cond):
        """The condition as a boolean mask (it keeps the other operand's dtype)."""
        return cond


def _is_node(x) -> bool:
    return hasattr(x, "_vjp")


def _lift(method: str, floats, arrays):
    """A node's method on nodes; the data function on constants."""
    def f(x):
        if _is_node(x):
            return getattr(x, method)()
        return floats(x) if isinstance(x, float | int) else arrays(x)
    f.__name__ = method
    return f


def _masked(name: str):
    """A function of the data only (a mask): a constant of the node's kind."""
    floats, arrays = getattr(_Floats, name), getattr(_Arrays, name)

    def f(x):
        if _is_node(x):
            return x._constant(getattr(x._fns, name)(x.data))
        return floats(x) if isinstance(x, float | int) else arrays(x)
    f.__name__ = name
    return f


class _Nodes:
    """Elementary functions on graph nodes (Values or Tensors): differentiable."""

    @staticmethod
    def data(x):
        return x.data if _is_node(x) else x

    @staticmethod
    def constant(like, value):
        return like._constant(value) if _is_node(like) else value

    @staticmethod
    def where(cond, a, b):
        """``a`` where the (data) condition holds, else ``b``: differentiable in a and b."""
        for x in (a, b):
            if _is_node(x):
                return x._where(cond, a, b)
        return ARRAYS.where(cond, a, b)

    exp = staticmethod(_lift("exp", _Floats.exp, np.exp))
    log = staticmethod(_lift("log", _Floats.log, np.log))
    sin = staticmethod(_lift("sin", _Floats.sin, np.sin))
    cos = staticmethod(_lift("cos", _Floats.cos, np.cos))
    erf = staticmethod(_lift("erf", math.erf, _erf_array))

    @staticmethod
    def recip(x):
        return 1 / x if _is_node(x) else (_Floats.recip(x) if isinstance(x, float | int) else 1 / x)

    @staticmethod
    def pow(a, b):
        return a ** b

    step = staticmethod(_masked("step"))
    sign = staticmethod(_masked("sign"))
    sigmoid = staticmethod(_lift("sigmoid", _Floats.sigmoid, _Arrays.sigmoid))

    @staticmethod
    def mask(like, cond):
        """The condition as a constant of ``like``'s kind (1.0/0.0 for a Value)."""
        if _is_node(like):
            return like._constant(like._fns.mask(like.data, cond))
        return _Floats.mask(like, cond) if isinstance(like, float | int) else cond


FLOATS = _Floats()
ARRAYS = _Arrays()
NODES = _Nodes()

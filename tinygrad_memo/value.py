"""Value: a scalar node of the computation graph.

Each operation computes its result and, right beside it, its local derivatives
(the derivative of the result with respect to each input). A derivative rule is
written once, as ``rule(out, a, b)``; it is evaluated on floats during the
forward pass (the fast first-order backward then only multiplies), and on Values
when ``create_graph=True`` (so the gradient is itself a graph that can be
differentiated again).

Nodes hold no closures and no reference to themselves, so a graph has no
reference cycles and is freed by reference counting as soon as it is dropped;
each node is one object (its inputs live in two slots, not a tuple), which keeps
the work of Python's cyclic garbage collector small while graphs are built.
Plain numbers combined with a Value are constants: they are kept in the node
(``_aux``), not made into nodes.
"""

from __future__ import annotations

import math

import numpy as np

from . import engine
from .grad_mode import STATE

_next_seq = engine.next_seq

__all__ = ["Value"]

_inf = math.inf


def _is_value(x) -> bool:
    return type(x) is Value or isinstance(x, Value)


# -- elementary functions that work on floats and on Values alike (for the rules) --
def _log(x):
    return x.log() if _is_value(x) else math.log(x)


def _cos(x):
    return x.cos() if _is_value(x) else math.cos(x)


def _sin(x):
    return x.sin() if _is_value(x) else math.sin(x)


def _data(x) -> float:
    return x.data if _is_value(x) else x


def _recip(x):
    """1 / x, with 1 / 0 = inf as in float arithmetic (a derivative may be infinite)."""
    if not _is_value(x) and x == 0:
        return math.copysign(_inf, x)
    return 1.0 / x


# -- derivative rules: rule(out, a, b) -> local derivatives w.r.t. (a, b) ----------
# `b` is the second Value input or the constant of the op (for ``x * 3`` etc.).
def _d_add(out, a, b):
    return (1.0, 1.0)


def _d_sub(out, a, b):
    return (1.0, -1.0)


def _d_rsub(out, a, c):  # c - a
    return (-1.0,)


def _d_mul(out, a, b):
    return (b, a)


def _d_div(out, a, b):
    r = _recip(b)
    return (r, -out * r)


def _d_rdiv(out, a, c):  # c / a
    return (-out * _recip(a),)


def _d_pow(out, a, c):  # a ** c, c a constant
    return (0.0,) if c == 0 else (c * _pow_safe(a, c - 1),)


def _d_vpow(out, a, b):  # a ** b, both Values: d/db = a**b * log(a), defined for a > 0
    ad = _data(a)
    dlog = _log(a) if ad > 0 else (0.0 if ad == 0 and _data(b) > 0 else math.nan)
    return (b * _pow_safe(a, b - 1), out * dlog)


def _d_rpow(out, a, c):  # c ** a
    return (out * math.log(c) if c > 0 else 0.0,)


def _d_neg(out, a, b):
    return (-1.0,)


def _d_exp(out, a, b):
    return (out,)


def _d_log(out, a, b):
    return (_recip(a),)


def _d_sqrt(out, a, b):
    return (0.5 * _recip(out),)


def _d_tanh(out, a, b):
    return (1.0 - out * out,)


def _d_sigmoid(out, a, b):
    return (out * (1.0 - out),)


def _d_relu(out, a, b):
    return (1.0 if _data(a) > 0 else 0.0,)  # relu'(0) = 0


def _d_abs(out, a, b):
    d = _data(a)
    return (1.0 if d > 0 else -1.0 if d < 0 else 0.0,)  # abs'(0) = 0


def _d_sin(out, a, b):
    return (_cos(a),)


def _d_cos(out, a, b):
    return (-_sin(a),)


_RULES = {
    "+": _d_add, "-": _d_sub, "*": _d_mul, "/": _d_div, "**": _d_pow, "pow": _d_vpow,
    "r-": _d_rsub, "r/": _d_rdiv, "r**": _d_rpow, "neg": _d_neg,
    "exp": _d_exp, "log": _d_log, "sqrt": _d_sqrt, "tanh": _d_tanh,
    "sigmoid": _d_sigmoid, "relu": _d_relu, "abs": _d_abs, "sin": _d_sin, "cos": _d_cos,
}


def _pow_safe(a, b):
    """a ** b for the derivative of pow, with float overflow and 0 ** negative as inf."""
    if _is_value(a) or _is_value(b):
        return a ** b
    try:
        return a ** b
    except ZeroDivisionError:
        return _inf
    except OverflowError:
        return _inf


def _checked(name: str, x) -> float:
    """A plain number (or a numpy scalar) as a float, or a clear TypeError naming the op."""
    if isinstance(x, int | float | np.floating | np.integer) or (
        isinstance(x, np.ndarray) and x.shape == ()
    ):
        return float(x)
    raise TypeError(f"Value {name}: unsupported operand of type {type(x).__name__}: {x!r}")


_new = object.__new__


def _node(data: float, a: Value, b: Value | None, op: str, aux=None) -> Value:
    """A result node of inputs ``a`` (and ``b``); its local derivatives are evaluated
    now, beside the forward, and kept in two float slots (no tuple, closure or cycle)."""
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v.label = ""
    v._op = op
    v._aux = aux
    v._seq = _next_seq()
    if STATE.enabled:
        v._a = a
        v._b = b
        if b is None:
            v._d0 = _RULES[op](data, a.data, aux)[0]
            v._d1 = None
        else:
            v._d0, v._d1 = _RULES[op](data, a.data, b.data)
    else:
        v._a = v._b = None
        v._d0 = v._d1 = None
    return v


class Value:
    """A scalar that remembers how it was computed, so its gradient can be found.

    >>> from tinygrad_memo import Value
    >>> a = Value(2.0, label="a"); b = Value(-3.0, label="b")
    >>> c = a * b + a ** 2
    >>> c.backward()
    BackwardStats(nodes=5, edges=5, local_grads=5, paths=3)
    >>> a.grad, b.grad
    (1.0, 2.0)
    """

    __slots__ = ("data", "grad", "label", "_a", "_b", "_op", "_aux", "_seq", "_d0", "_d1",
                 "__weakref__")

    # The inputs are kept in two slots rather than a tuple: one tracked object per
    # node instead of two halves the work of Python's cyclic garbage collector
    # while a graph is being built (measured: about 30% of a training step).
    @property
    def _inputs(self) -> tuple:
        a = self._a
        if a is None:
            return ()
        b = self._b
        return (a,) if b is None else (a, b)

    @_inputs.setter
    def _inputs(self, inputs) -> None:  # for graphs edited by hand
        inputs = tuple(inputs)
        if len(inputs) > 2:
            raise ValueError("Value: a node has at most two inputs")
        self._a = inputs[0] if inputs else None
        self._b = inputs[1] if len(inputs) > 1 else None

    def __init__(self, data, label: str = ""):
        data = _checked("Value()", data)
        if not math.isfinite(data):
            raise ValueError(f"Value(): data must be a finite number, got {data}")
        self.data = data
        self.grad = 0.0
        self.label = label
        self._a = self._b = None
        self._op = ""
        self._aux = None
        self._seq = _next_seq()
        self._d0 = self._d1 = None

    # -- arithmetic ----------------------------------------------------------------
    def __add__(self, other):
        if type(other) is Value:
            return _node(self.data + other.data, self, other, "+")
        c = _checked("+", other)
        return _node(self.data + c, self, None, "+", c)

    __radd__ = __add__

    def __mul__(self, other):
        if type(other) is Value:
            return _node(self.data * other.data, self, other, "*")
        c = _checked("*", other)
        return _node(self.data * c, self, None, "*", c)

    __rmul__ = __mul__

    def __sub__(self, other):
        if type(other) is Value:
            return _node(self.data - other.data, self, other, "-")
        c = _checked("-", other)
        return _node(self.data - c, self, None, "-", c)

    def __rsub__(self, other):
        c = _checked("-", other)
        return _node(c - self.data, self, None, "r-", c)

    def __truediv__(self, other):
        if type(other) is Value:
            if other.data == 0:
                raise ZeroDivisionError(f"Value /: division by zero ({self.data} / 0)")
            return _node(self.data / other.data, self, other, "/")
        c = _checked("/", other)
        if c == 0:
            raise ZeroDivisionError(f"Value /: division by zero ({self.data} / 0)")
        return _node(self.data / c, self, None, "/", c)

    def __rtruediv__(self, other):
        c = _checked("/", other)
        if self.data == 0:
            raise ZeroDivisionError(f"Value /: division by zero ({c} / 0)")
        return _node(c / self.data, self, None, "r/", c)

    def __pow__(self, other):
        if type(other) is Value:
            return _node(_pow_forward(self.data, other.data), self, other, "pow")
        c = _checked("**", other)
        return _node(_pow_forward(self.data, c), self, None, "**", c)

    def __rpow__(self, other):
        c = _checked("**", other)
        return _node(_pow_forward(c, self.data), self, None, "r**", c)

    def __neg__(self):
        return _node(-self.data, self, None, "neg")

    def __pos__(self):
        return self

    def __abs__(self):
        return _node(abs(self.data), self, None, "abs")

    # -- functions -----------------------------------------------------------------
    def exp(self):
        """e ** self; overflows to ``inf`` like float arithmetic.

        >>> Value(0.0).exp().data
        1.0
        """
        try:
            r = math.exp(self.data)
        except OverflowError:
            r = _inf
        return _node(r, self, None, "exp")

    def log(self):
        """Natural logarithm; raises ValueError for inputs <= 0.

        >>> Value(1.0).log().data
        0.0
        """
        if self.data <= 0:
            raise ValueError(f"Value.log: input must be positive, got {self.data}")
        return _node(math.log(self.data), self, None, "log")

    def sqrt(self):
        """Square root; raises ValueError for negative inputs.

        >>> Value(9.0).sqrt().data
        3.0
        """
        if self.data < 0:
            raise ValueError(f"Value.sqrt: input must be non-negative, got {self.data}")
        return _node(math.sqrt(self.data), self, None, "sqrt")

    def tanh(self):
        """Hyperbolic tangent (stable for any magnitude).

        >>> Value(0.0).tanh().data
        0.0
        """
        return _node(math.tanh(self.data), self, None, "tanh")

    def sigmoid(self):
        """Logistic sigmoid 1 / (1 + e**-x), stable for large magnitudes.

        >>> Value(0.0).sigmoid().data
        0.5
        """
        x = self.data
        if x >= 0:
            r = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            r = e / (1.0 + e)
        return _node(r, self, None, "sigmoid")

    def relu(self):
        """max(0, x); its derivative at 0 is 0.

        >>> Value(-2.0).relu().data
        0.0
        """
        x = self.data
        return _node(x if x > 0 else 0.0, self, None, "relu")

    def sin(self):
        """Sine.

        >>> Value(0.0).sin().data
        0.0
        """
        return _node(math.sin(self.data), self, None, "sin")

    def cos(self):
        """Cosine.

        >>> Value(0.0).cos().data
        1.0
        """
        return _node(math.cos(self.data), self, None, "cos")

    # -- autograd --------------------------------------------------------------------
    def backward(self, retain_graph: bool = False, create_graph: bool = False):
        """Fill ``.grad`` of every node this Value depends on; returns the stats.

        Leaves accumulate across calls (zero them yourself); interior nodes get
        their gradient afresh. A second call through the same graph needs
        ``retain_graph=True`` the first time.

        >>> x = Value(3.0); y = x * x
        >>> y.backward(retain_graph=True).local_grads
        2
        >>> _ = y.backward(); x.grad
        12.0
        """
        if create_graph:
            from .grad_mode import enable_grad

            with enable_grad():
                return engine.backward(self, 1.0, retain_graph or create_graph, True)
        return engine.backward(self, 1.0, retain_graph, False)

    # engine protocol ----------------------------------------------------------------
    _retain = True  # interior Values keep their gradient (as in micrograd)

    def _vjp(self, g, create_graph, release=False):
        d0 = self._d0
        if d0 is None:
            raise RuntimeError(f"Value {self._op}: {engine.GRAPH_FREED}")
        d1 = self._d1
        if release:
            self._d0 = self._d1 = None
        if create_graph:  # the same rule, evaluated on the graph's own nodes
            a, b = self._a, self._b
            local = _RULES[self._op](self, a, self._aux if b is None else b)
            return (g * local[0],) if b is None else (g * local[0], g * local[1])
        if d1 is None:
            return (g * d0,)
        return (g * d0, g * d1)

    def _deliver(self, g, create_graph):
        self.grad = self.grad + g

    # -- conveniences ----------------------------------------------------------------
    def __float__(self):
        return self.data

    def __repr__(self):
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={_data(self.grad):.6g}{label})"


def _pow_forward(a: float, b: float) -> float:
    """Float power with clear errors: 0 ** negative and a negative base with a
    fractional exponent are refused; overflow gives inf as float arithmetic does."""
    if a == 0 and b < 0:
        raise ZeroDivisionError(f"Value **: 0 cannot be raised to a negative power ({b})")
    if a < 0 and not float(b).is_integer():
        raise ValueError(
            f"Value **: a negative base ({a}) with a fractional exponent ({b}) is not real"
        )
    try:
        return float(a ** b)
    except OverflowError:
        return _inf if a > 0 or float(b) % 2 == 0 else -_inf

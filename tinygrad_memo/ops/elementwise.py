"""Elementwise ops: each defined once, for both engines.

An elementwise op is a class holding, side by side:

* ``scalar``: its forward on Python floats (the Value engine), with the Value
  engine's domain policy: outside the domain it raises, as Python's ``math`` does;
* ``array``: its forward on numpy arrays (the Tensor engine), numpy's nan/inf
  semantics and broadcasting;
* its derivative rule: ``d(x, out, fn)`` for a unary op, ``da(a, b, out, fn)`` and
  ``db(a, b, out, fn)`` for a binary one (or a constant such as ``1.0``). A rule is
  evaluated on floats beside the Value forward, on arrays in the Tensor
  backward, and on graph nodes under ``create_graph`` (``fn`` is the namespace of
  elementary functions for the data at hand, see :mod:`.elementary`). A
  parameter whose name starts with ``_`` is not used, so the Tensor engine does
  not save it for backward. An elementwise Jacobian is diagonal: the backward is
  ``g * d``, and the forward-mode rule is ``t * d``.

What tests need is declared beside the op, and read from here by the tests and by
the random graphs of ``tinygrad_memo.testing.strategies`` (a new op needs no other
edit to be drawn and cross-checked):

* ``domain``: a closed interval ``(lo, hi)`` on which the op is defined, smooth
  apart from its kinks, and well conditioned: inputs are drawn from it, and every
  operand in a random graph is fed into it (a positive one, ``lo > 0``, as a
  positive wrapper ``a * a + c``). A binary op may give one interval per input,
  ``((lo_a, hi_a), (lo_b, hi_b))``; :meth:`Elementwise.input_domains` reads both forms.
* ``kinks``: the points where the derivative jumps (inputs keep a margin away from
  them); for a binary op, lines ``(p, q, k)`` of the plane, ``p * a + q * b = k``
  (``maximum``: ``(1.0, -1.0, 0.0)``, the ties ``a = b``).

``symbol`` is how pictures and ``Value._op`` show the op.

A unary op may take parameters (``clip(lo, hi)``, ``elu(alpha)``): ``params``
maps their names to defaults (:data:`REQUIRED` for none), and ``scalar``,
``array`` and ``d`` take them after their usual arguments
(``d(x, out, fn, lo, hi)``). Tests call such an op with ``example_args``, and its
``kinks`` are those at the example arguments. Ops without parameters keep the
Value engine's fast path (no argument handling at all).

Inputs broadcast as in numpy; a gradient may come back in the broadcast shape,
and the Tensor node sums it to each input's shape (ops/shape.sum_to).
"""

from __future__ import annotations

import functools
import inspect
import math
import operator

import numpy as np

from ..function import Function
from ..spelling import unexpected_keyword
from .elementary import ARRAYS, FLOATS, NODES, _is_node
from .shape import expand

__all__ = ["Binary", "ELEMENTWISE", "Elementwise", "REQUIRED", "Unary"]

#: the default of a parameter that must be given
REQUIRED = inspect.Parameter.empty

_nan, _inf = math.nan, math.inf


def _shape(x) -> tuple:
    return getattr(x, "shape", ())


def _is_ufunc(f) -> bool:
    """Whether ``f`` is a numpy ufunc (or one with leading arguments bound), which
    takes ``out=``."""
    if isinstance(f, functools.partial):
        return isinstance(f.func, np.ufunc) and not f.keywords
    return isinstance(f, np.ufunc)


def _array(x) -> np.ndarray:
    """A ufunc on 0-d arrays returns a numpy scalar: make it the array the node will
    hold, so that an op saving its output saves the node's own data (create_graph
    resolves the saved output to the node by identity)."""
    return x if type(x) is np.ndarray else np.asarray(x)


def _operand_error(name: str, a, b, e: Exception) -> Exception:
    """numpy's error for a binary op, said at the op: broadcasting, or the operands' kinds."""
    try:
        np.broadcast_shapes(_shape(a), _shape(b))
    except ValueError:
        return ValueError(f"{name}: shapes {_shape(a)} and {_shape(b)} cannot be broadcast together")
    kinds = " and ".join(str(getattr(x, "dtype", type(x).__name__)) for x in (a, b))
    cls = TypeError if isinstance(e, TypeError) else ValueError
    return cls(f"{name}: {e} (operands of {kinds})")


def _uses(rule, n: int) -> tuple:
    """Which of the first ``n`` parameters a rule uses (names without a leading ``_``)."""
    if type(rule) is float:
        return (False,) * n
    names = list(inspect.signature(rule).parameters)[:n]
    return tuple(not p.startswith("_") for p in names)


def _fns(g):
    """The namespace a rule is evaluated with: arrays, or graph nodes under create_graph."""
    return ARRAYS if type(g) is np.ndarray else NODES


def _times(g, d):
    """``g * d`` with the common constants spelled out (no multiply by one)."""
    if type(d) is float:
        if d == 1.0:
            return g
        if d == -1.0:
            return -g
    return g * d


class Elementwise(Function):
    """Base class of the elementwise ops (see the module docstring)."""

    arity = 0
    symbol: str | None = None
    #: the numpy ufunc this op records (``np.tanh`` -> Tanh), if there is one
    ufunc = None
    domain = (-3.0, 3.0)
    kinks: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.symbol is None and cls.name is not None:
            cls.symbol = cls.name

    @classmethod
    def input_domains(cls) -> tuple:
        """``domain`` as one ``(lo, hi)`` interval per input.

        >>> Div.input_domains()
        ((-3.0, 3.0), (0.5, 3.0))
        >>> Exp.input_domains()
        ((-3.0, 3.0),)
        """
        d = cls.domain
        return tuple(d) if isinstance(d[0], tuple) else (tuple(d),) * cls.arity


class Unary(Elementwise):
    """An elementwise op of one input: ``scalar``, ``array`` and ``d(x, out, fn)``
    (with the op's ``params`` after those, if it has any)."""

    arity = 1
    scalar = None
    array = None
    d = None
    _saves = (False, False)
    #: parameter name -> default (REQUIRED if none), e.g. {"alpha": 1.0}
    params: dict = {}
    #: the arguments tests call the op with (its ``kinks`` are those at these)
    example_args: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.d is not None:
            cls._saves = _uses(cls.d, 2)
        if cls.params and "forward" not in cls.__dict__:
            cls.forward = classmethod(_forward_with_params(cls.params))
            cls.backward = classmethod(_backward_with_params)
        # numpy writes the result into out= where the op's array function is a ufunc
        cls.writes_out = cls.forward.__func__ is Unary.forward.__func__ and _is_ufunc(cls.array)

    @classmethod
    def bind(cls, args: tuple, kwargs: dict) -> tuple:
        """The op's parameters from a call's arguments, defaults filled in, in
        ``params`` order (a TypeError naming the op for a wrong call)."""
        names = cls.params
        if len(args) > len(names):
            raise TypeError(f"{cls.name}() takes {len(names)} argument(s) "
                            f"({', '.join(names)}), got {len(args)}")
        vals = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise unexpected_keyword(cls.name, k, names)
            if k in vals:
                raise TypeError(f"{cls.name}() got multiple values for argument {k!r}")
            vals[k] = v
        out = []
        for k, default in names.items():
            v = vals.get(k, default)
            if v is REQUIRED:
                raise TypeError(f"{cls.name}() missing required argument {k!r}")
            out.append(v)
        out = tuple(out)
        cls.check(*out)
        return out

    @classmethod
    def check(cls, *params) -> None:
        """Refuse bad parameters (a ValueError or TypeError naming the op)."""
        for k, v in zip(cls.params, params):
            if not isinstance(v, int | float | np.integer | np.floating) or isinstance(v, bool):
                raise TypeError(f"{cls.name}: {k} must be a number, got {v!r}")

    @classmethod
    def forward(cls, ctx, x, out=None):
        out = _array(cls.array(x) if out is None else cls.array(x, out=out))
        sx, so = cls._saves
        if sx or so:
            ctx.saved_tensors = (x if sx else None, out if so else None)
        return out

    @classmethod
    def backward(cls, ctx, g):
        d = cls.d
        if type(d) is float:
            return _times(g, d)
        x, out = ctx.saved_tensors
        return g * d(x, out, ARRAYS if type(g) is np.ndarray else NODES)

    @classmethod
    def derivative(cls, x, out, fn, *params):
        """The local derivative at ``x`` (with result ``out``) in namespace ``fn``."""
        d = cls.d
        return d if type(d) is float else d(x, out, fn, *params)

    @classmethod
    def jvp(cls, ctx, t, *_):
        """The forward-mode rule, ``t * d`` from the same derivative rule (with the
        op's parameters, which ``forward`` kept in ``ctx.params``; they have no tangent)."""
        if t is None:
            return None
        d = cls.d
        if type(d) is float:
            return _times(t, d)
        x, out = ctx.saved_tensors
        fn = NODES if _is_node(t) or _is_node(x) or _is_node(out) else ARRAYS
        return t * d(x, out, fn, *ctx.__dict__.get("params", ()))


def _forward_with_params(params: dict):
    """Unary.forward for an op with parameters: they are bound by name (records show
    them by name) and kept in ``ctx.params`` for the derivative."""
    def forward(cls, ctx, x, *args, **kwargs):
        p = cls.bind(args, kwargs)
        out = _array(cls.array(x, *p))
        ctx.params = p
        sx, so = cls._saves
        if sx or so:
            ctx.saved_tensors = (x if sx else None, out if so else None)
        return out

    P = inspect.Parameter
    forward.__signature__ = inspect.Signature(
        [P("cls", P.POSITIONAL_ONLY), P("ctx", P.POSITIONAL_OR_KEYWORD),
         P("x", P.POSITIONAL_OR_KEYWORD)]
        + [P(k, P.POSITIONAL_OR_KEYWORD, default=v) for k, v in params.items()])
    return forward


def _backward_with_params(cls, ctx, g):
    d = cls.d
    if type(d) is float:
        gx = _times(g, d)
    else:
        x, out = ctx.saved_tensors
        gx = g * d(x, out, ARRAYS if type(g) is np.ndarray else NODES, *ctx.params)
    n = len(ctx.needs_input_grad)  # (parameters given positionally to apply are inputs too)
    return gx if n == 1 else (gx,) + (None,) * (n - 1)


class Binary(Elementwise):
    """An elementwise op of two inputs: ``scalar``, ``array``, ``da`` and ``db``."""

    arity = 2
    scalar = None
    array = None
    da = db = None
    _keep: dict = {}
    _constant_rules = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.da is not None:
            ua, ub = _uses(cls.da, 3), _uses(cls.db, 3)
            cls._keep = {
                (na, nb): tuple((na and x) or (nb and y) for x, y in zip(ua, ub))
                for na in (False, True) for nb in (False, True)
            }
            cls._constant_rules = type(cls.da) is float and type(cls.db) is float

    @classmethod
    def forward(cls, ctx, a, b):
        try:
            out = _array(cls.array(a, b))
        except (ValueError, TypeError) as e:
            raise _operand_error(cls.name, a, b, e) from None
        if not cls._constant_rules:
            ka, kb, ko = cls._keep[ctx.needs_input_grad]
            ctx.saved_tensors = (a if ka else None, b if kb else None, out if ko else None)
        return out

    @classmethod
    def backward(cls, ctx, g):
        na, nb = ctx.needs_input_grad
        da, db = cls.da, cls.db
        if cls._constant_rules:
            return (_times(g, da) if na else None), (_times(g, db) if nb else None)
        a, b, out = ctx.saved_tensors
        fn = ARRAYS if type(g) is np.ndarray else NODES
        ga = gb = None
        if na:
            ga = _times(g, da) if type(da) is float else g * da(a, b, out, fn)
        if nb:
            gb = _times(g, db) if type(db) is float else g * db(a, b, out, fn)
        return ga, gb

    @classmethod
    def jvp(cls, ctx, ta, tb=None):
        """The forward-mode rule, ``ta * da + tb * db`` from the same derivative rules
        (a tangent of None is zero), in the result's shape."""
        if ta is None and tb is None:
            return None
        da, db = cls.da, cls.db
        if cls._constant_rules:
            if tb is None:
                out = _times(ta, da)
            elif ta is None:
                out = _times(tb, db)
            else:
                out = _times(ta, da) + _times(tb, db)
            # one input's tangent alone is broadcast to the result (the inputs' shapes: the call's)
            shape = np.broadcast_shapes(*(_shape(x) for x in ctx.call_args))
            return out if _shape(out) == shape else expand(out, shape)
        a, b, out = ctx.saved_tensors
        fn = NODES if any(_is_node(x) for x in (ta, tb, a, b, out)) else ARRAYS
        total = None
        if ta is not None:
            total = _times(ta, da) if type(da) is float else ta * da(a, b, out, fn)
        if tb is not None:
            term = _times(tb, db) if type(db) is float else tb * db(a, b, out, fn)
            total = term if total is None else total + term
        return total

    @classmethod
    def derivatives(cls, a, b, out, fn) -> tuple:
        """The local derivatives with respect to ``a`` and ``b`` in namespace ``fn``."""
        da, db = cls.da, cls.db
        return (da if type(da) is float else da(a, b, out, fn),
                db if type(db) is float else db(a, b, out, fn))


# -- Value-engine forwards with their domain policies ----------------------------------------
def _div(a, b):
    if b == 0:
        raise ZeroDivisionError(f"division by zero ({a} / 0)")
    return a / b


def _pow(a, b):
    """Float power with clear errors: 0 ** negative and a negative base with a
    fractional exponent are refused; overflow gives inf as float arithmetic does."""
    if a == 0 and b < 0:
        raise ZeroDivisionError(f"0 cannot be raised to a negative power ({b})")
    if a < 0 and not float(b).is_integer():
        raise ValueError(f"a negative base ({a}) with a fractional exponent ({b}) is not real")
    try:
        return float(a ** b)
    except OverflowError:
        return _inf if a > 0 or float(b) % 2 == 0 else -_inf


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return _inf


def _log(x):
    if x <= 0:
        raise ValueError(f"input must be positive, got {x}")
    return math.log(x)


def _log1p(x):
    if x <= -1:
        raise ValueError(f"input must be greater than -1, got {x}")
    return math.log1p(x)


def _sqrt(x):
    if x < 0:
        raise ValueError(f"input must be non-negative, got {x}")
    return math.sqrt(x)


def _finite(f):
    def g(x):
        if not math.isfinite(x):
            raise ValueError(f"input must be finite, got {x}")
        return f(x)
    return g


def _weight(ad, bd, wins):
    """Weight of the first input of max/min(a, b): 1 where it wins, 1/2 on ties."""
    if isinstance(ad, float | int) and isinstance(bd, float | int):
        return 1.0 if wins(ad, bd) else (0.5 if ad == bd else 0.0)
    dt = np.result_type(ad, bd)
    dt = dt if dt.kind == "f" else np.dtype(np.float32)
    return np.asarray(wins(ad, bd)).astype(dt) + np.equal(ad, bd).astype(dt) * dt.type(0.5)


# -- the ops ------------------------------------------------------------------------------------
class Add(Binary, name="add"):
    """a + b."""
    symbol, ufunc = "+", np.add
    scalar, array = operator.add, np.add
    da = db = 1.0


class Sub(Binary, name="sub"):
    """a - b."""
    symbol, ufunc = "-", np.subtract
    scalar, array = operator.sub, np.subtract
    da, db = 1.0, -1.0


class Mul(Binary, name="mul"):
    """a * b."""
    symbol, ufunc = "*", np.multiply
    scalar, array = operator.mul, np.multiply

    @staticmethod
    def da(_a, b, _out, _fn):
        return b

    @staticmethod
    def db(a, _b, _out, _fn):
        return a


class Div(Binary, name="div"):
    """a / b (the Value engine refuses a zero divisor)."""
    symbol, ufunc = "/", np.true_divide
    scalar, array = _div, np.true_divide
    domain = ((-3.0, 3.0), (0.5, 3.0))

    @staticmethod
    def da(_a, b, _out, fn):
        return fn.recip(b)

    @staticmethod
    def db(_a, b, out, fn):
        return -out * fn.recip(b)


class Pow(Binary, name="pow"):
    """a ** b. d/da = b a**(b-1), 0 where b == 0 (also at a == 0, as PyTorch);
    d/db = a**b log(a) for a > 0, 0 where a == 0, nan where a < 0."""
    symbol, ufunc = "**", np.power
    scalar, array = _pow, np.power
    domain = ((0.5, 2.0), (-2.0, 2.0))
    kinks = ((0.0, 1.0, 0.0),)  # b = 0: d/da is masked there (as PyTorch), so d2/da db jumps

    @staticmethod
    def da(a, b, _out, fn):
        # where a == 0 and b == 0, b * a**(b-1) is 0 * inf: the exponent is replaced there
        # (anywhere else b * a**(b-1) is finite, and so is its derivative in b: 1/a at b = 0)
        both_zero = (fn.data(b) == 0) * (fn.data(a) == 0)
        return b * fn.pow(a, fn.where(both_zero, 1.0, b - 1))

    @staticmethod
    def db(a, _b, out, fn):
        ad = fn.data(a)
        pos = ad > 0
        log = fn.log(fn.where(pos, a, 1.0))
        return out * fn.where(ad < 0, _nan, fn.where(pos, log, 0.0))


class Maximum(Binary, name="maximum"):
    """Elementwise maximum (also ``tm.maximum``); where the two are equal each gets half
    the gradient.

    >>> import tinygrad_memo as tm
    >>> tm.Value(2.0).maximum(3.0).data, tm.Tensor([1.0, 5.0]).maximum(2.0).numpy()
    (3.0, array([2., 5.], dtype=float32))
    """
    ufunc = np.maximum
    scalar, array = (lambda a, b: a if a >= b else b), np.maximum
    kinks = ((1.0, -1.0, 0.0),)

    @staticmethod
    def da(a, b, _out, fn):
        return fn.constant(a, _weight(fn.data(a), fn.data(b), operator.gt))

    @staticmethod
    def db(a, b, _out, fn):
        return fn.constant(b, _weight(fn.data(b), fn.data(a), operator.gt))


class Minimum(Binary, name="minimum"):
    """Elementwise minimum (also ``tm.minimum``); where the two are equal each gets half
    the gradient.

    >>> import tinygrad_memo as tm
    >>> tm.Value(2.0).minimum(3.0).data, tm.Tensor([1.0, 5.0]).minimum(2.0).numpy()
    (2.0, array([1., 2.], dtype=float32))
    """
    ufunc = np.minimum
    scalar, array = (lambda a, b: a if a <= b else b), np.minimum
    kinks = ((1.0, -1.0, 0.0),)

    @staticmethod
    def da(a, b, _out, fn):
        return fn.constant(a, _weight(fn.data(a), fn.data(b), operator.lt))

    @staticmethod
    def db(a, b, _out, fn):
        return fn.constant(b, _weight(fn.data(b), fn.data(a), operator.lt))


class Neg(Unary, name="neg"):
    """-x.

    >>> import tinygrad_memo as tm
    >>> (-tm.Value(2.0)).data, (-tm.Tensor([2.0])).numpy()
    (-2.0, array([-2.], dtype=float32))
    """
    ufunc = np.negative
    scalar, array = operator.neg, np.negative
    d = -1.0


class Abs(Unary, name="abs"):
    """|x|; its derivative at 0 is 0.

    >>> import tinygrad_memo as tm
    >>> abs(tm.Value(-2.0)).data, tm.Tensor([-2.0, 0.0]).abs().numpy()
    (2.0, array([2., 0.], dtype=float32))
    """
    ufunc = np.absolute
    scalar, array = abs, np.abs
    kinks = (0.0,)

    @staticmethod
    def d(x, _out, fn):
        return fn.sign(x)


class Exp(Unary, name="exp"):
    """e ** x (overflows to inf).

    >>> import tinygrad_memo as tm
    >>> tm.Value(0.0).exp().data, tm.Tensor([0.0]).exp().numpy()
    (1.0, array([1.], dtype=float32))
    """
    ufunc = np.exp
    scalar, array = _exp, np.exp

    @staticmethod
    def d(_x, out, _fn):
        return out


class Log(Unary, name="log"):
    """Natural logarithm (Value: raises for inputs <= 0; Tensor: nan/-inf as numpy).

    >>> import tinygrad_memo as tm
    >>> tm.Value(1.0).log().data, tm.Tensor([1.0]).log().numpy()
    (0.0, array([0.], dtype=float32))
    """
    ufunc = np.log
    scalar, array = _log, np.log
    domain = (0.1, 4.0)

    @staticmethod
    def d(x, _out, fn):
        return fn.recip(x)


class Log1p(Unary, name="log1p"):
    """log(1 + x), accurate for small x.

    >>> import tinygrad_memo as tm
    >>> tm.Value(0.0).log1p().data, tm.Tensor([0.0]).log1p().numpy()
    (0.0, array([0.], dtype=float32))
    """
    ufunc = np.log1p
    scalar, array = _log1p, np.log1p
    domain = (-0.9, 3.0)

    @staticmethod
    def d(x, _out, fn):
        return fn.recip(x + 1.0)


class Sqrt(Unary, name="sqrt"):
    """Square root (Value: raises for negative inputs).

    >>> import tinygrad_memo as tm
    >>> tm.Value(9.0).sqrt().data, tm.Tensor([4.0]).sqrt().numpy()
    (3.0, array([2.], dtype=float32))
    """
    ufunc = np.sqrt
    scalar, array = _sqrt, np.sqrt
    domain = (0.1, 4.0)

    @staticmethod
    def d(_x, out, fn):
        return 0.5 * fn.recip(out)


class Square(Unary, name="square"):
    """x * x.

    >>> import tinygrad_memo as tm
    >>> tm.Value(3.0).square().data, tm.Tensor([-2.0]).square().numpy()
    (9.0, array([4.], dtype=float32))
    """
    ufunc = np.square
    scalar, array = (lambda x: x * x), np.square

    @staticmethod
    def d(x, _out, _fn):
        return 2.0 * x


class Tanh(Unary, name="tanh"):
    """Hyperbolic tangent (stable for any magnitude).

    >>> import tinygrad_memo as tm
    >>> tm.Value(0.0).tanh().data, tm.Tensor([0.0]).tanh().numpy()
    (0.0, array([0.], dtype=float32))
    """
    ufunc = np.tanh
    scalar, array = math.tanh, np.tanh

    @staticmethod
    def d(_x, out, _fn):
        return 1.0 - out * out


class Sigmoid(Unary, name="sigmoid"):
    """Logistic sigmoid 1 / (1 + e**-x), stable for large magnitudes.

    >>> import tinygrad_memo as tm
    >>> tm.Value(0.0).sigmoid().data, tm.Tensor([0.0]).sigmoid().numpy()
    (0.5, array([0.5], dtype=float32))
    """
    scalar, array = FLOATS.sigmoid, ARRAYS.sigmoid
    domain = (-5.0, 5.0)

    @staticmethod
    def d(_x, out, _fn):
        return out * (1.0 - out)


class Relu(Unary, name="relu"):
    """max(x, 0); its derivative at 0 is 0.

    >>> import tinygrad_memo as tm
    >>> tm.Value(-2.0).relu().data, tm.Tensor([-1.0, 2.0]).relu().numpy()
    (0.0, array([0., 2.], dtype=float32))
    """
    scalar, array = (lambda x: x if x > 0 else 0.0), functools.partial(np.maximum, 0)
    kinks = (0.0,)

    @staticmethod
    def d(x, _out, fn):
        return fn.step(x)


class Sin(Unary, name="sin"):
    """Sine.

    >>> import tinygrad_memo as tm
    >>> tm.Value(0.0).sin().data, tm.Tensor([0.0]).sin().numpy()
    (0.0, array([0.], dtype=float32))
    """
    ufunc = np.sin
    scalar, array = _finite(math.sin), np.sin

    @staticmethod
    def d(x, _out, fn):
        return fn.cos(x)


class Cos(Unary, name="cos"):
    """Cosine.

    >>> import tinygrad_memo as tm
    >>> tm.Value(0.0).cos().data, tm.Tensor([0.0]).cos().numpy()
    (1.0, array([1.], dtype=float32))
    """
    ufunc = np.cos
    scalar, array = _finite(math.cos), np.cos

    @staticmethod
    def d(x, _out, fn):
        return -fn.sin(x)


# -- more elementwise ops (issue 12) -------------------------------------------------------------
_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _positive(f, what="positive"):
    def g(x):
        if not x > 0:
            raise ValueError(f"input must be {what}, got {x}")
        return f(x)
    return g


def _reciprocal(x):
    if x == 0:
        raise ZeroDivisionError("division by zero (1 / 0)")
    return 1.0 / x


def _exp2(x):
    try:
        return 2.0 ** x
    except OverflowError:
        return _inf


def _expm1(x):
    try:
        return math.expm1(x)
    except OverflowError:
        return _inf


def _tan(x):
    if not math.isfinite(x):
        raise ValueError(f"input must be finite, got {x}")
    return math.tan(x)


def _within(xd, lo, hi, closed: bool):
    """lo <= x <= hi (``closed``) or lo < x < hi, on the data; None is no bound."""
    inside = True
    if lo is not None:
        inside = (xd >= lo) if closed else (xd > lo)
    if hi is not None:
        inside = inside & ((xd <= hi) if closed else (xd < hi))
    return inside


class Tan(Unary, name="tan"):
    """Tangent.

    >>> import tinygrad_memo as tm
    >>> tm.Value(0.0).tan().data, tm.Tensor([0.0]).tan().numpy()
    (0.0, array([0.], dtype=float32))
    """
    ufunc = np.tan
    scalar, array = _tan, np.tan
    domain = (-1.2, 1.2)

    @staticmethod
    def d(_x, out, _fn):
        return 1.0 + out * out


class Reciprocal(Unary, name="reciprocal"):
    """1 / x (the Value engine refuses 0).

    >>> import tinygrad_memo as tm
    >>> tm.Value(4.0).reciprocal().data, tm.Tensor([2.0]).reciprocal().numpy()
    (0.25, array([0.5], dtype=float32))
    """
    ufunc = np.reciprocal
    scalar, array = _reciprocal, (lambda x: 1.0 / x)
    domain = (0.5, 3.0)

    @staticmethod
    def d(_x, out, _fn):
        return -out * out


class Rsqrt(Unary, name="rsqrt"):
    """1 / sqrt(x) (Value: raises for inputs <= 0).

    >>> import tinygrad_memo as tm
    >>> tm.Value(4.0).rsqrt().data, tm.Tensor([4.0]).rsqrt().numpy()
    (0.5, array([0.5], dtype=float32))
    """
    scalar, array = _positive(lambda x: 1.0 / math.sqrt(x)), (lambda x: 1.0 / np.sqrt(x))
    domain = (0.5, 3.0)

    @staticmethod
    def d(_x, out, _fn):
        return -0.5 * out * out * out


class Expm1(Unary, name="expm1"):
    """e ** x - 1, accurate for small x.

    >>> import tinygrad_memo as tm
    >>> tm.Value(0.0).expm1().data, tm.Tensor([0.0]).expm1().numpy()
    (0.0, array([0.], dtype=float32))
    """
    ufunc = np.expm1
    scalar, array = _expm1, np.expm1

    @staticmethod
    def d(_x, out, _fn):
        return out + 1.0


class Log2(Unary, name="log2"):
    """Base-2 logarithm (Value: raises for inputs <= 0).

    >>> import tinygrad_memo as tm
    >>> tm.Value(8.0).log2().data, tm.Tensor([4.0]).log2().numpy()
    (3.0, array([2.], dtype=float32))
    """
    ufunc = np.log2
    scalar, array = _positive(math.log2), np.log2
    domain = (0.1, 4.0)

    @staticmethod
    def d(x, _out, fn):
        return fn.recip(x * _LN2)


class Log10(Unary, name="log10"):
    """Base-10 logarithm (Value: raises for inputs <= 0).

    >>> import tinygrad_memo as tm
    >>> tm.Value(100.0).log10().data, tm.Tensor([10.0]).log10().numpy()
    (2.0, array([1.], dtype=float32))
    """
    ufunc = np.log10
    scalar, array = _positive(math.log10), np.log10
    domain = (0.1, 4.0)

    @staticmethod
    def d(x, _out, fn):
        return fn.recip(x * _LN10)


class Exp2(Unary, name="exp2"):
    """2 ** x (overflows to inf).

    >>> import tinygrad_memo as tm
    >>> tm.Value(3.0).exp2().data, tm.Tensor([2.0]).exp2().numpy()
    (8.0, array([4.], dtype=float32))
    """
    ufunc = np.exp2
    scalar, array = _exp2, np.exp2

    @staticmethod
    def d(_x, out, _fn):
        return out * _LN2


class Sign(Unary, name="sign"):
    """-1, 0 or 1; its gradient is zero.

    >>> import tinygrad_memo as tm
    >>> tm.Value(-2.0).sign().data, tm.Tensor([-2.0, 0.0, 3.0]).sign().numpy()
    (-1.0, array([-1.,  0.,  1.], dtype=float32))
    """
    ufunc = np.sign
    scalar, array = FLOATS.sign, np.sign
    kinks = (0.0,)
    d = 0.0


_INTEGERS = tuple(float(k) for k in range(-3, 4))


class Floor(Unary, name="floor"):
    """The largest integer <= x (as a float); its gradient is zero.

    >>> import tinygrad_memo as tm
    >>> tm.Value(-1.5).floor().data, tm.Tensor([1.5]).floor().numpy()
    (-2.0, array([1.], dtype=float32))
    """
    ufunc = np.floor
    scalar, array = (lambda x: float(math.floor(x))), np.floor
    kinks = _INTEGERS
    d = 0.0


class Ceil(Unary, name="ceil"):
    """The smallest integer >= x (as a float); its gradient is zero.

    >>> import tinygrad_memo as tm
    >>> tm.Value(-1.5).ceil().data, tm.Tensor([1.5]).ceil().numpy()
    (-1.0, array([2.], dtype=float32))
    """
    ufunc = np.ceil
    scalar, array = (lambda x: float(math.ceil(x))), np.ceil
    kinks = _INTEGERS
    d = 0.0


class Clip(Unary, name="clip"):
    """x limited to [lo, hi] (either bound may be None), numpy's ``clip`` and
    PyTorch's ``clamp``: gradient 1 inside, 0 outside and 1 on a bound (PyTorch's
    choice); with lo > hi every element is hi.

    >>> import tinygrad_memo as tm
    >>> tm.Value(3.0).clip(0.0, 1.0).data, tm.Tensor([-1.0, 0.5, 2.0]).clip(0, 1).numpy()
    (1.0, array([0. , 0.5, 1. ], dtype=float32))
    """
    params = {"lo": None, "hi": None}
    example_args = (-1.0, 1.5)
    kinks = (-1.0, 1.5)

    @staticmethod
    def scalar(x, lo, hi):
        if lo is not None and x < lo:
            x = float(lo)
        if hi is not None and x > hi:
            x = float(hi)
        return x

    @staticmethod
    def array(x, lo, hi):
        return np.clip(x, lo, hi)

    @staticmethod
    def d(x, _out, fn, lo, hi):
        return fn.mask(x, _within(fn.data(x), lo, hi, closed=True))

    @classmethod
    def check(cls, lo, hi):
        if lo is None and hi is None:
            raise ValueError("clip: give at least one of lo and hi")
        for k, v in (("lo", lo), ("hi", hi)):
            if v is not None and (isinstance(v, bool) or
                                  not isinstance(v, int | float | np.integer | np.floating)):
                raise TypeError(f"clip: {k} must be a number or None, got {v!r}")


class Hardtanh(Unary, name="hardtanh"):
    """x limited to [min_val, max_val] (PyTorch's ``hardtanh``): gradient 1 strictly
    inside, 0 elsewhere (on the bounds too, as PyTorch).

    >>> import tinygrad_memo as tm
    >>> tm.Value(3.0).hardtanh().data, tm.Tensor([-2.0, 0.5]).hardtanh().numpy()
    (1.0, array([-1. ,  0.5], dtype=float32))
    """
    params = {"min_val": -1.0, "max_val": 1.0}
    example_args = (-1.5, 0.5)
    kinks = (-1.5, 0.5)

    @staticmethod
    def scalar(x, lo, hi):
        return float(lo) if x < lo else float(hi) if x > hi else x

    @staticmethod
    def array(x, lo, hi):
        return np.clip(x, lo, hi)

    @staticmethod
    def d(x, _out, fn, lo, hi):
        return fn.mask(x, _within(fn.data(x), lo, hi, closed=False))

    @classmethod
    def check(cls, lo, hi):
        Unary.check.__func__(cls, lo, hi)
        if lo > hi:
            raise ValueError(f"hardtanh: min_val ({lo}) cannot be greater than max_val ({hi})")


class Relu6(Unary, name="relu6"):
    """min(max(x, 0), 6); gradient 0 at both kinks (PyTorch's convention).

    >>> import tinygrad_memo as tm
    >>> tm.Value(7.0).relu6().data, tm.Tensor([-1.0, 3.0, 8.0]).relu6().numpy()
    (6.0, array([0., 3., 6.], dtype=float32))
    """
    scalar = staticmethod(lambda x: 0.0 if x < 0 else 6.0 if x > 6 else x)
    array = staticmethod(lambda x: np.clip(x, 0, 6))
    domain = (-3.0, 9.0)
    kinks = (0.0, 6.0)

    @staticmethod
    def d(x, _out, fn):
        return fn.mask(x, _within(fn.data(x), 0.0, 6.0, closed=False))


class Elu(Unary, name="elu"):
    """x for x > 0, alpha * (e ** x - 1) otherwise (PyTorch's ``elu``; its
    derivative at 0 is alpha, as PyTorch's).

    >>> import tinygrad_memo as tm
    >>> tm.Value(2.0).elu().data, tm.Tensor([0.0, 1.0]).elu(alpha=0.5).numpy()
    (2.0, array([0., 1.], dtype=float32))
    """
    params = {"alpha": 1.0}
    example_args = (0.7,)
    kinks = (0.0,)

    @staticmethod
    def scalar(x, alpha):
        return x if x > 0 else alpha * math.expm1(x)

    @staticmethod
    def array(x, alpha):
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))

    @staticmethod
    def d(x, out, fn, alpha):
        return fn.where(fn.data(x) > 0, 1.0, out + alpha)


class Hardswish(Unary, name="hardswish"):
    """x * relu6(x + 3) / 6 (PyTorch's ``hardswish``; gradient 0 at x = -3 and 1
    at x = 3, as PyTorch's).

    >>> import tinygrad_memo as tm
    >>> tm.Value(3.0).hardswish().data, tm.Tensor([-1.5, 1.0]).hardswish().numpy()
    (3.0, array([-0.375    ,  0.6666667], dtype=float32))
    """
    scalar = staticmethod(lambda x: 0.0 if x <= -3 else x if x >= 3 else x * (x + 3.0) / 6.0)
    array = staticmethod(lambda x: x * np.clip(x + 3, 0, 6) / 6)
    domain = (-5.0, 5.0)
    kinks = (-3.0, 3.0)

    @staticmethod
    def d(x, _out, fn):
        xd = fn.data(x)
        middle = fn.mask(x, _within(xd, -3.0, 3.0, closed=False))
        return middle * (x * (1.0 / 3.0) + 0.5) + fn.mask(x, xd >= 3.0)


def _mish(x, p, q):
    """x tanh(softplus(x)) from p = sigmoid(x), q = sigmoid(-x):
    tanh(softplus(x)) = (1 - q^2) / (1 + q^2) = p (1 + q) / (1 + q^2), no cancellation."""
    return x * p * (1.0 + q) / (1.0 + q * q)


class Mish(Unary, name="mish"):
    """x * tanh(softplus(x)) (PyTorch's ``mish``), stable for any magnitude.

    >>> import tinygrad_memo as tm
    >>> round(tm.Value(1.0).mish().data, 4), tm.Tensor([0.0]).mish().numpy()
    (0.8651, array([0.], dtype=float32))
    """
    domain = (-4.0, 4.0)

    @staticmethod
    def scalar(x):
        return _mish(x, FLOATS.sigmoid(x), FLOATS.sigmoid(-x))

    @staticmethod
    def array(x):
        return _mish(x, ARRAYS.sigmoid(x), ARRAYS.sigmoid(-x))

    @staticmethod
    def d(x, _out, fn):
        # tanh(sp) + x sigmoid(x) (1 - tanh(sp)^2), with 1 - tanh(sp)^2 = 4 q^2 / (1 + q^2)^2
        p, q = fn.sigmoid(x), fn.sigmoid(-x)
        r = 1.0 + q * q
        return p * (1.0 + q) / r + x * p * 4.0 * q * q / (r * r)


class Softsign(Unary, name="softsign"):
    """x / (1 + |x|) (PyTorch's ``softsign``).

    >>> import tinygrad_memo as tm
    >>> tm.Value(1.0).softsign().data, tm.Tensor([-3.0]).softsign().numpy()
    (0.5, array([-0.75], dtype=float32))
    """
    scalar = staticmethod(lambda x: x / (1.0 + abs(x)))
    array = staticmethod(lambda x: x / (1 + np.abs(x)))
    kinks = (0.0,)  # the second derivative jumps there

    @staticmethod
    def d(x, _out, _fn):
        return (1.0 + abs(x)) ** -2


# -- activations of issue 12 (round 3): erf, leaky_relu, gelu, silu, softplus --------------------
_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_GELU_C, _GELU_K = math.sqrt(2.0 / math.pi), 0.044715


class Erf(Unary, name="erf"):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t**2) dt`` (``math.erf`` on
    floats; on arrays Chebyshev interpolants of it, see :mod:`.erf`).

    >>> import tinygrad_memo as tm
    >>> tm.Value(0.0).erf().data, tm.Tensor([0.0]).erf().numpy()
    (0.0, array([0.], dtype=float32))
    """
    scalar, array = math.erf, ARRAYS.erf

    @staticmethod
    def d(x, _out, fn):
        return fn.exp(-x * x) * _TWO_OVER_SQRT_PI


class LeakyRelu(Unary, name="leaky_relu"):
    """x for x > 0, ``negative_slope * x`` otherwise (PyTorch's ``leaky_relu``; its
    derivative at 0 is ``negative_slope``, as PyTorch's).

    >>> import tinygrad_memo as tm
    >>> tm.Value(-2.0).leaky_relu().data, tm.Tensor([-1.0, 2.0]).leaky_relu(0.5).numpy()
    (-0.02, array([-0.5,  2. ], dtype=float32))
    """
    params = {"negative_slope": 0.01}
    example_args = (0.1,)
    kinks = (0.0,)

    @staticmethod
    def scalar(x, slope):
        return x if x > 0 else x * slope

    @staticmethod
    def array(x, slope):
        return np.where(x > 0, x, x * slope)

    @staticmethod
    def d(x, _out, fn, slope):
        xd = fn.data(x)
        d = fn.mask(x, xd > 0) * (1.0 - slope) + slope
        dt = getattr(xd, "dtype", None)  # (a boolean mask times a float would be float64)
        if dt is not None and dt.kind == "f" and isinstance(d, np.ndarray | np.generic):
            return np.asarray(d, dtype=dt)
        return d


def _gelu_tanh_inner(x):
    return (x + x * x * x * _GELU_K) * _GELU_C


class Gelu(Unary, name="gelu"):
    """GELU, ``x * Phi(x)`` with ``Phi`` the standard normal CDF (PyTorch's default,
    ``approximate="none"``: ``0.5 x (1 + erf(x / sqrt(2)))``), or its tanh approximation
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))`` with ``approximate="tanh"``.

    >>> import tinygrad_memo as tm
    >>> round(tm.Value(1.0).gelu().data, 6), tm.Tensor([1.0]).gelu("tanh").numpy().round(4)
    (0.841345, array([0.8412], dtype=float32))
    """
    params = {"approximate": "none"}
    example_args = ()  # (the default "none": torch takes approximate by keyword only)

    @staticmethod
    def scalar(x, approximate="none"):
        if approximate == "none":
            return 0.5 * x * (1.0 + math.erf(x * _SQRT1_2))
        return 0.5 * x * (1.0 + math.tanh(_gelu_tanh_inner(x)))

    @staticmethod
    def array(x, approximate="none"):
        if approximate == "none":
            return 0.5 * x * (1.0 + ARRAYS.erf(x * _SQRT1_2))
        return 0.5 * x * (1.0 + np.tanh(_gelu_tanh_inner(x)))

    @staticmethod
    def d(x, _out, fn, approximate="none"):
        if approximate == "none":  # Phi(x) + x phi(x)
            return (fn.erf(x * _SQRT1_2) + 1.0) * 0.5 + x * fn.exp(x * x * -0.5) * _INV_SQRT_2PI
        t = fn.sigmoid(_gelu_tanh_inner(x) * 2.0) * 2.0 - 1.0  # tanh(u) = 2 sigmoid(2u) - 1
        return (t + 1.0) * 0.5 + x * (1.0 - t * t) * (x * x * (3.0 * _GELU_K) + 1.0) * (0.5 * _GELU_C)

    @classmethod
    def check(cls, approximate):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate argument must be either 'none' or 'tanh', got "
                             f"{approximate!r}")


class Silu(Unary, name="silu"):
    """``x * sigmoid(x)`` (PyTorch's ``silu``, also called swish).

    >>> import tinygrad_memo as tm
    >>> tm.Value(0.0).silu().data, tm.Tensor([0.0]).silu().numpy()
    (0.0, array([0.], dtype=float32))
    """
    domain = (-4.0, 4.0)

    @staticmethod
    def scalar(x):
        return x * FLOATS.sigmoid(x)

    @staticmethod
    def array(x):
        return x * ARRAYS.sigmoid(x)

    @staticmethod
    def d(x, _out, fn):
        s = fn.sigmoid(x)
        return s * (x * (1.0 - s) + 1.0)


class Softplus(Unary, name="softplus"):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``
    (PyTorch's ``softplus``, with its derivative ``sigmoid(beta x)``, 1 past the threshold).

    >>> import tinygrad_memo as tm
    >>> round(tm.Value(0.0).softplus().data, 6), tm.Tensor([30.0]).softplus().numpy()
    (0.693147, array([30.], dtype=float32))
    """
    params = {"beta": 1.0, "threshold": 20.0}
    example_args = (1.5, 20.0)
    kinks = (20.0 / 1.5,)

    @staticmethod
    def scalar(x, beta, threshold):
        z = x * beta
        if z > threshold:
            return x
        return (max(z, 0.0) + math.log1p(math.exp(-abs(z)))) / beta

    @staticmethod
    def array(x, beta, threshold):
        z = x * beta
        soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
        return np.where(z > threshold, x, soft)

    @staticmethod
    def d(x, _out, fn, beta, threshold):
        return fn.where(fn.data(x) * beta > threshold, 1.0, fn.sigmoid(x * beta))


#: every elementwise op, by name, in definition order
ELEMENTWISE = {c.name: c for c in (
    Add, Sub, Mul, Div, Pow, Maximum, Minimum,
    Neg, Abs, Exp, Log, Log1p, Sqrt, Square, Tanh, Sigmoid, Relu, Sin, Cos,
    Tan, Reciprocal, Rsqrt, Expm1, Log2, Log10, Exp2, Sign, Floor, Ceil, Clip,
    Hardtanh, Relu6, Elu, Hardswish, Mish, Softsign, Erf, LeakyRelu, Gelu, Silu, Softplus,
)}


class Where(Function, name="where"):
    """where(cond, a, b): a where cond is true, else b (cond gets no gradient)."""

    @staticmethod
    def forward(ctx, cond, a, b):
        c = np.asarray(cond)
        if c.dtype.kind not in "biuf":
            raise TypeError(f"where: the condition must be boolean (or numeric), got {cond!r:.40}")
        cond = c.astype(bool, copy=False)
        try:
            out = np.where(cond, a, b)
        except ValueError:
            raise ValueError(
                f"where: shapes {cond.shape}, {_shape(a)} and {_shape(b)} "
                "cannot be broadcast together"
            ) from None
        ctx.cond, ctx.shape = cond, out.shape
        return out

    @staticmethod
    def backward(ctx, g):
        return None, g * ctx.cond, g * ~ctx.cond

    @staticmethod
    def jvp(ctx, _tc, ta, tb=None):
        if ta is None and tb is None:
            return None
        out = ta * ctx.cond if tb is None else (
            tb * ~ctx.cond if ta is None else ta * ctx.cond + tb * ~ctx.cond)
        return out if _shape(out) == ctx.shape else expand(out, ctx.shape)

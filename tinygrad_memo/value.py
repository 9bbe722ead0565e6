"""Value: a scalar node of the computation graph.

Every op is an entry of the op registry (``tinygrad_memo.ops``), the same
definition the Tensor engine uses: the Value engine runs its float forward
(``op.scalar``) and, right beside it, evaluates its derivative rule on floats
(the local derivative of the result with respect to each input), so the fast
first-order backward only multiplies. With ``create_graph=True`` the same rule is
evaluated on the graph's own Values, so a gradient can be differentiated again.

Nodes hold no closures and no reference to themselves, so a graph has no
reference cycles and is freed by reference counting as soon as it is dropped;
each node is one object (its inputs live in two slots, not a tuple), which keeps
the work of Python's cyclic garbage collector small while graphs are built.
Plain numbers combined with a Value are constants: they are kept in the node
(``_aux``), not made into nodes.

Domain policy: outside an op's domain the Value engine raises at the op, naming
it (``Value.log: input must be positive, got 0.0``), as Python's ``math`` does;
overflow gives ``inf`` as float arithmetic does. (The Tensor engine follows
numpy's nan/inf instead.) Where both are defined, values and derivatives agree.
"""

from __future__ import annotations

import math

import numpy as np

from . import engine, function
from . import hooks as _hooks
from .function import Call
from .grad_mode import FORWARD, STATE, enable_grad
from .ops import ELEMENTWISE, Unary
from .ops.elementary import FLOATS, NODES

_next_seq = engine.next_seq
_new = object.__new__

__all__ = ["Value"]


def _checked(name: str, x) -> float:
    """A plain number (or a numpy scalar) as a float, or a clear TypeError naming the op."""
    if type(x) is float:
        return x
    if isinstance(x, int | float | np.floating | np.integer):
        return float(x)
    if isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind in "fiu":
        return float(x)
    raise TypeError(f"Value {name}: unsupported operand of type {type(x).__name__}: {x!r}")


def _fail(op, e: Exception):
    where = f"Value {op.symbol}" if op.arity == 2 else f"Value.{op.name}"
    return type(e)(f"{where}: {e}")


def _local(rule, a, b, out):
    """A binary rule's local derivative on the graph's nodes (create_graph)."""
    return rule if type(rule) is float else rule(a, b, out, NODES)


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

    __slots__ = ("data", "grad", "label", "_fn", "_a", "_b", "_aux", "_left", "_seq", "_d0", "_d1",
                 "_hooks", "_tangent", "__weakref__")  # (set only by register_hook, forward mode)

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
        self._a = self._b = self._fn = self._aux = None
        self._seq = _next_seq()
        self._d0 = self._d1 = None

    # -- the record of the call ------------------------------------------------------------
    @property
    def grad_fn(self):
        """``None`` for a leaf; else the record of the call that made this Value:
        ``.name``, ``.inputs`` (Values) and ``.args`` (its constant, by parameter name).

        >>> x = Value(2.0)
        >>> (x * 3).grad_fn
        <mul b=3.0>
        """
        fn = self._fn
        if fn is None or self._a is None:
            return None
        aux = self._aux
        if aux is None:
            return Call(fn, self._inputs, {})
        if fn.arity == 1:  # an op with parameters
            return Call(fn, (self._a,), dict(zip(fn.params, aux)))
        return Call(fn, (self._a,), {"a" if self._left else "b": aux})

    @property
    def _op(self) -> str:
        """The op's symbol, as micrograd shows it (``+``, ``*``, ``tanh``; ``""`` for a leaf)."""
        fn = self._fn
        return "" if fn is None else fn.symbol

    @property
    def requires_grad(self) -> bool:
        """False only for a Value computed inside ``no_grad`` (it has no graph).

        >>> import tinygrad_memo as tm
        >>> with tm.no_grad():
        ...     y = Value(2.0) * 3
        >>> Value(1.0).requires_grad, y.requires_grad
        (True, False)
        """
        return self._d0 is not False

    def register_hook(self, hook):
        """Call ``hook(grad)`` in every backward pass when this Value's gradient is
        complete; a number it returns replaces the gradient from there on. Returns a
        handle whose ``remove()`` unregisters it (see :mod:`tinygrad_memo.hooks`).

        >>> x = Value(3.0); y = x * x
        >>> h = y.register_hook(lambda g: g * 2)
        >>> _ = y.backward(); x.grad
        12.0
        """
        return _hooks.register_hook(self, hook)

    # -- arithmetic: the dunder methods are made from the registry ops below ----------
    def __pos__(self):
        return self

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
            with enable_grad():
                return engine.backward(self, None, True, True)
        return engine.backward(self, None, retain_graph, False)

    # engine protocol ----------------------------------------------------------------
    def _seed(self, g, create_graph, op="backward", arg="grad"):
        if self._d0 is False:
            raise RuntimeError(
                f"{op}: this Value does not require grad and has no graph (it was "
                "computed inside no_grad)"
            )
        if g is None:
            g = 1.0
        elif isinstance(g, Value):
            return g if create_graph else g.data
        else:
            g = _checked(f"{op} {arg}", g)
        return Value(g) if create_graph else g

    def _vjp(self, g, create_graph, release=False):
        d0 = self._d0
        if d0 is None:
            raise RuntimeError(f"Value {self._op}: {engine.GRAPH_FREED}")
        d1 = self._d1
        if release:
            self._d0 = None  # freed (a later _vjp raises); _d1 is only read beside _d0
        if create_graph:  # the same rule, evaluated on the graph's own nodes
            op, a, b = self._fn, self._a, self._b
            if b is not None:
                return (g * _local(op.da, a, b, self), g * _local(op.db, a, b, self))
            aux = self._aux
            if aux is None:
                d = op.d
                return (g * (d if type(d) is float else d(a, self, NODES)),)
            if op.arity == 1:  # an op with parameters (kept in _aux)
                return (g * op.derivative(a, self, NODES, *aux),)
            if self._left:
                return (g * _local(op.db, aux, a, self),)
            return (g * _local(op.da, a, aux, self),)
        if d1 is None:
            return (g * d0,)
        return (g * d0, g * d1)

    _retain = True  # interior Values keep their gradient (as in micrograd)
    _leaves_early = False  # a leaf's gradient is one float: the walk keeps creation order

    @staticmethod
    def _add_grads(total, g):
        return total + g

    def _receive(self, g, create_graph):
        if self._a is None:
            self.grad = self.grad + g  # a leaf accumulates
        elif type(g) is Value:  # create_graph: keep the number, not a graph that would
            self.grad = g.data  # point back at this node (a reference cycle)
        else:
            self.grad = g  # interior Values keep their gradient (as in micrograd)

    def _gradient(self, g, create_graph, repeated):
        """``tm.grad``'s result for this input: 0 where no path led, a Value under create_graph."""
        g = 0.0 if g is None else g
        if create_graph and not isinstance(g, Value):
            return Value(float(g))
        return g

    # the data namespace of derivative rules, and constants/selection under create_graph
    _fns = FLOATS

    @staticmethod
    def _constant(value):
        return value

    @staticmethod
    def _where(cond, a, b):
        return a if cond else b

    # -- copy and pickle: the data, never the graph (no recursion through deep graphs) ------
    def __deepcopy__(self, memo):
        if self._a is not None:
            raise RuntimeError(
                "deepcopy: only leaf Values can be deep-copied; this one was computed by "
                f"{self._fn.name}: copy Value(v.data)"
            )
        v = _rebuild_value(self.data, self.label, self.grad)
        memo[id(self)] = v
        return v

    def __reduce__(self):
        g = self.grad
        return _rebuild_value, (self.data, self.label, g.data if isinstance(g, Value) else g)

    # -- conveniences ----------------------------------------------------------------
    def __float__(self):
        if STATE.recorder is not None:  # tm.jit: a traced value read into Python
            STATE.recorder.read(self, "float()")
        return self.data

    def __repr__(self):
        label = f", label={self.label!r}" if self.label else ""
        grad = self.grad.data if isinstance(self.grad, Value) else self.grad
        return f"Value(data={self.data:.6g}, grad={grad:.6g}{label})"


def _rebuild_value(data, label, grad):
    """A leaf Value (pickling and deepcopy come back as leaves)."""
    v = Value(data, label)
    v.grad = grad.data if isinstance(grad, Value) else grad
    return v


def _binary_method(op, name: str, reflected: bool = False):
    """The Value method of a binary registry op (``reflected``: ``other op self``).

    The result node's local derivatives are evaluated now, beside the forward, and
    kept in two float slots (no tuple, closure or cycle)."""
    scalar, da, db, symbol = op.scalar, op.da, op.db, op.symbol
    ca, cb = type(da) is float, type(db) is float

    def method(self, other):
        if type(other) is Value or isinstance(other, Value):
            if reflected:  # (a Value subclass on the left)
                a, b = other, self
            else:
                a, b = self, other
            ad, bd = a.data, b.data
            try:
                data = scalar(ad, bd)
            except (ValueError, ZeroDivisionError, OverflowError) as e:
                raise _fail(op, e) from None
            v = _new(Value)
            v.data = data
            v.grad = 0.0
            v.label = ""
            v._fn = op
            v._aux = None
            v._seq = _next_seq()
            if STATE.enabled:
                v._a = a
                v._b = b
                v._d0 = da if ca else da(ad, bd, data, FLOATS)
                v._d1 = db if cb else db(ad, bd, data, FLOATS)
            else:
                v._a = v._b = v._d1 = None
                v._d0 = False
                if FORWARD[0] and STATE.forward is not None:  # tm.jvp (forward/mode.py)
                    STATE.forward.binary(v, op, a, b)
            return v
        c = _checked(symbol, other)
        xd = self.data
        try:
            data = scalar(c, xd) if reflected else scalar(xd, c)
        except (ValueError, ZeroDivisionError, OverflowError) as e:
            raise _fail(op, e) from None
        v = _new(Value)
        v.data = data
        v.grad = 0.0
        v.label = ""
        v._fn = op
        v._aux = c
        v._left = reflected
        v._seq = _next_seq()
        v._b = v._d1 = None
        if STATE.enabled:
            v._a = self
            if reflected:
                v._d0 = db if cb else db(c, xd, data, FLOATS)
            else:
                v._d0 = da if ca else da(xd, c, data, FLOATS)
        else:
            v._a = None
            v._d0 = False
            if FORWARD[0] and STATE.forward is not None:
                STATE.forward.binary(v, op, *((c, self) if reflected else (self, c)))
        return v

    method.__name__ = name
    method.__qualname__ = f"Value.{name}"
    method.__doc__ = op.__doc__
    return method


def _unary_method(op, name: str):
    """The Value method of a unary registry op: its float forward and, beside it,
    its local derivative as a float."""
    scalar, d = op.scalar, op.d
    const = type(d) is float

    def method(self):
        xd = self.data
        try:
            data = scalar(xd)
        except (ValueError, ZeroDivisionError, OverflowError) as e:
            raise _fail(op, e) from None
        v = _new(Value)
        v.data = data
        v.grad = 0.0
        v.label = ""
        v._fn = op
        v._aux = None
        v._seq = _next_seq()
        v._b = v._d1 = None
        if STATE.enabled:
            v._a = self
            v._d0 = d if const else d(xd, data, FLOATS)
        else:
            v._a = None
            v._d0 = False
            if FORWARD[0] and STATE.forward is not None:
                STATE.forward.unary(v, op, self, ())
        return v

    method.__name__ = name
    method.__qualname__ = f"Value.{name}"
    method.__doc__ = op.__doc__
    return method


def _unary_method_with_params(op, name: str):
    """The Value method of a unary op with parameters (``clip(lo, hi)``): they are
    bound by name and kept in ``_aux``."""
    scalar, bind, derivative = op.scalar, op.bind, op.derivative

    def method(self, *args, **kwargs):
        p = bind(args, kwargs)
        xd = self.data
        try:
            data = scalar(xd, *p)
        except (ValueError, ZeroDivisionError, OverflowError) as e:
            raise _fail(op, e) from None
        v = _new(Value)
        v.data = data
        v.grad = 0.0
        v.label = ""
        v._fn = op
        v._aux = p
        v._seq = _next_seq()
        v._b = v._d1 = None
        if STATE.enabled:
            v._a = self
            v._d0 = float(derivative(xd, data, FLOATS, *p))
        else:
            v._a = None
            v._d0 = False
            if FORWARD[0] and STATE.forward is not None:
                STATE.forward.unary(v, op, self, p)
        return v

    method.__name__ = name
    method.__qualname__ = f"Value.{name}"
    method.__doc__ = op.__doc__
    return method


# the operators and the binary methods, one per binary elementwise op of the registry
_OPERATORS = {"add": "add", "sub": "sub", "mul": "mul", "div": "truediv", "pow": "pow"}
for _op in ELEMENTWISE.values():
    if _op.arity == 2:
        _dunder = _OPERATORS.get(_op.name)
        if _dunder is None:
            setattr(Value, _op.name, _binary_method(_op, _op.name))
        else:
            setattr(Value, f"__{_dunder}__", _binary_method(_op, f"__{_dunder}__"))
            setattr(Value, f"__r{_dunder}__", _binary_method(_op, f"__r{_dunder}__", True))
# every unary elementwise op of the registry is a Value method (neg and abs are operators)
for _op in ELEMENTWISE.values():
    if issubclass(_op, Unary):
        _name = {"neg": "__neg__", "abs": "__abs__"}.get(_op.name, _op.name)
        _make = _unary_method_with_params if _op.params else _unary_method
        setattr(Value, _name, _make(_op, _name))
del _op, _name, _dunder, _make


def _call(op, inputs: list, args: dict) -> Value:
    """Call the scalar op ``op`` on Value ``inputs`` with its constant ``args``
    (``{"a": c}`` or ``{"b": c}``): how a graph is re-executed from its records."""
    if op.arity == 1:
        return _METHODS[op.name](inputs[0], **args)
    method = _METHODS[op.name]
    if "a" in args:
        return _REFLECTED[op.name](inputs[0], args["a"])
    if "b" in args:
        return method(inputs[0], args["b"])
    return method(inputs[0], inputs[1])


_METHODS = {op.name: getattr(Value, {"neg": "__neg__", "abs": "__abs__"}.get(op.name, op.name))
            for op in ELEMENTWISE.values() if op.arity == 1}
_METHODS.update({op.name: getattr(Value, f"__{_OPERATORS.get(op.name)}__" if op.name in _OPERATORS
                                  else op.name)
                 for op in ELEMENTWISE.values() if op.arity == 2})
_REFLECTED = {op.name: (getattr(Value, f"__r{_OPERATORS[op.name]}__") if op.name in _OPERATORS
                        else _binary_method(op, op.name, True))
              for op in ELEMENTWISE.values() if op.arity == 2}
function.set_scalar_call(_call)

"""Hypothesis strategies for gradient tests: values, tensors, shapes, random graphs.

The simple ones: :func:`values`, :func:`tensors`, :func:`shapes`,
:func:`broadcastable_shapes`, :func:`matmul_shapes`.

The centrepiece: :func:`value_expressions` and :func:`tensor_expressions` draw
random computation graphs (DAGs), each as an :class:`Expression`: a small recipe
(a list of :class:`Step` ``(op, input node indices, constant)``) together with its
input data. One recipe can be rebuilt in every engine: ``build_value`` (scalar
:class:`~tinygrad_memo.Value`), ``build_tensor`` (:class:`~tinygrad_memo.Tensor`),
``build_torch`` (PyTorch, if installed) and ``evaluate`` (plain numpy floats), so a
property test can assert that two computations agree.

The ops are the registry's. Every elementwise op of
:data:`tinygrad_memo.ops.ELEMENTWISE` is drawn, in both engines (:data:`VALUE_OPS`),
with what the op declares beside its definition: its ``domain`` (per input) and
its ``kinks``. An op added to the registry is drawn with no edit here. Tensor
graphs add reductions, softmax, matmul, reshape, transpose, indexing and stack
(:data:`TENSOR_OPS`).

Shape of the drawn graphs. They are built from motifs: single ops, binary ops on
two (possibly far apart) nodes, ``x + x`` / ``x * x`` on one node, diamonds
(``u = f(a); w = g(a); h(u, w)``), ladders of reused interior nodes
(``b = a + a; c = b + b; ...``) and long chains of unary ops; every node that no
other node consumes is finally summed into the output, so every input and node
matters. Reuse is guaranteed, not just likely: each drawn graph has more
root-to-leaf paths than edges (``expr.stats.paths > expr.stats.edges``, rungs of
``x + x`` or ``x * x`` are added on the output until it holds), which is exactly
the fan-out where memoization pays, and what a backward pass reports in
``BackwardStats``. The paths are counted by the engine's own
:func:`~tinygrad_memo.engine.count_paths`, run on the recipe's graph.

Domains and kinks are handled by construction, never by filtering: the strategy
evaluates the forward values while it draws (in float64) and chooses the
constants from them.

* Every operand of an elementwise op lies in the op's ``domain`` for that input.
  An operand that is not there already is carried in by ``a * 2**-k + c`` (an
  exact scaling, then a shift). Where the domain ``(lo, hi)`` is positive
  (``log``, ``sqrt``, a divisor, the base of ``x ** y``) the operand is a positive
  wrapper ``a * a * 2**-k + c`` with ``c >= lo``, so it stays in the domain's
  positive part for any data, not only the drawn inputs (and it is fan-out at
  ``a``). A constant operand (``x - 1.5``, ``2.0 ** x``) is drawn from its domain too.
* Every input of an op with kinks (``relu``, ``abs``) is at least ``1.5 * MARGIN``
  away from each kink (``MARGIN = 1e-2``) at the drawn inputs, and so is
  ``(p * a + q * b - k) / max(|p|, |q|)`` for each kink line of a binary op (the
  ties ``a = b`` of ``maximum`` / ``minimum``, the exponent 0 of ``**``): the shift
  ``c`` and the constants are chosen so. ``max``/``min`` reductions get a constant tie-breaker
  added that puts the extreme at least ``2 * MARGIN`` above (below) the
  runner-up in every slice. The finite differences of
  :func:`~tinygrad_memo.gradcheck.gradcheck` move interior values by ``eps``
  times a derivative, far less than the margin.
* Magnitudes stay bounded: whenever an op's result exceeds ``BOUND = 3`` in
  magnitude it is multiplied by a power of two (an exact scaling) that brings it
  back under ``BOUND``; so ``exp`` only sees arguments in ``[-3, 3]``.

Helper steps (``a * a``, ``+ constant``, ``* 2**-k``) are used whatever ``ops``
says, since they carry those guarantees.

>>> from hypothesis import given, settings
>>> from tinygrad_memo.engine import naive_grad
>>> @settings(max_examples=10, deadline=None)
... @given(value_expressions())
... def check(expr):
...     xs = expr.value_inputs()
...     out = expr.build_value(xs)
...     stats = out.backward(retain_graph=True)
...     assert stats.paths > stats.edges
...     grads, _ = naive_grad(out, xs)
...     assert all(abs(x.grad - g) <= 1e-9 * (1 + abs(g)) for x, g in zip(xs, grads))
>>> check()
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import stack
from ..engine import count_paths, topological_order
from ..ops import ELEMENTWISE
from ..tensor import Tensor
from ..value import Value

__all__ = [
    "BOUND", "MARGIN", "TENSOR_OPS", "VALUE_OPS", "Expression", "GraphStats", "Step",
    "broadcastable_shapes", "matmul_shapes", "shapes", "tensor_expressions", "tensors",
    "value_expressions", "values",
]

MARGIN = 1e-2
"""Minimum distance of every input from its op's kinks (and of every max/min runner-up
from the extreme), at the drawn inputs (in fact at least ``1.5 * MARGIN``)."""
BOUND = 3.0
"""Every node value usable as an operand is at most this in magnitude (the bound of an
elementwise op's default domain)."""

_REDUCTIONS = ("sum", "mean", "max", "min")
_STRUCTURAL = _REDUCTIONS + ("softmax", "log_softmax", "matmul", "reshape", "transpose", "getitem")

VALUE_OPS = frozenset(ELEMENTWISE)
"""The op families :func:`value_expressions` draws from: every elementwise op of the registry."""
TENSOR_OPS = VALUE_OPS | frozenset(_STRUCTURAL + ("stack",))
"""The op families :func:`tensor_expressions` draws from."""

_UNARY = VALUE_OPS | frozenset(_STRUCTURAL)  # binary elementwise ops: with a constant
_BINARY = frozenset(n for n, op in ELEMENTWISE.items() if op.arity == 2) | {"stack", "matmul"}
_NEEDS_DIM = frozenset(("softmax", "log_softmax", "matmul", "reshape", "transpose", "getitem"))


def _elements(lo: float = -2.0, hi: float = 2.0, width: int = 64):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False,
                     width=width)


# -- simple strategies ------------------------------------------------------------------

def values(min_value: float = -2.0, max_value: float = 2.0):
    """Leaf :class:`~tinygrad_memo.Value` objects with data in ``[min_value, max_value]``.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5)
    ... @given(values(-1, 1))
    ... def check(v):
    ...     assert -1 <= v.data <= 1 and v.grad == 0
    >>> check()
    """
    return _elements(min_value, max_value).map(Value)


def shapes(min_dims: int = 0, max_dims: int = 4, max_side: int = 5, min_side: int = 1):
    """Array shapes (tuples) with ``min_dims..max_dims`` axes of ``min_side..max_side``.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5)
    ... @given(shapes(max_dims=2, max_side=3))
    ... def check(s):
    ...     assert len(s) <= 2 and all(1 <= n <= 3 for n in s)
    >>> check()
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def tensors(shape=None, dtype=np.float64, elements=None, requires_grad: bool = True):
    """Leaf :class:`~tinygrad_memo.Tensor` objects (float64 and requiring grad by default).

    ``shape``: a tuple, a strategy of tuples, or None for :func:`shapes`;
    ``elements``: a strategy of numbers (default: finite floats in [-2, 2]).

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5)
    ... @given(tensors(shape=(2, 3)))
    ... def check(t):
    ...     assert t.shape == (2, 3) and t.dtype == np.float64 and t.requires_grad
    >>> check()
    """
    dtype = np.dtype(dtype)
    if elements is None:
        elements = _elements(width=64 if dtype.itemsize >= 8 else 32)
    if shape is None:
        shape = shapes()
    arr = hnp.arrays(dtype, shape, elements=elements)
    return arr.map(lambda a: Tensor(a, requires_grad=requires_grad and dtype.kind == "f"))


def broadcastable_shapes(n: int, min_dims: int = 0, max_dims: int = 4, max_side: int = 5):
    """``n`` shapes that broadcast together, as hypothesis'
    ``BroadcastableShapes(input_shapes, result_shape)``.

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5)
    ... @given(broadcastable_shapes(3))
    ... def check(bs):
    ...     assert np.broadcast_shapes(*bs.input_shapes) == bs.result_shape
    >>> check()
    """
    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=min_dims, max_dims=max_dims,
                                             min_side=1, max_side=max_side)


def matmul_shapes(max_dims: int = 4, max_side: int = 4):
    """Operand shapes for ``a @ b`` under numpy's rules: vectors (1-d on either side),
    matrices and broadcast batches. Gives ``BroadcastableShapes(input_shapes=(a, b),
    result_shape)``, drawn with numpy's own signature ``(m?,n),(n,p?)->(m?,p?)``.

    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> @settings(max_examples=5)
    ... @given(matmul_shapes())
    ... def check(ms):
    ...     a, b = ms.input_shapes
    ...     assert (np.zeros(a) @ np.zeros(b)).shape == ms.result_shape
    >>> check()
    """
    return hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, min_side=1,
                                             max_side=max_side, max_dims=max_dims)


# -- how a step is spelled: the registry's ops as users write them ----------------------------

#: the registry ops that Python spells as operators (the others are methods: x.tanh(), a.maximum(b))
_PREFIX = {"neg": (operator.neg, "-{}"), "abs": (abs, "abs({})")}
_INFIX = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
          "**": operator.pow}

#: step op -> (registry op, where the constant goes: None (all operands are nodes),
#: "right" (``sub_c``: x - c) or "left" (``rsub_c``: c - x; Python's reflected operators))
_FORMS: dict = {}
for _op in ELEMENTWISE.values():
    _FORMS[_op.name] = (_op, None)
    if _op.arity == 2:
        _FORMS[_op.name + "_c"] = (_op, "right")
        if _op.symbol in _INFIX:
            _FORMS["r" + _op.name + "_c"] = (_op, "left")
_CONST_FORMS = {op.name: [f for f, (o, side) in _FORMS.items() if o is op and side]
                for op in ELEMENTWISE.values() if op.arity == 2}
del _op


def _args(op) -> tuple:
    """The parameters an op is drawn with (``clip(lo, hi)``: its ``example_args``)."""
    return getattr(op, "example_args", ())


def _spell(op, xs):
    """``op`` applied to ``xs`` as a user writes it, for Values and Tensors alike."""
    if op.arity == 1:
        prefix = _PREFIX.get(op.name)
        return prefix[0](xs[0]) if prefix else getattr(xs[0], op.name)(*_args(op))
    infix = _INFIX.get(op.symbol)
    return infix(*xs) if infix else getattr(xs[0], op.name)(xs[1])


def _spell_source(op, xs: list) -> str:
    if op.arity == 1:
        prefix = _PREFIX.get(op.name)
        args = ", ".join(map(repr, _args(op)))
        return prefix[1].format(xs[0]) if prefix else f"{xs[0]}.{op.name}({args})"
    if op.symbol in _INFIX:
        return f"{xs[0]} {op.symbol} {xs[1]}"
    return f"{xs[0]}.{op.name}({xs[1]})"


def _operands(side, xs, c) -> list:
    return [xs[0], c] if side == "right" else [c, xs[0]] if side == "left" else list(xs)


# -- backends: one recipe, every engine ------------------------------------------------------

def _along(axis: int, index) -> tuple:
    return (slice(None),) * axis + (index,)


class _Numpy:
    """float64 numpy: the strategy's own forward evaluation, and ``Expression.evaluate``
    (elementwise ops by their registry numpy forward, the rest written here)."""

    stack = staticmethod(np.stack)

    @staticmethod
    def const(c):
        return c

    @staticmethod
    def elementwise(op, xs):
        return op.array(*xs, *_args(op))

    @staticmethod
    def reduce(name, x, axis, keepdims):
        return getattr(np, name)(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def softmax(x, axis):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    @staticmethod
    def log_softmax(x, axis):
        s = x - np.max(x, axis=axis, keepdims=True)
        return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))

    @staticmethod
    def transpose(x, axes):
        return x.transpose(*axes)

    @staticmethod
    def flip(x, axis):
        return x[_along(axis, slice(None, None, -1))]


class _Nodes(_Numpy):
    """The Value and Tensor engines through their user-facing API (array constants
    cast to the inputs' dtype)."""

    stack = staticmethod(stack)
    elementwise = staticmethod(_spell)

    def __init__(self, dtype=None):
        self.dtype = dtype

    def const(self, c):
        return np.asarray(c, dtype=self.dtype) if isinstance(c, np.ndarray) else float(c)

    @staticmethod
    def reduce(name, x, axis, keepdims):
        return getattr(x, name)(axis=axis, keepdims=keepdims)

    @staticmethod
    def softmax(x, axis):
        return x.softmax(axis)

    @staticmethod
    def log_softmax(x, axis):
        return x.log_softmax(axis)


class _Torch(_Nodes):
    """PyTorch (constants become tensors of the inputs' dtype where torch needs them)."""

    def __init__(self, dtype):
        import torch

        self.torch, self.dtype, self.stack = torch, dtype, torch.stack

    def const(self, c):
        return self.torch.as_tensor(c, dtype=self.dtype) if isinstance(c, np.ndarray) else float(c)

    def elementwise(self, op, xs):
        if op.arity == 2 and op.symbol in _INFIX:
            return _INFIX[op.symbol](*xs)
        torch = self.torch
        xs = [x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=self.dtype) for x in xs]
        for namespace in (torch, torch.nn.functional, torch.special):
            f = getattr(namespace, op.name, None)
            if f is not None:
                return f(*xs, *_args(op))
        raise NotImplementedError(f"build_torch: torch has no function named {op.name!r}")

    def reduce(self, name, x, axis, keepdims):
        if x.ndim == 0:
            return x * 1.0
        f = {"sum": x.sum, "mean": x.mean, "max": x.amax, "min": x.amin}[name]
        return f(dim=tuple(range(x.ndim)) if axis is None else axis, keepdim=keepdims)

    @staticmethod
    def transpose(x, axes):
        return x.permute(*axes)

    def flip(self, x, axis):
        return self.torch.flip(x, (axis,))


_STEPS = {
    "matmul": lambda B, x, c: x[0] @ x[1],
    "softmax": lambda B, x, c: B.softmax(x[0], c),
    "log_softmax": lambda B, x, c: B.log_softmax(x[0], c),
    "reshape": lambda B, x, c: x[0].reshape(c),
    "transpose": lambda B, x, c: B.transpose(x[0], c),
    "take": lambda B, x, c: x[0][_along(*c)],
    "flip": lambda B, x, c: B.flip(x[0], c),
    "stack": lambda B, x, c: B.stack(list(x), c),
}
for _r in _REDUCTIONS:
    _STEPS[_r] = (lambda name: lambda B, x, c: B.reduce(name, x[0], *c))(_r)
del _r


def _run(backend, name: str, xs: list, const):
    """One step of a recipe in ``backend``."""
    form = _FORMS.get(name)
    if form is None:
        return _STEPS[name](backend, xs, const)
    op, side = form
    return backend.elementwise(op, _operands(side, xs, backend.const(const) if side else None))


# -- the recipe ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One node of a recipe: ``op`` applied to earlier nodes ``args`` with constant ``const``.

    ``op == "input"`` is a leaf (``const`` is its input number). An elementwise op
    is named as in the registry (``"tanh"``, ``"sub"``); ``"sub_c"`` is ``x - c``
    and ``"rsub_c"`` is ``c - x`` (reflected forms exist for Python's operators).
    The constant is a float, an array (tensor recipes), an axis/shape tuple, or
    ``(axis, index)``.

    >>> Step("mul", (0, 0))
    Step(op='mul', args=(0, 0), const=None)
    """

    op: str
    args: tuple = ()
    const: object = None

    def source(self, i: int) -> str:
        """This step as a line of Python code (nodes are ``v0, v1, ...``).

        >>> Step("add_c", (2,), 0.5).source(3)
        'v3 = v2 + 0.5'
        >>> Step("maximum", (0, 1)).source(2)
        'v2 = v0.maximum(v1)'
        """
        a = [f"v{j}" for j in self.args]
        c, op = self.const, self.op
        form = _FORMS.get(op)
        if op == "input":
            rhs = f"x{c}"
        elif form is not None:
            rhs = _spell_source(form[0], _operands(form[1], a, _fmt(c)))
        elif op == "matmul":
            rhs = f"{a[0]} @ {a[1]}"
        elif op in _REDUCTIONS:
            rhs = f"{a[0]}.{op}(axis={c[0]!r}, keepdims={c[1]!r})"
        elif op in ("softmax", "log_softmax"):
            rhs = f"{a[0]}.{op}(axis={c})"
        elif op in ("reshape", "transpose"):
            rhs = f"{a[0]}.{op}{tuple(c)!r}"
        elif op == "take":
            rhs = f"{a[0]}[{', '.join([':'] * c[0] + [repr(list(map(int, c[1])))])}]"
        elif op == "flip":
            rhs = f"{a[0]}[{', '.join([':'] * c + ['::-1'])}]"
        else:  # stack
            rhs = f"stack([{', '.join(a)}], axis={c})"
        return f"v{i} = {rhs}"


def _fmt(c) -> str:
    if isinstance(c, np.ndarray):
        return f"array({c.tolist()!r})"
    return repr(c)


class GraphStats(NamedTuple):
    """Structure of a recipe's graph, as the engines count it (constants are not nodes):
    ``nodes``, ``edges`` (node-to-input links) and ``paths`` (output-to-leaf paths).

    >>> GraphStats(3, 4, 4).paths
    4
    """

    nodes: int
    edges: int
    paths: int


class _Node:
    """A recipe step as a node of the engine's protocol, so that the engine counts it."""

    __slots__ = ("_inputs", "_seq")

    def __init__(self, inputs: tuple, seq: int):
        self._inputs, self._seq = inputs, seq


def _graph_stats(out: _Node) -> GraphStats:
    """Nodes, edges and paths of the part of the graph that ``out`` depends on."""
    order = topological_order(out)
    return GraphStats(len(order), sum(len(n._inputs) for n in order), count_paths(order))


class Expression:
    """A drawn computation graph: a recipe of :class:`Step` plus its input data.

    ``kind`` is ``"value"`` (scalar inputs, elementwise ops) or ``"tensor"``;
    ``inputs`` holds the input data (floats, or float64 arrays); ``steps`` the
    recipe, the last step being the output; ``stats`` the graph's structure.

    >>> e = Expression("value", [3.0], [Step("input", (), 0), Step("mul", (0, 0)),
    ...                                 Step("add", (1, 1))])
    >>> e.evaluate()
    18.0
    >>> e.stats
    GraphStats(nodes=3, edges=4, paths=4)
    >>> print(e)
    ValueExpression(inputs=[3.0]):
        v0 = x0
        v1 = v0 * v0
        v2 = v1 + v1
    """

    def __init__(self, kind: str, inputs, steps):
        if kind not in ("value", "tensor"):
            raise ValueError(f"Expression: kind must be 'value' or 'tensor', got {kind!r}")
        self.kind = kind
        self.inputs = list(inputs)
        self.steps = tuple(steps)
        nodes: list = []
        for i, s in enumerate(self.steps):
            nodes.append(_Node(tuple(nodes[j] for j in s.args), i))
        self.stats = _graph_stats(nodes[-1]) if nodes else GraphStats(0, 0, 0)

    @property
    def n_inputs(self) -> int:
        """How many inputs the recipe takes.

        >>> Expression("value", [1.0, 2.0], [Step("input", (), 0), Step("input", (), 1),
        ...                                  Step("add", (0, 1))]).n_inputs
        2
        """
        return len(self.inputs)

    def source(self) -> str:
        """The recipe as Python lines, one per node.

        >>> print(Expression("value", [1.0], [Step("input", (), 0), Step("exp", (0,))]).source())
        v0 = x0
        v1 = v0.exp()
        """
        return "\n".join(s.source(i) for i, s in enumerate(self.steps))

    def __repr__(self) -> str:
        name = "ValueExpression" if self.kind == "value" else "TensorExpression"
        ins = ", ".join(_fmt(x) for x in self.inputs)
        body = "\n".join("    " + line for line in self.source().splitlines())
        return f"{name}(inputs=[{ins}]):\n{body}"

    __str__ = __repr__

    # -- building ----------------------------------------------------------------------------
    def _build(self, backend, inputs, every=False):
        inputs = list(inputs)
        if len(inputs) != len(self.inputs):
            raise ValueError(f"Expression: expected {len(self.inputs)} inputs, got {len(inputs)}")
        nodes: list = []
        for s in self.steps:
            if s.op == "input":
                nodes.append(inputs[s.const])
            else:
                nodes.append(_run(backend, s.op, [nodes[j] for j in s.args], s.const))
        return nodes if every else nodes[-1]

    def _numpy_inputs(self, inputs):
        xs = self.inputs if inputs is None else inputs
        return [np.float64(x) if self.kind == "value" else np.asarray(x, dtype=np.float64)
                for x in xs]

    def evaluate(self, inputs=None):
        """The output computed with plain float64 numpy (a float for value expressions).

        >>> Expression("value", [0.0], [Step("input", (), 0), Step("cos", (0,))]).evaluate()
        1.0
        """
        out = self._build(_Numpy, self._numpy_inputs(inputs))
        return float(out) if self.kind == "value" else np.asarray(out)

    def node_values(self, inputs=None) -> list:
        """Every node's value (float64 numpy), in recipe order: to inspect a graph.

        >>> e = Expression("value", [3.0], [Step("input", (), 0), Step("neg", (0,))])
        >>> [float(v) for v in e.node_values()]
        [3.0, -3.0]
        """
        return [np.asarray(v, dtype=np.float64)
                for v in self._build(_Numpy, self._numpy_inputs(inputs), every=True)]

    def build_value(self, inputs):
        """Rebuild the graph from ``inputs`` (Values, e.g. :meth:`value_inputs`);
        returns the output Value. Only for value expressions.

        >>> e = Expression("value", [2.0], [Step("input", (), 0), Step("mul", (0, 0))])
        >>> xs = e.value_inputs(); y = e.build_value(xs); _ = y.backward()
        >>> y.data, xs[0].grad
        (4.0, 4.0)
        """
        if self.kind != "value":
            raise TypeError("build_value: a tensor expression cannot be built from scalar Values")
        return self._build(_Nodes(), inputs)

    def build_tensor(self, inputs):
        """Rebuild the graph from ``inputs`` (Tensors, e.g. :meth:`tensor_inputs`);
        returns the output Tensor. A value expression works elementwise on tensors.

        >>> e = Expression("value", [2.0], [Step("input", (), 0), Step("mul", (0, 0))])
        >>> e.build_tensor(e.tensor_inputs()).item()
        4.0
        """
        dtype = next((x.dtype for x in inputs if isinstance(x, Tensor)), np.float64)
        return self._build(_Nodes(dtype), inputs)

    def build_torch(self, inputs):
        """Rebuild the graph in PyTorch from ``inputs`` (torch tensors, e.g.
        :meth:`torch_inputs`); needs torch installed.

        >>> e = Expression("value", [2.0], [Step("input", (), 0), Step("tanh", (0,))])
        >>> round(float(e.build_torch(e.torch_inputs())), 6)  # doctest: +SKIP
        0.964028
        """
        import torch

        dtype = next((x.dtype for x in inputs if isinstance(x, torch.Tensor)), torch.float64)
        return self._build(_Torch(dtype), inputs)

    def value_inputs(self) -> list:
        """Fresh leaf Values holding the inputs (value expressions).

        >>> Expression("value", [1.5], [Step("input", (), 0)]).value_inputs()
        [Value(data=1.5, grad=0)]
        """
        if self.kind != "value":
            raise TypeError("value_inputs: a tensor expression has array inputs")
        return [Value(float(x)) for x in self.inputs]

    def tensor_inputs(self, dtype=np.float64, requires_grad: bool = True) -> list:
        """Fresh leaf Tensors holding the inputs (0-d for value expressions).

        >>> Expression("value", [1.5], [Step("input", (), 0)]).tensor_inputs()[0].shape
        ()
        """
        return [Tensor(np.array(x, dtype=dtype), requires_grad=requires_grad)
                for x in self.inputs]

    def torch_inputs(self, dtype=None, requires_grad: bool = True) -> list:
        """Fresh leaf torch tensors holding the inputs (float64 unless ``dtype``).

        >>> Expression("value", [1.5], [Step("input", (), 0)]).torch_inputs()  # doctest: +SKIP
        [tensor(1.5000, dtype=torch.float64, requires_grad=True)]
        """
        import torch

        dtype = torch.float64 if dtype is None else dtype
        return [torch.tensor(np.asarray(x, dtype=np.float64), dtype=dtype,
                             requires_grad=requires_grad) for x in self.inputs]


# -- drawing ---------------------------------------------------------------------------------

class _Builder:
    """Draws a recipe step by step, evaluating it in float64 as it goes."""

    def __init__(self, draw, kind, ops, elements, base_shape=()):
        self.draw, self.kind, self.ops = draw, kind, ops
        self.elements, self.S = elements, base_shape
        self.steps: list[Step] = []
        self.vals: list = []
        self.nodes: list[_Node] = []
        self.consumed: list[bool] = []
        self.hidden: set[int] = set()
        self.inputs: list = []

    # -- bookkeeping --------------------------------------------------------------------------
    def emit(self, op, args=(), const=None) -> int:
        if op == "input":
            val = self.inputs[const]
        else:
            val = _run(_Numpy, op, [self.vals[j] for j in args], const)
        val = np.float64(val) if self.kind == "value" else np.asarray(val, dtype=np.float64)
        if not np.all(np.isfinite(val)):  # pragma: no cover - excluded by construction
            raise AssertionError(f"strategies: {op} gave a non-finite value; please report")
        i = len(self.steps)
        self.steps.append(Step(op, tuple(args), const))
        self.vals.append(val)
        self.nodes.append(_Node(tuple(self.nodes[j] for j in args), i))
        self.consumed.append(False)
        for j in args:
            self.consumed[j] = True
        if np.max(np.abs(val), initial=0.0) > BOUND or (
                self.kind == "tensor" and not self.compatible(val.shape)):
            self.hidden.add(i)  # only its own consumer (in the same motif) may use it
        return i

    def settle(self, i) -> int:
        """Node i, scaled by a power of two if it exceeds BOUND: a usable operand."""
        m = float(np.max(np.abs(self.vals[i]), initial=0.0))
        if m > BOUND:
            i = self.emit("mul_c", (i,), 2.0 ** -math.ceil(math.log2(m / BOUND)))
        return i

    def bounded(self, op, args=(), const=None) -> int:
        """Emit, then scale by a power of two if the result exceeds BOUND."""
        return self.settle(self.emit(op, args, const))

    def shape(self, i) -> tuple:
        return np.shape(self.vals[i])

    def pick(self) -> int:
        avail = [i for i in range(len(self.steps)) if i not in self.hidden]
        k = self.draw(st.integers(0, len(avail) - 1))
        return avail[-1 - k]  # shrinks towards the most recent node: chains

    def new_input(self, shape) -> int:
        if self.kind == "value":
            data = float(self.draw(self.elements))
        else:
            data = self.draw(hnp.arrays(np.float64, shape, elements=self.elements))
        if not np.all(np.isfinite(data)):
            raise ValueError(f"strategies: elements must be finite numbers, got {data!r}")
        self.inputs.append(data)
        return self.bounded("input", (), len(self.inputs) - 1)

    # -- domains and kinks ------------------------------------------------------------------------
    def feed(self, i, domain, clear=()) -> int | None:
        """Node i carried into the closed interval ``domain`` (a positive domain through
        the wrapper ``i * i``) and clear of the kinks ``clear`` (see :func:`_clear`),
        by ``* 2**-k`` and ``+ c`` where needed; None if no shift can do it."""
        lo, hi = domain
        positive = lo > 0
        if positive:  # i * i * 2**-k + c with c >= lo: inside the domain for any data
            i = self.emit("mul", (i, i))
        v = self.vals[i]
        for k in range(64):
            c = self.shift(v * 2.0 ** -k, lo, hi, clear, identity=k == 0 and not positive,
                           least=lo if positive else -BOUND)
            if c is not None:
                if k:
                    i = self.emit("mul_c", (i,), 2.0 ** -k)
                return self.emit("add_c", (i,), c) if c else i
        return None

    def shift(self, w, lo, hi, clear, identity, least=-BOUND) -> float | None:
        """A constant c >= ``least`` with ``w + c`` inside [lo, hi] and at least r from every
        point p of ``clear`` (pairs (p, r), p a number or an array that broadcasts with
        w): 0.0 when ``identity`` and none is needed, None if there is none."""
        slack = 1e-9 * (1.0 + abs(lo) + abs(hi))
        lo_c = max(lo - float(np.min(w)) + slack, least + slack, -BOUND)  # (in add's domain)
        hi_c = min(hi - float(np.max(w)) - slack, BOUND)
        if lo_c > hi_c:
            return None
        bad = sorted((float(x) - r, float(x) + r) for p, r in clear for x in np.ravel(p - w))
        inside = lo <= float(np.min(w)) and float(np.max(w)) <= hi
        if identity and inside and not any(a < 0.0 < b for a, b in bad):
            return 0.0
        pieces, start = [], lo_c  # [lo_c, hi_c] without the open intervals of ``bad``
        for a, b in bad:
            if a > start:
                pieces.append((start, min(a, hi_c)))
            start = max(start, b)
            if start > hi_c:
                break
        if start <= hi_c:
            pieces.append((start, hi_c))
        if not pieces:
            return None
        c = self.draw(_elements(lo_c, hi_c))
        if any(a <= c <= b for a, b in pieces):
            return c
        return min((x for piece in pieces for x in piece), key=lambda x: abs(x - c))

    def constant(self, domain, clear):
        """A constant operand from ``domain`` clear of ``clear``: an integer or a float
        (an array, broadcast, half of the time in tensor graphs)."""
        lo, hi = max(domain[0], -BOUND), min(domain[1], BOUND)
        ok = lambda v: all(np.all(np.abs(v - p) >= r) for p, r in clear)
        floats = _elements(lo, hi).filter(ok)
        if self.kind == "tensor" and self.draw(st.booleans()):
            return self.draw(hnp.arrays(np.float64, self.subshape(), elements=floats))
        ints = [float(n) for n in range(math.ceil(lo), math.floor(hi) + 1) if n and ok(n)]
        return self.draw((st.sampled_from(ints) if ints else st.nothing()) | floats)

    # -- ops ------------------------------------------------------------------------------------
    def unary_ops(self, a) -> list:
        nd = len(self.shape(a))
        ok = [op for op in sorted(self.ops & _UNARY) if nd > 0 or op not in _NEEDS_DIM]
        return ok or ["tanh"]

    def unary(self, a, op=None) -> int:
        if op is None:
            op = self.draw(st.sampled_from(self.unary_ops(a)))
        return self.settle(self._unary(a, op))

    def _unary(self, a, op) -> int:
        fn = ELEMENTWISE.get(op)
        if fn is not None and fn.arity == 1:
            x = self.feed(a, fn.input_domains()[0], [(k, 2 * MARGIN) for k in fn.kinks])
            return self.emit("mul_c", (a,), -1.0) if x is None else self.emit(op, (x,))
        if fn is not None:
            return self.const_form(a, fn)
        if op in _REDUCTIONS:
            return self.reduce(op, a)
        if op in ("softmax", "log_softmax"):
            nd = len(self.shape(a))
            return self.emit(op, (a,), self.draw(st.integers(-nd, nd - 1)))
        if op == "matmul":
            return self.matmul_weight(a)
        if op == "reshape":
            return self.reshape(a)
        if op == "transpose":
            return self.transpose(a)
        return self.getitem(a)

    def const_form(self, a, op) -> int:
        """``x op c`` or ``c op x`` for a binary op, with ``x`` fed from node ``a``."""
        form = self.draw(st.sampled_from(_CONST_FORMS[op.name]))
        side = 0 if _FORMS[form][1] == "right" else 1  # which operand x is
        doms = op.input_domains()
        c = self.constant(doms[1 - side], _clear(op, 1 - side))
        x = self.feed(a, doms[side], _clear(op, side, c))
        if x is None:  # pragma: no cover - no shift clears the kinks
            return self.emit("mul_c", (a,), -1.0)
        return self.emit(form, (x,), c)

    def binary_ops(self) -> list:
        return sorted(self.ops & _BINARY) or ["add"]

    def binary(self, a, b, op=None) -> int:
        if op is None:
            op = self.draw(st.sampled_from(self.binary_ops()))
        return self.settle(self._binary(a, b, op))

    def _binary(self, a, b, op) -> int:
        fn = ELEMENTWISE.get(op)
        if fn is not None:
            da, db = fn.input_domains()
            x = self.feed(a, da, _clear(fn, 0))
            y = None if x is None else self.feed(b, db, _clear(fn, 1, self.vals[x]))
            if y is None:  # pragma: no cover - no shift clears the kinks
                return self.emit("add", (a, b))
            return self.emit(op, (x, y))
        if op == "stack":
            if self.shape(a) != self.shape(b):
                return self.emit("add", (a, b))
            return self.emit("mean", (self.emit("stack", (a, b), 0),), ((0,), False))
        sa, sb = self.shape(a), self.shape(b)  # matmul
        try:
            out = np.matmul(np.empty(sa), np.empty(sb)).shape if sa and sb else None
        except ValueError:
            out = None
        if out is None or not self.compatible(out):
            return self.matmul_weight(a)
        return self.bounded("matmul", (a, b))

    # -- tensor-only macros ----------------------------------------------------------------------
    def compatible(self, shape) -> bool:
        """Broadcasts to the base shape: every node keeps this property."""
        S = self.S
        return len(shape) <= len(S) and all(
            n in (1, m) for n, m in zip(shape[::-1], S[::-1]))

    def subshape(self) -> tuple:
        """A shape that broadcasts to the base shape (fewer axes, some of size 1)."""
        S = self.S
        nd = self.draw(st.integers(0, len(S)))
        return tuple(self.draw(st.sampled_from((1, n))) for n in S[len(S) - nd:])

    def reduce(self, op, a) -> int:
        d = self.draw
        shape = self.shape(a)
        nd = len(shape)
        form = d(st.sampled_from(("all", "keep", "lead"))) if nd else "all"
        if form == "all":
            axis, keep = None, d(st.booleans())
        elif form == "keep":
            axis = tuple(sorted(d(st.sets(st.integers(0, nd - 1), min_size=1))))
            keep = True
        else:
            axis, keep = tuple(range(d(st.integers(1, nd)))), False
        src = a
        if op in ("max", "min"):
            tie = _tie_breaker(self.vals[a], axis, op)
            if tie is not None:
                src = self.emit("add_c", (a,), tie)
        return self.emit(op, (src,), (axis, keep))

    def matmul_weight(self, a) -> int:
        d = self.draw
        shape = self.shape(a)
        nd = len(shape)
        if nd == 0:
            return self.emit("tanh", (a,))
        forms = ["right", "vector"]
        if nd >= 2:
            forms += ["left", "left_vector"]
            if len(self.S) >= 3:
                forms.append("batch")
        form = d(st.sampled_from(forms))
        k = shape[-1]
        if form == "right":
            return self.bounded("matmul", (a, self.new_input((k, k))))
        if form == "batch":
            w = self.new_input((d(st.sampled_from((1, self.S[-3]))), k, k))
            return self.bounded("matmul", (a, w))
        if form == "left":
            m = shape[-2]
            return self.bounded("matmul", (self.new_input((m, m)), a))
        if form == "vector":
            r = self.emit("matmul", (a, self.new_input((k,))))
            return self.bounded("reshape", (r,), shape[:-1] + (1,))
        r = self.emit("matmul", (self.new_input((shape[-2],)), a))  # left_vector
        return self.bounded("reshape", (r,), shape[:-2] + (1, k))

    def shape_preserving(self, a, axis) -> int:
        op = self.draw(st.sampled_from(("tanh", "sigmoid", "softmax", "log_softmax")))
        if op in ("softmax", "log_softmax"):
            return self.emit(op, (a,), axis)
        return self.emit(op, (a,))

    def reshape(self, a) -> int:
        shape = self.shape(a)
        targets = [(-1,), tuple(shape[::-1]), (1,) + tuple(shape)]
        t = self.draw(st.sampled_from(targets))
        r = self.emit("reshape", (a,), t)
        mid = self.shape_preserving(r, -1)
        return self.emit("reshape", (mid,), tuple(shape))

    def transpose(self, a) -> int:
        nd = len(self.shape(a))
        perm = tuple(self.draw(st.permutations(range(nd))))
        t = self.emit("transpose", (a,), perm)
        mid = self.shape_preserving(t, -1)
        return self.emit("transpose", (mid,), tuple(int(i) for i in np.argsort(perm)))

    def getitem(self, a) -> int:
        shape = self.shape(a)
        axis = self.draw(st.integers(0, len(shape) - 1))
        n = shape[axis]
        if self.draw(st.booleans()):
            return self.emit("flip", (a,), axis)
        idx = self.draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=n))
        return self.emit("take", (a,), (axis, np.array(idx, dtype=np.intp)))

    # -- motifs -------------------------------------------------------------------------------------
    def motif(self) -> None:
        d = self.draw
        kind = d(st.sampled_from(("unary", "binary", "self", "diamond", "ladder", "chain")))
        a = self.pick()
        if kind == "unary":
            self.unary(a)
        elif kind == "binary":
            self.binary(a, self.pick())
        elif kind == "self":
            self.binary(a, a)
        elif kind == "diamond":
            self.binary(self.unary(a), self.unary(a))
        elif kind == "ladder":
            for _ in range(d(st.integers(2, 3))):
                a = self.rung(a)
        else:
            for _ in range(d(st.integers(2, 8))):
                a = self.unary(a)

    def rung(self, a) -> int:
        """b = a + a or a * a: doubles the paths through a."""
        return self.bounded(self.draw(st.sampled_from(("add", "mul"))), (a, a))

    def total_paths(self) -> int:
        """Paths from every node that nothing consumes yet down to the leaves."""
        return count_paths(self.nodes)

    def finish(self, scalar: bool) -> Expression:
        sinks = [i for i, c in enumerate(self.consumed) if not c]
        out = sinks[0]
        for s in sinks[1:]:
            out = self.bounded("add", (out, s))
        extra = 2 if scalar else 0
        while True:
            stats = _graph_stats(self.nodes[out])
            if stats.paths > stats.edges + extra:
                break
            out = self.rung(out)
        if scalar:
            seed = self.draw(st.integers(0, 2**32 - 1))
            w = np.random.default_rng(seed).uniform(0.5, 1.5, self.shape(out))
            out = self.emit("mul_c", (out,), w)
            self.emit("sum", (out,), (None, False))
        return Expression(self.kind, self.inputs, self.steps)


def _clear(op, side: int, other=None) -> list:
    """The (point, radius) pairs that operand ``side`` (0: a, 1: b) of the binary ``op``
    keeps clear of: each kink line ``p * a + q * b = k`` that involves it and no
    unknown other operand (``other``: the other's value, or None), solved for it, with
    the radius that keeps ``|p * a + q * b - k| >= 2 * MARGIN * max(|p|, |q|)``."""
    out = []
    for line in op.kinks:
        own, oth, k = line[side], line[1 - side], line[2]
        if own and (not oth or other is not None):
            point = (k - oth * other) / own if oth else k / own
            out.append((point, 2 * MARGIN * max(abs(line[0]), abs(line[1])) / abs(own)))
    return out


def _tie_breaker(a, axis, op):
    """None, or an array to add to ``a`` so that in every slice reduced over ``axis`` the
    extreme is at least 2 * MARGIN clear of the runner-up."""
    a = np.asarray(a)
    axes = tuple(range(a.ndim)) if axis is None else axis
    if not axes:
        return None
    sign = 1.0 if op == "max" else -1.0
    moved = np.moveaxis(sign * a, axes, tuple(range(a.ndim - len(axes), a.ndim)))
    flat = moved.reshape(moved.shape[: a.ndim - len(axes)] + (-1,))
    if flat.shape[-1] < 2:
        return None
    top = np.argmax(flat, axis=-1)
    srt = np.sort(flat, axis=-1)
    bad = srt[..., -1] - srt[..., -2] < 2 * MARGIN
    if not bad.any():
        return None
    bump = np.zeros_like(flat)
    np.put_along_axis(bump, top[..., None], np.where(bad, 3 * MARGIN, 0.0)[..., None], axis=-1)
    bump = bump.reshape(moved.shape)
    return sign * np.moveaxis(bump, tuple(range(a.ndim - len(axes), a.ndim)), axes)


def _check_ops(ops, allowed, who) -> frozenset:
    if ops is None:
        return allowed
    ops = frozenset(ops)
    unknown = ops - allowed
    if unknown:
        raise ValueError(f"{who}: unknown ops {sorted(unknown)}; choose from {sorted(allowed)}")
    if not ops:
        raise ValueError(f"{who}: ops must not be empty")
    return ops


def value_expressions(*, max_ops: int = 10, min_inputs: int = 1, max_inputs: int = 4, ops=None,
                      max_paths: int = 1024, elements=None):
    """Random scalar computation graphs (:class:`Expression` of kind ``"value"``).

    ``max_ops`` motifs (each one op to a handful: a chain, a diamond, a ladder...)
    over ``min_inputs..max_inputs`` inputs drawn from ``elements`` (default floats
    in [-2, 2]); ``ops``: a subset of :data:`VALUE_OPS` (every elementwise op of the
    registry). Drawing stops early once the graph has about ``max_paths``
    root-to-leaf paths (a soft cap that keeps ``naive_grad`` cheap). Every graph has
    ``stats.paths > stats.edges``. See the module docstring for the domain and
    kink guarantees.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, deadline=None)
    ... @given(value_expressions(ops={"add", "mul", "tanh"}))
    ... def check(expr):
    ...     assert abs(expr.build_value(expr.value_inputs()).data - expr.evaluate()) < 1e-9
    >>> check()
    """
    ops = _check_ops(ops, VALUE_OPS, "value_expressions")
    elements = _elements() if elements is None else elements

    @st.composite
    def draw_expression(draw):
        b = _Builder(draw, "value", ops, elements)
        for _ in range(draw(st.integers(min_inputs, max_inputs))):
            b.new_input(())
        for _ in range(draw(st.integers(1, max_ops))):
            b.motif()
            if b.total_paths() > max_paths:
                break
        return b.finish(scalar=False)

    return draw_expression()


def tensor_expressions(*, max_ops: int = 6, min_inputs: int = 1, max_inputs: int = 3, ops=None,
                       min_dims: int = 1, max_dims: int = 3, max_side: int = 4,
                       max_paths: int = 256, scalar: bool = True, elements=None):
    """Random Tensor computation graphs (:class:`Expression` of kind ``"tensor"``).

    A base shape (``min_dims..max_dims`` axes of 1..``max_side``) is drawn; inputs
    have shapes that broadcast to it, and every node keeps that property, so any
    two nodes can be combined. Besides the elementwise ops of the registry:
    reductions (all axes, some axes with keepdims, or leading axes),
    softmax/log_softmax, matmul with weight inputs (square, vector, batched) or
    between nodes, reshape and transpose round trips, indexing (integer arrays
    with repeats, reversed slices), stack, and broadcasting everywhere. With
    ``scalar=True`` the output is ``(out * w).sum()`` for a random non-uniform
    constant ``w``, so ``backward()`` needs no seed. Weight inputs added by
    matmul count as inputs.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=10, deadline=None)
    ... @given(tensor_expressions())
    ... def check(expr):
    ...     out = expr.build_tensor(expr.tensor_inputs())
    ...     assert out.shape == () and abs(out.item() - float(expr.evaluate())) < 1e-9
    >>> check()
    """
    ops = _check_ops(ops, TENSOR_OPS, "tensor_expressions")
    elements = _elements() if elements is None else elements

    @st.composite
    def draw_expression(draw):
        S = draw(shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side))
        b = _Builder(draw, "tensor", ops, elements, S)
        b.new_input(S)
        for _ in range(draw(st.integers(min_inputs, max_inputs)) - 1):
            b.new_input(b.subshape())
        for _ in range(draw(st.integers(1, max_ops))):
            b.motif()
            if b.total_paths() > max_paths:
                break
        return b.finish(scalar=scalar)

    return draw_expression()

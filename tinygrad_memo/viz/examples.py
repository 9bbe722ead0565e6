"""Ready-made example graphs: the CLI's ``viz --example``, the docs' pictures."""

from __future__ import annotations

import graphviz
import numpy as np

from ..tensor import Tensor
from ..value import Value
from .draw import draw_dot

#: The names :func:`examples_graph` and :func:`draw_example` accept.
EXAMPLES = ("neuron", "mlp", "ladder")


class _NamedParams:
    """A stand-in module: ``named_parameters()`` over a fixed list of (name, param)."""

    def __init__(self, pairs):
        self._pairs = list(pairs)

    def named_parameters(self):
        return iter(self._pairs)


def _neuron():
    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    x1w1x2w2 = x1w1 + x2w2
    x1w1x2w2.label = "x1*w1 + x2*w2"
    n = x1w1x2w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o, {}


def _ladder(depth: int = 6):
    a = Value(1.05, label="a")
    for i in range(depth):
        a = a * a
        a.label = chr(ord("b") + i)
    return a, {}


def _mlp():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 2))
    y = rng.normal(size=(4, 1))
    w0, b0 = rng.normal(size=(3, 2)) * 0.7, rng.normal(size=3) * 0.1
    w1, b1 = rng.normal(size=(1, 3)) * 0.7, rng.normal(size=1) * 0.1
    W0, B0, W1, B1 = (Tensor(a.astype(np.float32), requires_grad=True) for a in (w0, b0, w1, b1))
    X, Y = Tensor(x.astype(np.float32)), Tensor(y.astype(np.float32))
    h = (X @ W0.T + B0).relu()
    out = h @ W1.T + B1
    loss = ((out - Y) ** 2).mean()
    module = _NamedParams([("layers.0.weight", W0), ("layers.0.bias", B0),
                           ("layers.2.weight", W1), ("layers.2.bias", B1)])
    return loss, {"module": module, "names": {"loss": loss}}


_BUILDERS = {"neuron": _neuron, "mlp": _mlp, "ladder": _ladder}


def _build(name: str, backward: bool = True):
    key = str(name).lower()
    if key not in _BUILDERS:
        raise ValueError(f"unknown example {name!r}: choose one of {', '.join(EXAMPLES)}")
    root, extras = _BUILDERS[key]()
    if backward:
        root.backward()
    return root, extras


def examples_graph(name: str, backward: bool = True):
    """The root of a ready-made example graph, after its backward pass (before it, with
    the graph not yet freed, when ``backward=False``: for
    :func:`~tinygrad_memo.viz.animate_backward`).

    ``"neuron"``: micrograd's 2-input tanh neuron (x1=2, x2=0, w1=-3, w2=1,
    b=6.8813735870195432); ``"mlp"``: a small Tensor MLP (2 -> 3 -> 1, ReLU, mean
    squared error); ``"ladder"``: ``b = a * a``, ``c = b * b``, ... depth 6, where
    every level reuses the one before twice (64 paths, 12 edges).

    >>> o = examples_graph("neuron")
    >>> round(o.data, 4), o.label
    (0.7071, 'o')
    """
    return _build(name, backward)[0]


def draw_example(name: str, **kw) -> graphviz.Digraph:
    """:func:`draw_dot` of :func:`examples_graph` ``(name)``, with that example's
    extras (the MLP's parameters named and clustered by layer).

    >>> "Σ×2" in draw_example("ladder").source
    True
    """
    root, extras = _build(name)
    for k, v in extras.items():
        kw.setdefault(k, v)
    return draw_dot(root, **kw)

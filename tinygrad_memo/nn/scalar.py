"""micrograd's neural network on scalar :class:`~tinygrad_memo.Value` nodes.

``Neuron``, ``Layer`` and ``MLP`` are written as in micrograd's ``nn.py``: a
neuron holds a list of weights ``w`` drawn from U(-1, 1) and a bias ``b = 0``,
computes ``sum(w_i x_i) + b`` and applies ReLU unless ``nonlin=False``; an MLP
uses ReLU in its hidden layers and a linear last layer. They are
:class:`~tinygrad_memo.nn.Module` subclasses, so ``parameters()``,
``named_parameters()`` (``layers.0.neurons.3.w.1``), ``zero_grad()`` (grads to
0.0), ``state_dict()`` and ``load_state_dict()`` work as for Tensor models.
Weights come from the library's generator, reseeded by ``manual_seed``.

Differences from micrograd, all additive: a layer of one neuron returns a
single Value, and a neuron accepts a single Value (or number) as its input, so
a one-neuron layer can sit inside an MLP; an input of the wrong length raises
a ValueError instead of being silently truncated by ``zip``.

>>> from tinygrad_memo.random import manual_seed
>>> _ = manual_seed(0)
>>> model = MLP(2, [16, 16, 1])
>>> len(model.parameters())
337
>>> out = model([2.0, -1.0])
>>> type(out).__name__
'Value'
>>> _ = out.backward()
"""

from __future__ import annotations

from .. import random as _random
from ..value import Value
from .module import Module

__all__ = ["Layer", "MLP", "Module", "Neuron"]


def _inputs(x, nin: int, where: str) -> list:
    if isinstance(x, (Value, int, float)):
        x = [x]
    else:
        x = list(x)
    if len(x) != nin:
        raise ValueError(f"{where}: expected {nin} inputs, got {len(x)}")
    return x


class Neuron(Module):
    """One neuron: ``relu(sum(w_i * x_i) + b)``, or without the ReLU when ``nonlin=False``.

    >>> n = Neuron(2, nonlin=False)
    >>> n.w[0].data = 0.5; n.w[1].data = -1.0
    >>> n([4.0, 1.0]).data
    1.0
    >>> [name for name, _ in n.named_parameters()]
    ['w.0', 'w.1', 'b']
    """

    def __init__(self, nin: int, nonlin: bool = True):
        super().__init__()
        if isinstance(nin, bool) or not isinstance(nin, int) or nin < 1:
            raise ValueError(f"Neuron: nin must be a positive int, got {nin!r}")
        g = _random.rng()
        self.w = [Value(float(g.uniform(-1.0, 1.0))) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = bool(nonlin)

    def forward(self, x):
        """``sum(w_i * x_i) + b``, through ReLU when ``nonlin``; ``x`` a list of numbers or Values.

        >>> Neuron(2, nonlin=False).forward([0.0, 0.0]).data
        0.0
        """
        x = _inputs(x, len(self.w), "Neuron")
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return f"{len(self.w)}, nonlin={self.nonlin}"

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs; returns a list of Values,
    or a single Value when ``nout == 1``. Keyword arguments go to each Neuron.

    >>> layer = Layer(3, 2)
    >>> len(layer([1.0, 2.0, 3.0])), type(Layer(3, 1)([1.0, 2.0, 3.0])).__name__
    (2, 'Value')
    """

    def __init__(self, nin: int, nout: int, **kwargs):
        super().__init__()
        if isinstance(nout, bool) or not isinstance(nout, int) or nout < 1:
            raise ValueError(f"Layer: nout must be a positive int, got {nout!r}")
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def forward(self, x):
        """Every neuron on the same inputs: a list of Values (one Value when ``nout == 1``).

        >>> len(Layer(2, 3).forward([1.0, 2.0]))
        3
        """
        x = _inputs(x, len(self.neurons[0].w), "Layer")
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    """micrograd's multilayer perceptron: ReLU hidden layers, a linear last layer.

    >>> model = MLP(3, [4, 4, 1])
    >>> [len(layer.neurons) for layer in model.layers]
    [4, 4, 1]
    >>> type(model([1.0, 2.0, 3.0])).__name__
    'Value'
    """

    def __init__(self, nin: int, nouts):
        super().__init__()
        nouts = [nouts] if isinstance(nouts, int) else list(nouts)
        if not nouts:
            raise ValueError("MLP: nouts must list at least one layer size, got []")
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1)
                       for i in range(len(nouts))]

    def forward(self, x):
        """The layers in turn.

        >>> type(MLP(2, [3, 1]).forward([1.0, 2.0])).__name__
        'Value'
        """
        for layer in self.layers:
            x = layer(x)
        return x

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"

"""Layers on Tensors: Linear, MLP, Sequential, activations, Dropout, LayerNorm.

Weights follow PyTorch's layout and default initialisation, so a state dict
moves between the two (``Linear.weight`` is ``(out_features, in_features)``).
Random initialisation and dropout masks draw from the library's generator,
reseeded by ``tinygrad_memo.random.manual_seed``.

>>> import numpy as np
>>> from tinygrad_memo import Tensor, nn
>>> from tinygrad_memo.random import manual_seed
>>> _ = manual_seed(0)
>>> model = nn.MLP(2, [16, 16, 1])
>>> model(Tensor(np.zeros((5, 2), np.float32))).shape
(5, 1)
"""

from __future__ import annotations

import functools
import math

import numpy as np

from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = [
    "GELU", "LayerNorm", "Linear", "MLP", "ReLU", "Sequential", "Sigmoid", "Tanh", "Dropout",
    ]


def _positive_int(x, where: str, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 1:
        raise ValueError(f"{where}: {name} must be a positive int, got {x!r}")
    return int(x)


class Linear(Module):
    """``y = x @ weight.T + bias``, weight of shape ``(out_features, in_features)``.

    Initialised as PyTorch does: ``kaiming_uniform_(weight, a=sqrt(5))``, which is
    U(-1/sqrt(in_features), 1/sqrt(in_features)), and the bias from the same range.
    ``dtype`` is float32 by default (float64 on request).

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> lin = Linear(3, 2)
    >>> lin.weight.shape, lin.bias.shape
    ((2, 3), (2,))
    >>> lin(Tensor(np.ones((4, 3), np.float32))).shape
    (4, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32):
        super().__init__()
        self.in_features = _positive_int(in_features, "Linear", "in_features")
        self.out_features = _positive_int(out_features, "Linear", "out_features")
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            bound = 1.0 / math.sqrt(self.in_features)
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype))
            init.uniform_(self.bias, -bound, bound)
        else:
            self.bias = None

    def forward(self, x):
        """``x @ weight.T + bias`` for ``x`` of shape ``(..., in_features)``.

        >>> import numpy as np
        >>> from tinygrad_memo import Tensor
        >>> Linear(4, 2).forward(Tensor(np.zeros((3, 4), np.float32))).shape
        (3, 2)
        """
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class ReLU(Module):
    """max(x, 0) elementwise.

    >>> from tinygrad_memo import Tensor
    >>> ReLU()(Tensor([-1.0, 2.0])).numpy()
    array([0., 2.], dtype=float32)
    """

    def forward(self, x):
        """relu(x).

        >>> from tinygrad_memo import Tensor
        >>> ReLU().forward(Tensor([-3.0])).numpy()
        array([0.], dtype=float32)
        """
        return F.relu(x)


class Tanh(Module):
    """Hyperbolic tangent elementwise.

    >>> from tinygrad_memo import Tensor
    >>> Tanh()(Tensor([0.0])).numpy()
    array([0.], dtype=float32)
    """

    def forward(self, x):
        """tanh(x).

        >>> from tinygrad_memo import Tensor
        >>> Tanh().forward(Tensor([0.0])).numpy()
        array([0.], dtype=float32)
        """
        return F.tanh(x)


class Sigmoid(Module):
    """Logistic sigmoid elementwise.

    >>> from tinygrad_memo import Tensor
    >>> Sigmoid()(Tensor([0.0])).numpy()
    array([0.5], dtype=float32)
    """

    def forward(self, x):
        """sigmoid(x).

        >>> from tinygrad_memo import Tensor
        >>> Sigmoid().forward(Tensor([0.0])).numpy()
        array([0.5], dtype=float32)
        """
        return F.sigmoid(x)


class GELU(Module):
    """Gaussian error linear unit, ``x * Phi(x)``: by default the exact erf form, as
    PyTorch's ``nn.GELU()``; ``approximate="tanh"`` gives the tanh approximation
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))``.

    >>> from tinygrad_memo import Tensor
    >>> GELU()(Tensor([0.0, 10.0])).numpy()
    array([ 0., 10.], dtype=float32)
    >>> GELU(approximate="tanh")
    GELU(approximate='tanh')
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        """``F.gelu(x, self.approximate)``.

        >>> from tinygrad_memo import Tensor
        >>> GELU().forward(Tensor([0.0])).numpy()
        array([0.], dtype=float32)
        """
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return f"approximate={self.approximate!r}"


_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "gelu": GELU}


@functools.cache
def _names(n: int) -> tuple:
    """The attribute names of a Sequential's ``n`` children: "0", "1", ..."""
    return tuple(map(str, range(n)))


class Sequential(Module):
    """Modules (or plain callables) applied in order; children are named ``0``, ``1``, ...
    as in PyTorch, so state dict keys read ``0.weight``.

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> net = Sequential(Linear(2, 4), ReLU(), Linear(4, 1))
    >>> len(net), [k for k in net.state_dict()]
    (3, ['0.weight', '0.bias', '2.weight', '2.bias'])
    >>> net(Tensor(np.zeros((3, 2), np.float32))).shape
    (3, 1)
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        for i, m in enumerate(modules):
            if not callable(m):
                raise TypeError(f"Sequential: item {i} is a {type(m).__name__}, not callable")
            setattr(self, str(i), m)
        self._n = len(modules)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(*[self[j] for j in range(self._n)[i]])
        n = self._n
        if not -n <= i < n:
            raise IndexError(f"Sequential: index {i} out of range for {n} modules")
        return getattr(self, str(i % n))

    def __iter__(self):
        return map(self.__dict__.__getitem__, _names(self._n))  # (forward runs through this)

    def forward(self, x):
        """Each module in turn.

        >>> from tinygrad_memo import Tensor
        >>> Sequential(ReLU(), Tanh()).forward(Tensor([-1.0, 0.0])).numpy()
        array([0., 0.], dtype=float32)
        """
        for m in self:
            x = m(x)
        return x


class MLP(Module):
    """A multilayer perceptron: ``Linear(nin, nouts[0])``, activation, ...,
    ``Linear(nouts[-2], nouts[-1])`` with **no activation after the last layer**.

    The Linear layers are the list ``layers`` (names ``layers.0.weight``, ...);
    ``activation`` is ``"relu"``, ``"tanh"``, ``"sigmoid"`` or ``"gelu"`` (the exact
    erf form).

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> model = MLP(2, [16, 16, 1], activation="tanh")
    >>> [tuple(layer.weight.shape) for layer in model.layers]
    [(16, 2), (16, 16), (1, 16)]
    >>> model(Tensor(np.zeros((4, 2), np.float32))).shape
    (4, 1)
    """

    def __init__(self, nin: int, nouts, activation: str = "relu", bias: bool = True,
                 dtype=np.float32):
        super().__init__()
        if isinstance(nouts, (int, np.integer)):
            nouts = [nouts]
        nouts = list(nouts)
        if not nouts:
            raise ValueError("MLP: nouts must list at least one layer size, got []")
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"MLP: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        sizes = [nin] + nouts
        self.layers = [Linear(sizes[i], sizes[i + 1], bias=bias, dtype=dtype)
                       for i in range(len(nouts))]
        self.activation = activation
        self.act = _ACTIVATIONS[activation]()

    def forward(self, x):
        """Linear, activation, ..., Linear (no activation at the end).

        >>> import numpy as np
        >>> from tinygrad_memo import Tensor
        >>> MLP(3, [5, 2]).forward(Tensor(np.zeros((1, 3), np.float32))).shape
        (1, 2)
        """
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i != last:
                x = self.act(x)
        return x

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return f"activation={self.activation!r}"

    def _members(self):
        for name, obj in super()._members():
            if name != "act":  # the activation has no parameters; keep names to layers.*
                yield name, obj


class Dropout(Module):
    """Zero each element with probability ``p`` in training, scaling the rest by
    ``1 / (1 - p)`` so the expectation is unchanged; the identity in eval mode.

    Masks come from the library's generator (``manual_seed`` makes them repeat).

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> drop = Dropout(0.5)
    >>> y = drop(Tensor(np.ones(8, np.float32))).numpy()
    >>> sorted(set(y.tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    >>> drop.eval()(Tensor(np.ones(3, np.float32))).numpy()
    array([1., 1., 1.], dtype=float32)
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        p = float(p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be between 0 and 1, got {p}")
        self.p = p

    def forward(self, x):
        """Dropout in training mode, the identity in eval mode.

        >>> from tinygrad_memo import Tensor
        >>> Dropout(0.9).eval().forward(Tensor([1.0])).numpy()
        array([1.], dtype=float32)
        """
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalise over the last dimensions (``normalized_shape``): zero mean, unit
    (biased) variance, then ``* weight + bias`` (ones and zeros at first).

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> ln = LayerNorm(4)
    >>> y = ln(Tensor(np.array([[1.0, 2.0, 3.0, 4.0]], np.float32))).numpy()
    >>> bool(abs(y.mean()) < 1e-6), bool(abs(y.std() - 1) < 1e-3)
    (True, True)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 dtype=np.float32):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(
            _positive_int(n, "LayerNorm", "normalized_shape") for n in normalized_shape
        )
        self.eps = float(eps)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
            self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
        else:
            self.weight = self.bias = None

    def forward(self, x):
        """Normalised over the last dims, then scaled and shifted.

        >>> import numpy as np
        >>> from tinygrad_memo import Tensor
        >>> LayerNorm(2).forward(Tensor(np.array([[1.0, 3.0]], np.float32))).numpy().round(3)
        array([[-1.,  1.]], dtype=float32)
        """
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"

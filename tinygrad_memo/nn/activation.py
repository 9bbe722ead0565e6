"""Activation modules with parameters or new in round 3: LeakyReLU, SiLU, Softplus, ELU
(PyTorch's names, arguments and reprs; each calls its ``F`` function, one registry op).

>>> from tinygrad_memo import Tensor, nn
>>> nn.Sequential(nn.LeakyReLU(0.1), nn.SiLU())(Tensor([-1.0])).numpy().round(4)
array([-0.0475], dtype=float32)
"""

from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = ["ELU", "LeakyReLU", "SiLU", "Softplus"]


class LeakyReLU(Module):
    """``F.leaky_relu(x, negative_slope)``: x for x > 0, ``negative_slope * x`` otherwise.

    >>> from tinygrad_memo import Tensor
    >>> LeakyReLU(0.5)(Tensor([-2.0, 3.0])).numpy()
    array([-1.,  3.], dtype=float32)
    """

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        """``F.leaky_relu(x, self.negative_slope)``.

        >>> from tinygrad_memo import Tensor
        >>> LeakyReLU().forward(Tensor([-1.0])).numpy()
        array([-0.01], dtype=float32)
        """
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return f"negative_slope={self.negative_slope}"


class SiLU(Module):
    """``F.silu(x) = x * sigmoid(x)``.

    >>> from tinygrad_memo import Tensor
    >>> SiLU()(Tensor([0.0])).numpy()
    array([0.], dtype=float32)
    """

    def forward(self, x):
        """``F.silu(x)``.

        >>> from tinygrad_memo import Tensor
        >>> SiLU().forward(Tensor([0.0])).numpy()
        array([0.], dtype=float32)
        """
        return F.silu(x)


class Softplus(Module):
    """``F.softplus(x, beta, threshold)``: ``log(1 + exp(beta x)) / beta``, linear past
    ``beta x > threshold``.

    >>> from tinygrad_memo import Tensor
    >>> Softplus(beta=2.0)(Tensor([0.0])).numpy().round(4)
    array([0.3466], dtype=float32)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        """``F.softplus(x, self.beta, self.threshold)``.

        >>> from tinygrad_memo import Tensor
        >>> Softplus().forward(Tensor([50.0])).numpy()
        array([50.], dtype=float32)
        """
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """``F.elu(x, alpha)``: x for x > 0, ``alpha * (exp(x) - 1)`` otherwise.

    >>> from tinygrad_memo import Tensor
    >>> ELU()(Tensor([1.0])).numpy()
    array([1.], dtype=float32)
    """

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        """``F.elu(x, self.alpha)``.

        >>> from tinygrad_memo import Tensor
        >>> ELU(2.0).forward(Tensor([0.0])).numpy()
        array([0.], dtype=float32)
        """
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return f"alpha={self.alpha}"

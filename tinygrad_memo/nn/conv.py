"""Convolution, pooling and padding for NCHW images: the functional forms (also in
``nn.functional``) and the modules, with PyTorch's names, parameter layouts and
default initialisation, so state dicts move between the two.

Each of ``conv2d``, ``conv_transpose2d``, ``max_pool2d``, ``avg_pool2d`` and ``pad`` is
one registry op with its own derivative rules (``ops/conv.py``, ``ops/pool.py``,
``ops/pad.py``), differentiable again under ``create_graph``. A 3-D input
``(C, H, W)`` is treated as a batch of one, as in PyTorch.

>>> import numpy as np
>>> from tinygrad_memo import Tensor, nn
>>> _ = __import__("tinygrad_memo").manual_seed(0)
>>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
...                     nn.Linear(4 * 4 * 4, 10))
>>> net(Tensor(np.zeros((2, 1, 8, 8), np.float32))).shape
(2, 10)
"""

from __future__ import annotations

import math

import numpy as np

from ..ops.conv import Conv2d as _Conv2dOp
from ..ops.conv import ConvTranspose2d as _ConvTransposeOp
from ..ops.conv import pair
from ..ops.pad import Pad as _PadOp
from ..ops.pool import AvgPool2d as _AvgPoolOp
from ..ops.pool import MaxPool2d as _MaxPoolOp
from ..tensor import Tensor
from . import init
from .module import Module, Parameter

__all__ = [
    "AvgPool2d", "Conv2d", "ConvTranspose2d", "Flatten", "MaxPool2d", "avg_pool2d", "conv2d",
    "conv_transpose2d", "max_pool2d", "pad",
]


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _batched(op, x, call):
    """``call(x)`` on a 4-D input; a 3-D (C, H, W) input as a batch of one."""
    x = _t(x)
    if x.ndim == 3:
        out = call(x.reshape(1, *x.shape))
        return out.reshape(*out.shape[1:])
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {x.shape}")
    return call(x)


# -- functional forms ------------------------------------------------------------------------------
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as in PyTorch) of ``x`` (N, C, H, W) with
    ``weight`` (out_channels, C / groups, kH, kW), plus ``bias`` (out_channels,).

    ``stride``, ``dilation``: an int or a pair; ``padding``: an int, a pair, ``"valid"``
    or ``"same"`` (stride 1), zeros on both sides. The output is
    (N, out_channels, OH, OW) with ``OH = (H + 2 p - d (kH - 1) - 1) // s + 1``.

    >>> import numpy as np
    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> conv2d(x, Tensor(np.ones((1, 1, 2, 2))), stride=2).numpy()
    array([[[[10., 18.],
             [42., 50.]]]])
    """
    return _batched("conv2d", x, lambda x: _Conv2dOp.apply(
        x, _t(weight), bias, stride=stride, padding=padding, dilation=dilation, groups=groups))


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """The transposed convolution (the input gradient of ``conv2d``) of ``x``
    (N, in_channels, H, W) with ``weight`` (in_channels, out_channels / groups, kH, kW):
    PyTorch's argument order. The output height is
    ``(H - 1) s - 2 p + d (kH - 1) + output_padding + 1``.

    >>> import numpy as np
    >>> y = conv_transpose2d(Tensor(np.ones((1, 1, 2, 2))), Tensor(np.ones((1, 1, 2, 2))), stride=2)
    >>> y.shape, float(y.numpy().sum())
    ((1, 1, 4, 4), 16.0)
    """
    return _batched("conv_transpose2d", x, lambda x: _ConvTransposeOp.apply(
        x, _t(weight), bias, stride=stride, padding=padding, output_padding=output_padding,
        groups=groups, dilation=dilation))


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """The maximum of each ``kernel_size`` window, moving by ``stride`` (default: the
    kernel size), the input padded with -inf by ``padding`` (at most half the kernel).
    Tied maxima share the gradient equally, as ``max`` does.

    >>> import numpy as np
    >>> max_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).numpy()
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """
    return _batched("max_pool2d", x, lambda x: _MaxPoolOp.apply(x, kernel_size, stride, padding))


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """The mean of each ``kernel_size`` window, moving by ``stride`` (default: the
    kernel size); zero padding counts in the mean (PyTorch's ``count_include_pad=True``).

    >>> import numpy as np
    >>> avg_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).numpy()
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    """
    return _batched("avg_pool2d", x, lambda x: _AvgPoolOp.apply(x, kernel_size, stride, padding))


def pad(x, pad, value=0.0):
    """Pad with the constant ``value``; ``pad`` is PyTorch's tuple, last axis first:
    ``(left, right)`` pads the last axis, ``(left, right, top, bottom)`` the last two.
    A negative width crops.

    >>> import numpy as np
    >>> pad(Tensor(np.ones((1, 2), np.float32)), (1, 0, 0, 1)).numpy()
    array([[0., 1., 1.],
           [0., 0., 0.]], dtype=float32)
    """
    return _PadOp.apply(_t(x), pad, value)


# -- modules -----------------------------------------------------------------------------------------
def _channels(where: str, name: str, n, groups: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{where}: {name} must be a positive int, got {n!r}")
    if n % groups:
        raise ValueError(f"{where}: {name} ({n}) must be divisible by groups ({groups})")
    return int(n)


def _groups(where: str, groups) -> int:
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(f"{where}: groups must be a positive int, got {groups!r}")
    return int(groups)


def _padding(where: str, padding, stride):
    if padding == "same" and stride != (1, 1):
        raise ValueError(f"{where}: padding='same' is not supported for strided convolutions "
                         f"(stride {stride})")
    if padding in ("same", "valid"):
        return padding
    return pair(padding, "padding", where, minimum=0)


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: checked sizes, and PyTorch's default
    initialisation (``kaiming_uniform_(weight, a=sqrt(5))``, bias from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.shape[1] * kH * kW)."""

    def _setup(self, where, in_channels, out_channels, kernel_size, stride, padding, dilation,
               groups, bias, dtype, transposed):
        self.groups = _groups(where, groups)
        self.in_channels = _channels(where, "in_channels", in_channels, self.groups)
        self.out_channels = _channels(where, "out_channels", out_channels, self.groups)
        self.kernel_size = pair(kernel_size, "kernel_size", where)
        self.stride = pair(stride, "stride", where)
        self.padding = _padding(where, padding, self.stride)
        self.dilation = pair(dilation, "dilation", where)
        first, second = (in_channels, out_channels) if transposed else (out_channels, in_channels)
        self.weight = Parameter(np.empty((first, second // self.groups) + self.kernel_size, dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            bound = 1.0 / math.sqrt(self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1])
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
            init.uniform_(self.bias, -bound, bound)
        else:
            self.bias = None

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding}"
        if getattr(self, "output_padding", (0, 0)) != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")


class Conv2d(_ConvNd):
    """2-D convolution layer: ``weight`` (out_channels, in_channels / groups, kH, kW) and
    ``bias`` (out_channels,), PyTorch's names, layout and default initialisation.

    >>> import numpy as np
    >>> conv = Conv2d(3, 8, 3, padding=1)
    >>> conv.weight.shape, conv.bias.shape
    ((8, 3, 3, 3), (8,))
    >>> conv(Tensor(np.zeros((2, 3, 28, 28), np.float32))).shape
    (2, 8, 28, 28)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, dtype=np.float32):
        super().__init__()
        self._setup("Conv2d", in_channels, out_channels, kernel_size, stride, padding, dilation,
                    groups, bias, dtype, transposed=False)

    def forward(self, x):
        """conv2d(x, weight, bias) with this layer's stride, padding, dilation and groups.

        >>> import numpy as np
        >>> Conv2d(1, 2, 3).forward(Tensor(np.zeros((1, 1, 5, 5), np.float32))).shape
        (1, 2, 3, 3)
        """
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution layer: ``weight`` (in_channels, out_channels / groups,
    kH, kW) and ``bias`` (out_channels,), as in PyTorch.

    >>> import numpy as np
    >>> up = ConvTranspose2d(8, 3, 2, stride=2)
    >>> up.weight.shape
    (8, 3, 2, 2)
    >>> up(Tensor(np.zeros((1, 8, 7, 7), np.float32))).shape
    (1, 3, 14, 14)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 dtype=np.float32):
        super().__init__()
        self._setup("ConvTranspose2d", in_channels, out_channels, kernel_size, stride, padding,
                    dilation, groups, bias, dtype, transposed=True)
        if isinstance(self.padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got {padding!r}")
        self.output_padding = pair(output_padding, "output_padding", "ConvTranspose2d", minimum=0)

    def forward(self, x):
        """conv_transpose2d(x, weight, bias) with this layer's settings.

        >>> import numpy as np
        >>> ConvTranspose2d(2, 1, 3).forward(Tensor(np.zeros((1, 2, 4, 4), np.float32))).shape
        (1, 1, 6, 6)
        """
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                self.output_padding, self.groups, self.dilation)


class _Pool2d(Module):
    _pool = None  # the functional form

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        where = type(self).__name__
        self.kernel_size = pair(kernel_size, "kernel_size", where)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", where)
        self.padding = pair(padding, "padding", where, minimum=0)

    def forward(self, x):
        """The pool of ``x`` with this layer's kernel size, stride and padding.

        >>> import numpy as np
        >>> MaxPool2d(3, stride=1).forward(Tensor(np.zeros((1, 1, 5, 5), np.float32))).shape
        (1, 1, 3, 3)
        """
        return type(self)._pool(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling over ``kernel_size`` windows (stride defaults to the kernel size);
    see :func:`max_pool2d`.

    >>> import numpy as np
    >>> MaxPool2d(2)(Tensor(np.zeros((1, 3, 8, 8), np.float32))).shape
    (1, 3, 4, 4)
    """

    _pool = staticmethod(max_pool2d)


class AvgPool2d(_Pool2d):
    """Average pooling over ``kernel_size`` windows (zero padding counted in the mean);
    see :func:`avg_pool2d`.

    >>> import numpy as np
    >>> float(AvgPool2d(2)(Tensor(np.ones((1, 3, 8, 8), np.float32))).numpy().mean())
    1.0
    """

    _pool = staticmethod(avg_pool2d)


class Flatten(Module):
    """Merge the dimensions ``start_dim..end_dim`` (default: all but the batch).

    >>> import numpy as np
    >>> Flatten()(Tensor(np.zeros((2, 3, 4, 4), np.float32))).shape
    (2, 48)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        """x.flatten(start_dim, end_dim).

        >>> import numpy as np
        >>> Flatten(0).forward(Tensor(np.zeros((2, 3), np.float32))).shape
        (6,)
        """
        return _t(x).flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

"""Batch normalization (PyTorch's ``BatchNorm1d`` and ``BatchNorm2d``), with its running
statistics as buffers (``running_mean``, ``running_var``, ``num_batches_tracked``).

In training mode each channel is normalized by the batch's mean and (biased)
variance, which are graph nodes (the gradient flows through them), and the running
statistics move towards the batch's (the variance unbiased, as PyTorch does); in
eval mode the running statistics are used. The running update is an in-place write
into the buffers: ``tm.jit`` sees it and runs a training step that has one eagerly
(an eval step replays).

>>> import numpy as np
>>> from tinygrad_memo import Tensor, nn
>>> bn = nn.BatchNorm1d(2)
>>> y = bn(Tensor(np.array([[1.0, 2.0], [3.0, 6.0]])))
>>> y.numpy().round(3)
array([[-1., -1.],
       [ 1.,  1.]])
>>> bn.running_mean.numpy()
array([0.2, 0.4], dtype=float32)
"""

from __future__ import annotations

import numpy as np

from ..grad_mode import no_grad
from ..tensor import Tensor
from .layers import _positive_int
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    """The shared part of BatchNorm1d and BatchNorm2d (``_ndims``: the input ranks)."""

    _ndims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=np.float32, *, bias: bool = True):
        super().__init__()
        where = type(self).__name__
        self.num_features = _positive_int(num_features, where, "num_features")
        self.eps = float(eps)
        if momentum is not None and not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"{where}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.momentum = None if momentum is None else float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        n = self.num_features
        self.weight = Parameter(np.ones(n, dtype=dtype)) if self.affine else None
        self.bias = Parameter(np.zeros(n, dtype=dtype)) if self.affine and bias else None
        if self.track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(n, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(n, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batch tracked.

        >>> bn = BatchNorm1d(2); _ = bn.running_mean.fill_(5.0); bn.reset_running_stats()
        >>> bn.running_mean.numpy()
        array([0., 0.], dtype=float32)
        """
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1.0)
            self.num_batches_tracked.zero_()

    def _check(self, x) -> None:
        where = type(self).__name__
        if x.ndim not in self._ndims:
            want = " or ".join(f"{d}D" for d in self._ndims)
            raise ValueError(f"{where}: expected {want} input (got {x.ndim}D input of shape "
                             f"{x.shape})")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{where}: input of shape {x.shape} has {x.shape[1]} channels "
                             f"(axis 1), the module has num_features={self.num_features}")

    def forward(self, x):
        """Normalize ``x`` (N, C, ...) per channel: batch statistics in training mode (or
        without running statistics), the running ones in eval mode.

        >>> import numpy as np
        >>> from tinygrad_memo import Tensor
        >>> bn = BatchNorm1d(1).eval()
        >>> bn.forward(Tensor(np.array([[2.0]]))).numpy().round(3)
        array([[2.]])
        """
        x = x if isinstance(x, Tensor) else Tensor(x)
        self._check(x)
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        if self.training or not self.track_running_stats:
            n = x.size // x.shape[1]
            if self.training and n <= 1:
                raise ValueError(f"{type(self).__name__}: expected more than 1 value per channel "
                                 f"when training, got input of shape {x.shape}")
            mean = x.mean(axis=axes, keepdims=True)
            centered = x - mean
            var = (centered * centered).mean(axis=axes, keepdims=True)
            out = centered / (var + self.eps).sqrt()
            if self.training and self.track_running_stats:
                self._update(mean.reshape(-1), var.reshape(-1), n)
        else:
            mean = self.running_mean.reshape(shape)
            out = (x - mean) / (self.running_var.reshape(shape) + self.eps).sqrt()
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        return out

    def _update(self, mean, var, n: int) -> None:
        with no_grad():
            self.num_batches_tracked += 1
            m = self.momentum
            if m is None:  # a cumulative average, as PyTorch's momentum=None
                m = 1.0 / float(self.num_batches_tracked.item())
            unbiased = var * (n / (n - 1))
            self.running_mean.copy_(self.running_mean * (1.0 - m) + mean.detach() * m)
            self.running_var.copy_(self.running_var * (1.0 - m) + unbiased.detach() * m)

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) inputs, per channel C (PyTorch's
    ``BatchNorm1d``: ``weight`` ones and ``bias`` zeros when ``affine`` (no ``bias``
    with ``bias=False``); buffers
    ``running_mean``, ``running_var``, ``num_batches_tracked`` when ``track_running_stats``).

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> bn = BatchNorm1d(3)
    >>> bn(Tensor(np.random.default_rng(0).normal(size=(8, 3)))).shape
    (8, 3)
    >>> bn.num_batches_tracked.item()
    1
    """

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) inputs, per channel C (PyTorch's
    ``BatchNorm2d``; the same parameters and buffers as :class:`BatchNorm1d`).

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> bn = BatchNorm2d(2)
    >>> bn(Tensor(np.ones((4, 2, 3, 3)))).shape
    (4, 2, 3, 3)
    """

    _ndims = (4,)

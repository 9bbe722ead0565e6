"""Weight initialisation, in place on a Tensor's data (PyTorch's ``torch.nn.init``).

Every function fills ``tensor.data`` in place (keeping its dtype, recording no
graph) and returns the tensor. Random draws come from the library's generator
(``tinygrad_memo.random.rng()``, reseeded by ``manual_seed``) unless a
``generator`` (a :class:`numpy.random.Generator`) is given. Numpy arrays are
accepted too.

Fans are computed as PyTorch does: for a weight of shape ``(out, in, *k)``,
``fan_in = in * prod(k)`` and ``fan_out = out * prod(k)``.

>>> import numpy as np
>>> from tinygrad_memo import Tensor
>>> from tinygrad_memo.random import manual_seed
>>> _ = manual_seed(0)
>>> w = xavier_uniform_(Tensor(np.empty((3, 5), np.float32), requires_grad=True))
>>> bool(np.abs(w.numpy()).max() <= np.sqrt(6 / 8))
True
"""

from __future__ import annotations

import math

import numpy as np

from .. import random as _random
from ..inplace import bump

__all__ = [
    "calculate_gain", "constant_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_",
    "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]


def _array(tensor, where: str) -> np.ndarray:
    arr = tensor if isinstance(tensor, np.ndarray) else getattr(tensor, "data", None)
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{where}: expected a Tensor or numpy array, got {type(tensor).__name__}")
    if arr.dtype.kind != "f":
        raise TypeError(f"{where}: can only fill floating-point tensors, got dtype {arr.dtype}")
    return arr


def _gen(generator):
    return _random.rng() if generator is None else generator


def _fill(tensor, values, where):
    arr = _array(tensor, where)
    arr[...] = values
    if hasattr(tensor, "_vc"):
        bump(tensor)  # an in-place write into a Tensor: counted
    return tensor


def _fans(tensor, where: str) -> tuple[int, int]:
    shape = _array(tensor, where).shape
    if len(shape) < 2:
        raise ValueError(
            f"{where}: fan in and fan out need a tensor with at least 2 dimensions, got shape {shape}"
        )
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    >>> calculate_gain("relu") == math.sqrt(2)
    True
    >>> round(calculate_gain("leaky_relu", math.sqrt(5)), 4)
    0.5774
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with samples from U(a, b).

    >>> import numpy as np
    >>> x = uniform_(np.empty(100), -2.0, 2.0)
    >>> bool((x >= -2).all() and (x < 2).all())
    True
    """
    arr = _array(tensor, "uniform_")
    return _fill(tensor, _gen(generator).uniform(a, b, arr.shape), "uniform_")


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with samples from N(mean, std**2).

    >>> import numpy as np
    >>> x = normal_(np.empty(10000), 3.0, 0.5)
    >>> round(float(x.mean()), 1), round(float(x.std()), 1)
    (3.0, 0.5)
    """
    arr = _array(tensor, "normal_")
    return _fill(tensor, _gen(generator).normal(mean, std, arr.shape), "normal_")


def constant_(tensor, val: float):
    """Fill with ``val``.

    >>> import numpy as np
    >>> constant_(np.empty(2), 0.5)
    array([0.5, 0.5])
    """
    return _fill(tensor, val, "constant_")


def zeros_(tensor):
    """Fill with zeros.

    >>> import numpy as np
    >>> zeros_(np.ones(2))
    array([0., 0.])
    """
    return _fill(tensor, 0.0, "zeros_")


def ones_(tensor):
    """Fill with ones.

    >>> import numpy as np
    >>> ones_(np.zeros(2))
    array([1., 1.])
    """
    return _fill(tensor, 1.0, "ones_")


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot uniform: U(-bound, bound), ``bound = gain * sqrt(6 / (fan_in + fan_out))``.

    >>> import numpy as np
    >>> w = xavier_uniform_(np.empty((20, 30)))
    >>> bool(np.abs(w).max() <= np.sqrt(6 / 50))
    True
    """
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot normal: N(0, std**2), ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    >>> import numpy as np
    >>> w = xavier_normal_(np.empty((200, 300)))
    >>> round(float(w.std() / np.sqrt(2 / 500)), 1)
    1.0
    """
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity, where):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{where}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor, where)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None):
    """He uniform: U(-bound, bound), ``bound = gain * sqrt(3 / fan)``.

    With ``a=sqrt(5)`` (what ``nn.Linear`` uses) the bound is ``1 / sqrt(fan_in)``.

    >>> import numpy as np
    >>> w = kaiming_uniform_(np.empty((4, 25)), a=math.sqrt(5))
    >>> bool(np.abs(w).max() <= 1 / 5)
    True
    """
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None):
    """He normal: N(0, std**2), ``std = gain / sqrt(fan)``.

    >>> import numpy as np
    >>> w = kaiming_normal_(np.empty((400, 200)), nonlinearity="relu")
    >>> round(float(w.std() / np.sqrt(2 / 200)), 1)
    1.0
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return normal_(tensor, 0.0, std, generator)

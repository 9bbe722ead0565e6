"""Neural networks: modules, layers, initialisation, losses, and micrograd's scalar MLP.

- :class:`Module` finds parameters and submodules from attributes; dotted names
  (``layers.0.weight``), ``state_dict()``/``load_state_dict()``, ``train()``/``eval()``.
- Tensor layers: :class:`Linear`, :class:`MLP`, :class:`Sequential`, :class:`ReLU`,
  :class:`Tanh`, :class:`Sigmoid`, :class:`GELU`, :class:`Dropout`, :class:`LayerNorm`,
  :class:`Embedding`; activations :class:`LeakyReLU`, :class:`SiLU`, :class:`Softplus`,
  :class:`ELU` (:mod:`~tinygrad_memo.nn.activation`); :class:`BatchNorm1d`,
  :class:`BatchNorm2d` (running statistics as buffers: ``Module.register_buffer``).
- Image layers (:mod:`~tinygrad_memo.nn.conv`): :class:`Conv2d`, :class:`ConvTranspose2d`,
  :class:`MaxPool2d`, :class:`AvgPool2d`, :class:`Flatten`.
- Recurrent cells (:mod:`~tinygrad_memo.nn.recurrent`): :class:`RNNCell`, :class:`GRUCell`,
  :class:`LSTMCell`, with PyTorch's parameter names and gate layouts.
- :mod:`~tinygrad_memo.nn.functional` (``F``): activations and losses with
  PyTorch's reductions; :mod:`~tinygrad_memo.nn.init`: in-place initialisers.
- :mod:`~tinygrad_memo.nn.scalar`: ``Neuron``, ``Layer``, ``MLP`` on Values.
- :mod:`~tinygrad_memo.nn.utils`: ``clip_grad_norm_``.

>>> import numpy as np
>>> from tinygrad_memo import Tensor, nn
>>> from tinygrad_memo.nn import functional as F
>>> from tinygrad_memo.random import manual_seed
>>> _ = manual_seed(0)
>>> model = nn.MLP(2, [8, 2])
>>> X = Tensor(np.array([[0.0, 1.0], [1.0, 0.0]], np.float32))
>>> loss = F.cross_entropy(model(X), np.array([0, 1]))
>>> _ = loss.backward()
>>> model.layers[0].weight.grad.shape
(8, 2)
"""

from . import functional, init, scalar, utils
from .activation import ELU, LeakyReLU, SiLU, Softplus
from .batchnorm import BatchNorm1d, BatchNorm2d
from .containers import ModuleDict, ModuleList
from .conv import AvgPool2d, Conv2d, ConvTranspose2d, Flatten, MaxPool2d
from .embedding import Embedding
from .layers import GELU, MLP, Dropout, LayerNorm, Linear, ReLU, Sequential, Sigmoid, Tanh
from .module import IncompatibleKeys, Module, Parameter
from .recurrent import GRUCell, LSTMCell, RNNCell

__all__ = [
    "AvgPool2d", "Conv2d", "ConvTranspose2d", "Flatten", "MaxPool2d",
    "GRUCell", "LSTMCell", "RNNCell",
    "BatchNorm1d", "BatchNorm2d", "ELU", "Embedding", "GELU", "LeakyReLU", "SiLU", "Softplus",
    "MLP", "Dropout", "IncompatibleKeys", "LayerNorm", "Linear", "Module", "ModuleDict",
    "ModuleList", "Parameter",
    "ReLU", "Sequential", "Sigmoid", "Tanh", "functional", "init", "scalar", "utils",
]

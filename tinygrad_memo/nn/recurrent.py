"""Recurrent cells: :class:`RNNCell`, :class:`GRUCell`, :class:`LSTMCell`, one time step each.

Parameters carry PyTorch's names, shapes and gate layouts (``weight_ih`` is
``(gates * hidden_size, input_size)``, ``weight_hh`` ``(gates * hidden_size,
hidden_size)``, then ``bias_ih`` and ``bias_hh``; the LSTM's gates stacked as
i, f, g, o and the GRU's as r, z, n), so weights copied from ``torch.nn.*Cell``
give the same outputs. Every parameter starts uniform in
``±1/sqrt(hidden_size)``, as in PyTorch. A cell is a composite of registry ops
(``linear``, ``sigmoid``, ``tanh``, slicing, products): its gradients, of any
order, are theirs. Unroll a sequence with a Python loop over time steps.

>>> import numpy as np
>>> import tinygrad_memo as tm
>>> from tinygrad_memo import nn
>>> _ = tm.manual_seed(0)
>>> cell = nn.LSTMCell(3, 5)
>>> xs = tm.Tensor(np.ones((7, 2, 3), np.float32))      # (time, batch, input)
>>> h = c = None
>>> for t in range(7):
...     h, c = cell(xs[t], None if h is None else (h, c))
>>> h.shape, [k for k in cell.state_dict()]
((2, 5), ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'])
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import _positive_int
from .module import Module, Parameter

__all__ = ["GRUCell", "LSTMCell", "RNNCell"]


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class _CellBase(Module):
    """What the three cells share: parameters, initialisation, shape checks, repr."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype=np.float32):
        super().__init__()
        where = type(self).__name__
        self.input_size = _positive_int(input_size, where, "input_size")
        self.hidden_size = _positive_int(hidden_size, where, "hidden_size")
        self.bias = bool(bias)
        rows = self._gates * self.hidden_size
        self.weight_ih = Parameter(np.empty((rows, self.input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((rows, self.hidden_size), dtype=dtype))
        if self.bias:
            self.bias_ih = Parameter(np.empty(rows, dtype=dtype))
            self.bias_hh = Parameter(np.empty(rows, dtype=dtype))
        else:
            self.bias_ih = self.bias_hh = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter uniform in ``±1/sqrt(hidden_size)`` (PyTorch's initialisation),
        drawn from the library's generator.

        >>> import tinygrad_memo as tm
        >>> from tinygrad_memo import nn
        >>> cell = nn.GRUCell(2, 4)
        >>> cell.reset_parameters()
        >>> bool(abs(cell.weight_hh.numpy()).max() <= 0.5)
        True
        """
        bound = 1.0 / math.sqrt(self.hidden_size)
        for _, p in self.named_parameters():
            init.uniform_(p, -bound, bound)

    def _inputs(self, x, hx):
        """(x, hidden states, batched) with the shapes checked as PyTorch checks them;
        ``hx`` None gives zeros. An unbatched ``(input_size,)`` input is a batch of one."""
        where = type(self).__name__
        x = _t(x)
        if x.ndim not in (1, 2):
            raise ValueError(f"{where}: Expected input to be 1D or 2D, got {x.ndim}D instead "
                             f"(input shape {x.shape})")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{where}: input has inconsistent input_size: got {x.shape[-1]} "
                             f"expected {self.input_size} (input shape {x.shape})")
        batched = x.ndim == 2
        n = x.shape[0] if batched else 1
        if not isinstance(hx, list):  # a single hidden state (RNNCell, GRUCell)
            if isinstance(hx, tuple):
                raise ValueError(f"{where}: hx must be one tensor (N, hidden_size), got a "
                                 f"{type(hx).__name__} of {len(hx)}")
            hx = [hx]
        states = hx
        out = []
        for i, h in enumerate(states):
            name = f"hx[{i}]" if len(states) > 1 else "hx"
            if h is None:
                out.append(Tensor(np.zeros((n, self.hidden_size), dtype=x.dtype)))
                continue
            h = _t(h)
            if h.ndim != x.ndim:
                raise ValueError(f"{where}: {name} must be {x.ndim}D like the input "
                                 f"(input shape {x.shape}), got shape {h.shape}")
            if h.shape[-1] != self.hidden_size:
                raise ValueError(f"{where}: {name} has inconsistent hidden_size: got "
                                 f"{h.shape[-1]}, expected {self.hidden_size}")
            if batched and h.shape[0] != n:
                raise ValueError(f"{where}: Input batch size {n} doesn't match {name} batch "
                                 f"size {h.shape[0]}")
            out.append(h if batched else h.reshape(1, self.hidden_size))
        return (x if batched else x.reshape(1, self.input_size)), out, batched

    def _gate_inputs(self, x, h):
        """``x W_ih^T + b_ih`` and ``h W_hh^T + b_hh``, each (N, gates * hidden_size)."""
        return (F.linear(x, self.weight_ih, self.bias_ih),
                F.linear(h, self.weight_hh, self.bias_hh))

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


def _unbatch(t: Tensor, batched: bool) -> Tensor:
    return t if batched else t.reshape(t.shape[-1])


class RNNCell(_CellBase):
    """An Elman cell: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)`` with ``act`` tanh
    or relu (``nonlinearity``). Input ``(N, input_size)`` or ``(input_size,)``; ``hx``
    of the matching ``(N, hidden_size)`` or ``(hidden_size,)``, zeros when omitted.

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> cell = RNNCell(4, 3, nonlinearity="relu")
    >>> cell
    RNNCell(4, 3, nonlinearity=relu)
    >>> cell(Tensor(np.ones((2, 4), np.float32))).shape, cell(Tensor(np.ones(4, np.float32))).shape
    ((2, 3), (3,))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype=np.float32):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity '{nonlinearity}'. "
                             "Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, dtype)

    def forward(self, input, hx=None):
        """The next hidden state, ``(N, hidden_size)`` (or ``(hidden_size,)``).

        >>> import numpy as np
        >>> from tinygrad_memo import Tensor
        >>> RNNCell(2, 3).forward(Tensor(np.zeros((1, 2), np.float32))).shape
        (1, 3)
        """
        x, (h,), batched = self._inputs(input, hx)
        gi, gh = self._gate_inputs(x, h)
        pre = gi + gh
        out = pre.tanh() if self.nonlinearity == "tanh" else pre.relu()
        return _unbatch(out, batched)

    def extra_repr(self) -> str:  # documented on Module.extra_repr
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else f"{s}, nonlinearity={self.nonlinearity}"


class GRUCell(_CellBase):
    """A gated recurrent unit, PyTorch's form: with the gates stacked r, z, n,

    ``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``, ``z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> cell = GRUCell(4, 3)
    >>> cell.weight_ih.shape, cell.weight_hh.shape
    ((9, 4), (9, 3))
    >>> cell(Tensor(np.ones((2, 4), np.float32))).shape
    (2, 3)
    """

    _gates = 3

    def forward(self, input, hx=None):
        """The next hidden state, ``(N, hidden_size)`` (or ``(hidden_size,)``).

        >>> import numpy as np
        >>> from tinygrad_memo import Tensor
        >>> GRUCell(2, 3).forward(Tensor(np.zeros(2, np.float32))).shape
        (3,)
        """
        x, (h,), batched = self._inputs(input, hx)
        gi, gh = self._gate_inputs(x, h)
        H = self.hidden_size
        r = (gi[:, :H] + gh[:, :H]).sigmoid()
        z = (gi[:, H:2 * H] + gh[:, H:2 * H]).sigmoid()
        n = (gi[:, 2 * H:] + r * gh[:, 2 * H:]).tanh()
        return _unbatch(n + z * (h - n), batched)  # (1 - z) n + z h


class LSTMCell(_CellBase):
    """A long short-term memory cell, PyTorch's form: with the gates stacked i, f, g, o,

    ``i, f, o = sigmoid(...)``, ``g = tanh(...)`` of ``x W_ih^T + b_ih + h W_hh^T + b_hh``;
    ``c' = f * c + i * g``, ``h' = o * tanh(c')``. ``hx`` is the pair ``(h, c)`` (zeros
    when omitted) and the result is the pair ``(h', c')``.

    >>> import numpy as np
    >>> from tinygrad_memo import Tensor
    >>> cell = LSTMCell(4, 3)
    >>> cell.weight_ih.shape, cell.bias_hh.shape
    ((12, 4), (12,))
    >>> h, c = cell(Tensor(np.ones((2, 4), np.float32)))
    >>> h.shape, c.shape
    ((2, 3), (2, 3))
    """

    _gates = 4

    def forward(self, input, hx=None):
        """``(h', c')``, each ``(N, hidden_size)`` (or ``(hidden_size,)``).

        >>> import numpy as np
        >>> from tinygrad_memo import Tensor
        >>> h, c = LSTMCell(2, 3).forward(Tensor(np.zeros(2, np.float32)))
        >>> h.shape, c.shape
        ((3,), (3,))
        """
        if hx is not None and (not isinstance(hx, tuple) or len(hx) != 2):
            raise ValueError("LSTMCell: hx must be a tuple (h, c) of two tensors, "
                             f"got {type(hx).__name__}")
        x, (h, c), batched = self._inputs(input, [None, None] if hx is None else list(hx))
        gi, gh = self._gate_inputs(x, h)
        gates = gi + gh
        H = self.hidden_size
        i = gates[:, :H].sigmoid()
        f = gates[:, H:2 * H].sigmoid()
        g = gates[:, 2 * H:3 * H].tanh()
        o = gates[:, 3 * H:].sigmoid()
        c_next = f * c + i * g
        h_next = o * c_next.tanh()
        return _unbatch(h_next, batched), _unbatch(c_next, batched)

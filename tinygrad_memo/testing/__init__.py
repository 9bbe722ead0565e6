"""Tools for users' own gradient tests.

:func:`assert_grads_close` checks a function's gradients against finite
differences inside a pytest suite. :mod:`tinygrad_memo.testing.strategies` holds
hypothesis strategies (random values, tensors, shapes, and random computation
graphs that can be rebuilt in every engine); it needs ``hypothesis`` and is
imported on its own: ``from tinygrad_memo.testing import strategies``.

>>> import numpy as np
>>> import tinygrad_memo as tm
>>> from tinygrad_memo.testing import assert_grads_close
>>> w = tm.Tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)  # float32 is fine here
>>> assert_grads_close(lambda w: (w @ w).tanh().sum(), [w])
>>> w.dtype
dtype('float32')
"""

from __future__ import annotations

import numpy as np

from ..gradcheck import GradcheckError, gradcheck
from ..tensor import Tensor

__all__ = ["GradcheckError", "assert_grads_close"]


def assert_grads_close(fn, inputs, *, atol: float = 1e-5, rtol: float = 1e-3, eps: float = 1e-6,
                       fast_mode: bool = False) -> None:
    """Assert that ``fn``'s gradients at ``inputs`` match central finite differences.

    Runs :func:`tinygrad_memo.gradcheck.gradcheck` in float64: every checked Tensor
    input that is not float64 has its ``.data`` temporarily replaced by a float64
    copy (the same Tensor object, so a ``fn`` that reads parameters through a
    closure sees them too) and put back afterwards, untouched. Raises
    ``AssertionError`` (a :class:`~tinygrad_memo.gradcheck.GradcheckError`) with
    gradcheck's message, naming the input, the element, both values and the
    tolerance. Values are double precision already.

    >>> import tinygrad_memo as tm
    >>> x = tm.Value(0.7)
    >>> assert_grads_close(lambda x: x.sin() * x, [x])
    >>> try:
    ...     assert_grads_close(lambda x: x.relu() * 0 + x.data * x.data, [x])
    ... except AssertionError as e:
    ...     print(str(e).splitlines()[0])
    gradcheck: Jacobian mismatch for output 0 with respect to input 0 at input index (), output index ()
    """
    inputs = tuple(inputs) if isinstance(inputs, (list, tuple)) else (inputs,)
    swapped = []
    try:
        for x in inputs:
            if isinstance(x, Tensor) and x.requires_grad and x.dtype != np.float64:
                swapped.append((x, x.data))
                x.data = x.data.astype(np.float64)
        gradcheck(fn, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=True,
                  fast_mode=fast_mode)
    finally:
        for x, data in swapped:
            x.data = data


def __getattr__(name):  # ``testing.strategies`` without importing hypothesis up front
    if name == "strategies":
        import importlib

        return importlib.import_module(".strategies", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

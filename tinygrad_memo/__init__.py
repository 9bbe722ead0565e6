"""tinygrad_memo: backpropagation is the chain rule evaluated with memoization.

>>> import tinygrad_memo as tm
>>> x = tm.Value(2.0)
>>> y = x * x + x
>>> _ = y.backward()
>>> x.grad
5.0
"""

from .autograd import grad
from .grad_mode import is_grad_enabled, no_grad
from .value import Value

__all__ = ["Value", "grad", "is_grad_enabled", "no_grad"]
__version__ = "0.1.0"

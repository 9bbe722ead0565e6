"""tinygrad_memo: backpropagation is the chain rule evaluated with memoization.

>>> import tinygrad_memo as tm
>>> x = tm.Value(2.0)
>>> y = x * x + x
>>> _ = y.backward()
>>> x.grad
5.0
"""

from . import ops as _ops
from . import viz
from .anomaly import detect_anomaly
from .autograd import grad
from .checkpointing import checkpoint, checkpoint_sequential
from .forward import adjoint_check, hessian, hvp, jacfwd, jacrev, jvp
from .function import Function
from .functions import einsum, full, full_like, linspace, multinomial, ones_like, outer, tensordot, zeros_like
from .grad_mode import is_grad_enabled, no_grad
from .jit import jit
from .random import manual_seed
from .report import saved_tensors_report
from .serialization import load, save
from .spelling import FUNCTIONS as _TORCH_FUNCTIONS
from .spelling import missing_attribute as _missing_attribute
from .spelling import torch_hints as _torch_hints
from .tensor import Tensor
from .value import Value


@_torch_hints
def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis.

    >>> import tinygrad_memo as tm
    >>> tm.concatenate([tm.Tensor([1.0]), tm.Tensor([2.0, 3.0])]).shape
    (3,)
    """
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"concatenate: axis must be an int, got {axis!r} (numpy's axis=None "
                        "flattens first: flatten the tensors, then concatenate)")
    return _ops.Concatenate.apply(*_tensors(tensors, "concatenate"), axis=axis)


@_torch_hints
def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis.

    >>> import tinygrad_memo as tm
    >>> tm.stack([tm.Tensor([1.0, 2.0]), tm.Tensor([3.0, 4.0])], axis=1).shape
    (2, 2)
    """
    return _ops.Stack.apply(*_tensors(tensors, "stack"), axis=axis)


def where(cond, a, b) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (broadcasting; no gradient for ``cond``).

    >>> import tinygrad_memo as tm
    >>> tm.where(tm.Tensor([True, False]), tm.Tensor([1.0, 2.0]), 0.0).numpy()
    array([1., 0.], dtype=float32)
    """
    return _ops.Where.apply(cond.data if isinstance(cond, Tensor) else cond, a, b)


def maximum(a, b):
    """Elementwise maximum of Tensors (or Values); ties share the gradient equally.

    >>> import tinygrad_memo as tm
    >>> tm.maximum(tm.Tensor([1.0, 5.0]), 2.0).numpy()
    array([2., 5.], dtype=float32)
    >>> tm.maximum(tm.Value(1.0), 2.0).data
    2.0
    """
    if isinstance(a, Value):
        return a.maximum(b)
    if isinstance(b, Value):
        return b.maximum(a)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"maximum: at least one argument must be a Tensor or a Value, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    return _ops.Maximum.apply(a, b)


def minimum(a, b):
    """Elementwise minimum of Tensors (or Values); ties share the gradient equally.

    >>> import tinygrad_memo as tm
    >>> tm.minimum(tm.Tensor([1.0, 5.0]), 2.0).numpy()
    array([1., 2.], dtype=float32)
    """
    if isinstance(a, Value):
        return a.minimum(b)
    if isinstance(b, Value):
        return b.minimum(a)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"minimum: at least one argument must be a Tensor or a Value, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    return _ops.Minimum.apply(a, b)


def _tensors(ts, op):
    ts = list(ts)
    if not ts:
        raise ValueError(f"{op}: needs at least one tensor")
    return [t if isinstance(t, Tensor) else Tensor(t) for t in ts]


__all__ = ["Function", "Tensor", "Value", "checkpoint", "checkpoint_sequential", "concatenate",
           "detect_anomaly", "grad", "is_grad_enabled", "jit", "load", "manual_seed", "maximum",
           "minimum", "no_grad", "save",
           "saved_tensors_report", "stack", "viz", "where"]
__all__ += ["adjoint_check", "hessian", "hvp", "jacfwd", "jacrev", "jvp"]
__all__ += ["einsum", "full", "full_like", "linspace", "multinomial", "ones_like", "outer",
            "tensordot", "zeros_like"]
__version__ = "0.1.0"


#: subpackages loaded on first use (``tm.nn``, ``tm.optim``, ...): ``import tinygrad_memo``
#: stays light, and ``tm.testing`` imports hypothesis only when it is used
LAZY = ("data", "gradcheck", "nn", "optim", "testing")


def __getattr__(name):
    if name in LAZY:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")  # (the import sets the attribute)
    # a name this module lacks: the error names the spelling to use for PyTorch's (tm.cat)
    raise _missing_attribute(f"module {__name__!r}", name, _TORCH_FUNCTIONS)


def __dir__():
    return sorted(set(globals()) | set(LAZY))

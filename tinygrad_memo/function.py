"""Function: the op protocol of the Tensor engine, and the public custom-op API.

An op is a subclass of :class:`Function` with two static methods written side by
side: ``forward(ctx, *inputs)`` computes the result from numpy arrays, and
``backward(ctx, g)`` returns the gradient for each input of ``forward`` (``None``
for inputs that need none). Gradients for broadcast inputs may have the
broadcast shape: they are summed back to each input's shape in one place
(:meth:`Tensor._vjp`), not in each op.

``backward`` is written once and serves both modes. In the ordinary first-order
pass, ``g`` and ``ctx.saved_tensors`` are numpy arrays, so the pass is plain numpy.
With ``create_graph=True`` they are Tensors (the saved inputs and output become
the graph's own nodes), so the same rule records a differentiable graph. A rule
that sticks to operators (``+ - * / ** @``), the methods ``sum/reshape/transpose/
swapaxes`` and numpy ufuncs (``np.exp``, ``np.log``, ...) works in both modes.
"""

from __future__ import annotations

import numpy as np

from .grad_mode import STATE

_new = object.__new__

__all__ = ["Context", "Function"]


class Context:
    """Per-call scratch space of a :class:`Function`: what ``forward`` saves for ``backward``.

    >>> import numpy as np
    >>> ctx = Context()
    >>> ctx.save_for_backward(np.ones(2))
    >>> [a.shape for a in ctx.saved_tensors]
    [(2,)]
    """

    def __init__(self):
        self.saved_tensors: tuple = ()
        self.needs_input_grad: tuple = ()

    def save_for_backward(self, *arrays) -> None:
        """Keep these arrays (inputs, the output, or others) for ``backward``."""
        self.saved_tensors = arrays


class Function:
    """Base class of every Tensor op, built-in or user-defined (PyTorch style).

    >>> import numpy as np
    >>> import tinygrad_memo as tm
    >>> class Cube(tm.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return g * 3 * x ** 2
    >>> x = tm.Tensor([1.0, 2.0], requires_grad=True)
    >>> _ = Cube.apply(x).sum().backward()
    >>> x.grad
    array([ 3., 12.], dtype=float32)
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError("Function subclasses must implement forward(ctx, ...)")

    @staticmethod
    def backward(ctx, g):  # pragma: no cover - abstract
        raise NotImplementedError("Function subclasses must implement backward(ctx, g)")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the arrays of ``args`` and record the node (unless in no_grad)."""
        ctx = _new(Context)
        ctx.saved_tensors = ()
        datas = []
        need = []
        inputs = []
        for a in args:
            if type(a) is Tensor or isinstance(a, Tensor):
                datas.append(a.data)
                need.append(a._rg)
                if a._rg:
                    inputs.append(a)
            else:
                datas.append(a)
                need.append(False)
        if inputs and STATE.enabled:
            ctx.needs_input_grad = tuple(need)
            raw = cls.forward(ctx, *datas, **kwargs)
            out = _as_array(raw, cls)
            if out is not raw:  # a saved output must be the node's own array (create_graph)
                ctx.saved_tensors = tuple(out if s is raw else s for s in ctx.saved_tensors)
            node = Tensor._make(out, True)
            node._inputs = tuple(inputs)
            node._fn = cls
            node._ctx = ctx
            ctx._args = args
            return node
        ctx.needs_input_grad = (False,) * len(args)
        return Tensor._make(_as_array(cls.forward(ctx, *datas, **kwargs), cls), False)


def _as_array(out, cls) -> np.ndarray:
    if type(out) is np.ndarray:
        return out
    if isinstance(out, Tensor):
        raise TypeError(f"{cls.__name__}.forward must return a numpy array, not a Tensor")
    return np.asarray(out)


from .tensor import Tensor  # noqa: E402  (Tensor builds on Function; imported last)

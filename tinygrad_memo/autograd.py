"""``tm.grad``: gradients of outputs with respect to chosen inputs, as values.

It runs the engine's memoized backward without touching any ``.grad``. With
``create_graph=True`` the gradients are themselves graph nodes (Values or
Tensors) built from the library's own differentiable ops, so they can be
differentiated again.
"""

from __future__ import annotations

from . import engine
from .grad_mode import enable_grad

__all__ = ["grad"]


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False) -> list:
    """Gradients of ``outputs`` (a node or a list) w.r.t. ``inputs`` (a node or a list).

    ``grad_outputs`` are the upstream gradients (required for non-scalar outputs).
    Returns a list with one gradient per input (zeros for an input that the
    outputs do not depend on). ``retain_graph`` defaults to ``create_graph``.

    >>> import tinygrad_memo as tm
    >>> x = tm.Value(3.0)
    >>> y = x ** 3
    >>> (dy,) = tm.grad(y, x, create_graph=True)
    >>> dy.data
    27.0
    >>> tm.grad(dy, x)[0]
    18.0
    """
    outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if grad_outputs is None:
        gos = [None] * len(outs)
    else:
        gos = list(grad_outputs) if isinstance(grad_outputs, (list, tuple)) else [grad_outputs]
    if len(gos) != len(outs):
        raise ValueError(f"grad: {len(outs)} outputs but {len(gos)} grad_outputs")
    for x in outs + ins:
        if not hasattr(x, "_vjp"):
            raise TypeError(f"grad: expected Values or Tensors, got {type(x).__name__}")
    seeds = [_seed(o, g, create_graph) for o, g in zip(outs, gos)]
    if retain_graph is None:
        retain_graph = create_graph
    if create_graph:
        with enable_grad():
            found = engine.backward(outs, seeds, retain_graph, True, inputs=ins)
    else:
        found = engine.backward(outs, seeds, retain_graph, False, inputs=ins)
    return [_fill(x, g, create_graph) for x, g in zip(ins, found)]


def _seed(out, g, create_graph):
    from .value import Value

    if isinstance(out, Value):
        g = 1.0 if g is None else g
        if create_graph and not isinstance(g, Value):
            return Value(float(g))
        return g if create_graph else float(getattr(g, "data", g))
    from .tensor import Tensor

    return Tensor._seed_grad(out, g, create_graph, "grad", "grad_outputs")


def _fill(x, g, create_graph):
    """A gradient as the caller expects it: zeros where no path led, nodes under create_graph."""
    from .value import Value

    if isinstance(x, Value):
        g = 0.0 if g is None else g
        if create_graph and not isinstance(g, Value):
            return Value(float(g))
        return g
    from .tensor import Tensor

    return Tensor._fill_grad(x, g, create_graph)

"""``tm.grad``: gradients of outputs with respect to chosen inputs, as values.

It runs the engine's memoized walk and collects the complete gradients of the
chosen inputs, without touching any ``.grad``. With ``create_graph=True`` the
gradients are themselves graph nodes (Values or Tensors) built from the
library's own differentiable ops, so they can be differentiated again.
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
    for i, x in enumerate(ins):
        if not x.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad (it has no gradient; "
                               "set requires_grad=True on it before computing the outputs)")
    seeds = [o._seed(g, create_graph, "grad", "grad_outputs") for o, g in zip(outs, gos)]
    if retain_graph is None:
        retain_graph = create_graph
    wanted: dict = {}  # node -> positions in ``inputs`` (an input may be listed twice)
    for i, x in enumerate(ins):
        wanted.setdefault(x, []).append(i)
    found: list = [None] * len(ins)
    w = engine.Walk(outs, seeds, retain_graph, create_graph)
    if create_graph:
        with enable_grad():
            _collect(w, wanted, found)
    else:
        _collect(w, wanted, found)
    return [x._gradient(g, create_graph, i > 0) for x, (i, g) in zip(ins, _firsts(ins, found))]


def _collect(w, wanted, found) -> None:
    for node, slot in w:
        positions = wanted.get(node)
        if positions is not None:
            for i in positions:
                found[i] = slot.grad


def _firsts(ins, found):
    """(how many times this input was listed before, its gradient) for each input."""
    seen: dict = {}
    for x, g in zip(ins, found):
        n = seen.get(x, 0)
        seen[x] = n + 1
        yield n, g

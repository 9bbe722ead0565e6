"""Re-executing a graph from its records.

Every node that an op made records its call (``node.grad_fn``: the op, its node
inputs and its other arguments), so the forward pass of a whole graph can be run
again on new data for its leaves without the code that built it: :func:`rerun`
walks the graph in topological order and calls each recorded op again.
Checkpointing and the plan recorder build on this.

>>> import math
>>> import tinygrad_memo as tm
>>> x = tm.Value(2.0)
>>> y = (x * x + 1).tanh()
>>> rerun(y, {x: tm.Value(0.5)}).data == math.tanh(0.5 * 0.5 + 1)
True

Only what the records reach is re-executed: the graph is followed through the
inputs of recorded calls, so a value computed from inputs that do not require
grad (which records nothing) stays as it was.
"""

from __future__ import annotations

from .engine import topological_order

__all__ = ["rerun"]


def rerun(root, leaves: dict):
    """The graph of ``root`` (a node or a list of nodes) computed again, with each
    leaf in ``leaves`` (a mapping old node -> new node) replaced.

    Every op is called again on the new inputs, so the result is a new graph
    (recorded as usual unless in ``no_grad``). Leaves not in ``leaves`` and nodes
    without a record (made in ``no_grad``) are used as they are.

    >>> import tinygrad_memo as tm
    >>> a = tm.Tensor([1.0, 2.0], requires_grad=True)
    >>> y = (a * a).sum(axis=0)
    >>> rerun(y, {a: tm.Tensor([3.0, 4.0])}).item()
    25.0
    """
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    new: dict = dict(leaves)  # old node -> new node, keyed by identity

    def value_of(x):
        """The node to call with: its replacement, itself, or (for what a released graph
        kept of a tensor) the tensor while it lives."""
        got = new.get(x)
        if got is not None:
            return got
        if getattr(x, "released", False) is True:
            t = x.tensor
            if t is None:
                raise RuntimeError(
                    f"rerun: the data of a {x.shape} input was released by backward (nothing "
                    "holds it any more); pass it in the leaves mapping, or rerun before backward"
                )
            return new.get(t, t)
        return x

    for node in topological_order(roots):
        if node in new:
            continue
        released = getattr(node, "released", False) is True
        if released and node.tensor in new:  # a leaf the caller replaced, as the graph keeps it
            new[node] = new[node.tensor]
            continue
        rec = node.grad_fn
        if rec is None:
            continue
        ins = rec.inputs
        if released or any(x in new or getattr(x, "released", False) is True for x in ins):
            new[node] = rec.rerun([value_of(x) for x in ins])
    out = [new.get(r, r) for r in roots]
    return out if isinstance(root, (list, tuple)) else out[0]

"""Recording a call: what the graph's own records do not hold.

A jitted function's first calls run eagerly. The graph they build already
records every differentiable op (``t.grad_fn``: the op, its inputs, its
arguments; a Value's op, inputs and constant), so the plan is read off the graph
afterwards. While the function runs, a :class:`Recorder` is installed for the
thread (``grad_mode.STATE.recorder``); the library calls it where the graph keeps
no record:

* ``op(node, fn, args, kwargs)``: an op that made no graph node (its inputs need
  no gradient, or it ran in ``no_grad``);
* ``leaf(tensor, source)``: ``Tensor(source)`` made inside the call;
* ``alias(tensor, source)``: ``source.detach()``;
* ``read(node, what)``: a traced value read into Python (``float()``, ``item()``,
  ``numpy()``, ``.grad``, ``tm.grad``...): the plan cannot be replayed, and the place
  is kept for the warning;
* ``backward(root, grad, retain_graph, create_graph, tapped)``: ``root.backward()``
  inside the call (a whole training step): replayed by the plan when it is one
  plain pass (one root, its default seed, no retained or differentiable graph, no
  hook or checkpoint on a node made inside), else a read;
* ``effect(method, *args, changes_data=False)``: an optimizer's ``step()`` or
  ``zero_grad()``, a Module's ``zero_grad()``, a schedule's ``step()``,
  ``clip_grad_norm_``: called (as is) and called again, in order, by every replay
  (``changes_data``: it writes parameters, so no op may follow it; what it returns
  may not reach the recorded ops).

Nothing is recorded when no recorder is installed: each hook is one test.
"""

from __future__ import annotations

import os
import sys

from .. import checkpointing, engine
from ..grad_mode import STATE
from ..hooks import has_hooks
from ..random import rng

__all__ = ["Recorder", "record", "user_frame"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def user_frame(depth: int = 1) -> tuple:
    """(file, line) of the innermost caller outside this package."""
    f = sys._getframe(depth)
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE):
        f = f.f_back
    if f is None:
        return "<unknown>", 0
    return f.f_code.co_filename, f.f_lineno


class Recorder:
    """What one eager run of a jitted function did beyond the graph's records.

    >>> import tinygrad_memo as tm
    >>> from tinygrad_memo.grad_mode import STATE
    >>> rec = Recorder()
    >>> STATE.recorder = rec
    >>> try:
    ...     y = tm.Tensor([1.0, 2.0]) * 2      # no input needs grad: no graph node
    ...     z = tm.Tensor([3.0], requires_grad=True).sum()
    ...     _ = z.item()
    ... finally:
    ...     STATE.recorder = None
    >>> len(rec.ops), [what for what, _, _ in rec.reads]
    (1, ['item()'])
    """

    def __init__(self):
        self.start = engine.next_seq()  # nodes made from now on belong to this call
        self.ops: dict = {}  # id(node) -> (node, fn, args, kwargs)
        self.leaves: dict = {}  # id(tensor) -> (tensor, source)
        self.aliases: dict = {}  # id(tensor) -> (tensor, source tensor)
        self.reads: list = []  # (what, file, line)
        self.random = False  # whether the global generator was drawn from
        self.graph: dict = {}  # id(node) -> (node, fn, args, kwargs, needs, saved) at backward
        self.effects: list = []  # (kind, what, creation number): replayed after the ops
        self.results: list = []  # what effects returned (a replay cannot hand these on)
        self.writes_at = None  # creation number of the first effect that writes data

    def op(self, node, fn, args, kwargs) -> None:
        self.ops[id(node)] = (node, fn, args, kwargs)

    def leaf(self, tensor, source) -> None:
        self.leaves[id(tensor)] = (tensor, source)

    def alias(self, tensor, source) -> None:
        self.aliases[id(tensor)] = (tensor, source)

    def read(self, node, what: str) -> None:
        if self._traced(node):
            self.reads.append((what, *user_frame(2)))

    def backward(self, root, grad, retain_graph, create_graph, tapped) -> None:
        what = None
        if not hasattr(root, "_ctx"):
            what = "backward() of a Value graph or of several roots"
        elif grad is not None or retain_graph or create_graph:
            what = "backward() with a seed, retain_graph or create_graph"
        else:  # the pass frees the graph's records: the plan is read off this copy
            graph = {}
            for node in engine.topological_order(root):
                ctx = node._ctx
                if ctx is not None and node._seq >= self.start:
                    if tapped and (has_hooks(node) or id(node) in checkpointing._TABLE):
                        what = "backward() through a hook or checkpoint inside"
                        break
                    graph[id(node)] = (node, ctx.fn, ctx.call_args, ctx.call_kwargs,
                                       ctx.needs_input_grad, ctx.saved_tensors)
        if what is not None:
            self.reads.append((what, *user_frame(2)))
            return
        self.graph.update(graph)
        self.effects.append(("backward", root, engine.next_seq()))

    def effect(self, method, *args, changes_data: bool = False):
        """Record ``method(*args)`` and call it (not recorded itself: its writes are its
        own, made again by every replay)."""
        seq = engine.next_seq()
        self.effects.append(("call", (method, args), seq))
        if changes_data and self.writes_at is None:
            self.writes_at = seq
        STATE.recorder = None
        try:
            result = method(*args)
        finally:
            STATE.recorder = self
        if result is not None:  # (kept, so that no op of the recording may use it unseen)
            self.results.append(result)
        return result

    def _traced(self, node) -> bool:
        """A node whose value the call depends on: made before it (an argument or a
        captured parameter) or computed in it."""
        if not hasattr(node, "_seq"):  # (several roots of a backward pass)
            return True
        if node._seq < self.start or id(node) in self.ops:
            return True
        if hasattr(node, "_ctx"):
            return node._ctx is not None
        return node._a is not None


def record(fn, args: tuple, kwargs: dict):
    """Run ``fn(*args, **kwargs)`` eagerly with a recorder installed; return
    ``(result, recorder)``.

    >>> import tinygrad_memo as tm
    >>> out, rec = record(lambda x: (x * 2).sum(), (tm.Tensor([1.0], requires_grad=True),), {})
    >>> out.grad_fn.name, rec.reads
    ('sum', [])
    """
    rec = Recorder()
    bits = rng().bit_generator
    before = bits.state
    prev = STATE.recorder
    STATE.recorder = rec
    try:
        out = fn(*args, **kwargs)
    finally:
        STATE.recorder = prev
    rec.random = bits.state != before
    return out, rec
